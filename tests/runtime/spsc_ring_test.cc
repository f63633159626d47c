#include "runtime/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "runtime/sanitizer.h"

namespace ringdb::rt {
namespace {

TEST(SpscRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(1).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(64).capacity(), 64u);
}

TEST(SpscRingTest, PopFromEmptyFails) {
  SpscRing<int> r(4);
  int v = -1;
  EXPECT_FALSE(r.TryPop(&v));
  EXPECT_TRUE(r.Empty());
  EXPECT_EQ(r.PopN(&v, 1), 0u);
}

TEST(SpscRingTest, FullRingRejectsPushUntilPopped) {
  SpscRing<int> r(4);
  for (int i = 0; i < 4; i++) EXPECT_TRUE(r.TryPush(i));
  EXPECT_FALSE(r.TryPush(99));
  int v;
  ASSERT_TRUE(r.TryPop(&v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(r.TryPush(4));
  EXPECT_FALSE(r.TryPush(5));
  for (int want = 1; want <= 4; want++) {
    ASSERT_TRUE(r.TryPop(&v));
    EXPECT_EQ(v, want);
  }
}

TEST(SpscRingTest, WrapsAroundManyTimesInOrder) {
  SpscRing<uint64_t> r(8);
  uint64_t next_push = 0, next_pop = 0;
  for (int round = 0; round < 1000; round++) {
    const int k = 1 + round % 8;
    for (int i = 0; i < k; i++) ASSERT_TRUE(r.TryPush(next_push++));
    for (int i = 0; i < k; i++) {
      uint64_t v;
      ASSERT_TRUE(r.TryPop(&v));
      ASSERT_EQ(v, next_pop++);
    }
  }
  EXPECT_TRUE(r.Empty());
}

TEST(SpscRingTest, BatchPushStopsAtCapacity) {
  SpscRing<int> r(8);
  std::vector<int> in(11);
  for (int i = 0; i < 11; i++) in[i] = i;
  EXPECT_EQ(r.TryPushN(in.data(), 5), 5u);
  EXPECT_EQ(r.TryPushN(in.data() + 5, 6), 3u);  // only 3 slots left
  EXPECT_EQ(r.TryPushN(in.data(), 1), 0u);
  int out[16];
  EXPECT_EQ(r.PopN(out, 3), 3u);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[2], 2);
  EXPECT_EQ(r.TryPushN(in.data() + 8, 3), 3u);  // wraps
  EXPECT_EQ(r.PopN(out, 16), 8u);
  const int want[] = {3, 4, 5, 6, 7, 8, 9, 10};
  for (int i = 0; i < 8; i++) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(SpscRingTest, SizeApproxTracksContents) {
  SpscRing<int> r(16);
  for (int i = 0; i < 5; i++) r.TryPush(i);
  EXPECT_EQ(r.SizeApprox(), 5u);
  int v;
  r.TryPop(&v);
  EXPECT_EQ(r.SizeApprox(), 4u);
}

// Producer and consumer on two threads; every item arrives once, in order. A small
// ring keeps both the full and the empty paths hot. Run under TSan in CI.
TEST(SpscRingTest, ConcurrentMillionsInOrder) {
#ifdef RINGDB_TSAN
  constexpr uint64_t kItems = 500'000;
#else
  constexpr uint64_t kItems = 3'000'000;
#endif
  SpscRing<uint64_t> r(64);
  std::thread producer([&] {
    uint64_t buf[16];
    uint64_t next = 0;
    while (next < kItems) {
      if (next % 3 == 0) {
        if (r.TryPush(next)) next++;
        continue;
      }
      size_t n = 0;
      while (n < 16 && next + n < kItems) {
        buf[n] = next + n;
        n++;
      }
      next += r.TryPushN(buf, n);
    }
  });
  uint64_t expect = 0;
  uint64_t sum = 0;
  uint64_t buf[32];
  while (expect < kItems) {
    size_t k = r.PopN(buf, 1 + expect % 32);
    for (size_t i = 0; i < k; i++) {
      ASSERT_EQ(buf[i], expect) << "out of order";
      sum += buf[i];
      expect++;
    }
  }
  producer.join();
  EXPECT_EQ(sum, kItems * (kItems - 1) / 2);
  EXPECT_TRUE(r.Empty());
}

}  // namespace
}  // namespace ringdb::rt
