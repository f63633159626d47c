// AioBackend: IoBackend on Linux native AIO (libaio), the fallback when io_uring is
// unavailable (old kernels, seccomp profiles that block io_uring_setup).
//
// Data path: reads and writes (plain and vectored) become iocbs from a pool allocated
// at construction; Submit() hands the whole batch to the kernel in one io_submit;
// Poll() reaps with io_getevents(min_nr = 0). Every iocb carries IOCB_FLAG_RESFD so
// each completion also bumps one eventfd, which Wait() sleeps on (ppoll) and Wake()
// writes.
//
// Native AIO is only asynchronous for O_DIRECT files: on a buffered fd io_submit may
// block for the whole I/O. ringdb opens its data files O_DIRECT (see docs/io.md).
//
// Sockets: native AIO has no socket operations. kPoll becomes an IOCB_CMD_POLL iocb
// (readiness, Linux 4.18+) and kCancel an io_cancel; kAccept/kRecv/kSend complete with
// -EOPNOTSUPP, so a server polls for readiness and uses non-blocking sockets itself.
//
// Operations AIO cannot do asynchronously (fsync, fdatasync, fallocate, open, close,
// rename, unlink) run on one helper thread per backend, which posts completions back
// under a mutex and writes the same eventfd. They are off the data path (a WAL commit
// costs one fdatasync per batch), so the lock is acceptable.
//
// kLinkNext is emulated: the later requests of a chain are held (threaded through
// IoRequest::backend_word_) and each is started only after its predecessor completed
// successfully and in full; otherwise the rest of the chain completes with -ECANCELED.
//
// Thread ownership: one reactor thread, except Wake() (any thread) and the helper
// thread, which touches only the helper queues under mu_.
#pragma once

#include <libaio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "io/io_backend.h"

namespace ringdb::io {

class AioBackend final : public IoBackend {
 public:
  // io_setup + eventfd + helper thread. The Status names the failing step.
  static Status Create(const BackendOptions& opt, std::unique_ptr<AioBackend>* out);
  // REQUIRES: in_flight() == 0 (done() of requests still in flight never runs).
  ~AioBackend() override;

  BackendKind kind() const override { return BackendKind::kAio; }
  std::string_view name() const override { return "libaio"; }

  void Prepare(IoRequest* req) override;
  int Submit() override;
  int Poll() override;
  void Wait(int64_t timeout_ns) override;
  void Wake() override;

  uint32_t in_flight() const override { return in_flight_; }
  const BackendCounters& counters() const override { return counters_; }

 private:
  // A FIFO of requests threaded through IoRequest::next_.
  struct Queue {
    IoRequest* head = nullptr;
    IoRequest* tail = nullptr;
    bool empty() const { return head == nullptr; }
    void Push(IoRequest* r);
    void PushFront(IoRequest* r);
    IoRequest* TakeAll();
  };

  AioBackend() = default;
  Status Init(const BackendOptions& opt);
  void PrepIocb(iocb* cb, IoRequest* req);
  // Delivers one completion: sets result, runs done(), then starts or cancels the
  // rest of its chain.
  void Complete(IoRequest* req, int64_t res, uint64_t now_ns);
  int ReapKernel(uint64_t now_ns);
  int ReapHelper(uint64_t now_ns);
  void HelperMain();
  static bool IsHelperOp(IoOp op);
  // kCancel: io_cancel of the target's iocb; 0 when the cancel is under way.
  int64_t CancelNow(const IoRequest* target);
  static int64_t RunBlocking(const IoRequest* req);
  static bool CompletedInFull(const IoRequest* req);

  io_context_t ctx_ = nullptr;
  int event_fd_ = -1;  // nonblocking; bumped by every completion and by Wake()
  std::atomic<bool> wake_pending_{false};

  // Owner-thread state.
  std::vector<iocb> iocbs_;          // pool, sized queue_depth at Init
  std::vector<iocb*> free_iocbs_;    // Invariant: free + in kernel == pool size
  std::vector<iocb*> batch_;         // scratch for io_submit
  std::vector<io_event> events_;     // scratch for io_getevents
  Queue ready_;                      // startable requests, waiting for Submit()
  Queue local_done_;                 // rejected by io_submit; delivered by Poll()
  IoRequest* chain_tail_ = nullptr;  // last Prepare()d request, while it had kLinkNext
  uint32_t in_flight_ = 0;
  uint32_t in_kernel_ = 0;           // iocbs the kernel holds
  uint32_t helper_outstanding_ = 0;  // handed to the helper, not yet reaped
  uint32_t poll_batch_ = 0;          // BackendOptions::poll_batch; 0 = no limit
  bool kernel_maybe_ready_ = false;  // the last reap stopped at poll_batch_: events may
                                     // be waiting that the eventfd no longer counts
  BackendCounters counters_;

  // Shared with the helper thread; guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  Queue helper_todo_;
  Queue helper_done_;
  bool stop_ = false;
  std::atomic<uint32_t> helper_done_count_{0};  // lets Poll() skip the lock
  std::thread helper_;
};

}  // namespace ringdb::io
