// IoBatch: lets one fiber issue several I/O requests at once and wait for all (or all
// but a few) of them: linked write+fdatasync pairs, write-behind of table chunks.
//
// Thread ownership: the fiber that created it, on its reactor. Every request added must
// complete before the batch dies (WaitAll in the destructor's callers).
#pragma once

#include <cstdint>
#include <string>

#include "io/io_backend.h"
#include "ringdb/status.h"
#include "runtime/reactor.h"
#include "util/assert.h"

namespace ringdb::lsm {

class IoBatch {
 public:
  IoBatch() = default;
  IoBatch(const IoBatch&) = delete;
  IoBatch& operator=(const IoBatch&) = delete;
  ~IoBatch() { RINGDB_ASSERT_MSG(pending_ == 0, "IoBatch destroyed with I/O in flight"); }

  // Queues req on the current reactor's backend (submitted with the loop's next batch).
  // Overwrites req->done and req->user. REQUIRES: in a fiber.
  void Add(io::IoRequest* req) {
    req->done = &OnDone;
    req->user = this;
    pending_++;
    rt::CurrentReactor()->PrepareIo(req);
  }
  // Suspends until at most `n` requests of this batch are still in flight.
  void WaitUntilAtMost(uint32_t n) {
    while (pending_ > n) {
      threshold_ = n;
      waiter_ = rt::CurrentReactor()->current_fiber();
      rt::CurrentReactor()->Suspend();
    }
  }
  void WaitAll() { WaitUntilAtMost(0); }
  uint32_t pending() const { return pending_; }

 private:
  static void OnDone(io::IoRequest* req) {
    auto* b = static_cast<IoBatch*>(req->user);
    b->pending_--;
    if (b->waiter_ != nullptr && b->pending_ <= b->threshold_) {
      rt::Fiber* f = b->waiter_;
      b->waiter_ = nullptr;
      rt::CurrentReactor()->MakeReady(f);
    }
  }

  uint32_t pending_ = 0;
  uint32_t threshold_ = 0;
  rt::Fiber* waiter_ = nullptr;
};

// The outcome of a write of `wr.len` bytes to `path` and, when `fs` is given, the
// fdatasync linked after it: the write's errno, a short write, or the sync's errno.
inline Status WriteSyncStatus(const io::IoRequest& wr, const io::IoRequest* fs,
                              const std::string& path) {
  const std::string where = path + " offset " + std::to_string(wr.offset);
  if (wr.result < 0) return Status::FromErrno(static_cast<int>(-wr.result), "write " + where);
  if (static_cast<uint64_t>(wr.result) != wr.len) {
    return Status::IOError("short write " + where + ": " + std::to_string(wr.result) + " of " +
                           std::to_string(wr.len) + " bytes");
  }
  if (fs != nullptr && fs->result < 0) {
    return Status::FromErrno(static_cast<int>(-fs->result), "fdatasync " + path);
  }
  return Status::OK();
}

}  // namespace ringdb::lsm
