// SkipList on its own (the memtable tests reach it only through MemTable): ordering,
// Seek/Prev/SeekToLast against a std::set, LinkAll of inline keys in groups larger than
// one interleaved batch, and readers on other threads while the writer inserts (each
// reader sees keys in order, never half a node, and every key published before its walk
// began). Replay: RINGDB_TEST_SEED=<seed>.
#include "lsm/skiplist.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"
#include "util/arena.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using testing::TestSeed;

struct U64Compare {
  int operator()(uint64_t a, uint64_t b) const { return a < b ? -1 : (a > b ? 1 : 0); }
};
using U64List = SkipList<uint64_t, U64Compare>;

struct CStrCompare {
  int operator()(const char* a, const char* b) const { return std::strcmp(a, b); }
};
using CStrList = SkipList<const char*, CStrCompare>;

std::vector<uint64_t> Walk(const U64List& list) {
  std::vector<uint64_t> out;
  U64List::Iterator it(&list);
  for (it.SeekToFirst(); it.Valid(); it.Next()) out.push_back(it.key());
  return out;
}

TEST(SkipListTest, EmptyListHasNoEntries) {
  util::Arena arena;
  U64List list(U64Compare(), &arena);
  EXPECT_EQ(list.size(), 0u);
  EXPECT_FALSE(list.Contains(10));
  U64List::Iterator it(&list);
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  it.SeekToLast();
  EXPECT_FALSE(it.Valid());
  it.Seek(100);
  EXPECT_FALSE(it.Valid());
}

TEST(SkipListTest, RandomInsertsMatchAStdSet) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("RINGDB_TEST_SEED=" + std::to_string(seed));
  Rng rng(seed);
  util::Arena arena;
  U64List list(U64Compare(), &arena);
  std::set<uint64_t> model;
  for (int i = 0; i < 5000; i++) {
    const uint64_t k = rng.Uniform(20000);
    if (!model.insert(k).second) continue;  // REQUIRES: no duplicate
    list.Insert(k);
  }
  EXPECT_EQ(list.size(), model.size());
  EXPECT_EQ(Walk(list), std::vector<uint64_t>(model.begin(), model.end()));
  for (uint64_t k = 0; k < 20000; k += 7) EXPECT_EQ(list.Contains(k), model.count(k) == 1) << k;

  U64List::Iterator it(&list);
  for (int i = 0; i < 500; i++) {
    const uint64_t target = rng.Uniform(20100);
    it.Seek(target);
    auto want = model.lower_bound(target);
    ASSERT_EQ(it.Valid(), want != model.end()) << target;
    if (!it.Valid()) continue;
    EXPECT_EQ(it.key(), *want);
    it.Prev();  // the largest key below target
    if (want == model.begin()) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid());
      EXPECT_EQ(it.key(), *std::prev(want));
    }
  }
  // Backwards from the end, all the way.
  std::vector<uint64_t> backwards;
  for (it.SeekToLast(); it.Valid(); it.Prev()) backwards.push_back(it.key());
  EXPECT_EQ(backwards, std::vector<uint64_t>(model.rbegin(), model.rend()));
}

TEST(SkipListTest, LinkAllLinksInlineKeysAcrossGroups) {
  util::Arena arena;
  CStrList list(CStrCompare(), &arena);
  std::set<std::string> model;
  // Two batches whose keys interleave, each longer than one interleaved group (16).
  for (int batch = 0; batch < 2; batch++) {
    std::vector<CStrList::Node*> nodes;
    std::vector<std::string> keys;
    // Batch 1's "k1000a" falls between batch 0's "k1000" and "k1001".
    for (int i = 0; i < 100; i++) keys.push_back(testing::Cat("k", 1000 + i) + (batch ? "a" : ""));
    std::sort(keys.begin(), keys.end());  // LinkAll's callers link in key order
    for (const std::string& k : keys) {
      char* dst = nullptr;
      nodes.push_back(list.NewInline(k.size() + 1, &dst));
      std::memcpy(dst, k.c_str(), k.size() + 1);
      model.insert(k);
    }
    list.LinkAll(nodes.data(), nodes.size());
  }
  EXPECT_EQ(list.size(), model.size());
  std::vector<std::string> got;
  CStrList::Iterator it(&list);
  for (it.SeekToFirst(); it.Valid(); it.Next()) got.emplace_back(it.key());
  EXPECT_EQ(got, std::vector<std::string>(model.begin(), model.end()));
  EXPECT_TRUE(list.Contains("k1050"));
  EXPECT_TRUE(list.Contains("k1050a"));
  EXPECT_FALSE(list.Contains("k1050b"));
}

// One writer inserts a shuffled set of keys and publishes how many it has inserted;
// readers on other threads walk the list meanwhile. Every walk must be strictly
// increasing, hold only keys of the set, and include every key the writer had inserted
// before the walk began (a reader never misses a published node).
TEST(SkipListTest, ReadersOnOtherThreadsWhileTheWriterInserts) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("RINGDB_TEST_SEED=" + std::to_string(seed));
  constexpr uint64_t kKeys = 50000;
  // Keys are 2 * i + 1: readers also Seek between them.
  std::vector<uint64_t> order(kKeys);
  for (uint64_t i = 0; i < kKeys; i++) order[i] = i;
  Rng rng(seed);
  for (uint64_t i = kKeys - 1; i > 0; i--) std::swap(order[i], order[rng.Uniform(i + 1)]);
  std::vector<uint64_t> rank(kKeys);  // rank[i]: when key 2i+1 is inserted
  for (uint64_t r = 0; r < kKeys; r++) rank[order[r]] = r;

  util::Arena arena;
  U64List list(U64Compare(), &arena);
  std::atomic<uint64_t> published{0};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> walks{0};
  std::atomic<uint64_t> walks_during_inserts{0};
  std::atomic<int> started{0};

  auto reader = [&](uint64_t reader_seed) {
    Rng r(reader_seed);
    started.fetch_add(1);
    bool last = false;
    while (!last && !failed.load(std::memory_order_relaxed)) {
      last = published.load(std::memory_order_acquire) == kKeys;
      const uint64_t before = published.load(std::memory_order_acquire);
      // A walk from a random place: every key >= start that was published must be seen.
      const uint64_t start = r.Uniform(2 * kKeys);
      U64List::Iterator it(&list);
      uint64_t prev = 0;
      bool first = true;
      uint64_t expect = start / 2;  // the next index whose key is >= start
      for (it.Seek(start); it.Valid(); it.Next()) {
        const uint64_t k = it.key();
        if (k % 2 != 1 || k >= 2 * kKeys || k < start || (!first && k <= prev)) {
          ADD_FAILURE() << "walk from " << start << " saw " << k << " after " << prev;
          failed = true;
          return;
        }
        // Every published key between the previous one and this one was seen.
        for (; expect < k / 2; expect++) {
          if (rank[expect] < before) {
            ADD_FAILURE() << "walk from " << start << " missed key " << 2 * expect + 1
                          << " published before it began";
            failed = true;
            return;
          }
        }
        expect = k / 2 + 1;
        prev = k;
        first = false;
      }
      for (; expect < kKeys; expect++) {
        if (rank[expect] < before) {
          ADD_FAILURE() << "walk from " << start << " ended before key " << 2 * expect + 1;
          failed = true;
          return;
        }
      }
      walks.fetch_add(1, std::memory_order_relaxed);
      if (!last) walks_during_inserts.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread r1(reader, seed + 1), r2(reader, seed + 2);
  while (started.load() < 2) std::this_thread::yield();  // the walks overlap the inserts
  for (uint64_t i = 0; i < kKeys; i++) {
    list.Insert(2 * order[i] + 1);
    published.store(i + 1, std::memory_order_release);
  }
  r1.join();
  r2.join();
  EXPECT_FALSE(failed.load());
  EXPECT_GE(walks.load(), 2u);  // each reader finished at least its final walk
  std::fprintf(stderr, "[ skiplist] %llu walks, %llu of them while the writer inserted\n",
               static_cast<unsigned long long>(walks.load()),
               static_cast<unsigned long long>(walks_during_inserts.load()));
  EXPECT_EQ(list.size(), kKeys);
}

}  // namespace
}  // namespace ringdb::lsm
