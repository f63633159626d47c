// Runtime: N shard threads, each running one Reactor, wired with one SPSC ring per
// ordered pair of shards, plus lazily created rings from foreign (application) threads.
//
// Cross-shard calls (see docs/runtime.md for the full contract):
//   - rt::SubmitTo(shard, fn), from a fiber: fn runs on the target shard inside a fresh
//     fiber (so it may do I/O, sleep, or SubmitTo again); the calling fiber suspends
//     until the result comes back over the reverse ring. Allocates nothing: the call
//     object lives on the caller's stack. Same shard: fn runs inline.
//   - runtime.SubmitTo(shard, fn), from a foreign thread: same, but the thread spins
//     for foreign_spin_ns and then sleeps on a futex until the shard completes it.
//     Called from a fiber of this runtime it behaves as rt::SubmitTo.
//   - runtime.SubmitToAsync(shard, fn, callback), from a foreign thread: returns at
//     once; fn and then callback(result) run on the shard thread, in the same fiber.
//     The only form that allocates (the task outlives the caller's frame).
// A full ring is backpressure: a fiber yields and a foreign thread spins, then sleeps
// with backoff, until there is room. Nothing is ever dropped.
//
// Lifetime: Start() returns once every shard runs. Stop() (also run by the destructor)
// asks every reactor to stop; reactors keep serving until all of them are quiescent
// (no live fibers, no I/O in flight, empty rings), so work already submitted finishes.
// Submitting after Stop() began is a bug (asserted).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "io/io_backend.h"
#include "ringdb/status.h"
#include "runtime/loop_driver.h"
#include "runtime/message.h"
#include "runtime/reactor.h"
#include "util/assert.h"

namespace ringdb::rt {

struct RuntimeOptions {
  uint32_t shards = 1;
  bool pin_threads = false;
  int thread_nice = 0;    // shard threads: this many nice steps below the creating thread
  std::vector<int> cpus;  // shard i -> cpus[i % size]; empty: cpu i % online cpus
  io::BackendOptions backend;
  BackendWrapFn wrap_backend;     // optional; tests wrap each shard's backend
  uint64_t spin_ns = 50'000;      // reactor idle spin before sleeping (0: never spin)
  bool adaptive_spin = false;     // ReactorOptions::adaptive_spin
  uint32_t ring_capacity = 1024;  // per ring, rounded up to a power of two
  size_t stack_bytes = 64 << 10;  // per fiber
  uint64_t long_fiber_run_ns = 20'000'000;
  uint64_t task_quota_ns = 500'000;
  uint64_t foreign_spin_ns = 20'000;  // blocking SubmitTo: spin before futex sleep
  uint64_t stop_timeout_ns = 10'000'000'000;
  // Null: one thread per shard. Else the driver runs the reactors (runtime/loop_driver.h);
  // it must outlive the runtime's Stop().
  LoopDriver* driver = nullptr;
};

// A one-shot completion flag a foreign thread can sleep on (futex): the caller of a
// blocking cross-thread request spins for spin_ns, then parks; the shard's Notify()
// makes the wake-up syscall only when the caller parked. Notify() may be the last
// touch of the object: once the waiter sees it, it may free it; the futex wake that
// follows only uses the address, which is harmless if stale.
class ForeignWaiter {
 public:
  void Wait(uint64_t spin_ns);
  // With a WakeBatch alive on this thread, the futex wake-up (if the waiter parked)
  // waits for the batch.
  void Notify();

 private:
  std::atomic<uint32_t> state_{0};  // 0 pending, 1 done, 2 pending with a sleeper
};

// On a shard thread: gathers the wake-ups of the ForeignWaiter::Notify calls made while
// it lives and issues them together when it goes, through the reactor's backend (one
// io_uring submission for all where the kernel can: waking eight parked writers took
// 45-64 us in eight system calls and 26-32 us in one, on a 2-vCPU VM). So a shard that
// acknowledges a group is not preempted by the first writer it wakes before it has
// woken the others.
class WakeBatch {
 public:
  WakeBatch();
  ~WakeBatch();
  WakeBatch(const WakeBatch&) = delete;
  WakeBatch& operator=(const WakeBatch&) = delete;

  void Add(std::atomic<uint32_t>* addr);
  void Flush();
  bool empty() const { return n_ == 0; }

 private:
  static constexpr uint32_t kMax = 64;
  WakeBatch* outer_;
  uint32_t n_ = 0;
  std::atomic<uint32_t>* addrs_[kMax];
};

namespace detail {

template <class R>
struct ResultSlot {
  std::optional<R> value;
  template <class F>
  void Run(F& f) {
    value.emplace(f());
  }
  R Take() { return std::move(*value); }
};
template <>
struct ResultSlot<void> {
  template <class F>
  void Run(F& f) {
    f();
  }
  void Take() {}
};

// rt::SubmitTo: lives on the calling fiber's stack.
template <class F>
struct FiberCall : Message {
  using R = std::invoke_result_t<F&>;
  FiberCall(F* f, Fiber* w, uint32_t o) : fn(f), waiter(w), origin(o) { handler = &OnTarget; }

  static void OnTarget(Message* m, Reactor* r) {
    r->Spawn(
        [m] {
          auto* c = static_cast<FiberCall*>(m);
          c->result.Run(*c->fn);
          c->handler = &OnReply;
          CurrentReactor()->SendToShard(c->origin, c);  // last touch of *c
        },
        "submit_to");
  }
  static void OnReply(Message* m, Reactor* r) { r->MakeReady(static_cast<FiberCall*>(m)->waiter); }

  F* fn;
  Fiber* waiter;
  uint32_t origin;
  ResultSlot<R> result;
};

// Runtime::SubmitTo: lives on the foreign caller's stack.
template <class F>
struct BlockingCall : Message {
  using R = std::invoke_result_t<F&>;
  explicit BlockingCall(F* f) : fn(f) { handler = &OnTarget; }

  static void OnTarget(Message* m, Reactor* r) {
    r->Spawn(
        [m] {
          auto* c = static_cast<BlockingCall*>(m);
          c->result.Run(*c->fn);
          c->done.Notify();  // last touch of *c
        },
        "submit_to_foreign");
  }

  F* fn;
  ResultSlot<R> result;
  ForeignWaiter done;
};

// Runtime::SubmitToAsync: heap-allocated, freed on the shard after the callback.
template <class F, class C>
struct AsyncCall : Message {
  AsyncCall(F&& f, C&& c) : fn(std::move(f)), cb(std::move(c)) { handler = &OnTarget; }

  static void OnTarget(Message* m, Reactor* r) {
    r->Spawn(
        [m] {
          std::unique_ptr<AsyncCall> c(static_cast<AsyncCall*>(m));
          if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
            c->fn();
            c->cb();
          } else {
            c->cb(c->fn());
          }
        },
        "submit_to_async");
  }

  F fn;
  C cb;
};

}  // namespace detail

// From a fiber: runs fn on `shard` (in a fresh fiber there) and returns its result.
template <class F>
auto SubmitTo(uint32_t shard, F&& fn) -> std::invoke_result_t<std::remove_reference_t<F>&> {
  using Fn = std::remove_reference_t<F>;
  Reactor* r = CurrentReactor();
  RINGDB_ASSERT_MSG(r != nullptr && r->current_fiber() != nullptr,
                    "rt::SubmitTo must be called from a fiber");
  if (shard == r->shard_id()) return fn();
  detail::FiberCall<Fn> call(&fn, r->current_fiber(), r->shard_id());
  r->SendToShard(shard, &call);
  r->Suspend();  // until OnReply
  return call.result.Take();
}

class Runtime {
 public:
  static Status Start(const RuntimeOptions& opt, std::unique_ptr<Runtime>* out);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Stops and joins every shard thread. Idempotent. REQUIRES: not called from one of
  // this runtime's shard threads.
  void Stop();

  uint32_t shards() const { return static_cast<uint32_t>(reactors_.size()); }
  const RuntimeOptions& options() const { return opts_; }
  // For stats and tests. A reactor's state belongs to its thread: read it there
  // (e.g. inside SubmitTo) unless the runtime is stopped.
  Reactor* reactor(uint32_t shard) const { return reactors_[shard].get(); }

  // Blocking call from any thread; see the header comment.
  template <class F>
  auto SubmitTo(uint32_t shard, F&& fn) -> std::invoke_result_t<std::remove_reference_t<F>&> {
    using Fn = std::remove_reference_t<F>;
    Reactor* cur = CurrentReactor();
    if (cur != nullptr && cur->runtime() == this) {
      RINGDB_ASSERT_MSG(cur->current_fiber() != nullptr,
                        "Runtime::SubmitTo on a shard thread outside a fiber");
      return rt::SubmitTo(shard, fn);
    }
    detail::BlockingCall<Fn> call(&fn);
    PushForeign(shard, &call);
    call.done.Wait(opts_.foreign_spin_ns);
    return call.result.Take();
  }

  // Fire-and-forget from a foreign thread; callback(result) (or callback() for void fn)
  // runs on the shard thread right after fn, in the same fiber.
  template <class F, class C>
  void SubmitToAsync(uint32_t shard, F&& fn, C&& callback) {
    using Call = detail::AsyncCall<std::decay_t<F>, std::decay_t<C>>;
    auto* call =
        new Call(std::decay_t<F>(std::forward<F>(fn)), std::decay_t<C>(std::forward<C>(callback)));
    PushForeign(shard, call);
  }

  // Low level: hands msg to `shard` over this thread's foreign ring (created and
  // registered on first use), waiting for room if the ring is full. The shard runs
  // msg->handler(msg, reactor) on its thread. REQUIRES: not on this runtime's shards.
  // Wake::kLazy: msg may wait up to about Reactor::kLazyDrainNs (a hand-off nobody waits
  // for at once, such as a write joining a held sync round): the shard is woken only if
  // its sleep may last longer or the ring is half full, so a stream of such messages
  // does not wake the shard once per message. Wake::kDeferred: the same, up to about
  // Reactor::kDeferredDrainNs (housekeeping: a block read on this thread, for the cache;
  // while only such messages come, an idle shard wakes every 20 ms, not every 1 ms).
  enum class Wake { kNow, kLazy, kDeferred };
  void PushForeign(uint32_t shard, Message* msg, Wake wake = Wake::kNow);
  // The calling thread's post buffer to `shard` (runtime/post_buffer.h), or null until
  // the thread installs one. Messages carved from it travel by PushForeign; the ring
  // owns it and destroys it when the thread and the shard have both let go.
  // REQUIRES: as PushForeign.
  PostBuffer* ForeignPostBuffer(uint32_t shard);
  // The calling thread's ForeignRing::ordered_in_flight counter to `shard`.
  // REQUIRES: as PushForeign.
  std::atomic<uint32_t>* ForeignOrderedInFlight(uint32_t shard);
  void InstallPostBuffer(uint32_t shard, std::unique_ptr<PostBuffer> buffer);

 private:
  explicit Runtime(const RuntimeOptions& opt);
  void ThreadMain(uint32_t shard);
  ReactorOptions ReactorOptionsFor(uint32_t shard) const;
  // Rings, peers and the stop group, once every reactor exists.
  void Wire();
  // Start() with opts_.driver: every reactor made here, then handed to the driver.
  Status StartDriven();
  ForeignRing* ForeignRingFor(uint32_t shard);

  RuntimeOptions opts_;
  const uint64_t id_;  // unique per process, never reused (keys foreign-thread state)
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::unique_ptr<MessageRing>> rings_;  // [from * n + to]
  std::vector<std::thread> threads_;
  detail::StopGroup stop_group_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;

  // Start-up handshake (start-up only; never on the data path).
  std::mutex start_mu_;
  std::condition_variable start_cv_;
  uint32_t created_ = 0;
  std::vector<Status> create_status_;
  enum class Go { kWait, kRun, kAbort } go_ = Go::kWait;
};

}  // namespace ringdb::rt
