// SyncBackend: a reference IoBackend that runs every request synchronously with plain
// syscalls at Submit(). The fault tests run over it as well as over io_uring and libaio,
// so that FaultBackend is checked even where neither kernel interface is usable.
#pragma once

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "io/io_backend.h"

namespace ringdb::io::fault_test {

class SyncBackend final : public IoBackend {
 public:
  BackendKind kind() const override { return BackendKind::kAuto; }
  std::string_view name() const override { return "sync-reference"; }
  void Prepare(IoRequest* req) override { queued_.push_back(req); }

  int Submit() override {
    if (queued_.empty()) return 0;
    bool cancel = false;
    for (IoRequest* r : queued_) {
      r->result = cancel ? -ECANCELED : Execute(*r);
      bool full = r->result >= 0 &&
                  (!IsTransfer(r->op) || static_cast<uint64_t>(r->result) == TransferBytes(*r));
      cancel = (r->flags & IoRequest::kLinkNext) != 0 && !full;
      completed_.push_back(r);
    }
    int n = static_cast<int>(queued_.size());
    counters_.submit_calls++;
    counters_.requests_submitted += static_cast<uint64_t>(n);
    counters_.max_batch = std::max<uint64_t>(counters_.max_batch, static_cast<uint64_t>(n));
    queued_.clear();
    return n;
  }

  int Poll() override {
    std::vector<IoRequest*> done;
    done.swap(completed_);
    for (IoRequest* r : done) {
      counters_.requests_completed++;
      if (r->done != nullptr) r->done(r);
    }
    return static_cast<int>(done.size());
  }

  void Wait(int64_t /*timeout_ns*/) override { Submit(); }
  void Wake() override {}
  uint32_t in_flight() const override {
    return static_cast<uint32_t>(queued_.size() + completed_.size());
  }
  const BackendCounters& counters() const override { return counters_; }

 private:
  static bool IsTransfer(IoOp op) {
    return op == IoOp::kRead || op == IoOp::kWrite || op == IoOp::kReadv || op == IoOp::kWritev;
  }
  static uint64_t TransferBytes(const IoRequest& r) {
    if (r.op != IoOp::kReadv && r.op != IoOp::kWritev) return r.len;
    uint64_t n = 0;
    for (uint32_t i = 0; i < r.iovcnt; i++) n += r.iov[i].iov_len;
    return n;
  }
  static int64_t Execute(const IoRequest& r) {
    int64_t rc = -1;
    auto off = static_cast<off_t>(r.offset);
    int iovcnt = static_cast<int>(r.iovcnt);
    switch (r.op) {
      case IoOp::kRead:
        rc = ::pread(r.fd, r.buf, r.len, off);
        break;
      case IoOp::kWrite:
        rc = ::pwrite(r.fd, r.buf, r.len, off);
        break;
      case IoOp::kReadv:
        rc = ::preadv(r.fd, r.iov, iovcnt, off);
        break;
      case IoOp::kWritev:
        rc = ::pwritev(r.fd, r.iov, iovcnt, off);
        break;
      case IoOp::kFsync:
        rc = ::fsync(r.fd);
        break;
      case IoOp::kFdatasync:
        rc = ::fdatasync(r.fd);
        break;
      case IoOp::kFallocate:
        rc = ::fallocate(r.fd, static_cast<int>(r.mode), off, static_cast<off_t>(r.len));
        break;
      case IoOp::kOpen:
        rc = ::openat(r.fd, r.path, r.open_flags, r.mode);
        break;
      case IoOp::kClose:
        rc = ::close(r.fd);
        break;
      case IoOp::kRename:
        rc = ::renameat(r.fd, r.path, r.fd, r.path2);
        break;
      case IoOp::kUnlink:
        rc = ::unlinkat(r.fd, r.path, r.open_flags);
        break;
      default:  // socket operations
        errno = EOPNOTSUPP;
        break;
    }
    return rc < 0 ? -errno : rc;
  }

  std::vector<IoRequest*> queued_;
  std::vector<IoRequest*> completed_;
  BackendCounters counters_;
};

}  // namespace ringdb::io::fault_test
