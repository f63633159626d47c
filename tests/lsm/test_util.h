// Small helpers shared by the lsm tests.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace ringdb::lsm::testing {

// Seed from RINGDB_TEST_SEED (to replay a failure) or a fixed default; tests print it.
inline uint64_t TestSeed() {
  const char* env = std::getenv("RINGDB_TEST_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 301;
}

// prefix + decimal n. (Spelled out because GCC 12 raises a false -Wrestrict on
// `"literal" + std::to_string(n)`.)
inline std::string Cat(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  bool OneIn(uint64_t n) { return Uniform(n) == 0; }
  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen_());
    return s;
  }
  // Keys drawn from a small alphabet, so they share prefixes and collide often.
  std::string Key(size_t max_len) {
    std::string s(Uniform(max_len + 1), '\0');
    for (auto& c : s) c = "abc\0\xff"[Uniform(5)];
    return s;
  }

 private:
  std::mt19937_64 gen_;
};

}  // namespace ringdb::lsm::testing
