// ReadaheadFetcher: the blocks of one table, fetched for a sequential scan (compaction
// inputs). It reads aligned 512 KiB chunks and keeps the read of the following chunk in
// flight while the current one is consumed; a block that straddles two chunks is put
// together from both (each byte is read once). Blocks do not go through the block
// cache: the caller decides what to cache.
//
// Thread ownership: a fiber on the shard's reactor (Fetch suspends on the reads); every
// read is background I/O, paced by the shard's IoPacer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "lsm/io_pacer.h"
#include "lsm/table_format.h"
#include "lsm/table_reader.h"
#include "lsm/version.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"

namespace ringdb::lsm {

class ReadaheadFetcher final : public BlockFetcher {
 public:
  static constexpr uint64_t kChunkBytes = 512 << 10;

  // Reads with `io_class`; adds the bytes of every block it returns to *block_bytes.
  ReadaheadFetcher(IoPacer* pacer, TableRef table, io::IoClass io_class, uint64_t* block_bytes)
      : pacer_(pacer), table_(std::move(table)), io_class_(io_class), block_bytes_(block_bytes) {}
  ~ReadaheadFetcher() override { WaitNext(); }
  ReadaheadFetcher(const ReadaheadFetcher&) = delete;
  ReadaheadFetcher& operator=(const ReadaheadFetcher&) = delete;

  Status Fetch(const BlockHandle& h, BlockKind kind, BlockPtr* out) override {
    const uint64_t end = h.offset + h.read_size();
    std::string straddled;  // a block split between two chunks, joined
    std::string_view raw;
    if (Covers(cur_, h.offset, end)) {
      raw = std::string_view(cur_.buf.data() + (h.offset - cur_.offset), h.read_size());
    } else {
      WaitNext();
      const uint64_t cur_end = cur_.offset + cur_.len;
      if (cur_.valid && h.offset >= cur_.offset && h.offset < cur_end && next_.valid &&
          next_.offset == cur_end && end <= next_.offset + next_.len) {
        // The block straddles the two chunks (chunk ends fall on pages, blocks do not):
        // its head is the current chunk's tail, its rest the next chunk's head.
        straddled.reserve(h.read_size());
        straddled.assign(cur_.buf.data() + (h.offset - cur_.offset), cur_end - h.offset);
        straddled.append(next_.buf.data(), end - cur_end);
        raw = straddled;
        std::swap(cur_, next_);
        next_.valid = false;
      } else {
        if (Covers(next_, h.offset, end)) {
          std::swap(cur_, next_);
          next_.valid = false;
        } else {
          Status s = ReadChunk(h.offset, end, &cur_);  // the first block, or a jump ahead
          if (!s.ok()) return s;
        }
        raw = std::string_view(cur_.buf.data() + (h.offset - cur_.offset), h.read_size());
      }
      IssueNext(cur_.offset + cur_.len);
    }
    // raw points into cur_ or straddled, both alive until FromRaw has copied it.
    Status s = Block::FromRaw(raw, h, kind, out);
    if (!s.ok()) return Status::Corruption(table_->path + ": " + s.message());
    *block_bytes_ += h.read_size();
    return Status::OK();
  }

 private:
  struct Chunk {
    io::AlignedBuffer buf;
    uint64_t offset = 0;
    uint64_t len = 0;
    bool valid = false;  // holds [offset, offset + len) of the table
  };
  static bool Covers(const Chunk& c, uint64_t from, uint64_t to) {
    return c.valid && from >= c.offset && to <= c.offset + c.len;
  }
  uint64_t FileSize() const { return table_->reader->file_size(); }

  Status ReadChunk(uint64_t from, uint64_t to, Chunk* c) {
    const uint64_t start = from & ~uint64_t{kTableAlignBytes - 1};
    uint64_t stop = std::max(to, start + kChunkBytes);
    stop = (stop + kTableAlignBytes - 1) & ~uint64_t{kTableAlignBytes - 1};
    stop = std::min(stop, FileSize());
    if (c->buf.capacity() < stop - start)
      c->buf.Reset(std::max<uint64_t>(stop - start, kChunkBytes));
    pacer_->Acquire(stop - start, /*urgent=*/false);
    Status s =
        rt::ReadFull(table_->fd, c->buf.data(), stop - start, start, io_class_, table_->path);
    pacer_->Release();
    c->valid = s.ok();
    c->offset = start;
    c->len = stop - start;
    return s;
  }

  void IssueNext(uint64_t from) {
    if (from >= FileSize() || in_flight_) return;
    const uint64_t len = std::min<uint64_t>(kChunkBytes, FileSize() - from);
    if (next_.buf.capacity() < len) next_.buf.Reset(kChunkBytes);
    next_.offset = from;
    next_.len = len;
    next_.valid = false;
    req_ = io::IoRequest();
    req_.op = io::IoOp::kRead;
    req_.io_class = io_class_;
    req_.fd = table_->fd;
    req_.offset = from;
    req_.len = len;
    req_.buf = next_.buf.data();
    req_.done = &OnDone;
    req_.user = this;
    in_flight_ = true;
    pacer_->Acquire(len, /*urgent=*/false);
    rt::CurrentReactor()->PrepareIo(&req_);
  }
  static void OnDone(io::IoRequest* req) {
    auto* f = static_cast<ReadaheadFetcher*>(req->user);
    f->in_flight_ = false;
    f->pacer_->Release();
    if (req->result >= 0 && static_cast<uint64_t>(req->result) == f->next_.len) {
      f->next_.valid = true;
    } else {
      f->next_.valid = false;  // a failed or short read-ahead is simply redone in Fetch
    }
    if (f->waiter_ != nullptr) {
      rt::Fiber* w = f->waiter_;
      f->waiter_ = nullptr;
      rt::CurrentReactor()->MakeReady(w);
    }
  }
  void WaitNext() {
    while (in_flight_) {
      waiter_ = rt::CurrentReactor()->current_fiber();
      rt::CurrentReactor()->Suspend();
    }
  }

  IoPacer* const pacer_;
  const TableRef table_;
  const io::IoClass io_class_;
  uint64_t* const block_bytes_;
  Chunk cur_, next_;
  io::IoRequest req_;
  bool in_flight_ = false;
  rt::Fiber* waiter_ = nullptr;
};

}  // namespace ringdb::lsm
