#include "util/slab.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace ringdb::util {
namespace {

struct Alloc {
  char* p;
  size_t n;
  char fill;
};

TEST(Slabs, AllocationsAreAlignedDisjointSizedAndKeepTheirContents) {
  Slabs slabs;
  std::mt19937 rng(11);
  std::vector<Alloc> all;
  for (int i = 0; i < 3000; i++) {
    // Mostly block-sized, some small, a few over the largest slot (operator new).
    const size_t n = i % 100 == 0 ? Slabs::kMaxSlotBytes + rng() % 100000
                     : i % 4 == 0 ? 1 + rng() % 512
                                  : 3800 + rng() % 1200;
    size_t footprint = 0;
    auto* p = static_cast<char*>(slabs.Allocate(n, &footprint));
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    ASSERT_GE(footprint, n + Slabs::kHeaderBytes);
    if (n + Slabs::kHeaderBytes <= Slabs::kMaxSlotBytes) {
      ASSERT_EQ(footprint % Slabs::kStepBytes, 0u);
      ASSERT_LT(footprint - n - Slabs::kHeaderBytes, Slabs::kStepBytes);
    } else {
      ASSERT_EQ(footprint, n + Slabs::kHeaderBytes);
    }
    const char fill = static_cast<char>(i);
    std::memset(p, fill, n);
    all.push_back({p, n, fill});
  }
  for (const Alloc& a : all) {
    for (size_t j = 0; j < a.n; j += 331) ASSERT_EQ(a.p[j], a.fill);
    ASSERT_EQ(a.p[a.n - 1], a.fill);
  }
  EXPECT_GT(slabs.chunks(), 0u);
  for (const Alloc& a : all) Slabs::Free(a.p);
}

TEST(Slabs, AFreedSlotIsTheNextOneItsClassHandsOut) {
  Slabs slabs;
  size_t f = 0;
  void* a = slabs.Allocate(4100, &f);
  void* b = slabs.Allocate(4100, &f);
  EXPECT_NE(a, b);
  Slabs::Free(a);
  EXPECT_EQ(slabs.Allocate(4200, &f), a);  // the same 256-byte class (4352)
  void* other = slabs.Allocate(100, &f);   // another class: another chunk
  EXPECT_NE(other, a);
  Slabs::Free(a);
  Slabs::Free(b);
  Slabs::Free(other);
}

TEST(Slabs, ChunksGrowToHugePagesAndGoBackWhenEmpty) {
  Slabs slabs;
  std::vector<void*> ps;
  size_t f = 0;
  // 64 MiB of 4 KiB blocks from one thread: one heap, one class.
  for (int i = 0; i < 16384; i++) ps.push_back(slabs.Allocate(4000, &f));
  const size_t mapped = slabs.mapped_bytes();
  EXPECT_GE(mapped, 16384 * f);
  EXPECT_LT(mapped, 16384 * f + 2 * Slabs::kMaxChunkBytes);  // 64 KiB, 128 KiB, ... 2 MiB
  // The 2 MiB chunks are 2 MiB-aligned (a huge page each where the kernel allows).
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ps.back()) & ~uintptr_t(Slabs::kMaxChunkBytes - 1),
            (reinterpret_cast<uintptr_t>(ps.back()) - Slabs::kHeaderBytes) &
                ~uintptr_t(Slabs::kMaxChunkBytes - 1));
  const size_t chunks = slabs.chunks();
  EXPECT_GT(chunks, 30u);
  for (size_t i = 0; i < ps.size(); i += 2) Slabs::Free(ps[i]);
  EXPECT_EQ(slabs.chunks(), chunks);  // every chunk still holds live slots
  for (size_t i = 1; i < ps.size(); i += 2) Slabs::Free(ps[i]);
  EXPECT_EQ(slabs.chunks(), 1u);  // the class keeps its last chunk
  EXPECT_LE(slabs.mapped_bytes(), Slabs::kMaxChunkBytes);
}

TEST(Slabs, WithoutSlabsEverythingComesFromOperatorNew) {
  Slabs slabs(/*use_slabs=*/false);
  size_t f = 0;
  auto* p = static_cast<char*>(slabs.Allocate(4000, &f));
  EXPECT_EQ(f, 4000 + Slabs::kHeaderBytes);
  std::memset(p, 1, 4000);
  EXPECT_EQ(slabs.chunks(), 0u);
  Slabs::Free(p);
  Slabs::Free(nullptr);
}

// Threads allocate, hand their allocations to the next thread, which checks and frees
// them: slots go back to the heap of their chunk from any thread (TSan checks the rest).
TEST(Slabs, ThreadsFreeWhatOthersAllocated) {
  Slabs slabs;
  constexpr int kThreads = 4;
  constexpr int kRounds = 50;
  constexpr int kPerRound = 200;
  std::vector<std::vector<Alloc>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int r = 0; r < kRounds; r++) {
        for (int i = 0; i < kPerRound; i++) {
          const size_t n = 16 + rng() % 6000;
          size_t f = 0;
          auto* p = static_cast<char*>(slabs.Allocate(n, &f));
          const auto fill = static_cast<char>(t * 31 + i);
          std::memset(p, fill, n);
          made[t].push_back({p, n, fill});
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (const Alloc& a : made[(t + 1) % kThreads]) {
        EXPECT_EQ(a.p[0], a.fill);
        EXPECT_EQ(a.p[a.n - 1], a.fill);
        Slabs::Free(a.p);
      }
    });
  }
  for (auto& th : threads) th.join();
  // At most one chunk left per class and heap.
  EXPECT_LE(slabs.chunks(), Slabs::kHeaps * (6016 / Slabs::kStepBytes + 1));
}

}  // namespace
}  // namespace ringdb::util
