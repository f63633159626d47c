#include "lsm/bloom.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

constexpr uint32_t kBlockBytes = 64;  // kind 3: one cache line
constexpr uint32_t kProbeMultiplier = 0x9e3779b9u;

// Kind 3: the block of h among num_blocks, from h's upper 32 bits.
inline uint32_t BlockFor(uint64_t h, uint32_t num_blocks) {
  return static_cast<uint32_t>(((h >> 32) * num_blocks) >> 32);
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
  const uint64_t bits = std::max<uint64_t>(512, uint64_t(hashes_.size()) * bits_per_key_);
  const uint64_t blocks = (bits + 511) / 512;
  RINGDB_ASSERT_MSG(blocks * kBlockBytes < (uint64_t{1} << 29), "bloom filter too large");
  const uint32_t num_blocks = static_cast<uint32_t>(blocks);
  std::string out(size_t{num_blocks} * kBlockBytes, '\0');
  auto* array = reinterpret_cast<uint8_t*>(out.data());
  for (uint64_t h : hashes_) {
    uint8_t* block = array + size_t{BlockFor(h, num_blocks)} * kBlockBytes;
    uint32_t g = static_cast<uint32_t>(h);
    for (int i = 0; i < num_probes_; i++) {
      const uint32_t bit = g >> 23;  // 0..511
      block[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
      g *= kProbeMultiplier;
    }
  }
  out.push_back(static_cast<char>(num_probes_));
  out.push_back(static_cast<char>(FilterKind::kBlockedBloom));
  hashes_.clear();
  return out;
}

bool BloomFilter::Parse(std::string_view contents) {
  always_true_ = true;
  if (contents.size() < 2) return false;
  uint8_t kind = static_cast<uint8_t>(contents.back());
  blocked_ = false;
  if (kind == static_cast<uint8_t>(FilterKind::kBloomXxh3)) {
    seed_ = 0;
  } else if (kind == static_cast<uint8_t>(FilterKind::kBloomXxh3Seeded)) {
    seed_ = kBloomHashSeed;
  } else if (kind == static_cast<uint8_t>(FilterKind::kBlockedBloom)) {
    seed_ = kBloomHashSeed;
    blocked_ = true;
  } else {
    return true;  // unknown kind: "always may contain"
  }
  size_t bytes = contents.size() - 2;
  int probes = static_cast<uint8_t>(contents[contents.size() - 2]);
  if (bytes < 8 || bytes >= (uint64_t{1} << 29) || probes < 1 || probes > 30) return false;
  if (blocked_ && bytes % kBlockBytes != 0) return false;
  bits_ = reinterpret_cast<const uint8_t*>(contents.data());
  if (blocked_ && reinterpret_cast<uintptr_t>(bits_) % kBlockBytes != 0) {
    aligned_.reset(static_cast<uint8_t*>(std::aligned_alloc(kBlockBytes, bytes)));
    RINGDB_ASSERT(aligned_ != nullptr);
    std::memcpy(aligned_.get(), bits_, bytes);
    bits_ = aligned_.get();
  }
  num_bits_ = static_cast<uint32_t>(bytes * 8);
  num_probes_ = probes;
  always_true_ = false;
  return true;
}

bool BloomFilter::MayContainHash(uint64_t h) const {
  if (always_true_) return true;
  if (blocked_) {
    const uint8_t* block = bits_ + size_t{BlockFor(h, num_bits_ / 512)} * kBlockBytes;
    uint32_t g = static_cast<uint32_t>(h);
    for (int i = 0; i < num_probes_; i++) {
      const uint32_t bit = g >> 23;
      if ((block[bit >> 3] & (1u << (bit & 7))) == 0) return false;
      g *= kProbeMultiplier;
    }
    return true;
  }
  const uint64_t delta = ProbeDelta(h);
  for (int i = 0; i < num_probes_; i++) {
    uint32_t bit = BitFor(h, num_bits_);
    if ((bits_[bit >> 3] & (1u << (bit & 7))) == 0) return false;
    h += delta;
  }
  return true;
}

void BloomFilter::Prefetch(uint64_t h) const {
  if (always_true_) return;
  const uint8_t* at = blocked_ ? bits_ + size_t{BlockFor(h, num_bits_ / 512)} * kBlockBytes
                               : bits_ + (BitFor(h, num_bits_) >> 3);
  __builtin_prefetch(at);
}

bool BloomFilter::MayContain(std::string_view user_key) const {
  return MayContainHash(util::Hash64(user_key, seed_));
}

}  // namespace ringdb::lsm
