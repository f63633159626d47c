#include "testing/sim/sim_disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/assert.h"
#include "util/clock.h"

namespace ringdb::sim {

uint64_t SimDisk::DrawLatencyNs() {
  requests++;
  uint64_t ns = rng_.Range(opt_.latency_min_ns, opt_.latency_max_ns);
  if (rng_.Chance(opt_.slow_p)) ns *= rng_.Range(2, 50);
  return ns;
}

uint64_t SimDisk::next_completion_ns() const {
  uint64_t t = UINT64_MAX;
  for (const SimBackend* b : backends_) t = std::min(t, b->next_completion_ns());
  return t;
}

SimBackend::SimBackend(SimDisk* disk, uint32_t poll_batch) : disk_(disk), poll_batch_(poll_batch) {
  disk_->backends_.push_back(this);
}

SimBackend::~SimBackend() {
  RINGDB_ASSERT_MSG(in_flight_ == 0, "SimBackend destroyed with I/O in flight");
  auto& v = disk_->backends_;
  v.erase(std::find(v.begin(), v.end(), this));
}

void SimBackend::Prepare(io::IoRequest* req) {
  queue_.Push(req);
  in_flight_++;
}

void SimBackend::Schedule(io::IoRequest* req) {
  req->submit_ns = util::NowNanos();
  req->depth_at_submit = in_flight_;
  pending_.push_back({req->submit_ns + disk_->DrawLatencyNs(), next_order_++, req});
}

// Cuts the queue into chains: a request with kLinkNext keeps next_ pointing at the
// rest of its chain; only the head of each chain is scheduled.
int SimBackend::Submit() {
  uint64_t n = 0;
  while (!queue_.empty()) Schedule(queue_.PopChain(&n));
  if (n > 0) {
    counters_.submit_calls++;
    counters_.requests_submitted += n;
    counters_.max_batch = std::max<uint64_t>(counters_.max_batch, n);
  }
  return static_cast<int>(n);
}

void SimBackend::Wait(int64_t) {
  if (!park_ || in_flight_ == 0) return;
  park_([this] { return disk_->frozen() || next_completion_ns() <= util::NowNanos(); });
}

uint64_t SimBackend::next_completion_ns() const {
  uint64_t t = UINT64_MAX;
  for (const Pending& p : pending_) t = std::min(t, p.due_ns);
  return t;
}

namespace {
int64_t Sys(int64_t r) {
  return r < 0 ? -errno : r;
}
bool FullTransfer(const io::IoRequest* r) {
  switch (r->op) {
    case io::IoOp::kRead:
    case io::IoOp::kWrite:
      return static_cast<uint64_t>(r->result) == r->len;
    case io::IoOp::kReadv:
    case io::IoOp::kWritev: {
      uint64_t total = 0;
      for (uint32_t i = 0; i < r->iovcnt; i++) total += r->iov[i].iov_len;
      return static_cast<uint64_t>(r->result) == total;
    }
    default:
      return true;
  }
}
}  // namespace

int64_t SimBackend::Perform(io::IoRequest* r) {
  if (disk_->frozen()) return -EIO;  // the machine is off: nothing reaches the files
  uint64_t off = r->offset;
  if ((r->op == io::IoOp::kRead || r->op == io::IoOp::kReadv) && disk_->DrawMisdirected()) {
    disk_->misdirected_reads++;
    off = off >= 4096 && disk_->rng().Chance(0.5) ? off - 4096 : off + 4096;
  }
  const int iovcnt = static_cast<int>(r->iovcnt);
  switch (r->op) {
    case io::IoOp::kRead:
      return Sys(::pread(r->fd, r->buf, r->len, static_cast<off_t>(off)));
    case io::IoOp::kWrite:
      return Sys(::pwrite(r->fd, r->buf, r->len, static_cast<off_t>(off)));
    case io::IoOp::kReadv:
      return Sys(::preadv(r->fd, r->iov, iovcnt, static_cast<off_t>(off)));
    case io::IoOp::kWritev:
      return Sys(::pwritev(r->fd, r->iov, iovcnt, static_cast<off_t>(off)));
    case io::IoOp::kFsync:
      return Sys(::fsync(r->fd));
    case io::IoOp::kFdatasync:
      return Sys(::fdatasync(r->fd));
    case io::IoOp::kFallocate:
      return Sys(::fallocate(r->fd, static_cast<int>(r->mode), static_cast<off_t>(r->offset),
                             static_cast<off_t>(r->len)));
    case io::IoOp::kOpen:  // tmpfs has no O_DIRECT; the simulated disk needs none
      return Sys(::openat(r->fd, r->path, r->open_flags & ~O_DIRECT, r->mode));
    case io::IoOp::kClose:
      return Sys(::close(r->fd));
    case io::IoOp::kRename:
      return Sys(::renameat(r->fd, r->path, r->fd, r->path2));
    case io::IoOp::kUnlink:
      return Sys(::unlinkat(r->fd, r->path, r->open_flags));
    case io::IoOp::kAccept:  // the simulated machine has no network
    case io::IoOp::kRecv:
    case io::IoOp::kSend:
    case io::IoOp::kPoll:
    case io::IoOp::kCancel:
      return -EOPNOTSUPP;
  }
  return -EINVAL;
}

void SimBackend::Complete(io::IoRequest* req, int64_t result) {
  req->result = result;
  req->complete_ns = util::NowNanos();
  in_flight_--;
  counters_.requests_completed++;
  NotifyComplete(*req);
  req->done(req);
}

// Completes the due requests, earliest first; a chain's next link is scheduled when
// its predecessor completed in full, else the rest of the chain is cancelled.
int SimBackend::Poll() {
  const uint64_t now = util::NowNanos();
  int n = 0;
  while (poll_batch_ == 0 || n < static_cast<int>(poll_batch_)) {
    auto it =
        std::min_element(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
          return a.due_ns != b.due_ns ? a.due_ns < b.due_ns : a.order < b.order;
        });
    if (it == pending_.end() || (it->due_ns > now && !disk_->frozen())) break;
    io::IoRequest* r = it->req;
    pending_.erase(it);
    io::IoRequest* rest = (r->flags & io::IoRequest::kLinkNext) ? r->next_ : nullptr;
    r->result = Perform(r);
    const bool go_on = r->result >= 0 && FullTransfer(r);
    Complete(r, r->result);
    n++;
    if (rest == nullptr) continue;
    if (go_on) {
      Schedule(rest);
      continue;
    }
    while (rest != nullptr) {
      io::IoRequest* after = (rest->flags & io::IoRequest::kLinkNext) ? rest->next_ : nullptr;
      Complete(rest, -ECANCELED);
      n++;
      rest = after;
    }
  }
  return n;
}

}  // namespace ringdb::sim
