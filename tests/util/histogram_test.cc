#include "util/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace ringdb::util {
namespace {

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.99), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, BucketsAreMonotonicAndCoverValues) {
  uint64_t prev_upper = 0;
  for (int b = 1; b < Histogram::kBuckets; b++) {
    uint64_t upper = Histogram::BucketUpperBound(b);
    ASSERT_GT(upper, prev_upper) << "bucket " << b;
    ASSERT_EQ(Histogram::BucketOf(upper), b);
    ASSERT_EQ(Histogram::BucketOf(prev_upper + 1), b);
    prev_upper = upper;
    if (upper == ~0ull) break;
  }
}

TEST(Histogram, PercentilesWithinRelativeError) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(10.0, 1.5);
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 100000; i++) {
    uint64_t v = static_cast<uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    uint64_t exact = values[static_cast<size_t>(q * values.size()) - 1];
    double got = static_cast<double>(h.Percentile(q));
    EXPECT_NEAR(got, static_cast<double>(exact), exact * 0.07) << "q=" << q;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.Percentile(1.0), values.back());
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 1; i <= 100; i++) a.Record(i);
  for (int i = 1000; i <= 1100; i++) b.Record(i);
  a.Merge(b);
  EXPECT_EQ(a.count(), 201u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 1100u);
  EXPECT_GE(a.Percentile(0.9), 1000u);
}

}  // namespace
}  // namespace ringdb::util
