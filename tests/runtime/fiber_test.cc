#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/reactor.h"
#include "runtime/sanitizer.h"
#include "runtime/sync.h"
#include "test_util.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::rt {
namespace {

using testing::RunInReactor;

constexpr uint64_t kMs = 1'000'000;

TEST(FiberTest, SpawnedFiberRunsOnItsReactor) {
  bool ran = false;
  RunInReactor([&] {
    EXPECT_TRUE(InFiber());
    EXPECT_EQ(ShardId(), 0u);
    CurrentReactor()->Spawn([&] {
      EXPECT_TRUE(InFiber());
      ran = true;
    });
  });
  EXPECT_TRUE(ran);
  EXPECT_EQ(CurrentReactor(), nullptr);
  EXPECT_FALSE(InFiber());
}

TEST(FiberTest, YieldRoundRobinsInFifoOrder) {
  std::string trace;
  RunInReactor([&] {
    for (char c : std::string("ABC")) {
      CurrentReactor()->Spawn([&trace, c] {
        for (int i = 0; i < 3; i++) {
          trace += c;
          Yield();
        }
      });
    }
  });
  EXPECT_EQ(trace, "ABCABCABC");
}

TEST(FiberTest, SleepForWaitsAtLeastTheDuration) {
  uint64_t elapsed = 0;
  RunInReactor([&] {
    const uint64_t t0 = util::NowNanos();
    SleepFor(5 * kMs);
    elapsed = util::NowNanos() - t0;
  });
  EXPECT_GE(elapsed, 5 * kMs);
}

TEST(FiberTest, SleepersWakeInDeadlineOrder) {
  std::vector<int> order;
  RunInReactor([&] {
    for (int ms : {30, 10, 20}) {
      CurrentReactor()->Spawn([&order, ms] {
        SleepFor(ms * kMs);
        order.push_back(ms);
      });
    }
  });
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST(FiberTest, EventSetWakesEveryWaiter) {
  int woken = 0;
  RunInReactor([&] {
    Event ev;
    WaitGroup wg;
    for (int i = 0; i < 5; i++) {
      wg.Add();
      CurrentReactor()->Spawn([&] {
        ev.Wait();
        woken++;
        wg.Done();
      });
    }
    Yield();  // let them block
    EXPECT_EQ(woken, 0);
    ev.Set();
    wg.Wait();
    EXPECT_TRUE(ev.IsSet());
    ev.Wait();  // already set: returns at once
    ev.Reset();
    EXPECT_FALSE(ev.IsSet());
  });
  EXPECT_EQ(woken, 5);
}

TEST(FiberTest, EventWaitForTimesOut) {
  bool got = true;
  RunInReactor([&] {
    Event ev;
    got = ev.WaitFor(2 * kMs);
  });
  EXPECT_FALSE(got);
}

TEST(FiberTest, EventSetBeforeTimeoutCancelsTheTimer) {
  bool got = false;
  RunInReactor([&] {
    Event ev;
    CurrentReactor()->Spawn([&] {
      SleepFor(1 * kMs);
      ev.Set();
    });
    got = ev.WaitFor(1000 * kMs);
    // If the timer were still armed it would wake this fiber a second time (asserts).
    SleepFor(2 * kMs);
  });
  EXPECT_TRUE(got);
}

TEST(FiberTest, SemaphoreLimitsConcurrency) {
  int inside = 0, max_inside = 0, done = 0;
  RunInReactor([&] {
    Semaphore sem(2);
    WaitGroup wg;
    for (int i = 0; i < 10; i++) {
      wg.Add();
      CurrentReactor()->Spawn([&] {
        sem.Acquire();
        inside++;
        max_inside = std::max(max_inside, inside);
        SleepFor(kMs / 2);
        inside--;
        done++;
        sem.Release();
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(sem.available(), 2);
  });
  EXPECT_EQ(max_inside, 2);
  EXPECT_EQ(done, 10);
}

TEST(FiberTest, ManyFibersAllFinish) {
  // Each live fiber holds a stack (two mappings; more under TSan): stay well below
  // vm.max_map_count.
#ifdef RINGDB_TSAN
  // TSan tracks every fiber like a thread and its vector clocks grow with the largest
  // count ever alive, slowing every later atomic in the process.
  constexpr int kFibers = 300;
#else
  constexpr int kFibers = 5'000;
#endif
  uint64_t sum = 0;
  RunInReactor([&] {
    for (int i = 0; i < kFibers; i++) {
      CurrentReactor()->Spawn([&sum, i] {
        Yield();
        sum += i;
        Yield();
      });
    }
  });
  EXPECT_EQ(sum, uint64_t{kFibers} * (kFibers - 1) / 2);
}

TEST(FiberTest, StacksAreReusedFromThePool) {
  uint64_t mappings = 0;
  RunInReactor([&] {
    Reactor* r = CurrentReactor();
    for (int i = 0; i < 1000; i++) {
      Event done;
      r->Spawn([&] { done.Set(); });
      done.Wait();
      Yield();  // let the finished fiber be reclaimed
    }
    mappings = r->stacks().mappings();
  });
  EXPECT_LE(mappings, 3u);  // test-main + one recycled stack (+ slack)
}

TEST(FiberTest, LargeCaptureIsSupported) {
  char big[4096];
  memset(big, 'x', sizeof(big));
  int count = 0;
  RunInReactor([&] {
    struct Big {
      char data[4096];
    } b;
    memcpy(b.data, big, sizeof(big));
    CurrentReactor()->Spawn([b, &count] {
      for (char c : b.data) count += c == 'x';
    });
  });
  EXPECT_EQ(count, 4096);
}

TEST(FiberTest, StackSizeIsConfigurable) {
  ReactorOptions opt;
  opt.stack_bytes = 512 << 10;
  uint64_t sum = 0;
  RunInReactor(
      [&] {
        volatile char buf[300 << 10];
        for (size_t i = 0; i < sizeof(buf); i += 512) buf[i] = 1;
        for (size_t i = 0; i < sizeof(buf); i += 512) sum += buf[i];
      },
      opt);
  EXPECT_EQ(sum, (300u << 10) / 512);
}

TEST(FiberTest, AddTimerRunsCallbackAndCancelPreventsIt) {
  int fired = 0;
  bool cancelled_fired = false;
  RunInReactor([&] {
    Reactor* r = CurrentReactor();
    Event ev;
    r->AddTimer(util::NowNanos() + kMs, [&] {
      EXPECT_FALSE(InFiber());
      fired++;
      ev.Set();
    });
    TimerId id = r->AddTimer(util::NowNanos() + 2 * kMs, [&] { cancelled_fired = true; });
    EXPECT_TRUE(r->CancelTimer(id));
    EXPECT_FALSE(r->CancelTimer(id));
    ev.Wait();
    SleepFor(4 * kMs);
  });
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(cancelled_fired);
}

TEST(FiberTest, TimerCallbackCanSpawnFibers) {
  bool ran = false;
  RunInReactor([&] {
    Event ev;
    CurrentReactor()->AddTimer(util::NowNanos(), [&] {
      CurrentReactor()->Spawn([&] {
        ran = true;
        ev.Set();
      });
    });
    ev.Wait();
  });
  EXPECT_TRUE(ran);
}

TEST(FiberTest, MaybeYieldLetsOthersRunAfterQuota) {
  ReactorOptions opt;
  opt.task_quota_ns = kMs;
  int other_runs = 0;
  int yields = 0;
  bool stop = false;
  RunInReactor(
      [&] {
        CurrentReactor()->Spawn([&] {
          while (!stop) {
            other_runs++;
            Yield();
          }
        });
        // The other fiber only runs when this busy loop yields.
        const uint64_t t0 = util::NowNanos();
        while (other_runs < 3) {
          yields += MaybeYield();
          ASSERT_LT(util::NowNanos() - t0, 10'000 * kMs) << "MaybeYield never yielded";
        }
        stop = true;
      },
      opt);
  EXPECT_GE(yields, 3);
}

TEST(FiberTest, MaybeYieldDoesNotYieldWithinQuota) {
  ReactorOptions opt;
  opt.task_quota_ns = 60'000 * kMs;
  int yields = 0;
  RunInReactor(
      [&] {
        for (int i = 0; i < 1000; i++) yields += MaybeYield();
      },
      opt);
  EXPECT_EQ(yields, 0);
}

TEST(FiberTest, StallDetectorWarnsAboutLongRunningFiber) {
  std::vector<std::string> logs;
  const util::LogLevel saved_level = util::GetLogLevel();
  util::SetLogLevel(util::LogLevel::kWarn);  // whatever RINGDB_LOG_LEVEL says
  util::SetLogSink([&](util::LogLevel, std::string_view msg) { logs.emplace_back(msg); });
  ReactorOptions opt;
  opt.long_fiber_run_ns = kMs;
  uint64_t long_runs = 0;
  RunInReactor(
      [&] {
        Event done;
        CurrentReactor()->Spawn(
            [&] {
              const uint64_t t0 = util::NowNanos();
              while (util::NowNanos() - t0 < 3 * kMs) {
              }
              done.Set();
            },
            "hog");
        done.Wait();
        long_runs = CurrentReactor()->stats().long_fiber_runs;
      },
      opt);
  util::SetLogSink(nullptr);
  util::SetLogLevel(saved_level);
  EXPECT_GE(long_runs, 1u);
  bool found = false;
  for (const auto& l : logs) found |= l.find("'hog'") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(FiberTest, StopWaitsForRunningFibers) {
  bool finished = false;
  RunInReactor([&] {
    CurrentReactor()->Spawn([&] {
      SleepFor(10 * kMs);
      finished = true;
    });
  });
  EXPECT_TRUE(finished);
}

TEST(FiberTest, StopEventIsSetForLongRunningFibers) {
  bool saw_stop = false;
  RunInReactor([&] {
    CurrentReactor()->Spawn([&] {
      Reactor* r = CurrentReactor();
      while (!r->stop_event().WaitFor(100 * kMs)) {
      }
      saw_stop = r->StopRequested();
    });
  });
  EXPECT_TRUE(saw_stop);
}

}  // namespace
}  // namespace ringdb::rt
