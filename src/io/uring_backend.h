// UringBackend: IoBackend on io_uring (liburing).
//
// One ring per reactor. Prepare() writes an SQE straight into the submission ring
// (no allocation); Submit() makes one io_uring_enter for the whole batch; Poll() reaps
// the completion ring from user space. Requests that do not fit (SQ full mid-batch, or
// more requests than the completion ring can hold) wait in an intrusive FIFO threaded
// through IoRequest::next_ and move into the ring as completions free room.
//
// Wake-ups: an internal read of an eventfd stays armed in the ring at all times, so a
// Wake() (an eventfd write) completes it and ends io_uring_enter's wait; the read is
// re-armed when reaped. It is not counted in in_flight().
//
// The ring is created disabled (IORING_SETUP_R_DISABLED) and enabled by the first
// Submit/Poll/Wait, so IORING_SETUP_SINGLE_ISSUER and DEFER_TASKRUN bind the ring to
// the reactor thread that uses it, not to the thread that constructed the backend.
//
// Thread ownership: the thread that first calls Submit/Poll/Wait owns the backend for
// its lifetime; only Wake() may be called from other threads.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "io/io_backend.h"

namespace ringdb::io {

// Explains a negative io_uring_setup result (-EPERM, -ENOSYS, -ENOMEM, ...) the way an
// operator needs it: what probably blocks io_uring and what to change
// (uring_setup.cc).
std::string UringSetupErrorText(int neg_err, unsigned entries);
// RLIMIT_MEMLOCK in words ("65536 bytes", "unlimited").
std::string MemlockText();

class UringBackend final : public IoBackend {
 public:
  // Sets up the ring and the wake-up eventfd. The Status names the failing step.
  static Status Create(const BackendOptions& opt, std::unique_ptr<UringBackend>* out);
  // REQUIRES: in_flight() == 0 (done() of requests still in flight never runs).
  ~UringBackend() override;

  BackendKind kind() const override { return BackendKind::kUring; }
  std::string_view name() const override { return "io_uring"; }

  void Prepare(IoRequest* req) override;
  int Submit() override;
  int Poll() override;
  void Wait(int64_t timeout_ns) override;
  void Wake() override;
  void WakeFutexes(std::atomic<uint32_t>* const* addrs, uint32_t n) override;

  uint32_t in_flight() const override { return in_flight_; }
  const BackendCounters& counters() const override { return counters_; }

  // Registers [addr, addr+len) as a fixed buffer: later kRead/kWrite requests whose
  // buffer lies wholly inside it use IORING_OP_READ_FIXED/WRITE_FIXED (the kernel skips
  // pinning pages on every I/O). Returns the region index (>= 0) or -errno:
  // -ENOMEM (RLIMIT_MEMLOCK too small), -ENOSPC (kMaxRegions used), -EINVAL,
  // -EOPNOTSUPP (options.register_buffers is false or the kernel lacks sparse tables).
  // REQUIRES: addr stays valid until the backend dies; call from the owner thread.
  int RegisterBuffer(void* addr, size_t len);
  static constexpr int kMaxRegions = 16;

  // Setup flags the kernel accepted (IORING_SETUP_*), for logs and tests.
  unsigned setup_flags() const { return setup_flags_; }
  // BackendOptions::register_ring_fd took (after the first Enter).
  bool ring_fd_registered() const { return ring_fd_owner_ != 0; }
  // Human-readable summary of the ring configuration.
  std::string Describe() const;

 private:
  UringBackend() = default;
  Status Init(const BackendOptions& opt);
  void EnsureEnabled();

  // Places a closed chain of n requests (head..., linked by next_) into the SQ, or
  // appends it to the overflow queue if it cannot go in whole.
  void PlaceOrQueue(IoRequest* head, IoRequest* tail, uint32_t n);
  bool TryPlace(IoRequest* head, uint32_t n);
  void FillSqe(io_uring_sqe* sqe, IoRequest* req);
  void ArmEventRead();
  void DrainOverflow();
  // Hands every SQE in the ring to the kernel (wait_nr > 0: also waits). Returns the
  // number of user requests the kernel consumed.
  int Enter(unsigned wait_nr, int64_t timeout_ns);
  void CloseChain();
  int Reap();
  // kInline writes: performs every queued one (pwrite), then delivers the finished ones.
  int RunInline();
  int DeliverInline();
  int FixedIndex(const void* buf, uint64_t len) const;

  io_uring ring_{};
  bool ring_ready_ = false;  // io_uring_queue_init_params succeeded
  bool enabled_ = false;     // io_uring_enable_rings done by the owner thread
  // BackendOptions::register_ring_fd: tried at the first Enter; the thread it was made
  // for, where it succeeded (0: none).
  bool register_ring_fd_ = false;
  pid_t ring_fd_owner_ = 0;
  unsigned setup_flags_ = 0;
  bool futex_ops_ = false;  // the kernel has IORING_OP_FUTEX_WAKE (6.7)
  int event_fd_ = -1;
  uint64_t event_value_ = 0;               // target of the internal eventfd read
  bool event_armed_ = false;               // Invariant: true whenever the ring is in use, except
                                           // between reaping the read and re-arming it in Reap().
  std::atomic<bool> wake_pending_{false};  // set by Wake(), consumed by Wait()

  // Owner-thread state.
  uint32_t in_flight_ = 0;           // user requests prepared and not yet completed
  uint32_t submitted_user_ = 0;      // user requests the kernel consumed, not yet reaped
  uint32_t submitted_socket_ = 0;    // ... of which socket requests (IsSocketOp)
  uint32_t in_kernel_ = 0;           // SQEs placed (submitted or not) not yet reaped,
                                     // including the internal eventfd read, excluding
                                     // socket requests (see TryPlace)
  uint32_t kernel_cap_ = 0;          // Invariant: in_kernel_ <= kernel_cap_ <= CQ size
  IoRequest* chain_head_ = nullptr;  // open chain: its requests all had kLinkNext
  IoRequest* chain_tail_ = nullptr;
  uint32_t chain_len_ = 0;
  IoRequest* overflow_head_ = nullptr;  // FIFO of requests waiting for ring room
  IoRequest* overflow_tail_ = nullptr;
  IoRequest* inline_head_ = nullptr;  // FIFO of kInline writes not performed yet
  IoRequest* inline_tail_ = nullptr;
  IoRequest* inline_done_ = nullptr;  // FIFO of kInline writes performed, not delivered
  IoRequest* inline_done_tail_ = nullptr;
  bool register_buffers_ = true;
  uint32_t poll_batch_ = 0;  // BackendOptions::poll_batch; 0 = no limit
  bool sparse_registered_ = false;
  int nregions_ = 0;
  struct Region {
    uintptr_t begin;
    uintptr_t end;
  };
  Region regions_[kMaxRegions] = {};
  BackendCounters counters_;
};

}  // namespace ringdb::io
