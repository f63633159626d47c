// Key, value and request-distribution generators for ringdb-bench (docs/bench.md).
//
// Everything here is deterministic given a seed, allocation-free per call and owned by
// one thread (or one shard's fibers): nothing is shared, so generating a key costs a
// few nanoseconds next to an operation's microseconds.
//
// The zipfian generators follow YCSB (core/src/main/java/site/ycsb/generator/):
//   ZipfianGenerator           Gray et al., "Quickly Generating Billion-Record Synthetic
//                              Databases" (SIGMOD 94), theta = 0.99 by default;
//   ScrambledZipfianGenerator  a zipfian over 10^10 items with the precomputed zeta,
//                              hashed (FNV-1a 64) onto [0, n): the popular items are
//                              spread over the key space instead of being the low keys;
//   SkewedLatestGenerator      "latest": max - zipfian(max), so the newest items are
//                              the most popular.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ringdb_bench {

// splitmix64: tiny, fast, and good enough for load generation.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; n > 0).
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

inline int Digits(uint64_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

// Zero-padded decimal of n in buf[0, width) (the high digits are dropped when n has
// more than width digits; callers check the key space fits first).
inline void FormatKey(uint64_t n, char* buf, int width) {
  for (int i = width - 1; i >= 0; i--) {
    buf[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}

// YCSB's Utils.fnvhash64: FNV-1a over the 8 little-endian bytes, then Math.abs.
inline uint64_t FnvHash64(uint64_t val) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int i = 0; i < 8; i++) {
    h ^= val & 0xff;
    val >>= 8;
    h *= 1099511628211ull;
  }
  int64_t s = static_cast<int64_t>(h);
  // Java's Math.abs(Long.MIN_VALUE) is Long.MIN_VALUE; the unsigned negation matches it.
  return s < 0 ? 0 - h : h;
}

// sum_{i = from}^{to - 1} 1 / (i + 1)^theta, added to `initial` (YCSB's incremental zeta).
inline double Zeta(uint64_t from, uint64_t to, double theta, double initial) {
  double sum = initial;
  for (uint64_t i = from; i < to; i++) sum += 1.0 / std::pow(static_cast<double>(i + 1), theta);
  return sum;
}

inline constexpr double kZipfianConstant = 0.99;

// Zipfian over [0, items): rank 0 is the most popular, P(rank r) ∝ 1 / (r + 1)^theta.
// Next(n) accepts a grown item count (YCSB's nextLong(itemcount)) and extends zeta
// incrementally, which is what "latest" needs as inserts arrive.
class ZipfianGenerator {
 public:
  // zetan: zeta(items, theta) when the caller has it (it costs O(items) to compute).
  explicit ZipfianGenerator(uint64_t items, double theta = kZipfianConstant, double zetan = -1)
      : items_(std::max<uint64_t>(items, 1)),
        theta_(theta),
        alpha_(1.0 / (1.0 - theta)),
        zeta2_(Zeta(0, 2, theta, 0)),
        count_for_zeta_(items_),
        zetan_(zetan >= 0 ? zetan : Zeta(0, items_, theta, 0)) {
    eta_ = Eta();
  }

  uint64_t items() const { return count_for_zeta_; }
  double zetan() const { return zetan_; }

  uint64_t Next(Rng& r) { return Next(r, count_for_zeta_); }

  // A rank in [0, n). n may only grow (a smaller n is clamped into range).
  uint64_t Next(Rng& r, uint64_t n) {
    if (n > count_for_zeta_) {
      zetan_ = Zeta(count_for_zeta_, n, theta_, zetan_);
      count_for_zeta_ = n;
      eta_ = Eta();
    }
    double u = r.NextDouble();
    double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + std::pow(0.5, theta_)) return n > 1 ? 1 : 0;
    uint64_t ret =
        static_cast<uint64_t>(static_cast<double>(n) * std::pow(eta_ * u - eta_ + 1, alpha_));
    return ret < n ? ret : n - 1;
  }

 private:
  // YCSB computes eta from the item count given at construction; using the current one
  // keeps the distribution exact as "latest" grows.
  double Eta() const {
    return (1 - std::pow(2.0 / static_cast<double>(count_for_zeta_), 1 - theta_)) /
           (1 - zeta2_ / zetan_);
  }

  uint64_t items_;
  double theta_;
  double alpha_;
  double zeta2_;
  uint64_t count_for_zeta_;
  double zetan_;
  double eta_ = 0;
};

// YCSB's ScrambledZipfianGenerator: a zipfian over 10^10 items (zeta precomputed by
// YCSB for theta 0.99), each rank hashed onto [0, n). The skew is the zipfian's (the
// hottest item gets ~1/26.5 of the requests), but the hot items are scattered.
class ScrambledZipfian {
 public:
  static constexpr uint64_t kItemCount = 10000000000ull;
  static constexpr double kZetan = 26.46902820178302;

  ScrambledZipfian() : gen_(kItemCount + 1, kZipfianConstant, kZetan) {}
  // An item in [0, n), n > 0.
  uint64_t Next(Rng& r, uint64_t n) { return FnvHash64(gen_.Next(r)) % n; }

 private:
  ZipfianGenerator gen_;
};

// YCSB's SkewedLatestGenerator: given the newest item `last` (items 0..last exist),
// returns last - zipfian(last): the newest items are the most popular.
class SkewedLatest {
 public:
  // items: the item count when the phase starts; zetan as for ZipfianGenerator.
  explicit SkewedLatest(uint64_t items, double zetan = -1) : gen_(items, kZipfianConstant, zetan) {}
  // An item in [0, last] (last >= 0).
  uint64_t Next(Rng& r, uint64_t last) {
    if (last == 0) return 0;
    return last - gen_.Next(r, last);
  }

 private:
  ZipfianGenerator gen_;
};

// A pool of pseudo-random bytes; each value is a slice of it at a random offset.
class ValuePool {
 public:
  ValuePool(size_t value_size, uint64_t seed) : value_size_(value_size) {
    size_t n = std::max<size_t>(1 << 20, value_size * 4);
    data_.resize(n + value_size);
    Rng r(seed ^ 0x5eedull);
    for (size_t i = 0; i < data_.size(); i += 8) {
      uint64_t x = r.Next();
      std::memcpy(&data_[i], &x, std::min<size_t>(8, data_.size() - i));
    }
    span_ = n;
  }
  std::string_view Get(Rng& r) const {
    return std::string_view(data_.data() + r.Uniform(span_), value_size_);
  }

 private:
  size_t value_size_;
  size_t span_ = 0;
  std::string data_;
};

}  // namespace ringdb_bench
