// IoPacer (src/lsm/io_pacer.h) on one reactor, with fibers standing in for flush and
// compaction: the in-flight cap, the backoff to one background I/O while the
// foreground is deep (and the wake-up once it drains), urgent I/O ignoring the backoff
// and the rate, and the byte-rate token bucket.
#include "lsm/io_pacer.h"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/reactor.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"
#include "util/clock.h"

namespace ringdb::lsm {
namespace {

using rt::testing::RunInReactor;

// Lets every other ready fiber run a few times.
void LetOthersRun() {
  for (int i = 0; i < 5; i++) rt::Yield();
}

TEST(IoPacerTest, AcquireBelowTheCapDoesNotWait) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.max_inflight = 3;
    IoPacer p(opt);
    for (int i = 0; i < 3; i++) p.Acquire(4096, /*urgent=*/false);
    EXPECT_EQ(p.background_inflight(), 3u);
    EXPECT_EQ(p.waits(), 0u);
    EXPECT_EQ(p.wait_ns(), 0u);
    for (int i = 0; i < 3; i++) p.Release();
    EXPECT_EQ(p.background_inflight(), 0u);
  });
}

TEST(IoPacerTest, AtTheCapAnAcquireWaitsForARelease) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.max_inflight = 2;
    IoPacer p(opt);
    p.Acquire(1, false);
    p.Acquire(1, false);
    bool third_started = false;
    rt::WaitGroup wg;
    wg.Add();
    rt::CurrentReactor()->Spawn([&] {
      p.Acquire(1, false);
      third_started = true;
      wg.Done();
    });
    LetOthersRun();
    EXPECT_FALSE(third_started) << "a third background I/O started over the cap of 2";
    EXPECT_EQ(p.background_inflight(), 2u);
    p.Release();
    wg.Wait();
    EXPECT_TRUE(third_started);
    EXPECT_EQ(p.background_inflight(), 2u);
    EXPECT_EQ(p.waits(), 1u);
    p.Release();
    p.Release();
  });
}

TEST(IoPacerTest, DeepForegroundLeavesOneBackgroundIoAndDrainingWakesTheRest) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.max_inflight = 4;
    opt.deep_foreground = 2;
    IoPacer p(opt);
    p.ForegroundStarted();
    p.ForegroundStarted();
    EXPECT_EQ(p.foreground_inflight(), 2u);
    p.Acquire(1, false);  // one background I/O may still run
    bool second_started = false;
    rt::WaitGroup wg;
    wg.Add();
    rt::CurrentReactor()->Spawn([&] {
      p.Acquire(1, false);
      second_started = true;
      wg.Done();
    });
    LetOthersRun();
    EXPECT_FALSE(second_started) << "background I/O did not back off behind a deep foreground";
    p.ForegroundDone();  // 1 < deep_foreground: the waiting fiber is woken
    wg.Wait();
    EXPECT_TRUE(second_started);
    EXPECT_EQ(p.background_inflight(), 2u);
    EXPECT_EQ(p.waits(), 1u);
    p.ForegroundDone();
    p.Release();
    p.Release();
  });
}

TEST(IoPacerTest, UrgentIoIgnoresTheForegroundBackoffButNotTheCap) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.max_inflight = 2;
    opt.deep_foreground = 1;
    IoPacer p(opt);
    p.ForegroundStarted();
    p.Acquire(1, /*urgent=*/true);
    p.Acquire(1, /*urgent=*/true);  // deep foreground, but urgent: up to the cap
    EXPECT_EQ(p.background_inflight(), 2u);
    EXPECT_EQ(p.waits(), 0u);
    bool third_started = false;
    rt::WaitGroup wg;
    wg.Add();
    rt::CurrentReactor()->Spawn([&] {
      p.Acquire(1, /*urgent=*/true);
      third_started = true;
      wg.Done();
    });
    LetOthersRun();
    EXPECT_FALSE(third_started) << "urgent I/O went over max_inflight";
    p.Release();
    wg.Wait();
    EXPECT_EQ(p.waits(), 1u);
    p.ForegroundDone();
    p.Release();
    p.Release();
  });
}

// 8 x 1 MiB at 64 MiB/s: the bucket starts empty, so the pacer holds the fiber for
// about 125 ms in all (a lower bound: a sleep never ends early).
TEST(IoPacerTest, RateLimitSpacesBackgroundBytes) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.max_inflight = 64;
    opt.bytes_per_sec = 64ull << 20;
    IoPacer p(opt);
    const uint64_t t0 = util::NowNanos();
    for (int i = 0; i < 8; i++) {
      p.Acquire(1 << 20, /*urgent=*/false);
      p.Release();
    }
    const uint64_t elapsed = util::NowNanos() - t0;
    EXPECT_GE(elapsed, 110'000'000u) << "8 MiB at 64 MiB/s took only " << elapsed << " ns";
    EXPECT_GE(p.waits(), 1u);
    EXPECT_GE(p.wait_ns(), 100'000'000u);
  });
}

TEST(IoPacerTest, UrgentIoIsNotRateLimited) {
  RunInReactor([] {
    IoPacerOptions opt;
    opt.bytes_per_sec = 1;  // one byte per second: any paced I/O would take forever
    IoPacer p(opt);
    for (int i = 0; i < 4; i++) {
      p.Acquire(1 << 20, /*urgent=*/true);
      p.Release();
    }
    EXPECT_EQ(p.waits(), 0u);
  });
}

}  // namespace
}  // namespace ringdb::lsm
