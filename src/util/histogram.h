// Log-linear histogram (HdrHistogram-like): each power of two is split into
// kSubBuckets linear buckets, so any recorded value is reported within ~1/kSubBuckets
// (about 3%) of its true value, from 1 ns to hours, in a fixed 16 KiB.
//
// Thread ownership: one writer thread. Readers on other threads must take a Snapshot
// through the owner (e.g. over a ring); Merge() combines snapshots.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ringdb::util {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;  // 32 per power of two
  static constexpr int kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

  void Record(uint64_t value) {
    counts_[BucketOf(value)]++;
    count_++;
    sum_ += value;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
  }
  void Merge(const Histogram& other);
  void Clear() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double Mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // Value at quantile q in [0, 1] (upper bound of the bucket holding it, clamped to max).
  uint64_t Percentile(double q) const;
  // "count=.. mean=.. p50=.. p99=.. p99.9=.. max=.." with values divided by `scale`.
  std::string Summary(double scale = 1.0) const;

  // Bucket geometry, exposed for exporters (Prometheus) and tests.
  static int BucketOf(uint64_t value) {
    if (value < static_cast<uint64_t>(kSubBuckets)) return static_cast<int>(value);
    int msb = 63 - __builtin_clzll(value);  // >= kSubBucketBits
    int shift = msb - kSubBucketBits;
    int sub = static_cast<int>((value >> shift) & (kSubBuckets - 1));
    return (shift + 1) * kSubBuckets + sub;
  }
  static uint64_t BucketUpperBound(int bucket);  // largest value mapping to bucket
  uint64_t BucketCount(int bucket) const { return counts_[bucket]; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = ~0ull;
};

}  // namespace ringdb::util
