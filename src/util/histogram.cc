#include "util/histogram.h"

#include <algorithm>
#include <cstdio>

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
