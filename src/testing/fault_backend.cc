// FaultBackend: each request the caller prepares gets a shadow request, which is what
// the inner backend runs (possibly shortened) or what completes locally (an injected
// error, or the cancelled rest of a broken link chain). Completions come back through
// the shadow: bit flips are applied, the journal is told, delays are held, and the
// caller's request completes in order.
#include "testing/fault_backend.h"

#include <algorithm>
#include <cerrno>
#include <climits>

#include "testing/fault_internal.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::io {

using namespace fault_detail;

FaultBackend::FaultBackend(std::unique_ptr<IoBackend> inner,
                           std::shared_ptr<FaultController> controller)
    : FaultBackend(inner.get(), std::move(controller)) {
  inner_owned_ = std::move(inner);
}

FaultBackend::FaultBackend(IoBackend* inner, std::shared_ptr<FaultController> controller)
    : ctl_(controller ? std::move(controller) : std::make_shared<FaultController>()),
      name_("fault(" + std::string(inner->name()) + ")"),
      inner_(inner) {}

FaultBackend::~FaultBackend() {
  if (outstanding_ > 0)
    RINGDB_LOG_WARN("fault: backend destroyed with %u requests in flight", outstanding_);
}

Shadow* FaultBackend::NewShadow(IoRequest* outer) {
  Shadow* sh;
  if (free_shadows_.empty()) {
    shadows_.push_back(std::make_unique<Shadow>());
    sh = shadows_.back().get();
  } else {
    sh = free_shadows_.back();
    free_shadows_.pop_back();
  }
  sh->Reset(this, outer);
  return sh;
}

void FaultBackend::FreeShadow(Shadow* sh) {
  free_shadows_.push_back(sh);
}

void FaultBackend::Prepare(IoRequest* req) {
  queue_.Push(req);
  outstanding_++;
}

int FaultBackend::Submit() {
  uint64_t n = 0;
  while (!queue_.empty()) SubmitChain(queue_.PopChain(&n));
  counters_.requests_submitted += n;
  inner_->Submit();
  return static_cast<int>(n);
}

// Submits one link chain. The first member that gets an error or a short transfer
// breaks it: members before it are forwarded (still linked), an injected error
// completes locally once they all succeeded in full (else -ECANCELED, as the kernel
// would), and every member after it completes with -ECANCELED.
void FaultBackend::SubmitChain(IoRequest* head) {
  FaultController::Impl& c = *ctl_->impl_;
  std::vector<Shadow*> forward;
  {
    std::lock_guard lock(c.mu);
    DecideChain(head, &forward);
  }
  // Outside the lock: an inner backend may run completions from Prepare().
  for (Shadow* sh : forward) inner_->Prepare(&sh->inner);
}

// What the rules decided for one link chain, in chain order. The decisions stop at the
// breaker: the first member that gets an error or a short transfer.
struct FaultBackend::ChainDecisions {
  std::vector<Decision> decisions;
  IoRequest* breaker = nullptr;
  ChainCtx ctx;  // the journal's view of what was forwarded so far

  // True when the member at index i is the breaker and fails without reaching the disk.
  bool FailsLocally(const IoRequest* r, size_t i) const {
    return r == breaker && decisions[i].action == FaultAction::kError;
  }
};

void FaultBackend::DecideChain(IoRequest* head, std::vector<Shadow*>* forward) {
  FaultController::Impl& c = *ctl_->impl_;
  ChainDecisions cd;
  for (IoRequest* r = head; r != nullptr; r = r->next_) {
    cd.decisions.push_back(c.Decide(*r));
    const Decision& d = cd.decisions.back();
    if (d.fire && (d.action == FaultAction::kError || d.action == FaultAction::kShortTransfer)) {
      cd.breaker = r;
      break;
    }
  }
  // Forward every member up to the breaker (the breaker too, if it is a short transfer).
  Shadow* last_fwd = nullptr;
  size_t i = 0;
  IoRequest* r = head;
  for (; r != nullptr; r = r->next_, i++) {
    if (cd.FailsLocally(r, i)) break;
    Shadow* sh = ForwardShadow(r, cd, i);
    c.BeforeForward(sh, &cd.ctx);
    forward->push_back(sh);
    last_fwd = sh;
    if (r == cd.breaker) {
      r = r->next_;
      break;
    }
  }
  CompleteRestLocally(r, cd, last_fwd);
}

// The shadow that forwards chain member r (index i) to the inner backend, shortened
// when its decision is a short transfer; bit flips and delays are applied on completion.
Shadow* FaultBackend::ForwardShadow(IoRequest* r, const ChainDecisions& cd, size_t i) {
  FaultController::Impl& c = *ctl_->impl_;
  const Decision& d = cd.decisions[i];
  Shadow* sh = NewShadow(r);
  IoRequest& in = sh->inner;
  in.op = r->op;
  in.io_class = r->io_class;
  in.flags = r->flags;
  in.fd = r->fd;
  in.offset = r->offset;
  in.len = r->len;
  in.buf = r->buf;
  in.iov = r->iov;
  in.iovcnt = r->iovcnt;
  in.path = r->path;
  in.path2 = r->path2;
  in.open_flags = r->open_flags;
  in.mode = r->mode;
  in.done = &FaultBackend::OnInnerDone;
  in.user = sh;
  sh->expect_len = IsRw(r->op) ? RequestBytes(*r) : 0;
  if (d.fire && d.action == FaultAction::kShortTransfer) {
    c.counters.short_transfers++;
    if (r->op == IoOp::kRead || r->op == IoOp::kWrite) {
      in.len = d.short_len;
    } else {
      uint64_t left = d.short_len;
      for (uint32_t k = 0; k < r->iovcnt && left > 0; k++) {
        iovec v = r->iov[k];
        v.iov_len = std::min<uint64_t>(v.iov_len, left);
        left -= v.iov_len;
        sh->iov.push_back(v);
      }
      in.iov = sh->iov.data();
      in.iovcnt = static_cast<uint32_t>(sh->iov.size());
    }
    sh->expect_len = d.short_len;
  } else if (d.fire && d.action == FaultAction::kBitFlip) {
    sh->bit_flip = true;
    sh->flip_rnd = d.rnd;
  } else if (d.fire && d.action == FaultAction::kDelay) {
    c.counters.delays++;
    sh->delay_ns = d.delay_ns;
  }
  // The chain ends at the breaker, or before it when the breaker never reaches the disk.
  const bool next_fails = r->next_ != nullptr && cd.FailsLocally(r->next_, i + 1);
  if (r == cd.breaker || next_fails) in.flags &= static_cast<uint8_t>(~IoRequest::kLinkNext);
  return sh;
}

// Chain members from r on complete locally: the breaker with its injected error (once
// every forwarded member succeeded in full, else -ECANCELED), the rest with -ECANCELED.
// They follow last_fwd's completion, or are ready now when nothing was forwarded.
void FaultBackend::CompleteRestLocally(IoRequest* r, const ChainDecisions& cd, Shadow* last_fwd) {
  FaultController::Impl& c = *ctl_->impl_;
  Shadow* list = nullptr;
  Shadow** tail = &list;
  for (; r != nullptr; r = r->next_) {
    Shadow* sh = NewShadow(r);
    sh->local = true;
    sh->inner.op = r->op;
    sh->result = -ECANCELED;
    if (r == cd.breaker) {
      sh->result = -cd.decisions.back().error;
      sh->injected_error = true;
      sh->needs_full_pred = true;
      if (IsSync(r->op) && c.opt.power_loss) c.PrepareSync(sh, cd.ctx);
    }
    *tail = sh;
    tail = &sh->then;
  }
  if (list == nullptr) return;
  if (last_fwd != nullptr) {
    last_fwd->then = list;
    return;
  }
  for (Shadow* sh = list; sh != nullptr;) {  // nothing ahead of them: complete now
    Shadow* nx = sh->then;
    sh->then = nullptr;
    PushReady(sh);
    sh = nx;
  }
}

void FaultBackend::PushReady(Shadow* sh) {
  sh->next = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next = sh;
  } else {
    ready_head_ = sh;
  }
  ready_tail_ = sh;
}

void FaultBackend::OnInnerDone(IoRequest* ireq) {
  Shadow* sh = static_cast<Shadow*>(ireq->user);
  sh->owner->Complete(sh, ireq->result);
}

void FaultBackend::Complete(Shadow* sh, int64_t result) {
  if (sh->bit_flip && result > 0) {
    uint64_t bit = sh->flip_rnd % (static_cast<uint64_t>(result) * 8);
    ForEachDataSpan(*sh->outer, bit / 8, 1,
                    [&](char* p, uint64_t) { *p = static_cast<char>(*p ^ (1 << (bit % 8))); });
  }
  {
    FaultController::Impl& c = *ctl_->impl_;
    std::lock_guard lock(c.mu);
    if (sh->bit_flip && result > 0) c.counters.bit_flips++;
    c.AfterComplete(sh, result);
  }
  sh->result = result;
  if (sh->delay_ns > 0) {
    sh->due_ns = util::NowNanos() + sh->delay_ns;
    delayed_.push_back(sh);
    return;
  }
  Deliver(sh);
}

void FaultBackend::Deliver(Shadow* sh) {
  IoRequest* out = sh->outer;
  out->result = sh->result;
  if (sh->local) {
    out->submit_ns = out->complete_ns = util::NowNanos();
    out->depth_at_submit = outstanding_;
    if (sh->injected_error && sh->result != -ECANCELED) {
      FaultController::Impl& c = *ctl_->impl_;
      std::lock_guard lock(c.mu);
      c.counters.errors++;
      if (sh->sync_file) c.MarkLost(sh);
    }
  } else {
    out->submit_ns = sh->inner.submit_ns;
    out->complete_ns = sh->inner.complete_ns;
    out->depth_at_submit = sh->inner.depth_at_submit;
  }
  // Local completions chained behind this one: an injected error needs its
  // predecessor to have succeeded in full; the rest of a broken chain is cancelled.
  bool full = sh->result >= 0 &&
              (!IsRw(sh->inner.op) || static_cast<uint64_t>(sh->result) == sh->expect_len);
  for (Shadow* d = sh->then; d != nullptr;) {
    Shadow* nx = d->then;
    d->then = nullptr;
    if (d->needs_full_pred && !full) d->result = -ECANCELED;
    PushReady(d);
    d = nx;
  }
  FreeShadow(sh);
  outstanding_--;
  delivered_++;
  counters_.requests_completed++;
  NotifyComplete(*out);
  if (out->done != nullptr) out->done(out);
}

void FaultBackend::DrainReady() {
  while (ready_head_ != nullptr) {
    Shadow* sh = ready_head_;
    ready_head_ = sh->next;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    Deliver(sh);
  }
}

void FaultBackend::DeliverDueDelayed() {
  if (delayed_.empty()) return;
  uint64_t now = util::NowNanos();
  std::vector<Shadow*> due;
  auto keep = std::stable_partition(delayed_.begin(), delayed_.end(),
                                    [&](Shadow* s) { return s->due_ns > now; });
  due.assign(keep, delayed_.end());
  delayed_.erase(keep, delayed_.end());
  for (Shadow* sh : due) Deliver(sh);
}

int FaultBackend::Poll() {
  uint64_t before = delivered_;
  inner_->Poll();
  DeliverDueDelayed();
  DrainReady();
  return static_cast<int>(delivered_ - before);
}

void FaultBackend::Wait(int64_t timeout_ns) {
  Submit();
  if (ready_head_ != nullptr) return;
  if (!delayed_.empty()) {
    uint64_t now = util::NowNanos();
    uint64_t due = UINT64_MAX;
    for (Shadow* s : delayed_) due = std::min(due, s->due_ns);
    if (due <= now) return;
    int64_t left = static_cast<int64_t>(due - now);
    timeout_ns = timeout_ns < 0 ? left : std::min(timeout_ns, left);
  }
  inner_->Wait(timeout_ns);
}

const BackendCounters& FaultBackend::counters() const {
  const BackendCounters& in = inner_->counters();
  counters_.submit_calls = in.submit_calls;
  counters_.max_batch = in.max_batch;
  counters_.wakeups = in.wakeups;
  return counters_;
}

BackendWrapper MakeFaultWrapper(std::shared_ptr<FaultController> controller) {
  return [controller](std::unique_ptr<IoBackend> inner,
                      unsigned /*shard*/) -> std::unique_ptr<IoBackend> {
    return std::make_unique<FaultBackend>(std::move(inner), controller);
  };
}

}  // namespace ringdb::io
