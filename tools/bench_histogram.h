// A small log-linear latency histogram for ringdb-bench (the idea of
// src/util/histogram.h, rewritten here because tools use only the public API).
//
// Each power of two is split into 32 linear sub-buckets, so a percentile is reported
// within ~3% of the true value. Values are nanoseconds; anything above ~2^44 ns
// (about 4.9 hours) lands in the last bucket.
//
// One writer, any number of readers: Record() is called by exactly one thread at a time
// (an application thread, or the shard thread that runs an async callback), and it uses
// relaxed atomic loads/stores (plain moves on x86, no locked instructions) so that the
// progress reporter may read a live histogram without a data race. Merge() and the
// accessors may run concurrently with the writer; they then see a slightly stale view.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace ringdb_bench {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxBits = 44;
  static constexpr int kBuckets = (kMaxBits - kSubBits + 1) * kSub;

  Histogram() = default;
  Histogram(const Histogram& o) { CopyFrom(o); }
  Histogram& operator=(const Histogram& o) {
    if (this != &o) {
      Clear();
      CopyFrom(o);
    }
    return *this;
  }

  static int BucketOf(uint64_t v) {
    if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
    int msb = 63 - __builtin_clzll(v);
    if (msb >= kMaxBits) return kBuckets - 1;
    int shift = msb - kSubBits;
    int sub = static_cast<int>((v >> shift) & (kSub - 1));
    return (shift + 1) * kSub + sub;
  }
  // Smallest value that maps to bucket b.
  static uint64_t BucketLow(int b) {
    if (b < kSub) return static_cast<uint64_t>(b);
    int shift = b / kSub - 1;
    uint64_t sub = static_cast<uint64_t>(b % kSub);
    return (static_cast<uint64_t>(kSub) + sub) << shift;
  }
  // Largest value that maps to bucket b.
  static uint64_t BucketHigh(int b) {
    if (b == kBuckets - 1) return ~0ull;
    return BucketLow(b + 1) - 1;
  }

  // Single writer only.
  void Record(uint64_t v) {
    Bump(counts_[BucketOf(v)], 1);
    Bump(count_, 1);
    Bump(sum_, v);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
  }

  void Merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; i++) {
      uint64_t c = o.counts_[i].load(std::memory_order_relaxed);
      if (c) Bump(counts_[i], c);
    }
    Bump(count_, o.count());
    Bump(sum_, o.sum());
    uint64_t m = o.max();
    if (m > max()) max_.store(m, std::memory_order_relaxed);
  }

  void Clear() {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    sum_.store(0, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  uint64_t bucket(int b) const { return counts_[b].load(std::memory_order_relaxed); }
  double Mean() const {
    uint64_t c = count();
    return c ? static_cast<double>(sum()) / static_cast<double>(c) : 0.0;
  }

  // Value at quantile q in [0, 1]: the midpoint of the bucket holding it, clamped to max.
  uint64_t Percentile(double q) const {
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; i++) total += bucket(i);
    if (total == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; i++) {
      seen += bucket(i);
      if (seen > rank) {
        uint64_t lo = BucketLow(i);
        uint64_t hi = BucketHigh(i);
        uint64_t mid = lo + (hi - lo) / 2;
        return std::min(mid, max());
      }
    }
    return max();
  }

 private:
  static void Bump(std::atomic<uint64_t>& a, uint64_t d) {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  void CopyFrom(const Histogram& o) { Merge(o); }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace ringdb_bench
