#include "io/aio_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::io {

void AioBackend::Queue::Push(IoRequest* r) {
  r->next_ = nullptr;
  if (tail != nullptr)
    tail->next_ = r;
  else
    head = r;
  tail = r;
}

void AioBackend::Queue::PushFront(IoRequest* r) {
  r->next_ = head;
  head = r;
  if (tail == nullptr) tail = r;
}

IoRequest* AioBackend::Queue::TakeAll() {
  IoRequest* h = head;
  head = tail = nullptr;
  return h;
}

Status AioBackend::Create(const BackendOptions& opt, std::unique_ptr<AioBackend>* out) {
  std::unique_ptr<AioBackend> b(new AioBackend());
  Status s = b->Init(opt);
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::OK();
}

Status AioBackend::Init(const BackendOptions& opt) {
  if (opt.queue_depth == 0) return Status::InvalidArgument("libaio: queue_depth must be > 0");
  int ret = io_setup(static_cast<int>(opt.queue_depth), &ctx_);
  if (ret < 0) {
    ctx_ = nullptr;
    if (ret == -EAGAIN) {
      return Status::IOError("io_setup(" + std::to_string(opt.queue_depth) +
                             "): EAGAIN: the system-wide AIO event limit is exhausted "
                             "(raise fs.aio-max-nr)");
    }
    if (ret == -ENOSYS) {
      return Status::NotSupported(
          "io_setup: ENOSYS: the kernel has no native AIO (CONFIG_AIO off)");
    }
    return Status::FromErrno(-ret, "io_setup(" + std::to_string(opt.queue_depth) + ")");
  }
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return Status::FromErrno(errno, "libaio: eventfd");

  iocbs_.resize(opt.queue_depth);
  free_iocbs_.reserve(opt.queue_depth);
  for (iocb& cb : iocbs_) free_iocbs_.push_back(&cb);
  batch_.reserve(opt.queue_depth);
  events_.resize(opt.queue_depth);
  poll_batch_ = opt.poll_batch;
  helper_ = std::thread([this] { HelperMain(); });
  return Status::OK();
}

AioBackend::~AioBackend() {
  if (in_flight_ != 0)
    RINGDB_LOG_WARN("libaio backend destroyed with %u requests in flight", in_flight_);
  if (helper_.joinable()) {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    helper_.join();
  }
  if (ctx_ != nullptr) io_destroy(ctx_);  // waits for the iocbs still in the kernel
  if (event_fd_ >= 0) close(event_fd_);
}

bool AioBackend::IsHelperOp(IoOp op) {
  switch (op) {
    case IoOp::kRead:
    case IoOp::kWrite:
    case IoOp::kReadv:
    case IoOp::kWritev:
    case IoOp::kPoll:
      return false;
    default:
      return true;
  }
}

bool AioBackend::CompletedInFull(const IoRequest* req) {
  if (req->result < 0) return false;
  const uint64_t got = static_cast<uint64_t>(req->result);
  switch (req->op) {
    case IoOp::kRead:
    case IoOp::kWrite:
      return got == req->len;
    case IoOp::kReadv:
    case IoOp::kWritev: {
      uint64_t want = 0;
      for (uint32_t i = 0; i < req->iovcnt; i++) want += req->iov[i].iov_len;
      return got == want;
    }
    default:
      return true;
  }
}

void AioBackend::Prepare(IoRequest* req) {
  req->next_ = nullptr;
  req->backend_word_ = 0;  // chain successor, set when the next request is prepared
  req->result = 0;
  req->more = false;
  in_flight_++;
  switch (req->op) {
    case IoOp::kAccept:
    case IoOp::kRecv:
    case IoOp::kSend:
      // No socket I/O in native AIO: callers poll for readiness (kPoll) instead.
      req->result = -EOPNOTSUPP;
      req->submit_ns = util::NowNanos();
      local_done_.Push(req);
      return;
    case IoOp::kCancel:
      // io_cancel does not block; the target (a poll) completes through the ring.
      req->result = CancelNow(static_cast<const IoRequest*>(req->buf));
      req->submit_ns = util::NowNanos();
      local_done_.Push(req);
      return;
    default:
      break;
  }
  if (chain_tail_ != nullptr) {
    // Held until the predecessor completes in full (see Complete()).
    chain_tail_->backend_word_ = reinterpret_cast<uintptr_t>(req);
  } else {
    ready_.Push(req);
  }
  chain_tail_ = (req->flags & IoRequest::kLinkNext) ? req : nullptr;
}

void AioBackend::PrepIocb(iocb* cb, IoRequest* req) {
  const auto off = static_cast<long long>(req->offset);
  switch (req->op) {
    case IoOp::kRead:
      io_prep_pread(cb, req->fd, req->buf, req->len, off);
      break;
    case IoOp::kWrite:
      io_prep_pwrite(cb, req->fd, req->buf, req->len, off);
      break;
    case IoOp::kReadv:
      io_prep_preadv(cb, req->fd, req->iov, static_cast<int>(req->iovcnt), off);
      break;
    case IoOp::kWritev:
      io_prep_pwritev(cb, req->fd, req->iov, static_cast<int>(req->iovcnt), off);
      break;
    case IoOp::kPoll:
      io_prep_poll(cb, req->fd, static_cast<int>(req->mode));  // IOCB_CMD_POLL, Linux 4.18+
      break;
    default:
      RINGDB_ASSERT_MSG(false, "libaio: not an AIO op");
  }
  if ((req->flags & IoRequest::kDsync) != 0 &&
      (req->op == IoOp::kWrite || req->op == IoOp::kWritev)) {
    cb->aio_rw_flags = RWF_DSYNC;
  }
  io_set_eventfd(cb, event_fd_);
  cb->data = req;
}

int64_t AioBackend::CancelNow(const IoRequest* target) {
  // The pool is small (queue_depth iocbs) and cancels are rare (connection teardown).
  for (iocb& cb : iocbs_) {
    if (cb.data != target) continue;
    if (std::find(free_iocbs_.begin(), free_iocbs_.end(), &cb) != free_iocbs_.end()) continue;
    io_event ev{};
    const int ret = io_cancel(ctx_, &cb, &ev);
    // A cancelled poll reports -EINPROGRESS: its completion still arrives through
    // io_getevents (revents 0), and that is when the iocb goes back to the pool.
    return ret == 0 || ret == -EINPROGRESS ? 0 : ret;
  }
  return -ENOENT;
}

int AioBackend::Submit() {
  chain_tail_ = nullptr;  // a chain ends at Submit() (same as io_uring)
  if (ready_.empty()) return 0;
  const uint64_t now = util::NowNanos();
  uint32_t depth = in_kernel_ + helper_outstanding_;

  // Split the ready queue: AIO ops into the io_submit batch while iocbs last, blocking
  // ops to the helper, the rest stays queued in order.
  Queue keep, to_helper;
  uint32_t nhelper = 0;
  batch_.clear();
  for (IoRequest* r = ready_.TakeAll(); r != nullptr;) {
    IoRequest* next = r->next_;
    if (IsHelperOp(r->op)) {
      r->submit_ns = now;
      r->depth_at_submit = ++depth;
      to_helper.Push(r);
      nhelper++;
    } else if (!free_iocbs_.empty()) {
      iocb* cb = free_iocbs_.back();
      free_iocbs_.pop_back();
      PrepIocb(cb, r);
      batch_.push_back(cb);
    } else {
      keep.Push(r);
    }
    r = next;
  }
  ready_ = keep;
  if (nhelper > 0) {
    {
      std::lock_guard<std::mutex> g(mu_);
      for (IoRequest* r = to_helper.TakeAll(); r != nullptr;) {
        IoRequest* next = r->next_;
        helper_todo_.Push(r);
        r = next;
      }
    }
    cv_.notify_one();
    helper_outstanding_ += nhelper;
  }

  uint32_t submitted = nhelper;
  size_t i = 0;
  while (i < batch_.size()) {
    int ret = io_submit(ctx_, static_cast<long>(batch_.size() - i), &batch_[i]);
    counters_.submit_calls++;
    if (ret > 0) {
      for (int k = 0; k < ret; k++) {
        auto* r = static_cast<IoRequest*>(batch_[i + k]->data);
        r->submit_ns = now;
        r->depth_at_submit = ++depth;
      }
      in_kernel_ += ret;
      submitted += ret;
      i += ret;
      continue;
    }
    if (ret == 0 || ret == -EAGAIN) {
      // Kernel out of resources: keep the rest, in order, for the next Submit().
      for (size_t k = batch_.size(); k > i; k--) {
        free_iocbs_.push_back(batch_[k - 1]);
        ready_.PushFront(static_cast<IoRequest*>(batch_[k - 1]->data));
      }
      break;
    }
    // io_submit rejected the first iocb outright (EBADF, EINVAL...): that request
    // fails; the ones after it are still submitted.
    auto* r = static_cast<IoRequest*>(batch_[i]->data);
    free_iocbs_.push_back(batch_[i]);
    r->result = ret;
    r->submit_ns = now;
    r->depth_at_submit = 0;  // rejected: never in the kernel
    local_done_.Push(r);
    i++;
  }
  counters_.requests_submitted += submitted;
  counters_.max_batch = std::max<uint64_t>(counters_.max_batch, submitted);
  return static_cast<int>(submitted);
}

void AioBackend::Complete(IoRequest* req, int64_t res, uint64_t now_ns) {
  req->result = res;
  req->complete_ns = now_ns;
  in_flight_--;
  counters_.requests_completed++;
  auto* succ = reinterpret_cast<IoRequest*>(req->backend_word_);
  req->backend_word_ = 0;
  const bool chain_ok = CompletedInFull(req);
  NotifyComplete(*req);
  if (req->done != nullptr) req->done(req);  // may recycle req: not touched after this
  if (succ == nullptr) return;
  if (chain_ok) {
    ready_.Push(succ);  // goes to the kernel with the next Submit()
    return;
  }
  while (succ != nullptr) {
    auto* next = reinterpret_cast<IoRequest*>(succ->backend_word_);
    succ->backend_word_ = 0;
    succ->result = -ECANCELED;
    succ->submit_ns = succ->complete_ns = now_ns;  // never reached the kernel
    succ->depth_at_submit = 0;
    in_flight_--;
    counters_.requests_completed++;
    NotifyComplete(*succ);
    if (succ->done != nullptr) succ->done(succ);
    succ = next;
  }
}

int AioBackend::ReapKernel(uint64_t now_ns) {
  int n_total = 0;
  size_t budget = poll_batch_ != 0 ? poll_batch_ : SIZE_MAX;
  kernel_maybe_ready_ = false;
  while (in_kernel_ > 0) {
    timespec zero{0, 0};
    const size_t want = std::min(budget, events_.size());
    int n = io_getevents(ctx_, 0, static_cast<long>(want), events_.data(), &zero);
    if (n <= 0) {
      if (n < 0 && n != -EINTR) RINGDB_LOG_ERROR("io_getevents: %s", std::strerror(-n));
      break;
    }
    in_kernel_ -= n;
    for (int i = 0; i < n; i++) {
      free_iocbs_.push_back(events_[i].obj);
      auto* r = static_cast<IoRequest*>(events_[i].data);
      Complete(r, static_cast<int64_t>(static_cast<long>(events_[i].res)), now_ns);
    }
    n_total += n;
    budget -= static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want) break;
    if (budget == 0) {
      kernel_maybe_ready_ = in_kernel_ > 0;
      break;
    }
  }
  return n_total;
}

int AioBackend::ReapHelper(uint64_t now_ns) {
  if (helper_done_count_.load(std::memory_order_acquire) == 0) return 0;
  IoRequest* list;
  {
    std::lock_guard<std::mutex> g(mu_);
    list = helper_done_.TakeAll();
    helper_done_count_.store(0, std::memory_order_relaxed);
  }
  int n = 0;
  while (list != nullptr) {
    IoRequest* next = list->next_;
    list->next_ = nullptr;
    helper_outstanding_--;
    Complete(list, list->result, now_ns);
    list = next;
    n++;
  }
  return n;
}

int AioBackend::Poll() {
  if (in_kernel_ == 0 && helper_outstanding_ == 0 && local_done_.empty()) return 0;
  const uint64_t now = util::NowNanos();
  int n = ReapKernel(now);
  n += ReapHelper(now);
  for (IoRequest* r = local_done_.TakeAll(); r != nullptr; n++) {
    IoRequest* next = r->next_;
    r->next_ = nullptr;
    Complete(r, r->result, now);
    r = next;
  }
  return n;
}

void AioBackend::Wait(int64_t timeout_ns) {
  Submit();
  if (timeout_ns != 0 && local_done_.empty() && !kernel_maybe_ready_ &&
      helper_done_count_.load(std::memory_order_acquire) == 0) {
    pollfd pfd{event_fd_, POLLIN, 0};
    timespec ts{};
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
    }
    int ret = ppoll(&pfd, 1, timeout_ns > 0 ? &ts : nullptr, nullptr);
    if (ret < 0 && errno != EINTR) RINGDB_LOG_ERROR("libaio: ppoll: %s", std::strerror(errno));
    // Reset the counter: everything that bumped it is reaped by the Poll() that the
    // caller runs next; anything completing later bumps it again.
    uint64_t v;
    ssize_t r = read(event_fd_, &v, sizeof(v));
    (void)r;
  }
  if (wake_pending_.exchange(false, std::memory_order_acq_rel)) counters_.wakeups++;
}

void AioBackend::Wake() {
  wake_pending_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  ssize_t n = write(event_fd_, &one, sizeof(one));  // async-signal-safe
  (void)n;
}

int64_t AioBackend::RunBlocking(const IoRequest* req) {
  int ret;
  do {
    switch (req->op) {
      case IoOp::kFsync:
        ret = fsync(req->fd);
        break;
      case IoOp::kFdatasync:
        ret = fdatasync(req->fd);
        break;
      case IoOp::kFallocate:
        ret = fallocate(req->fd, static_cast<int>(req->mode), static_cast<off_t>(req->offset),
                        static_cast<off_t>(req->len));
        break;
      case IoOp::kOpen:
        ret = openat(req->fd, req->path, req->open_flags, static_cast<mode_t>(req->mode));
        break;
      case IoOp::kClose:
        // Never retried: Linux releases the fd even when close() reports EINTR.
        return close(req->fd) == 0 ? 0 : -errno;
      case IoOp::kRename:
        ret = renameat(req->fd, req->path, req->fd, req->path2);
        break;
      case IoOp::kUnlink:
        ret = unlinkat(req->fd, req->path, req->open_flags);
        break;
      default:
        return -EINVAL;
    }
  } while (ret < 0 && errno == EINTR);
  return ret < 0 ? -errno : ret;
}

void AioBackend::HelperMain() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stop_ || !helper_todo_.empty(); });
    if (stop_) return;
    IoRequest* r = helper_todo_.head;
    helper_todo_.head = r->next_;
    if (helper_todo_.head == nullptr) helper_todo_.tail = nullptr;
    lk.unlock();
    r->result = RunBlocking(r);
    lk.lock();
    helper_done_.Push(r);
    helper_done_count_.fetch_add(1, std::memory_order_release);
    const uint64_t one = 1;
    ssize_t n = write(event_fd_, &one, sizeof(one));
    (void)n;
  }
}

}  // namespace ringdb::io
