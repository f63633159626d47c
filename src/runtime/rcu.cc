#include "runtime/rcu.h"

// liburcu's membarrier flavour, called through the library (no _LGPL_SOURCE: ringdb is
// Apache-2.0, so the read-side functions are not inlined; measured 11 ns per
// lock/unlock pair on the 2-core VM, next to a 1-3 us Get).
#include <pthread.h>
#include <urcu/urcu-memb.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/sanitizer.h"
#include "util/assert.h"

namespace ringdb::rt::rcu {
namespace {

// ThreadSanitizer cannot see liburcu's grace periods (liburcu is not instrumented):
// every read-side section releases this token as it ends, and reclamation acquires it
// after the grace period, which is the order liburcu guarantees. No-ops without TSan.
char g_grace_token;
#ifdef RINGDB_TSAN
void TsanRelease(void* p) {
  __tsan_release(p);
}
void TsanAcquire(void* p) {
  __tsan_acquire(p);
}
#else
void TsanRelease(void*) {}
void TsanAcquire(void*) {}
#endif

// Registration lives as long as the thread: liburcu requires a registered reader to
// unregister before it exits (a dead reader would otherwise stall grace periods).
struct Registration {
  bool registered = false;
  int depth = 0;  // read-side nesting, for InReadSection and the debug checks
  ~Registration() {
    if (registered) urcu_memb_unregister_thread();
  }
};
thread_local Registration tl_reg;
thread_local bool tl_is_reclaimer = false;  // retired callbacks run on this thread

using Callback = std::pair<void (*)(void*), void*>;  // RetireList's items too

// The reclaimer: one thread per process (kReclaimerThreadName) that runs retired
// objects' callbacks after a grace period.
//
// Why not liburcu's call_rcu thread: it ran a grace period about every 10 ms, and in
// urcu-memb a grace period that finds readers inside their sections sleeps on a futex
// that the next reader to leave a section wakes, then issues two membarriers (an IPI to
// every CPU running this process) and scans again. With 16 application threads doing
// cold reads on 2 vCPUs, readers are often preempted inside a section, so each grace
// period went round about 25 times: 5,900 membarrier and 5,000 futex calls a second for
// 117 grace periods (docs/bench.md), and the call_rcu thread took 9.8% of the samples.
// This thread lets retirements gather for kPromptWaitMs before each grace period, sooner
// when kMaxQueued items wait or a Barrier() asks: about 24 grace periods a second under
// that load instead of 117. Items retired as deferrable (evicted cache blocks) wait up
// to kDeferrableWaitMs, or until kDeferrableBytes of them wait: at 16 threads reading a
// store 50 times the cache's size the cache still admits a few hundred blocks a second,
// so every 50 ms found an eviction to free, and the grace periods cost the readers about
// 5% of their reads (docs/bench.md, 2026-12-07, evening).
//
// Created by the first StartReclaimer() or Retire() and never destroyed (as liburcu's
// default call_rcu thread): callbacks still queued at exit do not run.
class Reclaimer {
 public:
  // Memory: what waits here is freed up to kPromptWaitMs (deferrable items alone:
  // kDeferrableWaitMs) plus a grace period late; a grace period starts at once when
  // kMaxQueued items or kDeferrableBytes of deferrable ones wait (evicted blocks: at
  // most about 8 MiB on top of the cache's budget).
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxQueued = 2048;

  static Reclaimer& Get() {
    static Reclaimer* r = new Reclaimer;  // lives as long as the process
    return *r;
  }

  void Add(std::vector<Callback> items, Wait wait, size_t deferrable_bytes) {
    const uint32_t ms = wait == Wait::kPrompt ? kPromptWaitMs : kDeferrableWaitMs;
    const Clock::time_point due = Clock::now() + std::chrono::milliseconds(ms);
    std::lock_guard<std::mutex> l(mu_);
    queued_ += items.size();
    deferrable_bytes_ += deferrable_bytes;
    queue_.push_back(std::move(items));
    added_++;
    // The reclaimer sleeps until the earliest deadline; tell it when this one is earlier.
    const bool wake =
        due < deadline_ || queued_ >= kMaxQueued || deferrable_bytes_ >= kDeferrableBytes;
    deadline_ = std::min(deadline_, due);
    if (wake) work_.notify_one();
  }

  void Barrier() {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t target = added_;
    if (done_ >= target) return;
    barrier_ = std::max(barrier_, target);
    work_.notify_one();
    finished_.wait(l, [&] { return done_ >= target; });
  }

 private:
  Reclaimer() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    pthread_setname_np(pthread_self(), kReclaimerThreadName);
    tl_is_reclaimer = true;
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_.wait(l, [&] { return !queue_.empty(); });
      const auto now_due = [&] {
        return barrier_ > done_ || queued_ >= kMaxQueued || deferrable_bytes_ >= kDeferrableBytes ||
               Clock::now() >= deadline_;
      };
      while (!now_due()) work_.wait_until(l, deadline_);
      std::vector<std::vector<Callback>> run;
      run.swap(queue_);
      queued_ = 0;
      deferrable_bytes_ = 0;
      deadline_ = Clock::time_point::max();
      l.unlock();
      urcu_memb_synchronize_rcu();
      TsanAcquire(&g_grace_token);
      for (std::vector<Callback>& items : run) {
        for (auto& [fn, arg] : items) fn(arg);
      }
      l.lock();
      done_ += run.size();
      finished_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_;      // the reclaimer waits for work, a barrier, a full queue
  std::condition_variable finished_;  // Barrier() waits for its batches
  std::vector<std::vector<Callback>> queue_;               // batches, oldest first
  size_t queued_ = 0;                                      // items in queue_
  size_t deferrable_bytes_ = 0;                            // what queue_'s deferrable items free
  Clock::time_point deadline_ = Clock::time_point::max();  // the earliest batch's due time
  uint64_t added_ = 0;                                     // batches ever added
  uint64_t done_ = 0;                                      // batches ever run
  uint64_t barrier_ = 0;  // run every batch up to this one without waiting
};

}  // namespace

void StartReclaimer() {
  Reclaimer::Get();
}

void EnsureRegistered() {
  Registration& r = tl_reg;
  if (__builtin_expect(r.registered, 1)) return;
  urcu_memb_register_thread();
  r.registered = true;
}

void detail::Lock() {
  tl_reg.depth++;
  urcu_memb_read_lock();
}

void detail::Unlock() {
  TsanRelease(&g_grace_token);  // everything this section read happens before reclamation
  urcu_memb_read_unlock();
  tl_reg.depth--;
}

bool InReadSection() {
  return tl_reg.depth > 0;
}

void Synchronize() {
  RINGDB_ASSERT_MSG(!InReadSection(), "rcu::Synchronize inside a read-side section");
  urcu_memb_synchronize_rcu();
  TsanAcquire(&g_grace_token);
}

void Retire(void (*fn)(void*), void* arg) {
  Reclaimer::Get().Add({{fn, arg}}, Wait::kPrompt, 0);
}

void Barrier() {
  RINGDB_ASSERT_MSG(!InReadSection(), "rcu::Barrier inside a read-side section");
  RINGDB_ASSERT_MSG(!tl_is_reclaimer, "rcu::Barrier from a retired callback would wait for itself");
  Reclaimer::Get().Barrier();
}

void RetireList::Flush() {
  if (items_.empty()) return;
  retired_ += items_.size();
  // The batch goes as it is; the list starts a new one at its usual size (one
  // allocation per flush, as a copy would make, and no copy).
  std::vector<Callback> batch;
  batch.reserve(kFlushItems);
  batch.swap(items_);
  const Wait wait = prompt_ ? Wait::kPrompt : Wait::kDeferrable;
  Reclaimer::Get().Add(std::move(batch), wait, deferrable_bytes_);
  prompt_ = false;
  deferrable_bytes_ = 0;
}

}  // namespace ringdb::rt::rcu
