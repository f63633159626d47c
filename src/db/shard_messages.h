// The messages application threads send to shards (runtime/message.h): writes (waited,
// posted, async), async reads, and block reads handed off by readers on other threads.
//
// Ownership is per message kind: a waited message lives on the caller's stack (the
// shard's last touch is the waiter's Notify); a posted one lives in the caller's post
// buffer (the shard releases it once applied); async ones are heap objects the shard
// frees after the callback.
#pragma once

#include <memory>
#include <string>

#include "db/shard_call.h"
#include "lsm/post_log.h"
#include "lsm/shard.h"
#include "runtime/message.h"
#include "runtime/post_buffer.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"

namespace ringdb::db {

// A blocking write: on the caller's stack.
struct WriteMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  lsm::WriteRequest req;
  rt::ForeignWaiter waiter;

  WriteMsg() {
    handler = &OnShard;
    req.done = &OnDone;
    req.arg = this;
    req.early_ack = true;  // OnDone only wakes the caller
  }
  static void OnShard(rt::Message* m, rt::Reactor*) {
    auto* w = static_cast<WriteMsg*>(m);
    w->shard->SubmitWrite(&w->req);
  }
  static void OnDone(lsm::WriteRequest* r) { static_cast<WriteMsg*>(r->arg)->waiter.Notify(); }
};

// A posted write (docs/engine.md "Posted writes"). It lives in the writer's post log
// (a file-backed ring, lsm/post_log.h):
//   record := post-log record header | rep | padding to 16 | PostedWrite
// The shard releases it once its WAL write completed; a posted write whose group
// failed stays unreleased, for recovery to replay.
struct PostedWrite : rt::Message {
  lsm::Shard* shard = nullptr;
  lsm::WriteRequest req;
  rt::PostBuffer* buffer = nullptr;
  uint64_t token = 0;

  static size_t MessageOffset(size_t rep_bytes) {
    return (lsm::kPostRecordHeaderBytes + rep_bytes + 15) & ~size_t{15};
  }
  static size_t RecordBytes(size_t rep_bytes) {
    return MessageOffset(rep_bytes) + ((sizeof(PostedWrite) + 15) & ~size_t{15});
  }
  static void OnShard(rt::Message* m, rt::Reactor*) {
    auto* w = static_cast<PostedWrite*>(m);
    w->shard->SubmitWrite(&w->req);
  }
  static void OnDone(lsm::WriteRequest* r) {
    auto* w = static_cast<PostedWrite*>(r->arg);
    rt::PostBuffer* b = w->buffer;
    const uint64_t token = w->token;
    const bool logged = r->status.ok();
    w->~PostedWrite();
    if (logged) b->Release(token);  // last touch: the writer may reuse the bytes
  }
};
static_assert(alignof(PostedWrite) <= 16, "records are carved at 16-byte boundaries");

// Async requests own their data and free themselves on the shard thread.
struct AsyncWriteMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  std::string rep;
  lsm::WriteRequest req;
  std::function<void(Status)> cb;
  // Where writes post: the sender's count of its async writes to this shard not yet
  // done (rt::ForeignRing::ordered_in_flight, DBImpl::PostRecord); else null.
  std::atomic<uint32_t>* in_flight = nullptr;

  AsyncWriteMsg() {
    handler = &OnShard;
    req.done = &OnDone;
    req.arg = this;
  }
  static void OnShard(rt::Message* m, rt::Reactor*) {
    auto* w = static_cast<AsyncWriteMsg*>(m);
    w->shard->SubmitWrite(&w->req);
  }
  static void OnDone(lsm::WriteRequest* r) {
    std::unique_ptr<AsyncWriteMsg> w(static_cast<AsyncWriteMsg*>(r->arg));
    // Done, so sequenced: the sender's next posted write may go after it.
    if (w->in_flight != nullptr) w->in_flight->fetch_sub(1, std::memory_order_release);
    if (w->cb) w->cb(r->status);
  }
};

struct AsyncGetMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  std::string key;
  std::string value;
  std::function<void(Status, std::string_view)> cb;

  AsyncGetMsg() { handler = &OnShard; }
  static void OnShard(rt::Message* m, rt::Reactor* r) {
    auto* g = static_cast<AsyncGetMsg*>(m);
    r->Spawn(
        [g] {
          std::unique_ptr<AsyncGetMsg> own(g);
          const uint64_t start = util::FastNanos();
          Status s = g->shard->Get(g->key, &g->value);
          g->shard->RecordOpElapsed(OpKind::kGet, util::FastElapsed(start), s);
          if (s.ok()) g->shard->AddUserBytesRead(g->key.size() + g->value.size());
          if (g->cb) g->cb(s, s.ok() ? std::string_view(g->value) : std::string_view());
        },
        "get_async");
  }
};

// Block reads that missed the cache, handed to the owning shard by a reader on
// another thread: the shard issues them in one submission, caches them, and notifies.
// On the reader's stack; the reads' tables are kept alive by the reader.
struct ReadBlocksMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  lsm::BlockRead* reads = nullptr;
  size_t n = 0;
  rt::ForeignWaiter waiter;

  ReadBlocksMsg() { handler = &OnShard; }
  static void OnShard(rt::Message* m, rt::Reactor* r) {
    r->Spawn(
        [m] {
          auto* rb = static_cast<ReadBlocksMsg*>(m);
          rb->shard->ReadBlocks(rb->reads, rb->n);
          rb->waiter.Notify();  // last touch
        },
        "read_blocks");
  }
};

// A block an application thread read itself (caller_reads.h): the shard counts the I/O
// (statistics and trace) and caches the block. Heap-allocated and not waited for; the
// handler frees it.
struct BlockReadDoneMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  io::IoRequest req;  // the completed read, for the statistics and the trace
  uint64_t file_number = 0;
  uint64_t block_offset = 0;
  lsm::BlockPtr block;  // null: not to be cached (not admitted, fill_cache off, failed)
  bool sqpoll = false;  // issued by the DB's submission thread (caller_reads.h)
  // The shard counts (and traces) the read; else the reading thread counted it.
  bool account = true;

  BlockReadDoneMsg() { handler = &OnShard; }
  static void OnShard(rt::Message* m, rt::Reactor* r) {
    std::unique_ptr<BlockReadDoneMsg> d(static_cast<BlockReadDoneMsg*>(m));
    if (d->account) {
      r->AccountForeignIo(d->req);
      if (d->sqpoll) d->shard->CountCallerSqpollRead();
      if (d->req.result >= 0) d->shard->CountTableRead();
    }
    if (d->block) d->shard->AdoptBlock(d->file_number, d->block_offset, std::move(d->block));
  }
};

}  // namespace ringdb::db
