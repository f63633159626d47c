// IoBackend: the one asynchronous I/O interface every disk operation in ringdb goes
// through. Implementations: UringBackend (io_uring), AioBackend (libaio), and
// FaultBackend (wraps either; injects faults and simulates power loss in tests).
//
// Model (see docs/io.md):
//   - The caller owns each IoRequest. Prepare() links it into the backend's queue
//     (intrusively: no allocation); Submit() hands every queued request to the kernel
//     in one batch (one io_uring_submit / io_submit per reactor iteration).
//   - Poll() reaps completions without blocking, at most BackendOptions::poll_batch,
//     and calls req->done(req) for each, on the calling (reactor) thread. Wait()
//     submits, then sleeps in the kernel until a completion arrives, Wake() is called,
//     or the timeout passes.
//   - req->result is >= 0 on success (bytes transferred, or the new fd for kOpen) and
//     -errno on failure. Short reads/writes are reported as such, never retried
//     silently: the caller decides (runtime/file_io.h ReadFull/WriteFull continue them).
//   - kLinkNext orders this request before the next one Prepare()d on the same
//     backend (io_uring IOSQE_IO_LINK semantics): the next one starts only after this
//     one completed in full; if this one fails or is short, every later request of the
//     chain completes with -ECANCELED. Backends without native links emulate them.
//
// Thread ownership: a backend belongs to one reactor thread. Only Wake() may be called
// from other threads.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ringdb/status.h"

namespace ringdb::io {

// What an I/O is for; drives stats, tracing and (later) scheduling priority.
// DO NOT CHANGE the values: recorded in I/O trace files.
enum class IoClass : uint8_t {
  kOther = 0,
  kWal = 1,
  kFlush = 2,
  kCompactionRead = 3,
  kCompactionWrite = 4,
  kUserRead = 5,
  kManifest = 6,
  kCacheWarm = 7,
  kCount = 8,
};
const char* IoClassName(IoClass c);

enum class IoOp : uint8_t {
  kRead,       // pread(fd, buf, len, offset)
  kWrite,      // pwrite(fd, buf, len, offset)
  kReadv,      // preadv(fd, iov, iovcnt, offset)
  kWritev,     // pwritev(fd, iov, iovcnt, offset)
  kFsync,      // fsync(fd); on a directory fd this is the directory fsync
  kFdatasync,  // fdatasync(fd)
  kFallocate,  // fallocate(fd, mode, offset, len)
  kOpen,       // openat(dirfd, path, open_flags, mode) -> result is the fd
  kClose,      // close(fd)
  kRename,     // renameat(dirfd, path, dirfd, path2)
  kUnlink,     // unlinkat(dirfd, path, unlink_flags)
  // Socket operations (ringdb-server). io_uring only, except kPoll and kCancel: the
  // libaio backend has no socket I/O (it completes kAccept/kRecv/kSend with
  // -EOPNOTSUPP); there a caller polls for readiness (kPoll is IOCB_CMD_POLL) and then
  // uses non-blocking sockets directly. Socket requests are not disk I/O: the observer
  // (stats, I/O trace) never sees them and they do not count in depth_at_submit.
  kAccept,  // accept4(fd, nullptr, nullptr, open_flags) -> the new fd; with kMultishot
            // it stays armed and completes once per connection (IoRequest::more)
  kRecv,    // recv(fd, buf, len, open_flags) -> bytes (0: the peer closed)
  kSend,    // send(fd, buf, len, open_flags | MSG_NOSIGNAL) -> bytes (may be short)
  kPoll,    // one-shot poll of fd for the events in `mode` (POLLIN...) -> revents
  kCancel,  // cancels the request whose IoRequest* is in `buf` -> 0, or -ENOENT/-EALREADY
            // (the target then completes, typically with -ECANCELED, or as it would have)
};
const char* IoOpName(IoOp op);
// The socket operations above (not disk I/O; see their comment).
inline bool IsSocketOp(IoOp op) {
  return op >= IoOp::kAccept;
}

struct IoRequest;
using IoDoneFn = void (*)(IoRequest* req);

struct IoRequest {
  static constexpr uint8_t kLinkNext = 1;  // see the header comment
  // Not recorded in the I/O trace (the trace's own writes); still counted in stats.
  static constexpr uint8_t kNoTrace = 2;
  // Write/writev: durable when it completes (RWF_DSYNC: the data and what is needed to
  // read it back are on stable storage), instead of a separate fdatasync. On a file
  // opened O_DIRECT this costs one device round trip and no io_uring worker thread.
  static constexpr uint8_t kDsync = 4;
  // kAccept only: multishot (io_uring, Linux 5.19+). done() runs once per completion;
  // `more` says whether the request stays armed. An older kernel fails it with -EINVAL.
  static constexpr uint8_t kMultishot = 8;
  // kWrite to a file opened without O_DIRECT only (a copy into the page cache): the
  // backend may perform it synchronously at the next Submit() (or Wait()) with
  // pwrite(2), then hand its completion back at the next Poll() as usual. io_uring
  // cannot write buffered without blocking on some filesystems (ext4) and gives such a
  // write to a worker thread: a wake-up and two context switches per write, more than
  // the copy itself costs. Ignored in a link chain and with kDsync.
  static constexpr uint8_t kInline = 16;

  // ---- set by the caller before Prepare() ----
  IoOp op = IoOp::kRead;
  IoClass io_class = IoClass::kOther;
  uint8_t flags = 0;
  int fd = -1;                 // target file; for open/rename/unlink: the directory fd
                               // (AT_FDCWD for paths relative to the working directory)
  uint64_t offset = 0;         // read/write/fallocate
  uint64_t len = 0;            // read/write byte count; fallocate length
  void* buf = nullptr;         // read/write
  const iovec* iov = nullptr;  // readv/writev
  uint32_t iovcnt = 0;
  const char* path = nullptr;   // open, rename (old), unlink
  const char* path2 = nullptr;  // rename (new)
  int open_flags = 0;           // open flags; unlinkat flags (AT_REMOVEDIR)
  uint32_t mode = 0;            // open mode; fallocate mode

  IoDoneFn done = nullptr;  // called on the owning thread when the request completes
  void* user = nullptr;     // for the caller (e.g. the waiting fiber)

  // ---- set by the backend ----
  int64_t result = 0;            // >= 0 success, -errno failure
  uint64_t submit_ns = 0;        // when handed to the kernel (monotonic ns)
  uint64_t complete_ns = 0;      // when reaped
  uint32_t depth_at_submit = 0;  // requests in flight when this one was submitted
  bool more = false;             // multishot: this completion is not the last one

  // ---- backend-private ----
  IoRequest* next_ = nullptr;  // intrusive queue link
  uint64_t backend_word_ = 0;  // free for the backend's use

  bool ok() const { return result >= 0; }
};

enum class BackendKind : uint8_t { kAuto = 0, kUring = 1, kAio = 2 };
const char* BackendKindName(BackendKind k);
// "auto", "uring"/"io_uring", "aio"/"libaio" -> kind; false if unknown.
bool ParseBackendKind(std::string_view s, BackendKind* out);

struct BackendOptions {
  BackendKind kind = BackendKind::kAuto;
  uint32_t queue_depth = 256;    // submission queue entries / max aio events
  bool register_buffers = true;  // io_uring: use fixed buffers where memlock allows
  // Most kernel completions one Poll() hands back (0: no limit); the rest stay for the
  // next Poll(). (libaio's helper-thread completions, fsync and metadata, are not
  // counted.) A reactor pass submits what its reaped completions queued, so this bounds
  // the cohort of requests that reach the device in one submission. Devices that
  // complete a submitted batch together (virtio disks, network block devices) return
  // the cohort together, and a queue refilled in cohorts idles between them: at depth
  // 32 on a virtio disk, reaping everything settled into cohorts of 16 and reached
  // 85-90% of fio's IOPS; reaping 4 per pass, 96-99% (docs/io.md). Submissions stay
  // batched: one syscall per 4 completions instead of one per completion.
  uint32_t poll_batch = 4;
  // No info line for the choice (the per-thread backends of readers: one per thread
  // would flood the log). Failures are still logged.
  bool quiet = false;
  // io_uring: >= 0 makes a ring whose submissions the kernel thread of that ring
  // (IORING_SETUP_SQPOLL) takes up (IORING_SETUP_ATTACH_WQ), so submitting costs no
  // system call while the thread polls; waiting for completions still does. Where the
  // kernel refuses, an ordinary ring. See io/sqpoll_thread.h.
  int sqpoll_attach_fd = -1;
  // io_uring: the thread that first enters the ring registers its descriptor with
  // itself (IORING_REGISTER_RING_FDS, 5.18), so its io_uring_enter calls skip looking
  // the descriptor up (fget/fput, an atomic on a shared count each). Only for a backend
  // that one thread uses and destroys (a reading thread's own rings): the registration
  // belongs to that thread. Ignored where the kernel refuses it.
  bool register_ring_fd = false;
};

// Cumulative counters kept by every backend (owner thread only).
struct BackendCounters {
  uint64_t submit_calls = 0;  // io_uring_submit / io_submit syscalls made
  uint64_t requests_submitted = 0;
  uint64_t requests_completed = 0;
  uint64_t max_batch = 0;  // largest number of requests in one submit call
  uint64_t wakeups = 0;    // Wait() returns caused by Wake()
};

// Sees every request a backend completes (stats, I/O trace): OnIoComplete(req) runs on
// the owning thread just before req.done, with result, submit_ns, complete_ns and
// depth_at_submit set. It must not block; it may Prepare() requests of its own.
// Only the outermost backend reports: a wrapper (FaultBackend) reports the requests
// its caller gave it, never the inner backend's shadows.
class IoObserver {
 public:
  virtual void OnIoComplete(const IoRequest& req) = 0;

 protected:
  ~IoObserver() = default;
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  // Installs (or, with nullptr, removes) the observer. Owner thread only; the observer
  // must outlive its installation.
  void set_observer(IoObserver* o) { observer_ = o; }
  IoObserver* observer() const { return observer_; }

  virtual BackendKind kind() const = 0;
  virtual std::string_view name() const = 0;

  // Queue `req` for the next Submit(). Never blocks, never allocates.
  // REQUIRES: req and every buffer/path it points to stay valid until req->done runs.
  virtual void Prepare(IoRequest* req) = 0;
  // Hand every queued request to the kernel. Returns how many were submitted.
  virtual int Submit() = 0;
  // Run done() for the completions that are ready, at most BackendOptions::poll_batch
  // of them (the rest wait for the next Poll()); never blocks. Returns the count.
  virtual int Poll() = 0;
  // Submit, then sleep until at least one completion is ready, Wake() is called, or
  // timeout_ns passes (< 0: no timeout). Does not run done(); call Poll() afterwards.
  virtual void Wait(int64_t timeout_ns) = 0;
  // Thread-safe, async-signal-safe: make the current or next Wait() return soon.
  virtual void Wake() = 0;
  // Owner thread: FUTEX_WAKE (private, one waiter) on each address, now. This one makes
  // a system call per address; io_uring makes one for all (IORING_OP_FUTEX_WAKE, where
  // the kernel has it), which also submits the requests queued so far.
  virtual void WakeFutexes(std::atomic<uint32_t>* const* addrs, uint32_t n);

  // Requests submitted (or queued) whose done() has not run yet.
  virtual uint32_t in_flight() const = 0;
  virtual const BackendCounters& counters() const = 0;

 protected:
  // Every implementation calls this right before req->done(req).
  void NotifyComplete(const IoRequest& req) {
    if (observer_ != nullptr && !IsSocketOp(req.op)) observer_->OnIoComplete(req);
  }

 private:
  IoObserver* observer_ = nullptr;
};

struct BackendChoice {
  BackendKind chosen = BackendKind::kAuto;
  std::string reason;  // why this backend; names the probe failure when falling back
};

// Creates the backend for one reactor. kAuto picks io_uring when ProbeUring() passes,
// else libaio. The environment variable RINGDB_IO_BACKEND (uring|aio) overrides kAuto.
// The choice and the reason for any fallback are logged and returned in *choice.
Status CreateBackend(const BackendOptions& opt, std::unique_ptr<IoBackend>* out,
                     BackendChoice* choice = nullptr);

// Checks that io_uring is usable for ringdb: kernel.io_uring_disabled, ring setup
// (seccomp/EPERM/ENOSYS), the opcodes ringdb needs, memlock. OK, or why not.
Status ProbeUring();
// Checks that libaio is built in and io_setup works.
Status ProbeAio();

}  // namespace ringdb::io
