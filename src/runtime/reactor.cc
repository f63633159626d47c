#include "runtime/reactor.h"

#include <algorithm>
#include <string>

#include "io/io_trace.h"
#include "runtime/rcu.h"
#include "runtime/sanitizer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/cpu_relax.h"
#include "util/log.h"

namespace ringdb::rt {

namespace ctx = boost::context::detail;

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

// ---------------------------------------------------------------- fibers

uint64_t Reactor::Launch(Stack s, char* fiber_mem, char* sp, detail::FiberFnBase* fn, bool on_heap,
                         const char* name) {
  Fiber* f = new (fiber_mem) Fiber();
  f->stack_ = s;
  f->fn_ = fn;
  f->fn_on_heap_ = on_heap;
  f->reactor_ = this;
  f->name_ = name;
  f->id_ = next_fiber_id_++;
  f->tsan_fiber_ = san::TsanCreate();
  f->ctx_ = ctx::make_fcontext(sp, static_cast<size_t>(sp - s.base), &Reactor::FiberEntry);
  f->all_next_ = all_fibers_;
  if (all_fibers_ != nullptr) all_fibers_->all_prev_ = f;
  all_fibers_ = f;
  live_fibers_++;
  stats_.fibers_spawned++;
  f->state_ = Fiber::State::kSuspended;
  MakeReady(f);
  return f->id_;
}

void Reactor::FiberEntry(ctx::transfer_t t) {
  Fiber* f = static_cast<Fiber*>(t.data);
  Reactor* r = f->reactor_;
  r->main_ctx_ = t.fctx;
  san::FinishSwitch(nullptr, &r->main_stack_bottom_, &r->main_stack_size_);
  f->fn_->Run();
  if (f->fn_on_heap_) {
    delete f->fn_;
  } else {
    f->fn_->~FiberFnBase();
  }
  f->fn_ = nullptr;
  f->state_ = Fiber::State::kDone;
  r->SwitchToMain(/*exiting=*/true);
  RINGDB_ASSERT_MSG(false, "a finished fiber was resumed");
}

// Main context -> fiber. Returns when the fiber suspends, yields or finishes.
void Reactor::SwitchTo(Fiber* f) {
  current_ = f;
  f->state_ = Fiber::State::kRunning;
  stats_.switches++;
  san::StartSwitch(&main_fake_stack_, f->stack_.base, f->stack_.size);
  san::TsanSwitch(f->tsan_fiber_);
  ctx::transfer_t t = ctx::jump_fcontext(f->ctx_, f);
  san::FinishSwitch(main_fake_stack_, nullptr, nullptr);
  current_ = nullptr;
  f->ctx_ = t.fctx;
  if (f->state_ == Fiber::State::kDone) DestroyFiber(f);
}

// Fiber -> main context. Returns when the reactor resumes this fiber.
void Reactor::SwitchToMain(bool exiting) {
  Fiber* f = current_;
  san::StartSwitch(exiting ? nullptr : &f->asan_fake_stack_, main_stack_bottom_, main_stack_size_);
  san::TsanSwitch(main_tsan_fiber_);
  ctx::transfer_t t = ctx::jump_fcontext(main_ctx_, nullptr);
  main_ctx_ = t.fctx;
  san::FinishSwitch(f->asan_fake_stack_, &main_stack_bottom_, &main_stack_size_);
}

void Reactor::DestroyFiber(Fiber* f) {
  if (f->all_prev_ != nullptr) f->all_prev_->all_next_ = f->all_next_;
  if (f->all_next_ != nullptr) f->all_next_->all_prev_ = f->all_prev_;
  if (all_fibers_ == f) all_fibers_ = f->all_next_;
  live_fibers_--;
  san::TsanDestroy(f->tsan_fiber_);
  Stack s = f->stack_;
  f->~Fiber();
  stacks_.Put(s);
}

void Reactor::Suspend() {
  RINGDB_ASSERT_MSG(current_ != nullptr, "Suspend() outside a fiber");
  // Other fibers would run inside this thread's read-side section (runtime/rcu.h).
  RINGDB_ASSERT_MSG(!rcu::InReadSection(), "a fiber suspended inside an RCU read-side section");
  current_->state_ = Fiber::State::kSuspended;
  SwitchToMain(false);
}

void Reactor::Yield() {
  Fiber* f = current_;
  RINGDB_ASSERT_MSG(f != nullptr, "Yield() outside a fiber");
  RINGDB_ASSERT_MSG(!rcu::InReadSection(), "a fiber yielded inside an RCU read-side section");
  f->state_ = Fiber::State::kSuspended;
  MakeReady(f);
  SwitchToMain(false);
}

void Reactor::MakeReady(Fiber* f) {
  RINGDB_ASSERT_MSG(f->reactor_ == this, "MakeReady on another reactor's fiber");
  RINGDB_ASSERT_MSG(f->state_ == Fiber::State::kSuspended, "fiber woken twice");
  f->state_ = Fiber::State::kReady;
  f->next_ready_ = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next_ready_ = f;
  } else {
    ready_head_ = f;
  }
  ready_tail_ = f;
  ready_count_++;
}

bool Reactor::RunReady() {
  const size_t n = ready_count_;
  if (n == 0) return false;
  uint64_t t0 = util::NowNanos();
  for (size_t i = 0; i < n && ready_head_ != nullptr; i++) {
    Fiber* f = ready_head_;
    ready_head_ = f->next_ready_;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    ready_count_--;
    const char* name = f->name_;  // f may be gone after the switch
    const uint64_t id = f->id_;
    slice_start_ns_ = t0;
    SwitchTo(f);
    const uint64_t t1 = util::NowNanos();
    if (t1 - t0 > opts_.stall_threshold_ns) {
      stats_.stalls++;
      RINGDB_LOG_WARN(
          "shard %u: fiber %llu '%s' ran %.3f ms without yielding (threshold %.3f ms); "
          "long loops should call rt::MaybeYield()",
          opts_.shard_id, static_cast<unsigned long long>(id), name, (t1 - t0) / 1e6,
          opts_.stall_threshold_ns / 1e6);
    }
    t0 = t1;
  }
  now_ns_ = t0;
  return true;
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

// ---------------------------------------------------------------- rings

void Reactor::SendToShard(uint32_t to, Message* msg) {
  RINGDB_ASSERT(to < outbound_.size() && outbound_[to] != nullptr);
  MessageRing* ring = outbound_[to];
  Reactor* peer = peers_[to];
  // FIFO: a sender never overtakes fibers already waiting for this ring.
  if (send_waiters_[to].empty() && ring->TryPush(msg)) {
    peer->WakeIfSleeping();
    return;
  }
  RINGDB_ASSERT_MSG(current_ != nullptr, "SendToShard on a full ring outside a fiber");
  stats_.ring_full_waits++;
  do {
    // The peer is behind: make sure it is awake, then park until the loop sees room.
    // Our loop keeps draining the reverse rings meanwhile, so two shards sending to
    // each other never deadlock.
    peer->WakeIfSleeping();
    send_waiting_++;
    detail::WaitOn(&send_waiters_[to], -1);
    send_waiting_--;
  } while (!ring->TryPush(msg));
  peer->WakeIfSleeping();
}

// Lets as many queued senders go as their ring has free slots. They run in the same
// pass (this is called just before RunReady), so nobody is woken for a slot that
// another woken sender will take.
bool Reactor::ServiceSendWaiters() {
  if (send_waiting_ == 0) return false;
  bool woke = false;
  for (size_t to = 0; to < send_waiters_.size(); to++) {
    if (send_waiters_[to].empty()) continue;
    size_t free_slots = outbound_[to]->FreeSlots();
    while (free_slots > 0 && detail::WakeOne(&send_waiters_[to]) == 1) {
      free_slots--;
      woke = true;
    }
    if (!send_waiters_[to].empty()) peers_[to]->WakeIfSleeping();
  }
  return woke;
}

bool Reactor::SendWaitersCanGo() {
  if (send_waiting_ == 0) return false;
  for (size_t to = 0; to < send_waiters_.size(); to++) {
    if (!send_waiters_[to].empty() && outbound_[to]->FreeSlots() > 0) return true;
  }
  return false;
}

void Reactor::RegisterForeign(ForeignRing* r) {
  ForeignRing* head = foreign_head_.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!foreign_head_.compare_exchange_weak(head, r, std::memory_order_release,
                                                std::memory_order_relaxed));
}

void Reactor::WakeIfSleeping() {
  san::FullFence();
  if (sleeping_.load(std::memory_order_relaxed) &&
      sleeping_.exchange(false, std::memory_order_acq_rel)) {
    backend_->Wake();
  }
}

void Reactor::UnlinkForeign(ForeignRing* prev, ForeignRing* node) {
  if (prev != nullptr) {
    prev->next = node->next;
    return;
  }
  ForeignRing* expected = node;
  if (foreign_head_.compare_exchange_strong(expected, node->next, std::memory_order_acq_rel)) {
    return;
  }
  // New rings were pushed in front of `node`; it is now interior and only we edit
  // interior links.
  ForeignRing* p = foreign_head_.load(std::memory_order_acquire);
  while (p->next != node) p = p->next;
  p->next = node->next;
}

bool Reactor::DrainInbound() {
  size_t handled = 0;
  Message** buf = drain_buf_.data();
  const size_t burst = drain_buf_.size();
  size_t waiting = 0;
  for (MessageRing* ring : inbound_) {
    const size_t k = ring->PopN(buf, burst, &waiting);
    if (k == 0) continue;
    ring_occupancy_.Record(waiting);
    for (size_t i = 0; i < k; i++) buf[i]->handler(buf[i], this);
    handled += k;
  }
  ForeignRing* prev = nullptr;
  uint64_t foreign = 0;
  for (ForeignRing* n = foreign_head_.load(std::memory_order_acquire); n != nullptr;) {
    ForeignRing* next = n->next;
    const size_t k = n->ring.PopN(buf, burst, &waiting);
    if (k > 0) ring_occupancy_.Record(waiting);
    for (size_t i = 0; i < k; i++) buf[i]->handler(buf[i], this);
    handled += k;
    // The producer thread exited (it dropped its reference) and everything it sent has
    // been handled: reclaim the ring.
    // Posted messages may still be queued in the engine (their bytes live in the ring's
    // post buffer): wait for those too.
    if (k == 0 && n->Orphaned() && n->ring.Empty() && n->PostsDrained()) {
      UnlinkForeign(prev, n);
      ForeignRing::Release(n);
    } else {
      prev = n;
      foreign++;
    }
    n = next;
  }
  stats_.foreign_rings = foreign;
  stats_.messages += handled;
  return handled > 0;
}

bool Reactor::InboundEmpty() {
  for (MessageRing* ring : inbound_) {
    if (!ring->Empty()) return false;
  }
  for (ForeignRing* n = foreign_head_.load(std::memory_order_acquire); n != nullptr; n = n->next) {
    if (!n->ring.Empty()) return false;
  }
  return true;
}

// ---------------------------------------------------------------- loop

void Reactor::Run() {
  RINGDB_ASSERT_MSG(tl_reactor == nullptr, "one reactor per thread");
  tl_reactor = this;
  main_tsan_fiber_ = san::TsanCurrent();
  uint64_t idle_since_ns = 0;
  now_ns_ = util::NowNanos();
  for (;;) {
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
    if (stop_requested_.load(std::memory_order_acquire) && StopReached()) break;
    if (busy || ready_head_ != nullptr) {
      idle_since_ns = 0;
      continue;
    }
    if (idle_since_ns == 0) idle_since_ns = now_ns_;
    if (now_ns_ - idle_since_ns < opts_.spin_ns) {
      CpuRelax();
      continue;
    }
    Sleep();
    idle_since_ns = 0;
  }
  Shutdown();
  tl_reactor = nullptr;
}

void Reactor::Sleep() {
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

void Yield() {
  RINGDB_ASSERT_MSG(InFiber(), "rt::Yield() outside a fiber");
  tl_reactor->Yield();
}

void SleepUntil(uint64_t deadline_ns) {
  RINGDB_ASSERT_MSG(InFiber(), "rt::SleepUntil() outside a fiber");
  Reactor* r = tl_reactor;
  TimerNode n;
  n.deadline_ns = deadline_ns;
  n.arg = r->current_fiber();
  n.fire = [](TimerNode* t) {
    auto* f = static_cast<Fiber*>(t->arg);
    f->reactor()->MakeReady(f);
  };
  r->AddTimerNode(&n);
  r->Suspend();
}

void SleepFor(uint64_t ns) {
  SleepUntil(util::NowNanos() + ns);
}

bool MaybeYield() {
  Reactor* r = tl_reactor;
  if (r == nullptr || r->current_fiber() == nullptr) return false;
  if (util::NowNanos() - r->slice_start_ns() < r->options().task_quota_ns) return false;
  r->Yield();
  return true;
}

}  // namespace ringdb::rt
