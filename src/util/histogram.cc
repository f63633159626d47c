#include "util/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ringdb/stats.h"

namespace ringdb::util {

uint64_t Histogram::BucketUpperBound(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket);
  int shift = bucket / kSubBuckets - 1;
  uint64_t sub = static_cast<uint64_t>(bucket % kSubBuckets);
  uint64_t base = (static_cast<uint64_t>(kSubBuckets) | sub) << shift;
  return base + ((uint64_t{1} << shift) - 1);
}

void Histogram::Merge(const Histogram& o) {
  for (int i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpperBound(i), max_);
  }
  return max_;
}

std::string Histogram::Summary(double scale) const {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "count=%llu mean=%.2f p50=%.2f p99=%.2f p99.9=%.2f max=%.2f",
                static_cast<unsigned long long>(count_), Mean() / scale, Percentile(0.5) / scale,
                Percentile(0.99) / scale, Percentile(0.999) / scale, max() / scale);
  return buf;
}

}  // namespace ringdb::util

// ---------------------------------------------------------------- ringdb::HistogramData
// The public histogram (ringdb/stats.h): same idea, coarser and bounded so that a
// shard can keep a few dozen of them and copy them out on every GetStats.

namespace ringdb {

static_assert(HistogramData::kSubBuckets >= 2 && HistogramData::kMaxBits < 64);

HistogramData::HistogramData(const HistogramData& o)
    : count_(o.count_), sum_(o.sum_), min_(o.min_), max_(o.max_), buckets_(new uint64_t[kBuckets]) {
  std::copy(o.buckets_.get(), o.buckets_.get() + kBuckets, buckets_.get());
}

HistogramData& HistogramData::operator=(const HistogramData& o) {
  if (this != &o) {
    count_ = o.count_;
    sum_ = o.sum_;
    min_ = o.min_;
    max_ = o.max_;
    std::copy(o.buckets_.get(), o.buckets_.get() + kBuckets, buckets_.get());
  }
  return *this;
}

void HistogramData::Clear() {
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
  std::fill(buckets_.get(), buckets_.get() + kBuckets, uint64_t{0});
}

uint64_t HistogramData::BucketLow(int b) {
  if (b < kSubBuckets) return static_cast<uint64_t>(b);
  const int shift = b / kSubBuckets - 1;
  const uint64_t sub = static_cast<uint64_t>(b % kSubBuckets);
  return (static_cast<uint64_t>(kSubBuckets) + sub) << shift;
}

uint64_t HistogramData::BucketHigh(int b) {
  if (b >= kBuckets - 1) return UINT64_MAX;
  return BucketLow(b + 1) - 1;
}

void HistogramData::RecordN(uint64_t value, uint64_t n) {
  if (n == 0) return;
  buckets_[static_cast<size_t>(BucketOf(value))] += n;
  count_ += n;
  sum_ += value * n;
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
}

void HistogramData::Merge(const HistogramData& o) {
  if (o.count_ == 0) return;
  for (size_t i = 0; i < static_cast<size_t>(kBuckets); i++) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void HistogramData::MergeCounts(const uint64_t* bucket_counts, uint64_t count, uint64_t sum,
                                uint64_t min, uint64_t max) {
  if (count == 0) return;
  for (size_t i = 0; i < static_cast<size_t>(kBuckets); i++) buckets_[i] += bucket_counts[i];
  count_ += count;
  sum_ += sum;
  min_ = std::min(min_, min);
  max_ = std::max(max_, max);
}

void HistogramData::Subtract(const HistogramData& e) {
  for (size_t i = 0; i < static_cast<size_t>(kBuckets); i++) {
    buckets_[i] -= std::min(buckets_[i], e.buckets_[i]);
  }
  count_ -= std::min(count_, e.count_);
  sum_ -= std::min(sum_, e.sum_);
  if (count_ == 0) Clear();
}

uint64_t HistogramData::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += buckets_[static_cast<size_t>(i)];
    if (seen >= rank) return std::clamp(BucketHigh(i), min(), max());
  }
  return max();
}

uint64_t HistogramData::CountAtMost(uint64_t bound) const {
  uint64_t n = 0;
  for (int i = 0; i < kBuckets && BucketHigh(i) <= bound; i++)
    n += buckets_[static_cast<size_t>(i)];
  return n;
}

}  // namespace ringdb
