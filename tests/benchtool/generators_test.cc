// ringdb-bench's request distributions (tools/bench_generators.h): the zipfian's rank
// frequencies follow 1/(rank+1)^0.99, scrambling keeps the skew but moves the hot keys,
// and "latest" makes the newest items the hottest as they are inserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "bench_generators.h"

namespace ringdb_bench {
namespace {

constexpr uint64_t kSamples = 1000000;

double Expected(uint64_t rank, double zetan) {
  return 1.0 / std::pow(static_cast<double>(rank + 1), kZipfianConstant) / zetan;
}

std::vector<double> Frequencies(uint64_t n, const std::function<uint64_t(Rng&)>& next) {
  Rng r(7);
  std::vector<uint64_t> counts(n);
  for (uint64_t i = 0; i < kSamples; i++) {
    uint64_t v = next(r);
    EXPECT_LT(v, n);
    if (v < n) counts[v]++;
  }
  std::vector<double> f(n);
  for (uint64_t i = 0; i < n; i++) f[i] = static_cast<double>(counts[i]) / kSamples;
  return f;
}

TEST(ZetaTest, IncrementalEqualsFull) {
  double full = Zeta(0, 2000, kZipfianConstant, 0);
  double part = Zeta(1000, 2000, kZipfianConstant, Zeta(0, 1000, kZipfianConstant, 0));
  EXPECT_NEAR(full, part, 1e-9);
  // YCSB's precomputed zeta(10^10, 0.99) is what ScrambledZipfian relies on; the first
  // terms must agree with the formula.
  EXPECT_NEAR(Zeta(0, 2, kZipfianConstant, 0), 1.0 + std::pow(0.5, kZipfianConstant), 1e-12);
}

TEST(ZipfianTest, RankFrequenciesFollowTheSkew) {
  const uint64_t n = 100;
  ZipfianGenerator z(n);
  const double zetan = Zeta(0, n, kZipfianConstant, 0);
  EXPECT_NEAR(z.zetan(), zetan, 1e-9);
  std::vector<double> f = Frequencies(n, [&](Rng& r) { return z.Next(r); });
  // Gray et al.'s method is exact for the two hottest ranks...
  EXPECT_NEAR(f[0] / Expected(0, zetan), 1.0, 0.02);
  EXPECT_NEAR(f[1] / Expected(1, zetan), 1.0, 0.03);
  // ...and approximate (within ~15% here) for the others.
  for (uint64_t k = 2; k < n; k++) {
    EXPECT_NEAR(f[k] / Expected(k, zetan), 1.0, 0.25) << "rank " << k;
  }
  // The log-log slope over the ranks is -theta.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int m = 0;
  for (uint64_t k = 0; k < n; k++) {
    double x = std::log(static_cast<double>(k + 1)), y = std::log(f[k]);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    m++;
  }
  double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
  EXPECT_NEAR(slope, -kZipfianConstant, 0.1);
}

TEST(ZipfianTest, GrowingItemCountExtendsZeta) {
  ZipfianGenerator z(100);
  Rng r(3);
  uint64_t max_seen = 0;
  for (int i = 0; i < 100000; i++) max_seen = std::max(max_seen, z.Next(r, 1000));
  EXPECT_EQ(z.items(), 1000u);
  EXPECT_NEAR(z.zetan(), Zeta(0, 1000, kZipfianConstant, 0), 1e-9);
  EXPECT_GT(max_seen, 100u);  // the new items are reachable
  EXPECT_LT(max_seen, 1000u);
}

TEST(ScrambledZipfianTest, SkewKeptHotKeysScattered) {
  const uint64_t n = 1000;
  ScrambledZipfian z;
  std::vector<double> f = Frequencies(n, [&](Rng& r) { return z.Next(r, n); });
  // Rank 0 of the 10^10-item zipfian (1/26.47 of the requests, plus its share of the
  // tail) lands on FnvHash64(0) % n, rank 1 on FnvHash64(1) % n: not on keys 0 and 1.
  const uint64_t hot0 = FnvHash64(0) % n, hot1 = FnvHash64(1) % n;
  EXPECT_NE(hot0, 0u);
  EXPECT_EQ(std::max_element(f.begin(), f.end()) - f.begin(), static_cast<long>(hot0));
  EXPECT_GT(f[hot0], 1.0 / ScrambledZipfian::kZetan);
  EXPECT_LT(f[hot0], 1.0 / ScrambledZipfian::kZetan + 0.006);
  EXPECT_GT(f[hot1], Expected(1, ScrambledZipfian::kZetan));
  // Sorted frequencies: a steep head and a long, flat tail (uniform would be 0.001 each).
  std::vector<double> sorted = f;
  std::sort(sorted.rbegin(), sorted.rend());
  EXPECT_GT(sorted[0], 30 * sorted[n / 2]);
  EXPECT_GT(sorted[9], 3 * sorted[n / 2]);
  EXPECT_GT(sorted[n - 1], 0.0);  // every key is requested
}

TEST(FnvHashTest, MatchesYcsbOnKnownValues) {
  // Java: Utils.fnvhash64(0) == Math.abs(FNV-1a of eight zero bytes).
  uint64_t h = 0xCBF29CE484222325ull;
  for (int i = 0; i < 8; i++) h *= 1099511628211ull;
  int64_t s = static_cast<int64_t>(h);
  EXPECT_EQ(FnvHash64(0), static_cast<uint64_t>(s < 0 ? -s : s));
  EXPECT_LE(FnvHash64(12345), static_cast<uint64_t>(INT64_MAX) + 1);
}

TEST(SkewedLatestTest, NewestItemsAreHottest) {
  SkewedLatest latest(999);
  std::vector<double> f = Frequencies(2000, [&](Rng& r) { return latest.Next(r, 999); });
  // The newest item gets rank 0's share, the next rank 1's, ...
  const double zetan = Zeta(0, 999, kZipfianConstant, 0);
  EXPECT_NEAR(f[999] / Expected(0, zetan), 1.0, 0.03);
  EXPECT_NEAR(f[998] / Expected(1, zetan), 1.0, 0.05);
  EXPECT_GT(f[998], f[990]);
  EXPECT_GT(f[990], f[900]);
  EXPECT_GT(f[900], f[100]);
  for (uint64_t k = 1000; k < 2000; k++) EXPECT_EQ(f[k], 0.0) << "item " << k << " not inserted";
}

TEST(SkewedLatestTest, FollowsInserts) {
  SkewedLatest latest(999);
  Rng r(11);
  for (int i = 0; i < 1000; i++) latest.Next(r, 999);
  // 1000 more items inserted: the hot spot moves to them.
  std::vector<double> f = Frequencies(2000, [&](Rng& rr) { return latest.Next(rr, 1999); });
  EXPECT_EQ(std::max_element(f.begin(), f.end()) - f.begin(), 1999);
  EXPECT_GT(f[1999], 0.1);
  EXPECT_GT(f[1990], 50 * f[999]);
}

TEST(RngTest, DeterministicAndInRange) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; i++) {
    uint64_t x = a.Uniform(17);
    EXPECT_EQ(x, b.Uniform(17));
    EXPECT_LT(x, 17u);
    double d = a.NextDouble();
    b.NextDouble();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
  }
}

}  // namespace
}  // namespace ringdb_bench
