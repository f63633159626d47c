// Reactor: creation, timers, the loop, sleeping and stopping (see reactor.h). The
// scheduler is in scheduler.cc, the rings in inbox.cc, stats and trace in
// reactor_trace.cc.
#include "runtime/reactor.h"

#include <algorithm>
#include <string>

#include "io/io_trace.h"
#include "runtime/sanitizer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/cpu_relax.h"
#include "util/log.h"

namespace ringdb::rt {

namespace {

thread_local Reactor* tl_reactor = nullptr;

using util::CpuRelax;

// While stopping, sleeps are bounded so a reactor re-checks the stop condition even if
// a wake-up from the reactor that completed quiescence was missed.
constexpr int64_t kStopPollNs = 10'000'000;
// While fibers wait for room in a full outbound ring.
constexpr int64_t kSendPollNs = 50'000;

}  // namespace

struct Reactor::OwnedTimer {
  TimerNode node;
  TimerId id = 0;
  Reactor* reactor = nullptr;
  std::function<void()> cb;
};

Status Reactor::Create(const ReactorOptions& opt, std::unique_ptr<Reactor>* out) {
  std::unique_ptr<io::IoBackend> backend;
  io::BackendChoice choice;
  Status s = io::CreateBackend(opt.backend, &backend, &choice);
  if (!s.ok()) return s;
  if (opt.wrap_backend) backend = opt.wrap_backend(std::move(backend), opt.shard_id);
  out->reset(new Reactor(opt, std::move(backend)));
  (*out)->backend_choice_ = std::move(choice);
  return Status::OK();
}

Reactor::Reactor(const ReactorOptions& opt, std::unique_ptr<io::IoBackend> backend)
    : opts_(opt), backend_(std::move(backend)), stacks_(opt.stack_bytes, opt.max_cached_stacks) {
  RINGDB_ASSERT(backend_ != nullptr);
  own_stop_group_.members.push_back(this);
  own_stop_group_.not_quiescent.store(1, std::memory_order_relaxed);
  stop_group_ = &own_stop_group_;
  drain_buf_.resize(std::max<uint32_t>(1, opts_.drain_burst));
  backend_->set_observer(&io_acct_);
}

Reactor::~Reactor() {
  RINGDB_ASSERT_MSG(tl_reactor != this, "a reactor cannot destroy itself");
  if (live_fibers_ > 0) Shutdown();
  backend_->set_observer(nullptr);
  AbandonIoTrace();
  ForeignRing* n = foreign_head_.exchange(nullptr, std::memory_order_acquire);
  while (n != nullptr) {
    ForeignRing* next = n->next;
    ForeignRing::Release(n);
    n = next;
  }
}

// ---------------------------------------------------------------- timers

TimerId Reactor::AddTimer(uint64_t deadline_ns, std::function<void()> cb) {
  auto t = std::make_unique<OwnedTimer>();
  t->id = next_timer_id_++;
  t->reactor = this;
  t->cb = std::move(cb);
  t->node.deadline_ns = deadline_ns;
  t->node.arg = t.get();
  t->node.fire = [](TimerNode* n) {
    auto* ot = static_cast<OwnedTimer*>(n->arg);
    Reactor* r = ot->reactor;
    auto it = r->owned_timers_.find(ot->id);
    std::unique_ptr<OwnedTimer> hold = std::move(it->second);
    r->owned_timers_.erase(it);
    hold->cb();
  };
  const TimerId id = t->id;
  timers_.Add(&t->node);
  owned_timers_.emplace(id, std::move(t));
  return id;
}

bool Reactor::CancelTimer(TimerId id) {
  auto it = owned_timers_.find(id);
  if (it == owned_timers_.end()) return false;
  timers_.Remove(&it->second->node);
  owned_timers_.erase(it);
  return true;
}

// ---------------------------------------------------------------- loop

void Reactor::Run() {
  RINGDB_ASSERT_MSG(tl_reactor == nullptr, "one reactor per thread");
  tl_reactor = this;
  main_tsan_fiber_ = san::TsanCurrent();
  bool idle = false;
  uint64_t spin_until_ns = 0;
  bool spun = false, slept = false;  // in this idle period
  now_ns_ = util::NowNanos();
  for (;;) {
    const bool busy = Pass();
    if (stop_requested_.load(std::memory_order_acquire) && StopReached()) break;
    if (busy || ready_head_ != nullptr) {
      // Only a period that spun says whether spinning pays: it ended within the spin
      // or it did not. A period that slept at once ends with a wake-up, whose latency
      // says nothing about how soon the work came.
      if (idle && spun) RecordSpin(/*caught=*/!slept);
      idle = false;
      continue;
    }
    if (!idle) {
      idle = true;
      slept = false;
      stats_.idle_periods++;
      spun = SpinPays();
      if (!spun) stats_.spins_skipped++;
      spin_until_ns = spun ? now_ns_ + opts_.spin_ns : now_ns_;
    }
    if (now_ns_ < spin_until_ns) {
      CpuRelax();
      continue;
    }
    Sleep();
    slept = true;
    // Still idle if the next pass finds nothing (a bounded sleep ran out): sleep again
    // without another spin.
    spin_until_ns = 0;
  }
  Shutdown();
  tl_reactor = nullptr;
}

void Reactor::RecordSpin(bool caught) {
  spin_score_ = spin_score_ - spin_score_ / 8 + (caught ? kSpinScoreMax / 8 : 0);
}

// Spinning costs the core for up to spin_ns; sleeping costs a wake-up (a syscall for
// the waker and tens of microseconds for an idle vCPU). Spin while at least half of the
// recent spins caught the end of their idle period. A reactor that stopped spinning
// still spins one idle period in kSpinProbeEvery, so it notices when work comes back
// quickly (six caught probes in a row bring the score back over half).
bool Reactor::SpinPays() {
  if (opts_.spin_ns == 0) return false;
  if (!opts_.adaptive_spin || spin_score_ >= kSpinScoreMax / 2) return true;
  return ++spin_probe_ % kSpinProbeEvery == 0;
}

Reactor::PassResult Reactor::RunPass() {
  RINGDB_ASSERT_MSG(tl_reactor == nullptr, "RunPass inside another reactor's pass");
  tl_reactor = this;
  if (main_tsan_fiber_ == nullptr) main_tsan_fiber_ = san::TsanCurrent();
  const bool busy = Pass();
  PassResult result = busy || ready_head_ != nullptr ? PassResult::kBusy : PassResult::kIdle;
  if (stop_requested_.load(std::memory_order_acquire) && StopReached()) {
    Shutdown();
    result = PassResult::kStopped;
  }
  tl_reactor = nullptr;
  return result;
}

uint64_t Reactor::next_timer_ns() const {
  return timers_.empty() ? UINT64_MAX : timers_.next_deadline_ns();
}

// Steps 1-4 of the loop (reactor.h). True if anything ran.
bool Reactor::Pass() {
  stats_.loops++;
  bool busy = DrainInbound();
  busy |= ServiceSendWaiters();
  busy |= RunReady();
  now_ns_ = util::NowNanos();
  if (!timers_.empty()) {
    const size_t fired = timers_.FireExpired(now_ns_);
    stats_.timers_fired += fired;
    busy |= fired > 0;
  }
  PrepareBackground();
  if (backend_->in_flight() > 0) {
    const int submitted = backend_->Submit();
    if (submitted > 0) io_acct_.RecordSubmitBatch(static_cast<uint32_t>(submitted));
    busy |= backend_->Poll() > 0;
  }
  return busy;
}

void Reactor::Sleep() {
  // Foreign threads are active: their lazy (deferred) pushes do not wake us, so this
  // sleep is bounded and the loop looks again within kLazyDrainNs (kDeferredDrainNs
  // when they sent only deferred messages); the bound is published with sleeping_.
  const auto recent = [&](uint64_t t) { return t != 0 && now_ns_ - t < kLazyWindowNs; };
  const int64_t bound = recent(last_foreign_ns_)    ? kLazyDrainNs
                        : recent(last_deferred_ns_) ? kDeferredDrainNs
                                                    : INT64_MAX;
  sleep_bound_ns_.store(bound, std::memory_order_relaxed);
  sleeping_.store(true, std::memory_order_relaxed);
  san::FullFence();
  // Anything pushed before a producer's fence is visible now; anything pushed after it
  // will see sleeping_ and Wake() us.
  if (!InboundEmpty() || ready_head_ != nullptr || SendWaitersCanGo() ||
      (StopRequested() && !stop_seen_)) {
    sleeping_.store(false, std::memory_order_relaxed);
    return;
  }
  int64_t timeout_ns = -1;
  if (!timers_.empty()) {
    const uint64_t now = util::NowNanos();
    const uint64_t d = timers_.next_deadline_ns();
    timeout_ns = d > now ? static_cast<int64_t>(d - now) : 0;
  }
  if (stop_seen_ && (timeout_ns < 0 || timeout_ns > kStopPollNs)) timeout_ns = kStopPollNs;
  // A peer that frees ring slots does not wake us; poll while senders wait for room.
  if (send_waiting_ > 0 && (timeout_ns < 0 || timeout_ns > kSendPollNs)) timeout_ns = kSendPollNs;
  if (bound != INT64_MAX && (timeout_ns < 0 || timeout_ns > bound)) timeout_ns = bound;
  stats_.sleeps++;
  backend_->Wait(timeout_ns);
  sleeping_.store(false, std::memory_order_relaxed);
  // Reap now: completions and the backend's own wake-up event must be consumed, or the
  // next Wait() would return at once (the loop polls only while I/O is in flight).
  backend_->Poll();
}

void Reactor::RequestStop() {
  stop_requested_.store(true, std::memory_order_seq_cst);
  backend_->Wake();
}

bool Reactor::StopReached() {
  if (!stop_seen_) {
    stop_seen_ = true;
    stop_deadline_ns_ = now_ns_ + opts_.stop_timeout_ns;
    stop_event_.Set();  // fibers waiting on it run next pass
    return false;
  }
  const bool quiescent = live_fibers_ == 0 && backend_->in_flight() == 0 && bg_head_ == nullptr &&
                         ready_head_ == nullptr && InboundEmpty();
  if (quiescent != counted_quiescent_) {
    counted_quiescent_ = quiescent;
    const int before =
        stop_group_->not_quiescent.fetch_add(quiescent ? -1 : 1, std::memory_order_acq_rel);
    if (quiescent && before == 1) {
      for (Reactor* r : stop_group_->members) {
        if (r != this) r->backend_->Wake();
      }
    }
  }
  if (stop_group_->not_quiescent.load(std::memory_order_acquire) == 0) return true;
  if (now_ns_ >= stop_deadline_ns_) {
    RINGDB_LOG_WARN("shard %u: stop timed out after %.1f s with %u live fibers", opts_.shard_id,
                    opts_.stop_timeout_ns / 1e9, live_fibers_);
    return true;
  }
  return false;
}

// Abandons whatever is left (only after a stop timeout, or a reactor destroyed without
// running). Their stacks are leaked on purpose: I/O still in flight may target them.
void Reactor::Shutdown() {
  if (live_fibers_ > 0) {
    std::string names;
    int listed = 0;
    for (Fiber* f = all_fibers_; f != nullptr && listed < 8; f = f->all_next_, listed++) {
      names += names.empty() ? "" : ", ";
      names += f->name_;
    }
    RINGDB_LOG_WARN("shard %u: abandoning %u fibers (%s%s)", opts_.shard_id, live_fibers_,
                    names.c_str(), live_fibers_ > 8 ? ", ..." : "");
  }
  timers_ = TimerQueue();  // may hold nodes on abandoned stacks
  stop_event_.waiters_.Clear();
  for (auto& w : send_waiters_) w.Clear();
  send_waiting_ = 0;
  owned_timers_.clear();
  while (all_fibers_ != nullptr) {
    Fiber* f = all_fibers_;
    all_fibers_ = f->all_next_;
    san::TsanDestroy(f->tsan_fiber_);
    live_fibers_--;
  }
  ready_head_ = ready_tail_ = nullptr;
  ready_count_ = 0;
}

// ---------------------------------------------------------------- free functions

Reactor* CurrentReactor() {
  return tl_reactor;
}

uint32_t ShardId() {
  RINGDB_ASSERT_MSG(tl_reactor != nullptr, "ShardId() on a thread without a reactor");
  return tl_reactor->shard_id();
}

bool InFiber() {
  return tl_reactor != nullptr && tl_reactor->current_fiber() != nullptr;
}

}  // namespace ringdb::rt
