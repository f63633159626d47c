#include "lsm/bloom.h"

#include <algorithm>
#include <cmath>

#include "util/assert.h"
#include "util/hash.h"

namespace ringdb::lsm {

namespace {

inline uint64_t ProbeDelta(uint64_t h) {
  return (h >> 21) | (h << 43);
}
inline uint32_t BitFor(uint64_t h, uint32_t nbits) {
  return util::FastRange32(h, nbits);
}

}  // namespace

int BloomFilterBuilder::ProbesFor(int bits_per_key) {
  int k = static_cast<int>(std::lround(bits_per_key * 0.69314718));  // ln 2
  return std::clamp(k, 1, 30);
}

BloomFilterBuilder::BloomFilterBuilder(int bits_per_key)
    : bits_per_key_(bits_per_key), num_probes_(ProbesFor(bits_per_key)) {
  RINGDB_ASSERT(bits_per_key >= 1);
}

void BloomFilterBuilder::AddKey(std::string_view user_key) {
  uint64_t h = util::Hash64(user_key, kBloomHashSeed);
  if (!hashes_.empty() && hashes_.back() == h) return;
  hashes_.push_back(h);
}

std::string BloomFilterBuilder::Finish() {
  uint64_t bits = std::max<uint64_t>(64, uint64_t(hashes_.size()) * bits_per_key_);
  bits = (bits + 7) / 8 * 8;
  RINGDB_ASSERT_MSG(bits < (uint64_t{1} << 32), "bloom filter too large");
  const uint32_t nbits = static_cast<uint32_t>(bits);
  std::string out(nbits / 8, '\0');
  auto* array = reinterpret_cast<uint8_t*>(out.data());
  for (uint64_t h : hashes_) {
    const uint64_t delta = ProbeDelta(h);
    for (int i = 0; i < num_probes_; i++) {
      uint32_t bit = BitFor(h, nbits);
      array[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
      h += delta;
    }
  }
  out.push_back(static_cast<char>(num_probes_));
  out.push_back(static_cast<char>(FilterKind::kBloomXxh3Seeded));
  hashes_.clear();
  return out;
}

bool BloomFilter::Parse(std::string_view contents) {
  always_true_ = true;
  if (contents.size() < 2) return false;
  uint8_t kind = static_cast<uint8_t>(contents.back());
  if (kind == static_cast<uint8_t>(FilterKind::kBloomXxh3)) {
    seed_ = 0;
  } else if (kind == static_cast<uint8_t>(FilterKind::kBloomXxh3Seeded)) {
    seed_ = kBloomHashSeed;
  } else {
    return true;  // unknown kind: "always may contain"
  }
  size_t bytes = contents.size() - 2;
  int probes = static_cast<uint8_t>(contents[contents.size() - 2]);
  if (bytes < 8 || bytes >= (uint64_t{1} << 29) || probes < 1 || probes > 30) return false;
  bits_ = reinterpret_cast<const uint8_t*>(contents.data());
  num_bits_ = static_cast<uint32_t>(bytes * 8);
  num_probes_ = probes;
  always_true_ = false;
  return true;
}

bool BloomFilter::MayContainHash(uint64_t h) const {
  if (always_true_) return true;
  const uint64_t delta = ProbeDelta(h);
  for (int i = 0; i < num_probes_; i++) {
    uint32_t bit = BitFor(h, num_bits_);
    if ((bits_[bit >> 3] & (1u << (bit & 7))) == 0) return false;
    h += delta;
  }
  return true;
}

bool BloomFilter::MayContain(std::string_view user_key) const {
  return MayContainHash(util::Hash64(user_key, seed_));
}

}  // namespace ringdb::lsm
