#include "util/arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace ringdb::util {
namespace {

TEST(Arena, AllocationsAreAlignedDisjointAndKeepContents) {
  Arena arena(4096);
  std::mt19937 rng(3);
  std::vector<std::pair<char*, size_t>> allocs;
  for (int i = 0; i < 5000; i++) {
    size_t n = (i % 50 == 0) ? 3000 + rng() % 5000 : 1 + rng() % 200;
    size_t align = size_t{1} << (rng() % 7);
    char* p = arena.Allocate(n, align);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    std::memset(p, i & 0xff, n);
    allocs.emplace_back(p, n);
  }
  for (size_t i = 0; i < allocs.size(); i++) {
    for (size_t j = 0; j < allocs[i].second; j++) {
      ASSERT_EQ(static_cast<unsigned char>(allocs[i].first[j]), i & 0xff);
    }
  }
  EXPECT_GE(arena.MemoryUsage(), 5000u);
}

}  // namespace
}  // namespace ringdb::util
