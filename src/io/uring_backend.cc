#include "io/uring_backend.h"

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::io {
namespace {

// ThreadSanitizer follows a descriptor's life through the libc calls it intercepts; a
// close done by io_uring is invisible to it. When another thread later opened the same
// number and used or closed it, TSan took that for a race with this thread's last use
// of the old file (db-checkpoint: a checkpoint's close against an inline WAL write).
// Under TSan, closes are done with close(2) at submit, as inline writes are, and
// completed at the next Poll() like any request.
#if defined(__SANITIZE_THREAD__)
constexpr bool kCloseInline = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kCloseInline = true;
#else
constexpr bool kCloseInline = false;
#endif
#else
constexpr bool kCloseInline = false;
#endif

// user_data of the internal eventfd read. Request pointers are at least 8-byte aligned,
// so 1 never collides with one.
constexpr uint64_t kEventTag = 1;
// user_data of a futex wake (WakeFutexes): posts a CQE only if it fails.
constexpr uint64_t kFutexTag = 2;
// linux/io_uring.h of Debian 12 (6.1) predates these (added in 6.7).
constexpr uint8_t kOpFutexWake = 52;
// liburing's INT_FLAG_REG_RING (its src/int_flags.h, the same since 2.2): the ring's
// descriptor is registered, and io_uring_queue_exit unregisters it.
constexpr uint8_t kLiburingRegRing = 1;
constexpr uint32_t kFutex2SizeU32 = 0x02, kFutex2Private = 128;
// CQEs copied out per peek: a batch that fits in a few cache lines of stack.
constexpr unsigned kReapBatch = 64;

}  // namespace

Status UringBackend::Create(const BackendOptions& opt, std::unique_ptr<UringBackend>* out) {
  std::unique_ptr<UringBackend> b(new UringBackend());
  Status s = b->Init(opt);
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::OK();
}

Status UringBackend::Init(const BackendOptions& opt) {
  if (opt.queue_depth == 0) return Status::InvalidArgument("io_uring: queue_depth must be > 0");
  register_buffers_ = opt.register_buffers;
  register_ring_fd_ = opt.register_ring_fd;
  poll_batch_ = opt.poll_batch;
  event_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking: io_uring then polls it for us
  if (event_fd_ < 0) return Status::FromErrno(errno, "io_uring: eventfd");

  // Most capable first. R_DISABLED defers binding SINGLE_ISSUER/DEFER_TASKRUN to the
  // thread that first uses the ring; each later entry drops what older kernels reject.
  constexpr unsigned kBase = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  constexpr unsigned kSqpoll = kBase | IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ;
  const unsigned kTries[] = {
      kSqpoll,  // only with opt.sqpoll_attach_fd; whatever it fails with, the rest follow
      kBase | IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
          IORING_SETUP_TASKRUN_FLAG,
      kBase | IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
          IORING_SETUP_TASKRUN_FLAG,
      kBase | IORING_SETUP_R_DISABLED | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      kBase | IORING_SETUP_R_DISABLED,
      IORING_SETUP_CLAMP,
      0,
  };
  int ret = -EINVAL;
  for (unsigned flags : kTries) {
    if (flags == kSqpoll && opt.sqpoll_attach_fd < 0) continue;
    io_uring_params p{};
    p.flags = flags;
    p.wq_fd = static_cast<uint32_t>(opt.sqpoll_attach_fd);
    ret = io_uring_queue_init_params(opt.queue_depth, &ring_, &p);
    if (ret == 0) {
      setup_flags_ = flags;
      kernel_cap_ = p.cq_entries;
      break;
    }
    // EPERM/ENOMEM/ENOSYS will not go away with fewer flags
    if (ret != -EINVAL && flags != kSqpoll) break;
  }
  if (ret < 0) return Status::IOError(UringSetupErrorText(ret, opt.queue_depth));
  ring_ready_ = true;
  enabled_ = (setup_flags_ & IORING_SETUP_R_DISABLED) == 0;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
    futex_ops_ = probe->last_op >= kOpFutexWake && io_uring_opcode_supported(probe, kOpFutexWake);
    io_uring_free_probe(probe);
  }
  ArmEventRead();
  RINGDB_LOG_DEBUG("%s", Describe().c_str());
  return Status::OK();
}

UringBackend::~UringBackend() {
  if (in_flight_ != 0)
    RINGDB_LOG_WARN("io_uring backend destroyed with %u requests in flight", in_flight_);
  if (ring_ready_) {
    // liburing unregisters the descriptor in the calling thread's table: on any other
    // thread than the one it was registered with, that slot may hold another ring. The
    // owner's registration then goes when it exits.
    if (ring_fd_owner_ != 0 && ring_fd_owner_ != gettid()) ring_.int_flags &= ~kLiburingRegRing;
    io_uring_queue_exit(&ring_);
  }
  if (event_fd_ >= 0) close(event_fd_);
}

void UringBackend::EnsureEnabled() {
  if (__builtin_expect(enabled_, 1)) return;
  // Raw syscall: liburing 2.3 declares io_uring_enable_rings() but does not export it.
  long ret =
      syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  RINGDB_ASSERT_MSG(ret == 0, "io_uring: IORING_REGISTER_ENABLE_RINGS failed");
  enabled_ = true;
}

void UringBackend::ArmEventRead() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    Enter(0, -1);
    sqe = io_uring_get_sqe(&ring_);
  }
  RINGDB_ASSERT_MSG(sqe != nullptr, "io_uring: no SQE for the wake-up read");
  io_uring_prep_read(sqe, event_fd_, &event_value_, sizeof(event_value_), 0);
  io_uring_sqe_set_data64(sqe, kEventTag);
  in_kernel_++;
  event_armed_ = true;
}

int UringBackend::FixedIndex(const void* buf, uint64_t len) const {
  const uintptr_t b = reinterpret_cast<uintptr_t>(buf);
  for (int i = 0; i < nregions_; i++) {
    if (b >= regions_[i].begin && b + len <= regions_[i].end) return i;
  }
  return -1;
}

void UringBackend::FillSqe(io_uring_sqe* sqe, IoRequest* req) {
  switch (req->op) {
    case IoOp::kRead:
    case IoOp::kWrite: {
      RINGDB_ASSERT_MSG(req->len <= UINT32_MAX, "io_uring read/write longer than 4 GiB");
      const unsigned len = static_cast<unsigned>(req->len);
      const int idx = nregions_ > 0 ? FixedIndex(req->buf, req->len) : -1;
      if (req->op == IoOp::kRead) {
        if (idx >= 0)
          io_uring_prep_read_fixed(sqe, req->fd, req->buf, len, req->offset, idx);
        else
          io_uring_prep_read(sqe, req->fd, req->buf, len, req->offset);
      } else {
        if (idx >= 0)
          io_uring_prep_write_fixed(sqe, req->fd, req->buf, len, req->offset, idx);
        else
          io_uring_prep_write(sqe, req->fd, req->buf, len, req->offset);
        if (req->flags & IoRequest::kDsync) sqe->rw_flags = RWF_DSYNC;
      }
      break;
    }
    case IoOp::kReadv:
      io_uring_prep_readv(sqe, req->fd, req->iov, req->iovcnt, req->offset);
      break;
    case IoOp::kWritev:
      io_uring_prep_writev(sqe, req->fd, req->iov, req->iovcnt, req->offset);
      if (req->flags & IoRequest::kDsync) sqe->rw_flags = RWF_DSYNC;
      break;
    case IoOp::kFsync:
      io_uring_prep_fsync(sqe, req->fd, 0);
      break;
    case IoOp::kFdatasync:
      io_uring_prep_fsync(sqe, req->fd, IORING_FSYNC_DATASYNC);
      break;
    case IoOp::kFallocate:
      io_uring_prep_fallocate(sqe, req->fd, static_cast<int>(req->mode),
                              static_cast<off_t>(req->offset), static_cast<off_t>(req->len));
      break;
    case IoOp::kOpen:
      io_uring_prep_openat(sqe, req->fd, req->path, req->open_flags, req->mode);
      break;
    case IoOp::kClose:
      io_uring_prep_close(sqe, req->fd);
      break;
    case IoOp::kRename:
      io_uring_prep_renameat(sqe, req->fd, req->path, req->fd, req->path2, 0);
      break;
    case IoOp::kUnlink:
      io_uring_prep_unlinkat(sqe, req->fd, req->path, req->open_flags);
      break;
    case IoOp::kAccept:
      if (req->flags & IoRequest::kMultishot) {
        io_uring_prep_multishot_accept(sqe, req->fd, nullptr, nullptr, req->open_flags);
      } else {
        io_uring_prep_accept(sqe, req->fd, nullptr, nullptr, req->open_flags);
      }
      break;
    case IoOp::kRecv:
      io_uring_prep_recv(sqe, req->fd, req->buf, static_cast<size_t>(req->len), req->open_flags);
      break;
    case IoOp::kSend:
      io_uring_prep_send(sqe, req->fd, req->buf, static_cast<size_t>(req->len),
                         req->open_flags | MSG_NOSIGNAL);
      break;
    case IoOp::kPoll:
      io_uring_prep_poll_add(sqe, req->fd, req->mode);
      break;
    case IoOp::kCancel:
      io_uring_prep_cancel(sqe, req->buf, 0);
      break;
    default:
      RINGDB_ASSERT_MSG(false, "IoRequest with an unknown op");
  }
  io_uring_sqe_set_data(sqe, req);
}

bool UringBackend::TryPlace(IoRequest* head, uint32_t n) {
  // The CQ keeps one slot for the wake-up read.
  RINGDB_ASSERT_MSG(n <= ring_.sq.ring_entries && n < kernel_cap_,
                    "link chain longer than the io_uring queue depth");
  // Socket requests are not counted: a server parks a recv per connection for as long
  // as the client is idle, and thousands of them must not keep disk I/O out of the
  // ring. Their completions come at the clients' pace; if they ever outrun the CQ, the
  // kernel keeps the extra ones (IORING_FEAT_NODROP, Linux 5.5+) until the next reap.
  uint32_t counted = 0;
  IoRequest* c = head;
  for (uint32_t i = 0; i < n; i++, c = c->next_) counted += IsSocketOp(c->op) ? 0 : 1;
  if (in_kernel_ + counted > kernel_cap_) return false;  // the CQ could overflow
  if (io_uring_sq_space_left(&ring_) < n) {
    // Flush what is queued rather than split the chain across two submissions: the
    // kernel ends a link chain at the end of a submit call.
    Enter(0, -1);
    if (io_uring_sq_space_left(&ring_) < n) return false;
  }
  IoRequest* r = head;
  for (uint32_t i = 0; i < n; i++) {
    IoRequest* next = r->next_;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    FillSqe(sqe, r);
    // The last request of a chain never links: a chain left open at Submit() ends there
    // and must not capture whatever is placed after it.
    if (i + 1 < n) sqe->flags |= IOSQE_IO_LINK;
    r->next_ = nullptr;
    r = next;
  }
  in_kernel_ += counted;
  return true;
}

void UringBackend::PlaceOrQueue(IoRequest* head, IoRequest* tail, uint32_t n) {
  head->backend_word_ = n;  // chain length, read back when the overflow drains
  if (overflow_head_ == nullptr && TryPlace(head, n)) return;
  tail->next_ = nullptr;
  if (overflow_tail_ != nullptr)
    overflow_tail_->next_ = head;
  else
    overflow_head_ = head;
  overflow_tail_ = tail;
}

void UringBackend::DrainOverflow() {
  while (overflow_head_ != nullptr) {
    IoRequest* head = overflow_head_;
    const uint32_t n = static_cast<uint32_t>(head->backend_word_);
    IoRequest* tail = head;
    for (uint32_t i = 1; i < n; i++) tail = tail->next_;
    IoRequest* rest = tail->next_;
    tail->next_ = nullptr;
    if (!TryPlace(head, n)) {
      tail->next_ = rest;
      return;
    }
    overflow_head_ = rest;
    if (rest == nullptr) overflow_tail_ = nullptr;
  }
}

void UringBackend::CloseChain() {
  IoRequest* head = chain_head_;
  IoRequest* tail = chain_tail_;
  const uint32_t n = chain_len_;
  chain_head_ = chain_tail_ = nullptr;
  chain_len_ = 0;
  PlaceOrQueue(head, tail, n);
}

void UringBackend::Prepare(IoRequest* req) {
  req->next_ = nullptr;
  req->result = 0;
  req->more = false;
  in_flight_++;
  const bool inline_write = (req->flags & IoRequest::kInline) && req->op == IoOp::kWrite &&
                            !(req->flags & IoRequest::kDsync);
  const bool inline_close = kCloseInline && req->op == IoOp::kClose;
  if ((inline_write || inline_close) && chain_head_ == nullptr &&
      !(req->flags & IoRequest::kLinkNext)) {
    if (inline_tail_ != nullptr)
      inline_tail_->next_ = req;
    else
      inline_head_ = req;
    inline_tail_ = req;
    return;
  }
  if (chain_head_ != nullptr || (req->flags & IoRequest::kLinkNext)) {
    // A chain is placed whole once its last request arrives, so that it never spans
    // two submissions.
    if (chain_tail_ != nullptr)
      chain_tail_->next_ = req;
    else
      chain_head_ = req;
    chain_tail_ = req;
    chain_len_++;
    if (!(req->flags & IoRequest::kLinkNext)) CloseChain();
    return;
  }
  PlaceOrQueue(req, req, 1);
}

int UringBackend::Enter(unsigned wait_nr, int64_t timeout_ns) {
  EnsureEnabled();
  if (__builtin_expect(register_ring_fd_, 0)) {
    register_ring_fd_ = false;  // one try
    if (io_uring_register_ring_fd(&ring_) == 1) ring_fd_owner_ = gettid();
  }
  // What this call hands over: the SQEs not yet consumed by the kernel (a short submit
  // leaves some), or with SQPOLL those not yet given to its thread (it consumes the
  // ones given at its own pace, every one of them).
  const bool sqpoll = (setup_flags_ & IORING_SETUP_SQPOLL) != 0;
  const unsigned pending =
      sqpoll ? ring_.sq.sqe_tail - ring_.sq.sqe_head : io_uring_sq_ready(&ring_);
  if (pending == 0 && wait_nr == 0) return 0;

  // Stamp every request about to be handed over; the SQEs still hold their pointers.
  const unsigned head = sqpoll ? ring_.sq.sqe_head : *ring_.sq.khead;
  const uint64_t now = pending != 0 ? util::NowNanos() : 0;
  // Parked socket requests (a recv waiting for a client) are not device depth. The
  // user and socket requests are counted here too, before the call: after a wait their
  // SQEs and requests are usually no longer in this CPU's cache.
  uint32_t depth = submitted_user_ - submitted_socket_;
  uint32_t users = 0, sockets = 0;
  for (unsigned i = 0; i < pending; i++) {
    const uint64_t ud = ring_.sq.sqes[(head + i) & ring_.sq.ring_mask].user_data;
    if (ud == kEventTag || ud == kFutexTag) continue;
    IoRequest* r = reinterpret_cast<IoRequest*>(ud);
    r->submit_ns = now;
    users++;
    sockets += IsSocketOp(r->op) ? 1 : 0;
    r->depth_at_submit = IsSocketOp(r->op) ? 0 : ++depth;
  }

  int ret;
  if (wait_nr == 0) {
    ret = io_uring_submit(&ring_);
  } else if (timeout_ns < 0) {
    ret = io_uring_submit_and_wait(&ring_, wait_nr);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, wait_nr, &ts, nullptr);
  }
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
    RINGDB_LOG_ERROR("io_uring_enter: %s", std::strerror(-ret));
  }

  // Count what the kernel actually consumed (the return value of the wait variants
  // does not say), and how many of those were user requests: all of them, unless the
  // kernel stopped short (then count again over what it took).
  const unsigned consumed = sqpoll ? pending : pending - io_uring_sq_ready(&ring_);
  if (consumed != pending) {
    users = sockets = 0;
    for (unsigned i = 0; i < consumed; i++) {
      const uint64_t ud = ring_.sq.sqes[(head + i) & ring_.sq.ring_mask].user_data;
      if (ud == kEventTag || ud == kFutexTag) continue;
      users++;
      if (IsSocketOp(reinterpret_cast<IoRequest*>(ud)->op)) sockets++;
    }
  }
  submitted_socket_ += sockets;
  if (users > 0) {
    submitted_user_ += users;
    counters_.submit_calls++;
    counters_.requests_submitted += users;
    counters_.max_batch = std::max<uint64_t>(counters_.max_batch, users);
  }
  return static_cast<int>(users);
}

int UringBackend::Submit() {
  EnsureEnabled();
  const int performed = inline_head_ != nullptr ? RunInline() : 0;
  if (chain_head_ != nullptr) CloseChain();
  DrainOverflow();
  return Enter(0, -1) + performed;
}

int UringBackend::RunInline() {
  const uint64_t now = util::NowNanos();
  uint32_t n = 0;
  while (IoRequest* r = inline_head_) {
    inline_head_ = r->next_;
    r->next_ = nullptr;
    r->submit_ns = now;
    r->depth_at_submit = 1;
    ssize_t ret;
    if (r->op == IoOp::kClose) {
      ret = ::close(r->fd);  // never retried: the descriptor is gone even on EINTR
    } else {
      do {
        ret = ::pwrite(r->fd, r->buf, r->len, static_cast<off_t>(r->offset));
      } while (ret < 0 && errno == EINTR);
    }
    r->result = ret < 0 ? -errno : ret;
    if (inline_done_tail_ != nullptr)
      inline_done_tail_->next_ = r;
    else
      inline_done_ = r;
    inline_done_tail_ = r;
    n++;
  }
  inline_tail_ = nullptr;
  counters_.submit_calls++;
  counters_.requests_submitted += n;
  counters_.max_batch = std::max<uint64_t>(counters_.max_batch, n);
  return static_cast<int>(n);
}

int UringBackend::DeliverInline() {
  IoRequest* r = inline_done_;
  inline_done_ = inline_done_tail_ = nullptr;
  const uint64_t now = util::NowNanos();
  int n = 0;
  while (r != nullptr) {
    IoRequest* next = r->next_;  // done() may reuse r
    r->next_ = nullptr;
    r->complete_ns = now;
    in_flight_--;
    counters_.requests_completed++;
    n++;
    NotifyComplete(*r);
    if (r->done != nullptr) r->done(r);
    r = next;
  }
  return n;
}

int UringBackend::Reap() {
  struct Done {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
  };
  // User completions this call may still hand back (the wake-up read does not count).
  uint32_t budget = poll_batch_ != 0 ? poll_batch_ : UINT32_MAX;
  int completed = 0;
  while (budget > 0) {
    io_uring_cqe* cqes[kReapBatch];
    // Also runs deferred task work (DEFER_TASKRUN) or flushes a CQ overflow when the
    // kernel flags that it is needed and nothing is ready.
    const unsigned want = std::min<uint32_t>(budget, kReapBatch);
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, want);
    if (n == 0) break;
    Done done[kReapBatch];
    for (unsigned i = 0; i < n; i++) done[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    // Free the CQ slots before running callbacks: done() may queue more I/O.
    io_uring_cq_advance(&ring_, n);
    const uint64_t now = util::NowNanos();
    for (unsigned i = 0; i < n; i++) {
      // A multishot request's intermediate completions leave it armed (in the kernel
      // and in flight); only its last one (no F_MORE) retires it.
      const bool more = (done[i].flags & IORING_CQE_F_MORE) != 0;
      if (done[i].user_data == kFutexTag) continue;  // a failed wake: a stale address
      if (done[i].user_data == kEventTag) {
        in_kernel_--;
        event_armed_ = false;
        ArmEventRead();
        continue;
      }
      IoRequest* r = reinterpret_cast<IoRequest*>(done[i].user_data);
      if (!more && !IsSocketOp(r->op)) in_kernel_--;
      r->result = done[i].res;
      r->complete_ns = now;
      r->more = more;
      if (!more) {
        in_flight_--;
        submitted_user_--;
        if (IsSocketOp(r->op)) submitted_socket_--;
      }
      counters_.requests_completed++;
      completed++;
      budget--;
      NotifyComplete(*r);
      if (r->done != nullptr) r->done(r);
    }
    if (n < want) break;
  }
  DrainOverflow();
  return completed;
}

int UringBackend::Poll() {
  EnsureEnabled();
  // With DEFER_TASKRUN (and COOP_TASKRUN) completions wait as task work until this
  // thread enters the kernel; the kernel flags that in the SQ ring. Run it here so a
  // polling (spinning) reactor sees completions without sleeping first.
  if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) io_uring_get_events(&ring_);
  const int inline_done = inline_done_ != nullptr ? DeliverInline() : 0;
  return inline_done + Reap();
}

void UringBackend::Wait(int64_t timeout_ns) {
  EnsureEnabled();
  if (inline_head_ != nullptr) RunInline();
  if (chain_head_ != nullptr) CloseChain();
  DrainOverflow();
  if (timeout_ns == 0 || io_uring_cq_ready(&ring_) > 0 || inline_done_ != nullptr) {
    Enter(0, -1);
  } else {
    Enter(1, timeout_ns);
  }
  if (wake_pending_.exchange(false, std::memory_order_acq_rel)) counters_.wakeups++;
}

void UringBackend::Wake() {
  wake_pending_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  // Async-signal-safe. Cannot block: the counter would need 2^64-2 unread wakes.
  ssize_t n = write(event_fd_, &one, sizeof(one));
  (void)n;
}

void UringBackend::WakeFutexes(std::atomic<uint32_t>* const* addrs, uint32_t n) {
  if (!futex_ops_ || io_uring_sq_space_left(&ring_) < n) {
    IoBackend::WakeFutexes(addrs, n);
    return;
  }
  for (uint32_t i = 0; i < n; i++) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_rw(kOpFutexWake, sqe, static_cast<int>(kFutex2SizeU32 | kFutex2Private), addrs[i],
                     0, 0);
    sqe->addr2 = 1;            // wake one waiter
    sqe->addr3 = 0xffffffffu;  // FUTEX_BITSET_MATCH_ANY
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, kFutexTag);
  }
  Enter(0, -1);
}

int UringBackend::RegisterBuffer(void* addr, size_t len) {
  if (!register_buffers_) return -EOPNOTSUPP;
  if (addr == nullptr || len == 0) return -EINVAL;
  if (nregions_ == kMaxRegions) return -ENOSPC;
  if (!sparse_registered_) {
    int ret = io_uring_register_buffers_sparse(&ring_, kMaxRegions);
    if (ret < 0) {
      RINGDB_LOG_WARN("io_uring: fixed buffers unavailable (register sparse: %s)",
                      std::strerror(-ret));
      return ret == -EINVAL ? -EOPNOTSUPP : ret;
    }
    sparse_registered_ = true;
  }
  iovec iov{addr, len};
  __u64 tag = 0;
  int ret =
      io_uring_register_buffers_update_tag(&ring_, static_cast<unsigned>(nregions_), &iov, &tag, 1);
  if (ret < 0) {
    if (ret == -ENOMEM) {
      RINGDB_LOG_WARN("io_uring: cannot register a %zu-byte fixed buffer: RLIMIT_MEMLOCK is %s",
                      len, MemlockText().c_str());
    } else {
      RINGDB_LOG_WARN("io_uring: cannot register a %zu-byte fixed buffer: %s", len,
                      std::strerror(-ret));
    }
    return ret;
  }
  const uintptr_t b = reinterpret_cast<uintptr_t>(addr);
  regions_[nregions_] = {b, b + len};
  return nregions_++;
}

}  // namespace ringdb::io
