#include "util/clock.h"

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace ringdb::util {
namespace {

// Calls FastNanos for `ms` milliseconds; returns the largest step backward it saw.
uint64_t LargestStepBack(int ms) {
  const uint64_t until = NowNanos() + uint64_t(ms) * 1'000'000;
  uint64_t prev = FastNanos(), back = 0;
  while (NowNanos() < until) {
    const uint64_t t = FastNanos();
    if (t < prev) back = std::max(back, prev - t);
    prev = t;
  }
  return back;
}

TEST(FastNanosTest, KeepsGoingForwardThroughItsCalibration) {
  // Through the switch from the monotonic clock to the scaled counter (10 ms after the
  // first call) on one thread and beside it on another: at most the two clocks' jitter.
  uint64_t other = 0;
  std::thread t([&] { other = LargestStepBack(40); });
  EXPECT_LE(LargestStepBack(40), 2'000u);
  t.join();
  EXPECT_LE(other, 2'000u);
}

TEST(FastNanosTest, MeasuresWhatTheMonotonicClockMeasures) {
  LargestStepBack(15);  // past the calibration
  for (int ms : {5, 30}) {
    // Each FastNanos reading is bracketed by two monotonic ones, so a preemption between
    // the calls widens the bounds instead of failing the test.
    const uint64_t a0 = NowNanos(), f0 = FastNanos(), b0 = NowNanos();
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    const uint64_t a1 = NowNanos(), f = FastElapsed(f0), b1 = NowNanos();
    // The scale's error is tens of parts per million; allow 1% and 20 us.
    const double slack = 0.01 * static_cast<double>(b1 - a0) + 20'000;
    EXPECT_GE(static_cast<double>(f), static_cast<double>(a1 - b0) - slack) << ms;
    EXPECT_LE(static_cast<double>(f), static_cast<double>(b1 - a0) + slack) << ms;
  }
}

TEST(FastNanosTest, ElapsedNeverWrapsBelowZero) {
  EXPECT_EQ(FastElapsed(FastNanos() + 1'000'000'000), 0u);
}

uint64_t FixedClock() {
  return 42;
}

TEST(FastNanosTest, FollowsAClockOverride) {
  LargestStepBack(15);
  SetClockOverride(&FixedClock);
  EXPECT_EQ(FastNanos(), 42u);
  EXPECT_EQ(FastElapsed(40), 2u);
  SetClockOverride(nullptr);
  EXPECT_NE(FastNanos(), 42u);
}

}  // namespace
}  // namespace ringdb::util
