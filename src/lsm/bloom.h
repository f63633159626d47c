// Whole-table bloom filter over user keys (docs/sst.md "Filter block").
//
//   contents := bits[m] | num_probes u8 | filter_kind u8
//
// Kinds 1 and 2 (read only now): probe i tests bit FastRange64(h + i * delta, nbits),
// delta = rotr64(h, 21), with
//   kind 1: h = Hash64(user_key)
//   kind 2: h = Hash64(user_key, seed 2)
// Kind 3 (written now) is cache-line blocked, as RocksDB's FastLocalBloom: the bits are
// 512-bit blocks (m a multiple of 64 bytes); with h = Hash64(user_key, seed 2), the key
// lives in block ((h >> 32) * (m / 64)) >> 32, and with g = low 32 bits of h, probe i
// tests bit (g_i >> 23) of that block, g_0 = g, g_{i+1} = g_i * 0x9e3779b9 (mod 2^32).
// A lookup costs one cache miss instead of one per probe (a table's filter is MBs, so
// every probe of kinds 1 and 2 missed); the false-positive rate at 10 bits/key goes
// from 0.82% to about 1.0%.
// Kind 1 shares its hash with shard routing (FastRange32(Hash64(key), shards)): a shard's
// tables hold, and are asked about, only keys whose hash has the same top bits, so every
// first probe landed in one slice of the bit array and the false-positive rate grew with
// the shard count (1.57% at 16 shards for 10 bits/key, against 0.82%). Kind 2's hash is
// independent of the routing. The hashes and the probe sequence are on-disk decisions.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::lsm {

// DO NOT CHANGE: on-disk (last byte of a filter block).
enum class FilterKind : uint8_t { kBloomXxh3 = 1, kBloomXxh3Seeded = 2, kBlockedBloom = 3 };
inline constexpr uint64_t kBloomHashSeed = 2;  // DO NOT CHANGE: kind 2's hash seed

class BloomFilterBuilder {
 public:
  // REQUIRES: bits_per_key >= 1.
  explicit BloomFilterBuilder(int bits_per_key);

  // Consecutive duplicates (versions of one user key) are added once.
  void AddKey(std::string_view user_key);
  size_t num_keys() const { return hashes_.size(); }
  // The filter block contents; the builder is reset.
  std::string Finish();

  static int ProbesFor(int bits_per_key);

 private:
  int bits_per_key_;
  int num_probes_;
  std::vector<uint64_t> hashes_;
};

// A read-only view of filter contents (the bytes must outlive it).
class BloomFilter {
 public:
  BloomFilter() = default;
  // False if `contents` is malformed; an unknown filter kind parses as "always may
  // contain" (forward compatible).
  bool Parse(std::string_view contents);

  bool MayContain(std::string_view user_key) const;
  // h: the key's hash with this filter's seed (seed()).
  bool MayContainHash(uint64_t h) const;
  // Starts loading the line MayContainHash(h) reads first (kind 3: the only one), so that
  // a lookup can search its table's index while the line arrives.
  void Prefetch(uint64_t h) const;
  uint64_t seed() const { return seed_; }
  uint64_t num_bits() const { return num_bits_; }
  int num_probes() const { return num_probes_; }

 private:
  const uint8_t* bits_ = nullptr;
  uint32_t num_bits_ = 0;
  bool blocked_ = false;
  // Kind 3 needs its blocks on cache-line boundaries: a copy when the contents are not.
  std::unique_ptr<uint8_t[], void (*)(void*)> aligned_{nullptr, &std::free};
  int num_probes_ = 0;
  uint64_t seed_ = kBloomHashSeed;  // by kind
  bool always_true_ = true;
};

}  // namespace ringdb::lsm
