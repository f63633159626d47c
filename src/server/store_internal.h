// What the engine adapter's two files share (store.cc: writes, calls, stats;
// store_read.cc: reads): the per-shard state and the engine handles.
// Not for the rest of the server (store.h is its interface).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "db/db_impl.h"
#include "server/store.h"

namespace ringdb::server {

// A pooled engine write request and the server's callback.
struct WriteCtx {
  lsm::WriteRequest req;
  Store::WriteDone done = nullptr;
  void* arg = nullptr;
  Store::PerShard* ps = nullptr;
  uint32_t count = 0;                // entries in the batch
  lsm::SequenceNumber last_seq = 0;  // the batch's last sequence number, once completed
};

// Thread ownership: the shard's thread, except acked_seq (read by every shard).
struct Store::PerShard {
  lsm::Shard* shard = nullptr;
  // Write requests not in flight. One in flight is owned by the engine until its
  // callback, which puts it back here.
  std::vector<std::unique_ptr<WriteCtx>> free;
  // Completions held back because their write was not published yet (the engine
  // publishes before it acknowledges; this keeps read-your-writes if that ever
  // changes), in completion order; later completions queue behind them.
  std::deque<WriteCtx*> unpublished;
  bool publish_waiter = false;  // a fiber drains `unpublished`
  // Completions that had to wait (Store::completions_held_back). Written by the
  // shard thread only.
  std::atomic<uint64_t> held_back{0};
  // This thread's read stats block of each shard (the DB's StatsRegistry), cached.
  std::vector<db::ThreadShardStats*> read_stats;

  // Every sequence number <= acked_seq is acknowledged (or was recovered at Open).
  // Written by the shard thread only, with release; read by any shard with acquire.
  alignas(64) std::atomic<lsm::SequenceNumber> acked_seq{0};
};

inline db::DBImpl* Impl(DB* db) {
  return static_cast<db::DBImpl*>(db);
}

}  // namespace ringdb::server
