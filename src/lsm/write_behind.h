// WriteBehind: writes a file sequentially in aligned chunks with several writes in
// flight while the producer (a flush or compaction fiber) goes on building the next.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "lsm/io_pacer.h"
#include "ringdb/status.h"
#include "runtime/reactor.h"
#include "util/assert.h"

namespace ringdb::lsm {

constexpr size_t kWriteChunkBytes = 1 << 20;  // one O_DIRECT write of a table
constexpr uint32_t kWriteBehindSlots = 4;     // table writes in flight at once

// Write-behind for a file written sequentially in aligned chunks: up to
// kWriteBehindSlots writes in flight while the producer goes on. The first error is
// sticky. Fiber-only.
class WriteBehind {
 public:
  // pacer (optional): every write first takes a background-I/O slot from it; urgent
  // writes (flush) skip its foreground backoff and rate limit.
  WriteBehind(int fd, io::IoClass cls, std::string path, IoPacer* pacer = nullptr,
              bool urgent = false)
      : fd_(fd), cls_(cls), path_(std::move(path)), pacer_(pacer), urgent_(urgent) {}
  ~WriteBehind() { WaitInFlight(0); }
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Copies data and queues its write at offset (O_DIRECT: 4 KiB multiples).
  void Write(std::string_view data, uint64_t offset) {
    while (!data.empty() && status_.ok()) {
      WaitInFlight(kWriteBehindSlots - 1);
      Slot* slot = nullptr;
      for (Slot& sl : slots_) {
        if (!sl.busy) slot = &sl;
      }
      RINGDB_ASSERT(slot != nullptr);
      size_t n = std::min(data.size(), kWriteChunkBytes);
      if (pacer_ != nullptr) pacer_->Acquire(n, urgent_);
      if (slot->buf.capacity() < n) slot->buf.Reset(kWriteChunkBytes);
      std::memcpy(slot->buf.data(), data.data(), n);
      slot->req = io::IoRequest();
      slot->req.op = io::IoOp::kWrite;
      slot->req.io_class = cls_;
      slot->req.fd = fd_;
      slot->req.offset = offset;
      slot->req.len = n;
      slot->req.buf = slot->buf.data();
      slot->req.done = &OnDone;
      slot->req.user = this;
      slot->busy = true;
      in_flight_++;
      rt::CurrentReactor()->PrepareIo(&slot->req);
      data.remove_prefix(n);
      offset += n;
    }
  }
  Status Finish() {
    WaitInFlight(0);
    return status_;
  }

 private:
  struct Slot {
    io::AlignedBuffer buf;
    io::IoRequest req;
    bool busy = false;
  };

  static void OnDone(io::IoRequest* req) {
    auto* wb = static_cast<WriteBehind*>(req->user);
    for (Slot& sl : wb->slots_) {
      if (&sl.req == req) sl.busy = false;
    }
    wb->in_flight_--;
    if (wb->pacer_ != nullptr) wb->pacer_->Release();
    if (wb->status_.ok()) {
      if (req->result < 0) {
        wb->status_ =
            Status::FromErrno(static_cast<int>(-req->result),
                              "write " + wb->path_ + " offset " + std::to_string(req->offset));
      } else if (static_cast<uint64_t>(req->result) != req->len) {
        wb->status_ =
            Status::IOError("short write " + wb->path_ + " offset " + std::to_string(req->offset));
      }
    }
    if (wb->waiter_ != nullptr && wb->in_flight_ <= wb->threshold_) {
      rt::Fiber* f = wb->waiter_;
      wb->waiter_ = nullptr;
      rt::CurrentReactor()->MakeReady(f);
    }
  }
  void WaitInFlight(uint32_t n) {
    while (in_flight_ > n) {
      threshold_ = n;
      waiter_ = rt::CurrentReactor()->current_fiber();
      rt::CurrentReactor()->Suspend();
    }
  }

  int fd_;
  io::IoClass cls_;
  std::string path_;
  IoPacer* pacer_;
  bool urgent_;
  Slot slots_[kWriteBehindSlots];
  uint32_t in_flight_ = 0;
  uint32_t threshold_ = 0;
  rt::Fiber* waiter_ = nullptr;
  Status status_;
};

}  // namespace ringdb::lsm
