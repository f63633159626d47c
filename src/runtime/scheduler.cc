// Reactor: the fiber scheduler. Launching a fiber on its pooled stack, switching
// between the loop's context and a fiber's (with the sanitizers told about each stack
// switch), suspending, yielding, and the FIFO ready queue one loop pass drains (see
// reactor.h). Reactor-thread only.
#include <string>

#include "runtime/rcu.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"
#include "runtime/sanitizer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::rt {

namespace ctx = boost::context::detail;

namespace {
// How long RunReady may hold a foreign caller's wake-up for the next ones (see there).
constexpr uint64_t kWakeDelayNs = 20'000;
}  // namespace

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
  // The wake-ups of the foreign callers these fibers finish for (a block read handed to
  // the shard, a blocking SubmitTo) go out together, in one submission where the backend
  // can, and at most kWakeDelayNs plus one fiber's run after the first was due.
  WakeBatch wakes;
  uint64_t wakes_since = 0;
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
    if (t1 - t0 > opts_.long_fiber_run_ns) {
      stats_.long_fiber_runs++;
      RINGDB_LOG_WARN(
          "shard %u: fiber %llu '%s' ran %.3f ms without yielding (threshold %.3f ms); "
          "long loops should call rt::MaybeYield()",
          opts_.shard_id, static_cast<unsigned long long>(id), name, (t1 - t0) / 1e6,
          opts_.long_fiber_run_ns / 1e6);
    }
    if (!wakes.empty()) {
      if (wakes_since == 0) wakes_since = t0;
      if (t1 - wakes_since >= kWakeDelayNs) {
        wakes.Flush();
        wakes_since = 0;
      }
    }
    t0 = t1;
  }
  now_ns_ = t0;
  return true;
}

// ---------------------------------------------------------------- fiber-only helpers

void Yield() {
  RINGDB_ASSERT_MSG(InFiber(), "rt::Yield() outside a fiber");
  CurrentReactor()->Yield();
}

void SleepUntil(uint64_t deadline_ns) {
  RINGDB_ASSERT_MSG(InFiber(), "rt::SleepUntil() outside a fiber");
  Reactor* r = CurrentReactor();
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
  Reactor* r = CurrentReactor();
  if (r == nullptr || r->current_fiber() == nullptr) return false;
  if (util::NowNanos() - r->slice_start_ns() < r->options().task_quota_ns) return false;
  r->Yield();
  return true;
}

}  // namespace ringdb::rt
