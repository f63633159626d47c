// ringdb::HistogramData (the public histogram) and AccumulateShardStats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "ringdb/stats.h"

namespace ringdb {
namespace {

TEST(HistogramData, EmptyReportsZero) {
  HistogramData h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Percentile(0.99), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_EQ(h.CountAtMost(UINT64_MAX), 0u);
}

TEST(HistogramData, BucketsAreContiguousAndCoverEveryValue) {
  EXPECT_EQ(HistogramData::BucketLow(0), 0u);
  for (int b = 0; b < HistogramData::kBuckets; b++) {
    const uint64_t lo = HistogramData::BucketLow(b);
    const uint64_t hi = HistogramData::BucketHigh(b);
    ASSERT_LE(lo, hi) << "bucket " << b;
    ASSERT_EQ(HistogramData::BucketOf(lo), b);
    ASSERT_EQ(HistogramData::BucketOf(hi), b);
    if (b + 1 < HistogramData::kBuckets) {
      ASSERT_EQ(HistogramData::BucketLow(b + 1), hi + 1);
    }
    // Relative width bounds the error of a percentile.
    if (lo >= HistogramData::kSubBuckets && b + 1 < HistogramData::kBuckets) {
      ASSERT_LE(static_cast<double>(hi - lo + 1) / static_cast<double>(lo),
                1.0 / HistogramData::kSubBuckets + 1e-12);
    }
  }
  EXPECT_EQ(HistogramData::BucketHigh(HistogramData::kBuckets - 1), UINT64_MAX);
  EXPECT_EQ(HistogramData::BucketOf(UINT64_MAX), HistogramData::kBuckets - 1);
}

TEST(HistogramData, SmallValuesAreExact) {
  HistogramData h;
  for (uint64_t v = 0; v < HistogramData::kSubBuckets; v++) h.Record(v);
  for (uint64_t v = 0; v < HistogramData::kSubBuckets; v++) {
    EXPECT_EQ(h.CountAtMost(v), v + 1);
  }
  EXPECT_EQ(h.Percentile(0.5), 7u);
  EXPECT_EQ(h.Percentile(1.0), 15u);
  EXPECT_EQ(h.Percentile(0.0), 0u);
}

TEST(HistogramData, PercentilesWithinBucketResolution) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(11.0, 1.2);  // ~60 us median, in ns
  std::vector<uint64_t> values;
  HistogramData h;
  for (int i = 0; i < 200000; i++) {
    const uint64_t v = static_cast<uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const uint64_t exact =
        values[static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1];
    const uint64_t got = h.Percentile(q);
    EXPECT_GE(got, exact) << "q=" << q;  // reports the bucket's upper edge
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1.0 + 1.0 / 16) + 1)
        << "q=" << q;
  }
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.Percentile(1.0), values.back());
  EXPECT_EQ(h.count(), values.size());
}

TEST(HistogramData, HugeValuesLandInTheLastBucketWithExactMax) {
  HistogramData h;
  const uint64_t huge = uint64_t{1} << 50;
  h.Record(huge);
  h.Record(5);
  EXPECT_EQ(h.bucket_count(HistogramData::kBuckets - 1), 1u);
  EXPECT_EQ(h.max(), huge);
  EXPECT_EQ(h.Percentile(1.0), huge);
}

TEST(HistogramData, MergeEqualsRecordingEverythingInOne) {
  HistogramData a, b, all;
  for (uint64_t v = 1; v <= 1000; v++) {
    (v % 3 == 0 ? a : b).Record(v * 37);
    all.Record(v * 37);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.sum(), all.sum());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (int i = 0; i < HistogramData::kBuckets; i++)
    ASSERT_EQ(a.bucket_count(i), all.bucket_count(i));
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(a.Percentile(q), all.Percentile(q));
  HistogramData empty;
  a.Merge(empty);
  EXPECT_EQ(a.min(), all.min());  // merging an empty histogram changes nothing
}

TEST(HistogramData, SubtractGivesTheInterval) {
  HistogramData h;
  for (int i = 0; i < 100; i++) h.Record(1000);
  const HistogramData earlier = h;
  for (int i = 0; i < 10; i++) h.Record(1'000'000);
  h.Subtract(earlier);
  EXPECT_EQ(h.count(), 10u);
  EXPECT_EQ(h.sum(), 10'000'000u);
  EXPECT_GE(h.Percentile(0.5), 1'000'000u);
  h.Subtract(h);
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(HistogramData, RecordNAndCountAtMost) {
  HistogramData h;
  h.RecordN(100, 5);
  h.RecordN(7, 0);
  h.Record(3);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.sum(), 503u);
  EXPECT_EQ(h.CountAtMost(3), 1u);
  EXPECT_EQ(h.CountAtMost(HistogramData::BucketHigh(HistogramData::BucketOf(100))), 6u);
  EXPECT_EQ(h.CountAtMost(HistogramData::BucketLow(HistogramData::BucketOf(100)) - 1), 1u);
}

TEST(Stats, NamesAreStable) {
  EXPECT_STREQ(OpKindName(OpKind::kPut), "put");
  EXPECT_STREQ(OpKindName(OpKind::kIterNext), "iter_next");
  EXPECT_STREQ(IoClassName(IoClass::kWal), "wal");
  EXPECT_STREQ(IoClassName(IoClass::kCompactionWrite), "compaction_write");
}

TEST(Stats, AccumulateSumsCountersAndMergesHistograms) {
  ShardStats a, b;
  a.writes = 3;
  b.writes = 4;
  a.level_bytes[1] = 100;
  b.level_bytes[1] = 50;
  a.op(OpKind::kGet).count = 2;
  a.op(OpKind::kGet).latency_ns.Record(1000);
  b.op(OpKind::kGet).count = 1;
  b.op(OpKind::kGet).latency_ns.Record(9000);
  a.io.backend = "io_uring";
  b.io.backend = "io_uring";
  a.io.of(IoClass::kWal).write_bytes = 4096;
  b.io.of(IoClass::kWal).write_bytes = 8192;
  a.io.submit_batch.Record(4);
  b.runtime.ring_occupancy.Record(2);
  b.runtime.messages = 9;

  ShardStats t;
  t.shard = 2;
  AccumulateShardStats(a, &t);
  AccumulateShardStats(b, &t);
  EXPECT_EQ(t.shard, 2u);
  EXPECT_EQ(t.writes, 7u);
  EXPECT_EQ(t.level_bytes[1], 150u);
  EXPECT_EQ(t.op(OpKind::kGet).count, 3u);
  EXPECT_EQ(t.op(OpKind::kGet).latency_ns.count(), 2u);
  EXPECT_EQ(t.op(OpKind::kGet).latency_ns.max(), 9000u);
  EXPECT_EQ(t.io.backend, "io_uring");
  EXPECT_EQ(t.io.of(IoClass::kWal).write_bytes, 12288u);
  EXPECT_EQ(t.io.submit_batch.count(), 1u);
  EXPECT_EQ(t.runtime.ring_occupancy.count(), 1u);
  EXPECT_EQ(t.runtime.messages, 9u);

  ShardStats c;
  c.io.backend = "libaio";
  AccumulateShardStats(c, &t);
  EXPECT_EQ(t.io.backend, "mixed");
}

TEST(Stats, DerivedValuesComeFromTheirInputs) {
  ShardStats s;
  EXPECT_EQ(s.cache_hit_rate(), 0.0);
  EXPECT_EQ(s.write_amplification(), 0.0);
  EXPECT_EQ(s.space_amplification(), 0.0);
  s.cache_hits = 3;
  s.cache_misses = 1;
  EXPECT_DOUBLE_EQ(s.cache_hit_rate(), 0.75);
  s.bloom_skips = 9;
  s.bloom_false_positives = 1;
  EXPECT_DOUBLE_EQ(s.bloom_false_positive_rate(), 0.1);
  s.user_bytes_written = 1000;
  s.io.of(IoClass::kWal).write_bytes = 1100;
  s.io.of(IoClass::kFlush).write_bytes = 1000;
  s.io.of(IoClass::kCompactionWrite).write_bytes = 2000;
  s.io.of(IoClass::kOther).write_bytes = 5000;  // not counted: not the engine's data
  EXPECT_DOUBLE_EQ(s.write_amplification(), 4.1);
  s.user_bytes_read = 100;
  s.io.of(IoClass::kUserRead).read_bytes = 4096;
  EXPECT_DOUBLE_EQ(s.read_amplification(), 40.96);
  s.level_bytes[0] = 100;
  s.level_bytes[1] = 1000;
  EXPECT_DOUBLE_EQ(s.space_amplification(), 1.1);  // largest level as the live estimate
  s.live_data_bytes = 550;
  EXPECT_DOUBLE_EQ(s.space_amplification(), 2.0);
  EXPECT_EQ(s.table_bytes(), 1100u);
}

}  // namespace
}  // namespace ringdb
