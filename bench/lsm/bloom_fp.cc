// bloom_fp: the real false-positive rate of the table bloom filter (lsm/bloom.h), next
// to what theory predicts.
//
//   build/bench/lsm/bloom_fp [keys_per_filter=100000] [absent_probes=1000000]
//
// Part 1: filters over n keys at 5, 10 and 15 bits per key, each probed with absent
// keys; theory for k probes and m bits: (1 - e^(-k n / m))^k.
//
// Part 2: the same filter as the engine really uses it: a table of one shard holds, and
// is asked about, only the keys the router sends there (FastRange32(Hash64(key),
// shards)). With filter kind 1 (h = Hash64(key), before 2026-11) the filter's first probe
// was FastRange32(Hash64(key), bits), the top bits of the same hash. A table of
// shard s holds only keys of shard s and is only asked about keys of shard s, so every
// first probe falls into the s-th 1/shards slice of the bit array, which the table's
// own first probes filled more densely. Predicted: p1 * p^(k-1), with
// p1 = 1 - e^(-(shards + k - 1) n / m) (the slice) and p the array's mean fill (this
// model ignores that the probe step, rotr(h, 21), is drawn from the same hash too). The
// "predicted" column is that model (kind 1's rate); "measured" is the current filter
// (kind 2, seeded hash independent of the routing), which should match "theory". The
// last column routes keys with another independent hash (seed 1) as a cross-check.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lsm/bloom.h"
#include "util/hash.h"

namespace ringdb::lsm {
namespace {

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "user:%012llu", static_cast<unsigned long long>(i));
  return buf;
}

// Is key in shard 0 of `shards`? Routed like the engine (db_impl.cc ShardOf) or, with
// independent, by a hash that shares nothing with the filter's.
bool InShard(const std::string& key, uint32_t shards, bool independent) {
  return shards <= 1 || util::FastRange32(util::Hash64(key, independent ? 1 : 0), shards) == 0;
}

struct Result {
  double measured = 0;
  double theory = 0;     // independent uniform probes
  double predicted = 0;  // with the shard-routing correlation
  uint64_t bits = 0;
  int probes = 0;
};

// Builds a filter over n keys of shard 0 (of `shards`) and probes `absent` keys of
// shard 0 that were never added.
Result Measure(int bits_per_key, uint64_t n, uint64_t absent, uint32_t shards,
               bool independent = false) {
  BloomFilterBuilder b(bits_per_key);
  uint64_t id = 0;
  for (uint64_t added = 0; added < n; ++id) {
    std::string k = Key(id);
    if (!InShard(k, shards, independent)) continue;
    b.AddKey(k);
    ++added;
  }
  const std::string contents = b.Finish();
  BloomFilter f;
  if (!f.Parse(contents)) {
    std::fprintf(stderr, "filter does not parse\n");
    std::exit(1);
  }
  uint64_t fp = 0, probed = 0;
  for (uint64_t j = 1ull << 40; probed < absent; ++j) {  // ids never added
    std::string k = Key(j);
    if (!InShard(k, shards, independent)) continue;
    ++probed;
    if (f.MayContain(k)) ++fp;
  }
  Result r;
  r.bits = f.num_bits();
  r.probes = f.num_probes();
  r.measured = static_cast<double>(fp) / static_cast<double>(probed);
  const double k = r.probes, load = static_cast<double>(n) / static_cast<double>(r.bits);
  r.theory = std::pow(1 - std::exp(-k * load), k);
  const double s = shards;
  const double p1 = 1 - std::exp(-(s + k - 1) * load);  // the shard's slice
  const double p_other = 1 - std::exp(-(k - 1) * load);
  const double p_mean = (p1 + (s - 1) * p_other) / s;
  r.predicted = p1 * std::pow(p_mean, k - 1);
  return r;
}

}  // namespace
}  // namespace ringdb::lsm

int main(int argc, char** argv) {
  using ringdb::lsm::Measure;
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const uint64_t absent = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000000;
  std::printf("bloom filter false positives: %llu keys per filter, %llu absent probes\n\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(absent));
  std::printf("%-13s %-6s %-10s %-12s %-12s %-8s\n", "bits_per_key", "probes", "bits", "measured",
              "theory", "ratio");
  for (int bpk : {5, 10, 15}) {
    auto r = Measure(bpk, n, absent, 1);
    std::printf("%-13d %-6d %-10llu %-12.5f %-12.5f %-8.3f\n", bpk, r.probes,
                static_cast<unsigned long long>(r.bits), r.measured, r.theory,
                r.measured / r.theory);
  }
  std::printf("\nas the engine uses it: tables of one shard, keys routed by the same hash\n");
  std::printf("%-13s %-7s %-12s %-12s %-12s %-10s %-12s\n", "bits_per_key", "shards", "measured",
              "predicted", "theory", "vs_theory", "independent");
  for (int bpk : {5, 10, 15}) {
    for (uint32_t shards : {1u, 2u, 4u, 8u, 16u, 64u}) {
      auto r = Measure(bpk, n, absent, shards);
      auto ind = Measure(bpk, n, absent, shards, /*independent=*/true);
      std::printf("%-13d %-7u %-12.5f %-12.5f %-12.5f %-10.2f %-12.5f\n", bpk, shards, r.measured,
                  r.predicted, r.theory, r.measured / r.theory, ind.measured);
    }
  }
  return 0;
}
