#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "util/clock.h"

namespace ringdb::rt {
namespace {

constexpr uint64_t kMs = 1'000'000;

std::unique_ptr<Runtime> StartRuntime(RuntimeOptions opt) {
  std::unique_ptr<Runtime> rt;
  Status s = Runtime::Start(opt, &rt);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return rt;
}

RuntimeOptions Shards(uint32_t n) {
  RuntimeOptions opt;
  opt.shards = n;
  opt.spin_ns = 20'000;
  return opt;
}

TEST(RuntimeTest, StartRejectsZeroShards) {
  RuntimeOptions opt;
  opt.shards = 0;
  std::unique_ptr<Runtime> rt;
  EXPECT_TRUE(Runtime::Start(opt, &rt).IsInvalidArgument());
}

TEST(RuntimeTest, ForeignSubmitRunsOnTheTargetShard) {
  auto rt = StartRuntime(Shards(3));
  ASSERT_TRUE(rt);
  for (uint32_t s = 0; s < 3; s++) {
    auto [shard, in_fiber, tid] = rt->SubmitTo(
        s, [] { return std::make_tuple(ShardId(), InFiber(), std::this_thread::get_id()); });
    EXPECT_EQ(shard, s);
    EXPECT_TRUE(in_fiber);
    EXPECT_NE(tid, std::this_thread::get_id());
  }
  int x = 0;
  rt->SubmitTo(1, [&] { x = 42; });  // void result
  EXPECT_EQ(x, 42);
}

TEST(RuntimeTest, FiberSubmitToCrossesShardsAndComesBack) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  auto [inner, after] = rt->SubmitTo(0, [] {
    uint32_t inner = rt::SubmitTo(1, [] { return ShardId(); });
    return std::make_pair(inner, ShardId());
  });
  EXPECT_EQ(inner, 1u);
  EXPECT_EQ(after, 0u);
}

TEST(RuntimeTest, SubmitToSameShardRunsInline) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  bool same_fiber = rt->SubmitTo(1, [] {
    Fiber* me = CurrentReactor()->current_fiber();
    return rt::SubmitTo(1, [me] { return CurrentReactor()->current_fiber() == me; });
  });
  EXPECT_TRUE(same_fiber);
}

TEST(RuntimeTest, SubmittedFunctionMaySuspendAndSubmitAgain) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  int v = rt->SubmitTo(0, [] {
    return rt::SubmitTo(1, [] {
      SleepFor(kMs);
      return rt::SubmitTo(0, [] { return 7 + static_cast<int>(ShardId()); }) * 10;
    });
  });
  EXPECT_EQ(v, 70);
}

TEST(RuntimeTest, RuntimeSubmitToFromAFiberActsAsFiberForm) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  Runtime* r = rt.get();
  uint32_t s = rt->SubmitTo(0, [r] { return r->SubmitTo(1, [] { return ShardId(); }); });
  EXPECT_EQ(s, 1u);
}

// Tiny rings in both directions and many concurrent callers: exercises the
// yield-while-full path and shows two shards never deadlock on each other.
TEST(RuntimeTest, FullRingsApplyBackpressureWithoutLoss) {
  RuntimeOptions opt = Shards(2);
  opt.ring_capacity = 2;
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  constexpr int kCalls = 500;
  std::vector<std::thread> threads;
  std::atomic<int64_t> total{0};
  for (uint32_t from = 0; from < 2; from++) {
    threads.emplace_back([&, from] {
      int64_t sum = rt->SubmitTo(from, [] {
        int64_t sum = 0;
        WaitGroup wg;
        const uint32_t to = 1 - ShardId();
        for (int i = 0; i < kCalls; i++) {
          wg.Add();
          CurrentReactor()->Spawn([&sum, &wg, to, i] {
            sum += rt::SubmitTo(to, [i] { return i; });
            wg.Done();
          });
        }
        wg.Wait();
        return sum;
      });
      total += sum;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 2 * int64_t{kCalls} * (kCalls - 1) / 2);
}

TEST(RuntimeTest, AsyncCallbackRunsOnTheShardAfterFn) {
  RuntimeOptions opt = Shards(2);
  opt.ring_capacity = 4;  // the foreign producer hits a full ring
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  constexpr int kCalls = 2000;
  std::atomic<int> callbacks{0};
  std::atomic<int> wrong_shard{0};
  std::promise<void> all_done;
  for (int i = 0; i < kCalls; i++) {
    rt->SubmitToAsync(
        i % 2, [i] { return std::make_pair(i, ShardId()); },
        [&, i](std::pair<int, uint32_t> r) {
          if (r.first != i || r.second != static_cast<uint32_t>(i % 2) ||
              ShardId() != static_cast<uint32_t>(i % 2)) {
            wrong_shard++;
          }
          if (++callbacks == kCalls) all_done.set_value();
        });
  }
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(wrong_shard.load(), 0);
}

TEST(RuntimeTest, ManyForeignThreadsAtOnce) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 500;
  // One counter per shard, touched only by that shard's thread: no atomics needed.
  std::vector<int64_t> counters(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; i++) {
        const uint32_t shard = (t + i) % 2;
        int64_t got = rt->SubmitTo(shard, [&counters, shard] { return ++counters[shard]; });
        ASSERT_GT(got, 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  int64_t c0 = rt->SubmitTo(0, [&] { return counters[0]; });
  int64_t c1 = rt->SubmitTo(1, [&] { return counters[1]; });
  EXPECT_EQ(c0 + c1, int64_t{kThreads} * kCallsPerThread);
}

TEST(RuntimeTest, RingsOfExitedForeignThreadsAreReclaimed) {
  auto rt = StartRuntime(Shards(1));
  ASSERT_TRUE(rt);
  for (int i = 0; i < 10; i++) {
    std::thread([&] { rt->SubmitTo(0, [] {}); }).join();
  }
  // Our own ring stays registered; the ten exited threads' rings must go away once
  // the reactor has drained them (it checks on every pass).
  uint64_t rings = 0;
  for (int attempt = 0; attempt < 100; attempt++) {
    rings = rt->SubmitTo(0, [] { return CurrentReactor()->stats().foreign_rings; });
    if (rings == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(rings, 1u);
}

TEST(RuntimeTest, SleepingReactorWakesOnPush) {
  RuntimeOptions opt = Shards(2);
  opt.spin_ns = 0;  // sleep as soon as idle
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  int slept_before_push = 0;
  for (int i = 0; i < 20; i++) {
    const uint64_t sleeps_before = rt->SubmitTo(1, [] { return CurrentReactor()->stats().sleeps; });
    // Wait until shard 1 has been flagged asleep for a while, i.e. it is (almost
    // surely) inside backend->Wait() with no timer armed: only a Wake() gets it out.
    int stable = 0;
    for (int spins = 0; stable < 20; spins++) {
      ASSERT_LT(spins, 100'000) << "shard 1 never went to sleep";
      stable = rt->reactor(1)->sleeping() ? stable + 1 : 0;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::promise<uint64_t> p;
    rt->SubmitToAsync(
        1, [] { return CurrentReactor()->stats().sleeps; }, [&](uint64_t s) { p.set_value(s); });
    auto f = p.get_future();
    // A lost wake-up would leave this pending forever.
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "iteration " << i;
    slept_before_push += f.get() > sleeps_before;
  }
  // The flag is raised just before the final re-check, so a push can occasionally land
  // in that window and be picked up without sleeping; most pushes must find it asleep.
  EXPECT_GE(slept_before_push, 10);
}

RuntimeOptions NoSpin(RuntimeOptions opt) {
  opt.spin_ns = 0;  // an idle reactor goes straight to sleep
  return opt;
}

// A message that counts itself handled and deletes itself.
struct CountedMessage : Message {
  explicit CountedMessage(std::atomic<int>* n) : handled(n) {
    handler = [](Message* m, Reactor*) {
      auto* c = static_cast<CountedMessage*>(m);
      c->handled->fetch_add(1, std::memory_order_release);
      delete c;
    };
  }
  std::atomic<int>* handled;
};

// A lazy push (Runtime::Wake::kLazy) is never lost: to a reactor asleep with no bound it
// wakes it as a normal push does, and a stream of them is handled without a wake-up per
// message (the reactor's sleeps are bounded while foreign messages keep coming).
TEST(RuntimeTest, LazyPushesAreAllHandled) {
  auto rt = StartRuntime(NoSpin(Shards(2)));
  ASSERT_TRUE(rt);
  std::atomic<int> handled{0};
  auto push = [&] { rt->PushForeign(1, new CountedMessage(&handled), Runtime::Wake::kLazy); };
  auto wait_for = [&](int want) {
    for (int i = 0; i < 100'000 && handled.load(std::memory_order_acquire) < want; i++) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return handled.load(std::memory_order_acquire);
  };
  // Past the lazy window the shard sleeps with no bound: a lazy push must wake it.
  std::this_thread::sleep_for(std::chrono::nanoseconds(Reactor::kLazyWindowNs + 20 * kMs));
  push();
  ASSERT_EQ(wait_for(1), 1) << "a lazy push to a reactor asleep with no bound was not handled";
  // A stream, with pauses longer than the bounded sleep.
  const uint64_t sleeps_before = rt->SubmitTo(1, [] { return CurrentReactor()->stats().sleeps; });
  for (int i = 0; i < 2000; i++) {
    push();
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  ASSERT_EQ(wait_for(2001), 2001) << "lazy pushes were lost";
  const uint64_t sleeps = rt->SubmitTo(1, [] { return CurrentReactor()->stats().sleeps; });
  EXPECT_GT(sleeps, sleeps_before);  // it did sleep between them, and still saw them
}

// Deferred pushes (Runtime::Wake::kDeferred) are all handled too, and while only they
// come an idle reactor sleeps up to kDeferredDrainNs at a time instead of kLazyDrainNs;
// a lazy push among them brings the shorter bound back.
TEST(RuntimeTest, DeferredPushesAreAllHandledWithFewerWakeUps) {
  auto rt = StartRuntime(NoSpin(Shards(2)));
  ASSERT_TRUE(rt);
  std::atomic<int> handled{0};
  auto push = [&](Runtime::Wake wake) { rt->PushForeign(1, new CountedMessage(&handled), wake); };
  auto sleeps = [&] { return rt->SubmitTo(1, [] { return CurrentReactor()->stats().sleeps; }); };
  // One push a millisecond for 300 ms, then until every one is handled.
  auto stream = [&](Runtime::Wake wake) {
    const int before = handled.load();
    const uint64_t slept = sleeps();
    for (int i = 0; i < 300; i++) {
      push(wake);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int i = 0; i < 100'000 && handled.load(std::memory_order_acquire) < before + 300; i++) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    EXPECT_EQ(handled.load(std::memory_order_acquire), before + 300) << "pushes were lost";
    return sleeps() - slept;
  };
  // Past the lazy window the shard sleeps with no bound: the first push wakes it.
  std::this_thread::sleep_for(std::chrono::nanoseconds(Reactor::kLazyWindowNs + 20 * kMs));
  const uint64_t deferred = stream(Runtime::Wake::kDeferred);
  const uint64_t lazy = stream(Runtime::Wake::kLazy);
  // About 300 / 20 against about 300 wake-ups (each bounded sleep ends one); slow
  // machines sleep longer than asked, which lowers both.
  EXPECT_LT(deferred * 4, lazy) << "deferred " << deferred << ", lazy " << lazy;
}

// ForeignWaiter::Notify inside a WakeBatch defers the futex wake-ups to the batch's
// end, where the backend issues them together (io_uring: one submission of
// IORING_OP_FUTEX_WAKE where the kernel has it; libaio: one system call each). More
// waiters than a batch holds, so it also flushes midway.
TEST(RuntimeTest, WakeBatchWakesEveryParkedWaiter) {
  for (io::BackendKind kind : {io::BackendKind::kUring, io::BackendKind::kAio}) {
    RuntimeOptions opt = Shards(1);
    opt.backend.kind = kind;
    auto rt = StartRuntime(opt);
    ASSERT_TRUE(rt);
    constexpr int kWaiters = 70;
    std::vector<ForeignWaiter> waiters(kWaiters);
    std::atomic<int> woken{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kWaiters; i++) {
      threads.emplace_back([&, i] {
        waiters[i].Wait(/*spin_ns=*/0);
        woken.fetch_add(1, std::memory_order_acq_rel);
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // most of them park
    rt->SubmitTo(0, [&] {
      WakeBatch batch;
      for (ForeignWaiter& w : waiters) w.Notify();
    });
    for (int i = 0; i < 10'000 && woken.load() < kWaiters; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(woken.load(), kWaiters) << "backend " << static_cast<int>(kind);
    if (woken.load() < kWaiters) {
      for (ForeignWaiter& w : waiters) w.Notify();  // do not hang the join
    }
    for (auto& t : threads) t.join();
  }
}

// The fibers one pass of the reactor runs batch the wake-ups of the foreign callers they
// finish for (Reactor::RunReady). 70 blocking calls whose fibers all wake at one
// deadline (more than a batch holds), beside a fiber that runs 3 ms without yielding
// (the batch flushes after it rather than holding the wake-ups behind it): every caller
// returns, with its own result, on both backends.
TEST(RuntimeTest, FibersOfOnePassWakeTheirCallersTogether) {
  for (io::BackendKind kind : {io::BackendKind::kUring, io::BackendKind::kAio}) {
    RuntimeOptions opt = Shards(1);
    opt.backend.kind = kind;
    opt.foreign_spin_ns = 0;  // every caller parks
    auto rt = StartRuntime(opt);
    ASSERT_TRUE(rt);
    constexpr int kCallers = 70;
    for (int round = 0; round < 3; round++) {
      const uint64_t deadline = util::NowNanos() + 30 * kMs;
      std::vector<int> got(kCallers, -1);
      std::vector<std::thread> threads;
      for (int i = 0; i < kCallers; i++) {
        threads.emplace_back([&, i] {
          got[i] = rt->SubmitTo(0, [deadline, i] {
            SleepUntil(deadline);
            if (i == kCallers / 2) {
              const uint64_t until = util::NowNanos() + 3 * kMs;
              while (util::NowNanos() < until) {
              }
            }
            return i;
          });
        });
      }
      for (auto& t : threads) t.join();
      for (int i = 0; i < kCallers; i++) {
        ASSERT_EQ(got[i], i) << "backend " << static_cast<int>(kind) << " round " << round;
      }
    }
  }
}

TEST(RuntimeTest, ShardToShardWakesSleepingPeer) {
  RuntimeOptions opt = Shards(2);
  opt.spin_ns = 0;
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  int64_t n = rt->SubmitTo(0, [] {
    int64_t n = 0;
    for (int i = 0; i < 200; i++) {
      if (i % 20 == 0) SleepFor(kMs);  // let shard 1 fall asleep
      n += rt::SubmitTo(1, [] { return 1; });
    }
    return n;
  });
  EXPECT_EQ(n, 200);
}

TEST(RuntimeTest, StopFinishesSubmittedWork) {
  auto rt = StartRuntime(Shards(2));
  ASSERT_TRUE(rt);
  std::atomic<int> done{0};
  for (int i = 0; i < 100; i++) {
    rt->SubmitToAsync(
        i % 2, [] { SleepFor(2 * kMs); }, [&] { done++; });
  }
  rt->Stop();
  EXPECT_EQ(done.load(), 100);
  rt->Stop();  // idempotent
}

TEST(RuntimeTest, PinnedThreadsRun) {
  RuntimeOptions opt = Shards(2);
  opt.pin_threads = true;
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  EXPECT_EQ(rt->SubmitTo(1, [] { return ShardId(); }), 1u);
}

// ReactorOptions::adaptive_spin: a reactor whose spins never catch the end of an idle
// period (work comes every 40 ms, the spin is 10 ms) stops spinning; once work comes
// back every few microseconds its probes catch it and it spins again. (A long spin, so
// that a test thread preempted for a scheduler slice on a loaded machine, or slowed
// down by TSan, still comes back within it.)
TEST(RuntimeTest, AdaptiveSpinFollowsHowSoonWorkComes) {
  RuntimeOptions opt = Shards(2);
  opt.spin_ns = 10'000'000;
  opt.adaptive_spin = true;
  auto rt = StartRuntime(opt);
  ASSERT_TRUE(rt);
  struct Counters {
    uint64_t idle, skipped;
  };
  auto counters = [&] {
    return rt->SubmitTo(1, [] {
      const ReactorStats& s = CurrentReactor()->stats();
      return Counters{s.idle_periods, s.spins_skipped};
    });
  };
  struct Noop : Message {
    std::atomic<int>* handled = nullptr;
    Noop() {
      handler = [](Message* m, Reactor*) {
        static_cast<Noop*>(m)->handled->fetch_add(1, std::memory_order_release);
      };
    }
  };
  std::atomic<int> handled{0};
  std::vector<Noop> msgs(20'000);
  for (Noop& m : msgs) m.handled = &handled;
  size_t next = 0;
  auto push_and_wait = [&] {
    const int want = handled.load(std::memory_order_acquire) + 1;
    rt->PushForeign(1, &msgs[next++]);
    while (handled.load(std::memory_order_acquire) < want) std::this_thread::yield();
  };

  // Slow work: every spin runs out.
  const Counters a = counters();
  for (int i = 0; i < 30; i++) {
    push_and_wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  const Counters b = counters();
  ASSERT_GT(b.idle - a.idle, 0u);
  EXPECT_GE(2 * (b.skipped - a.skipped), b.idle - a.idle)
      << "most idle periods should sleep at once: " << b.skipped - a.skipped << " of "
      << b.idle - a.idle;

  // Fast work: one message right after another. On a loaded machine this thread may
  // be preempted for longer than the spin often enough to keep the score down for a
  // while: allow a few rounds.
  uint64_t idle = 0, skipped = 0;
  for (int round = 0; round < 5; round++) {
    for (Noop& m : msgs) m.handled = &handled;
    next = 0;
    while (next < msgs.size() / 2) push_and_wait();
    const Counters c = counters();
    while (next < msgs.size()) push_and_wait();
    const Counters d = counters();
    idle = d.idle - c.idle;
    skipped = d.skipped - c.skipped;
    ASSERT_GT(idle, 0u);
    if (2 * skipped < idle) break;
  }
  EXPECT_LT(2 * skipped, idle) << "most idle periods should spin again: " << skipped
                               << " skipped of " << idle;
}

}  // namespace
}  // namespace ringdb::rt
