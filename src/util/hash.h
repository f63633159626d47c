// Stable 64-bit hashing (XXH3). Stable means: the same bytes hash to the same value on
// every build and machine, because shard routing and bloom filters persist decisions
// made with it. DO NOT CHANGE the seed or algorithm: on-disk.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringdb::util {

uint64_t Hash64(const void* data, size_t n, uint64_t seed = 0);
inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  return Hash64(s.data(), s.size(), seed);
}

// Maps a 64-bit hash uniformly onto [0, n) without division bias worth caring about.
inline uint32_t FastRange32(uint64_t hash, uint32_t n) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * n) >> 64);
}

}  // namespace ringdb::util
