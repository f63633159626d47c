#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "util/huge_buffer.h"

namespace ringdb::util {
namespace {

constexpr size_t kChunk = HugeArena::kChunkBytes;

TEST(HugeArena, AllocationsAreAlignedDisjointAndKeepTheirContents) {
  HugeArena arena;
  std::mt19937 rng(5);
  struct Alloc {
    char* p;
    size_t n;
    char fill;
  };
  std::vector<Alloc> all;
  for (int i = 0; i < 400; i++) {
    // Mostly chunk-sized work (index arrays, filters), some small, a few own mappings.
    const size_t n = i % 40 == 0  ? kChunk / 2 + 1 + rng() % kChunk
                     : i % 3 == 0 ? 1 + rng() % (HugeArena::kMinBytes - 1)
                                  : HugeArena::kMinBytes + rng() % (256 << 10);
    auto* p = static_cast<char*>(arena.Allocate(n));
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    const char fill = static_cast<char>(i);
    std::memset(p, fill, n);
    all.push_back({p, n, fill});
  }
  for (const Alloc& a : all) {
    for (size_t j = 0; j < a.n; j += 997) ASSERT_EQ(a.p[j], a.fill);
    ASSERT_EQ(a.p[a.n - 1], a.fill);
  }
  EXPECT_GT(arena.chunks(), 0u);
  for (const Alloc& a : all) arena.Free(a.p, a.n);
  // Only the chunk being filled stays (empty, to be filled again).
  EXPECT_EQ(arena.chunks(), 1u);
  EXPECT_EQ(arena.mapped_bytes(), kChunk);
}

TEST(HugeArena, SmallAllocationsPackIntoOneChunkThatIsReusedOnceEmpty) {
  HugeArena arena;
  const size_t n = 64 << 10;
  std::vector<void*> ps;
  for (size_t i = 0; i < kChunk / n; i++) ps.push_back(arena.Allocate(n));
  EXPECT_EQ(arena.chunks(), 1u);  // exactly full
  for (size_t i = 1; i < ps.size(); i++) {
    EXPECT_EQ(static_cast<char*>(ps[i]) - static_cast<char*>(ps[i - 1]), static_cast<ptrdiff_t>(n));
  }
  for (void* p : ps) arena.Free(p, n);
  void* again = arena.Allocate(n);
  EXPECT_EQ(again, ps[0]);  // the same chunk, from its start
  EXPECT_EQ(arena.chunks(), 1u);
  arena.Free(again, n);
}

TEST(HugeArena, AChunkGoesWithItsLastAllocationOnceAnotherIsBeingFilled) {
  HugeArena arena;
  const size_t n = kChunk / 2;  // two fill a chunk
  void* a = arena.Allocate(n);
  void* b = arena.Allocate(n);
  void* c = arena.Allocate(n);  // a second chunk
  EXPECT_EQ(arena.chunks(), 2u);
  arena.Free(a, n);
  EXPECT_EQ(arena.chunks(), 2u);  // b still lives there
  arena.Free(b, n);
  EXPECT_EQ(arena.chunks(), 1u);
  EXPECT_EQ(arena.mapped_bytes(), kChunk);
  arena.Free(c, n);
  EXPECT_EQ(arena.chunks(), 1u);
}

TEST(HugeArena, LargeAllocationsGetMappingsOfTheirOwn) {
  HugeArena arena;
  const size_t n = 3 * kChunk + 123;
  auto* p = static_cast<char*>(arena.Allocate(n));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kChunk, 0u);
  std::memset(p, 7, n);
  EXPECT_EQ(arena.chunks(), 1u);
  EXPECT_EQ(arena.mapped_bytes(), 4 * kChunk);
  arena.Free(p, n);
  EXPECT_EQ(arena.chunks(), 0u);
  EXPECT_EQ(arena.mapped_bytes(), 0u);
}

TEST(HugeArena, WithoutChunksEverythingComesFromOperatorNew) {
  HugeArena arena(/*use_chunks=*/false);
  void* p = arena.Allocate(1 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  std::memset(p, 1, 1 << 20);
  EXPECT_EQ(arena.chunks(), 0u);
  arena.Free(p, 1 << 20);
}

TEST(HugeArena, ThreadsAllocateAndFreeEachOthersAllocations) {
  HugeArena arena;
  constexpr int kThreads = 4;
  constexpr int kEach = 300;
  std::vector<std::vector<std::pair<void*, size_t>>> made(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int i = 0; i < kEach; i++) {
        const size_t n = HugeArena::kMinBytes + rng() % (128 << 10);
        auto* p = static_cast<char*>(arena.Allocate(n));
        p[0] = p[n - 1] = static_cast<char>(t);
        made[t].emplace_back(p, n);
      }
    });
  }
  for (auto& t : ts) t.join();
  ts.clear();
  for (int t = 0; t < kThreads; t++) {
    // Each thread frees what the next one allocated.
    ts.emplace_back([&, t] {
      for (auto [p, n] : made[(t + 1) % kThreads]) {
        EXPECT_EQ(static_cast<char*>(p)[0], static_cast<char>((t + 1) % kThreads));
        arena.Free(p, n);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(arena.chunks(), 1u);
}

TEST(HugeArena, VectorsWithTheAllocatorWork) {
  std::vector<uint64_t, HugeAllocator<uint64_t>> v(100000, 3);
  v.push_back(4);
  EXPECT_EQ(v[99999], 3u);
  EXPECT_EQ(v.back(), 4u);
  std::vector<char, HugeAllocator<char>> small(10, 'x');
  EXPECT_EQ(small[9], 'x');
}

}  // namespace
}  // namespace ringdb::util
