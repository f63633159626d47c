// Reactor: the event loop of one shard thread. It owns the shard's fibers, timers,
// inbound rings and I/O backend, and is the only thread that touches them.
//
// One loop iteration (see docs/runtime.md):
//   1. drain every inbound ring (other shards, then registered foreign threads) in
//      bursts, running each message's handler;
//   2. run the fibers that were ready when the pass began (a fiber that yields runs
//      again next iteration, after rings, timers and I/O had their turn);
//   3. fire expired timers;
//   4. one backend->Submit() for all I/O the fibers queued, then backend->Poll()
//      (reaps at most BackendOptions::poll_batch completions; the rest next pass);
//   5. idle? spin for spin_ns re-checking (with adaptive_spin: only while recent spins
//      paid off), then sleep in backend->Wait() until the next timer, an I/O
//      completion, or a producer's Wake().
//
// Sleep/wake protocol (no lost wake-ups): the reactor sets `sleeping_`, issues a
// seq_cst fence, re-checks every inbound ring, and only then Wait()s. A producer
// pushes, issues a seq_cst fence, and if it sees `sleeping_` it clears it and calls
// backend->Wake(). Either the reactor's re-check sees the push or the producer sees
// the flag.
//
// I/O accounting: the reactor installs an io::IoAccounting as the observer of its
// (outermost) backend, so every I/O it completes is counted by class, and records the
// size of every Submit() batch; FillStats() copies that, the loop counters and the
// inbound ring occupancy into a ShardStats. An optional I/O trace (StartIoTrace) rides
// on the same hook.
//
// Thread ownership: everything here is reactor-thread-only except WakeIfSleeping(),
// RequestStop(), RegisterForeign() and the read-only accessors marked thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/io_backend.h"
#include "io/io_stats.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"
#include "runtime/fiber.h"
#include "runtime/message.h"
#include "runtime/stack_pool.h"
#include "runtime/sync.h"
#include "runtime/timer_queue.h"

namespace ringdb::rt {

// Replaces the backend a reactor would use (tests: io::FaultBackend around it).
using BackendWrapFn = std::function<std::unique_ptr<io::IoBackend>(
    std::unique_ptr<io::IoBackend> inner, unsigned shard)>;

struct ReactorOptions {
  uint32_t shard_id = 0;
  io::BackendOptions backend;
  BackendWrapFn wrap_backend;  // optional
  uint64_t spin_ns = 50'000;   // busy-poll this long when idle before sleeping
  // Spin only while most recent spins caught the end of their idle period
  // (Reactor::SpinPays): a shard that waits ~100 us for each synced write stops burning
  // its core on spins that never pay off, and spins again once work comes back within
  // the window.
  bool adaptive_spin = false;
  size_t stack_bytes = 64 << 10;              // per fiber, plus a guard page
  size_t max_cached_stacks = 256;             // StackPool free-list bound
  uint64_t task_quota_ns = 500'000;           // MaybeYield() yields after this much CPU
  uint64_t long_fiber_run_ns = 20'000'000;    // warn when a fiber runs this long
  uint32_t drain_burst = 64;                  // messages taken from one ring per pass
  uint64_t stop_timeout_ns = 10'000'000'000;  // then remaining fibers are abandoned
};

struct ReactorStats {
  uint64_t loops = 0;
  uint64_t sleeps = 0;         // backend->Wait() calls
  uint64_t idle_periods = 0;   // times the loop found nothing to do and began to idle
  uint64_t spins_skipped = 0;  // idle periods that slept at once (adaptive_spin)
  uint64_t fibers_spawned = 0;
  uint64_t switches = 0;  // fiber resumptions
  uint64_t messages = 0;  // messages handled from rings
  uint64_t timers_fired = 0;
  uint64_t long_fiber_runs = 0;  // fibers that ran past long_fiber_run_ns
  uint64_t foreign_rings = 0;    // foreign rings currently registered
  uint64_t ring_full_waits = 0;  // SendToShard calls that found the ring full and waited
};

using TimerId = uint64_t;

class Runtime;  // runtime.h

namespace detail {
// Stop coordination among the reactors of one runtime: they exit together once every
// one of them is quiescent (no live fibers, no I/O in flight, empty inbound rings).
// While a message is in flight, the fiber that waits for its answer keeps its reactor
// non-quiescent, so "all quiescent" means no message can still arrive.
struct StopGroup {
  std::atomic<int> not_quiescent{0};
  std::vector<Reactor*> members;
};
}  // namespace detail

class Reactor {
 public:
  // Creates the reactor and its I/O backend. Call on the thread that will Run() it
  // (io_uring rings may be bound to their creator).
  static Status Create(const ReactorOptions& opt, std::unique_ptr<Reactor>* out);
  Reactor(const ReactorOptions& opt, std::unique_ptr<io::IoBackend> backend);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Runs the loop on the calling thread until RequestStop() and quiescence (see
  // StopGroup), or stop_timeout_ns after the stop request.
  void Run();
  // For a LoopDriver (runtime/loop_driver.h) that runs reactors itself: one loop
  // iteration, steps 1-4 and the stop check, on the calling thread (which becomes this
  // reactor's thread for the pass). kBusy: something ran, call again. kIdle: nothing
  // ran; call again when an inbound ring has a message, a timer is due
  // (next_timer_ns()) or the backend has a completion. kStopped: the loop is over, as
  // when Run() returns; never call again. Never sleeps or spins.
  enum class PassResult : uint8_t { kBusy, kIdle, kStopped };
  PassResult RunPass();
  // Deadline of the earliest timer (util::NowNanos clock), UINT64_MAX if none.
  uint64_t next_timer_ns() const;
  // Thread-safe. Fibers see it through StopRequested() / stop_event().
  void RequestStop();
  bool StopRequested() const { return stop_requested_.load(std::memory_order_acquire); }
  // Set (on the reactor thread) once a stop was requested; long-running fibers wait on
  // it alongside their work to leave promptly.
  Event& stop_event() { return stop_event_; }

  // Starts a fiber running fn() on this reactor; it first runs on the next loop pass.
  // REQUIRES: called on this reactor's thread (or before Run() on the thread that
  // will run it). Returns the fiber id.
  template <class F>
  uint64_t Spawn(F&& fn, const char* name = "fiber");

  // Calls cb on the reactor thread (outside any fiber) at or after deadline_ns
  // (util::NowNanos clock). cb must not block; it may Spawn.
  TimerId AddTimer(uint64_t deadline_ns, std::function<void()> cb);
  bool CancelTimer(TimerId id);
  // Intrusive timers for code that owns its node (sleep_for, timed waits).
  void AddTimerNode(TimerNode* n) { timers_.Add(n); }
  bool RemoveTimerNode(TimerNode* n) { return timers_.Remove(n); }

  // ---- fiber scheduling primitives (reactor thread only) ----
  Fiber* current_fiber() const { return current_; }
  // Parks the current fiber until someone calls MakeReady() on it.
  void Suspend();
  // Puts the current fiber at the back of the ready queue and runs the others.
  void Yield();
  // REQUIRES: f is suspended and belongs to this reactor.
  void MakeReady(Fiber* f);
  // Start of the current fiber's time slice (for MaybeYield).
  uint64_t slice_start_ns() const { return slice_start_ns_; }
  const ReactorOptions& options() const { return opts_; }

  // ---- rings ----
  // Wiring done by Runtime before Run(): rings this reactor consumes / produces.
  void AddInbound(MessageRing* ring) { inbound_.push_back(ring); }
  void SetOutbound(std::vector<MessageRing*> out, std::vector<Reactor*> peers) {
    outbound_ = std::move(out);
    peers_ = std::move(peers);
    send_waiters_ = std::vector<detail::WaitList>(outbound_.size());
  }
  void SetStopGroup(detail::StopGroup* g) { stop_group_ = g; }
  // From a fiber on this reactor: pushes msg to shard `to`, then wakes the target if it
  // sleeps. While the ring is full the fiber waits in a FIFO queue for that ring
  // (backpressure, never drops); the loop lets waiters go as slots free up.
  void SendToShard(uint32_t to, Message* msg);
  // Thread-safe, lock-free: links a foreign thread's ring into this reactor's list.
  void RegisterForeign(ForeignRing* r);
  // Thread-safe: called by a producer after it pushed to one of our rings.
  void WakeIfSleeping();
  // Thread-safe: the same for a message that may wait up to max_wait_ns (a "lazy" or
  // "deferred" push, see Runtime::PushForeign): wakes the reactor only if its sleep may
  // last longer. While foreign messages keep arriving (one in the last kLazyWindowNs)
  // the reactor sleeps at most kLazyDrainNs, or kDeferredDrainNs when all of them were
  // deferred, so such a message is handled within about that time, and a stream of
  // them costs one wake-up per bound instead of one per message.
  void WakeIfSleepingLongerThan(int64_t max_wait_ns);
  static constexpr int64_t kLazyDrainNs = 1'000'000;
  static constexpr int64_t kDeferredDrainNs = 20'000'000;
  static constexpr uint64_t kLazyWindowNs = 100'000'000;

  // Queues req for this loop pass's submission, foreground first: background requests
  // (flush, compaction) are held back and handed to the backend after every
  // foreground request prepared in the same pass, so a deep compaction queue never
  // sits in front of a user read or a WAL write in the submission queue. A linked
  // chain (IoRequest::kLinkNext) stays together on the route of its first request.
  void PrepareIo(io::IoRequest* req) {
    const bool bg = chain_route_ != ChainRoute::kNone ? chain_route_ == ChainRoute::kBackground
                                                      : IsBackground(req->io_class);
    if (!(req->flags & io::IoRequest::kLinkNext)) {
      chain_route_ = ChainRoute::kNone;  // the chain (if any) ends here
    } else {
      chain_route_ = bg ? ChainRoute::kBackground : ChainRoute::kForeground;
    }
    if (!bg) {
      backend_->Prepare(req);
      return;
    }
    req->next_ = nullptr;
    if (bg_tail_ != nullptr) {
      bg_tail_->next_ = req;
    } else {
      bg_head_ = req;
    }
    bg_tail_ = req;
  }
  static bool IsBackground(io::IoClass c) {
    return c == io::IoClass::kFlush || c == io::IoClass::kCompactionRead ||
           c == io::IoClass::kCompactionWrite || c == io::IoClass::kCacheWarm;
  }

  // ---- accessors ----
  uint32_t shard_id() const { return opts_.shard_id; }
  io::IoBackend* backend() const { return backend_.get(); }
  // Which backend was chosen and why (thread-safe: fixed at creation).
  const io::BackendChoice& backend_choice() const { return backend_choice_; }
  StackPool& stacks() { return stacks_; }
  uint32_t live_fibers() const { return live_fibers_; }
  const ReactorStats& stats() const { return stats_; }
  uint64_t now_ns() const { return now_ns_; }  // cached at the last loop pass
  // Thread-safe: true while the reactor is (about to be) asleep in backend->Wait().
  bool sleeping() const { return sleeping_.load(std::memory_order_acquire); }
  // The Runtime whose shard this reactor runs, or null (a reactor made on its own):
  // tells "called on one of this Runtime's shard threads" apart from other reactors.
  const Runtime* runtime() const { return runtime_; }
  void set_runtime(const Runtime* rt) { runtime_ = rt; }

  // ---- I/O accounting and trace (reactor thread only) ----
  // Copies the I/O statistics (out->io: per class counts, bytes and latency, submit
  // batches, depth at submit, backend name, in flight, trace counters) and the loop's
  // (out->runtime: loops, sleeps, switches, messages, ring occupancy...) into *out.
  // Leaves every other field of *out alone.
  void FillStats(ringdb::ShardStats* out) const;
  const io::IoAccounting& io_accounting() const { return io_acct_; }
  // An I/O another thread did for this reactor's owner (a reader's own block read):
  // counted and traced as if this reactor had completed it.
  void AccountForeignIo(const io::IoRequest& req) { io_acct_.OnIoComplete(req); }
  const ringdb::HistogramData& ring_occupancy() const { return ring_occupancy_; }

  // Starts recording every I/O this reactor completes into a new trace file at `path`
  // (truncated if it exists; docs/iotrace.md), buffering at most buffer_bytes.
  // REQUIRES: in a fiber of this reactor (the file is opened and its header written
  // through the backend), or on its thread before Run(). Error if a trace is running.
  Status StartIoTrace(const std::string& path, size_t buffer_bytes);
  // Stops recording, writes what is buffered and the final header, syncs and closes
  // the file. OK when no trace runs. REQUIRES: in a fiber of this reactor, or on its
  // thread while Run() is not running.
  Status StopIoTrace();
  // Names `fd` in the trace from now on (files opened outside the backend, or before
  // StartIoTrace; files opened through the backend are named automatically). number 0:
  // parsed from the name ("000123.sst" -> 123). No-op without a running trace.
  void RegisterTraceFile(int fd, uint64_t file_number, std::string_view name);
  bool io_trace_running() const { return trace_fd_ >= 0; }

 private:
  static constexpr size_t kMaxInlineFnBytes = 1024;
  struct OwnedTimer;

  uint64_t Launch(Stack s, char* fiber_mem, char* sp, detail::FiberFnBase* fn, bool on_heap,
                  const char* name);
  static void FiberEntry(boost::context::detail::transfer_t t);
  void SwitchTo(Fiber* f);
  void SwitchToMain(bool exiting);
  void DestroyFiber(Fiber* f);
  bool DrainInbound();
  bool InboundEmpty();
  void UnlinkForeign(ForeignRing* prev, ForeignRing* node);
  bool RunReady();
  bool Pass();
  bool ServiceSendWaiters();
  bool SendWaitersCanGo();
  void Sleep();
  bool StopReached();
  void Shutdown();
  void AbandonIoTrace();

  // Background requests PrepareIo held back this pass (linked through next_, which is
  // the backend's only once Prepare()d).
  void PrepareBackground() {
    while (bg_head_ != nullptr) {
      io::IoRequest* r = bg_head_;
      bg_head_ = r->next_;
      backend_->Prepare(r);
    }
    bg_tail_ = nullptr;
  }

  ReactorOptions opts_;
  std::unique_ptr<io::IoBackend> backend_;
  io::IoRequest* bg_head_ = nullptr;
  io::IoRequest* bg_tail_ = nullptr;
  // The route of the linked chain being prepared (taken by its first request), kNone
  // between chains.
  enum class ChainRoute : uint8_t { kNone, kForeground, kBackground };
  ChainRoute chain_route_ = ChainRoute::kNone;
  io::IoAccounting io_acct_;  // installed as backend_'s observer
  ringdb::HistogramData ring_occupancy_;
  std::unique_ptr<io::IoTraceRecorder> trace_;  // kept after StopIoTrace for its counters
  int trace_fd_ = -1;                           // >= 0 while a trace runs
  std::string trace_path_;
  uint64_t trace_start_wall_ns_ = 0;
  uint64_t trace_start_mono_ns_ = 0;
  io::BackendChoice backend_choice_;
  StackPool stacks_;
  TimerQueue timers_;
  ReactorStats stats_;

  // Ready queue (FIFO, intrusive) and the fiber being run.
  Fiber* ready_head_ = nullptr;
  Fiber* ready_tail_ = nullptr;
  size_t ready_count_ = 0;
  Fiber* current_ = nullptr;
  Fiber* all_fibers_ = nullptr;  // every live fiber (for shutdown)
  uint32_t live_fibers_ = 0;
  uint64_t next_fiber_id_ = 1;
  uint64_t slice_start_ns_ = 0;
  uint64_t now_ns_ = 0;

  // The loop's own context (the thread's stack), as seen from fibers.
  boost::context::detail::fcontext_t main_ctx_ = nullptr;
  const void* main_stack_bottom_ = nullptr;
  size_t main_stack_size_ = 0;
  void* main_fake_stack_ = nullptr;
  void* main_tsan_fiber_ = nullptr;

  // Timers created by AddTimer (the queue holds their nodes).
  std::unordered_map<TimerId, std::unique_ptr<OwnedTimer>> owned_timers_;
  TimerId next_timer_id_ = 1;

  std::vector<MessageRing*> inbound_;
  std::vector<MessageRing*> outbound_;  // index: target shard (nullptr for self)
  std::vector<Reactor*> peers_;
  std::vector<detail::WaitList> send_waiters_;  // fibers waiting for room, per target
  uint32_t send_waiting_ = 0;
  std::atomic<ForeignRing*> foreign_head_{nullptr};
  std::vector<Message*> drain_buf_;
  uint64_t last_foreign_ns_ = 0;   // when the loop last handled a foreign message
  uint64_t last_deferred_ns_ = 0;  // ... one whose ring had pushed only deferred ones
  // Adaptive spin: a score in [0, kSpinScoreMax], raised by spins that caught the end
  // of their idle period and lowered by spins that ran out (an exponential average,
  // weight 1/8).
  static constexpr uint32_t kSpinScoreMax = 256;
  static constexpr uint32_t kSpinProbeEvery = 8;
  uint32_t spin_score_ = kSpinScoreMax;
  uint32_t spin_probe_ = 0;
  void RecordSpin(bool caught);
  bool SpinPays();

  alignas(kCacheLine) std::atomic<bool> sleeping_{false};
  // Set with sleeping_: this sleep ends within this many ns (INT64_MAX: no bound).
  std::atomic<int64_t> sleep_bound_ns_{INT64_MAX};
  std::atomic<bool> stop_requested_{false};
  detail::StopGroup own_stop_group_;
  detail::StopGroup* stop_group_ = nullptr;
  bool stop_seen_ = false;
  bool counted_quiescent_ = false;
  uint64_t stop_deadline_ns_ = 0;
  Event stop_event_;
  const Runtime* runtime_ = nullptr;
};

// ---- the current thread's reactor and fiber ----

// The reactor running on this thread, or nullptr on a foreign thread.
Reactor* CurrentReactor();
// The current reactor's shard id. REQUIRES: on a reactor thread.
uint32_t ShardId();
// True when called from inside a fiber.
bool InFiber();

// Fiber-only helpers (REQUIRES: InFiber()).
void Yield();
void SleepFor(uint64_t ns);
void SleepUntil(uint64_t deadline_ns);
// Yields when the current fiber has run for task_quota_ns since it was resumed.
// Long loops (compaction, scans) call it every few iterations. True if it yielded.
bool MaybeYield();

// ---- template implementation ----

template <class F>
uint64_t Reactor::Spawn(F&& fn, const char* name) {
  using Fn = detail::FiberFn<std::decay_t<F>>;
  static_assert(alignof(Fn) <= kCacheLine, "over-aligned fiber callable");
  Stack s = stacks_.Get();
  auto align_down = [](char* p, size_t a) {
    return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(a) - 1));
  };
  char* fiber_mem = align_down(s.top() - sizeof(Fiber), kCacheLine);
  if constexpr (sizeof(Fn) <= kMaxInlineFnBytes) {
    char* fn_mem = align_down(fiber_mem - sizeof(Fn), alignof(Fn) < 16 ? 16 : alignof(Fn));
    auto* f = new (fn_mem) Fn(std::forward<F>(fn));
    return Launch(s, fiber_mem, align_down(fn_mem, 64), f, false, name);
  } else {
    auto* f = new Fn(std::forward<F>(fn));
    return Launch(s, fiber_mem, align_down(fiber_mem, 64), f, true, name);
  }
}

}  // namespace ringdb::rt
