// BlockCache on its own (until now reached only through table reads): hits and misses,
// the first copy kept, byte accounting, CLOCK's second chance, EraseFile, Pin/Unpin,
// long chains in a crowded table of buckets, a zero capacity, admission (every block
// while there is room, then a block on its second miss within the doorkeeper's window),
// and lookups on other threads while the writer inserts, evicts and erases (every hit
// is the block of its own (file, offset), never a freed one).
#include "lsm/block_cache.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lsm/block_builder.h"
#include "runtime/rcu.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using testing::TestSeed;

// A block holding one entry whose key names (file, offset), so a hit can be checked.
BlockPtr MakeBlock(uint64_t file, uint64_t offset) {
  BlockBuilder b(16);
  b.Add(testing::Cat("f", file) + testing::Cat("@", offset), "v");
  BlockPtr block;
  EXPECT_TRUE(Block::FromContents(std::string(b.Finish()), offset, BlockKind::kData, &block).ok());
  return block;
}

std::string KeyOf(const Block& block) {
  auto it = Block::NewIterator(BlockPtr(&block, [](const Block*) {}));  // borrows
  it->SeekToFirst();
  return it->Valid() ? std::string(it->key()) : std::string("<empty>");
}

class BlockCacheTest : public ::testing::Test {
 protected:
  void TearDown() override {
    cache_.reset();
    retire_.Flush();
    rt::rcu::Barrier();  // the retired entries are freed before the test ends (ASan)
  }
  void Make(size_t capacity) { cache_ = std::make_unique<BlockCache>(capacity, &retire_); }
  bool Has(uint64_t file, uint64_t offset) {
    rt::rcu::ReadLock l;
    return cache_->Lookup(file, offset) != nullptr;
  }
  void Put(uint64_t file, uint64_t offset, size_t charge) {
    cache_->Insert(file, offset, MakeBlock(file, offset), charge);
  }

  rt::rcu::RetireList retire_;  // declared first: outlives the cache
  std::unique_ptr<BlockCache> cache_;
};

TEST_F(BlockCacheTest, LookupFindsOnlyWhatWasInserted) {
  Make(1 << 20);
  EXPECT_FALSE(Has(1, 0));
  Put(1, 0, 100);
  Put(1, 4096, 100);
  Put(2, 0, 100);
  EXPECT_TRUE(Has(1, 0));
  EXPECT_TRUE(Has(1, 4096));
  EXPECT_TRUE(Has(2, 0));
  EXPECT_FALSE(Has(2, 4096));
  EXPECT_FALSE(Has(3, 0));
  rt::rcu::ReadLock l;
  const BlockPtr* hit = cache_->Lookup(1, 4096);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(KeyOf(**hit), "f1@4096");
  EXPECT_EQ(cache_->entries(), 3u);
  EXPECT_EQ(cache_->usage(), 300u);
}

// Thousands of entries in the smallest table of buckets (64), so chains run long:
// after random inserts (repeats included) and EraseFile of random files, Lookup finds
// exactly the blocks a model says are cached (the capacity holds them all: no eviction).
TEST_F(BlockCacheTest, LookupFindsExactlyTheModelThroughLongChains) {
  Make(64 * 4096);  // 64 buckets; 16384 entries of charge 16 fit
  Rng rng(TestSeed());
  std::set<std::pair<uint64_t, uint64_t>> model;
  auto agree = [&] {
    for (uint64_t file = 1; file <= 8; file++) {
      for (uint64_t off = 0; off < 600; off++) {
        ASSERT_EQ(Has(file, off * 4096), model.count({file, off * 4096}) == 1)
            << file << "@" << off;
      }
    }
    ASSERT_EQ(cache_->entries(), model.size());
  };
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 1500; i++) {
      const uint64_t file = 1 + rng.Uniform(8), off = rng.Uniform(600) * 4096;
      Put(file, off, 16);
      model.insert({file, off});
    }
    agree();
    const uint64_t gone = 1 + rng.Uniform(8);
    cache_->EraseFile(gone);
    std::erase_if(model, [&](const auto& k) { return k.first == gone; });
    agree();
  }
}

TEST_F(BlockCacheTest, SecondInsertOfTheSameBlockKeepsTheFirst) {
  Make(1 << 20);
  BlockPtr first = MakeBlock(7, 0);
  cache_->Insert(7, 0, first, 100);
  cache_->Insert(7, 0, MakeBlock(7, 0), 100);  // two readers fetched it at once
  EXPECT_EQ(cache_->entries(), 1u);
  EXPECT_EQ(cache_->usage(), 100u);
  rt::rcu::ReadLock l;
  const BlockPtr* hit = cache_->Lookup(7, 0);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->get(), first.get());
}

TEST_F(BlockCacheTest, EvictsTheOldestUnreferencedBlockToStayWithinCapacity) {
  Make(300);
  Put(1, 0, 100);
  Put(1, 1, 100);
  Put(1, 2, 100);
  EXPECT_EQ(cache_->usage(), 300u);
  Put(1, 3, 100);  // over capacity: the hand takes the oldest, never referenced
  EXPECT_FALSE(Has(1, 0));
  EXPECT_TRUE(Has(1, 1));
  EXPECT_TRUE(Has(1, 3));
  EXPECT_EQ(cache_->entries(), 3u);
  EXPECT_LE(cache_->usage(), cache_->capacity());
}

TEST_F(BlockCacheTest, AReferencedBlockGetsASecondChance) {
  Make(300);
  Put(1, 0, 100);
  Put(1, 1, 100);
  Put(1, 2, 100);
  EXPECT_TRUE(Has(1, 0));  // sets (1, 0)'s reference bit
  Put(1, 3, 100);          // (1, 0) loses its bit and goes to the back; (1, 1) goes
  EXPECT_TRUE(Has(1, 0));
  EXPECT_FALSE(Has(1, 1));
  EXPECT_TRUE(Has(1, 2));
  EXPECT_TRUE(Has(1, 3));
}

TEST_F(BlockCacheTest, ABlockThatCannotFitIsNotCached) {
  Make(300);
  Put(1, 0, 100);
  Put(1, 1, 301);
  EXPECT_FALSE(Has(1, 1));
  EXPECT_TRUE(Has(1, 0));  // nothing was evicted for it
  EXPECT_EQ(cache_->usage(), 100u);
}

TEST_F(BlockCacheTest, ZeroCapacityCachesNothing) {
  Make(0);
  Put(1, 0, 1);
  EXPECT_FALSE(Has(1, 0));
  EXPECT_EQ(cache_->entries(), 0u);
  EXPECT_EQ(cache_->usage(), 0u);
}

TEST_F(BlockCacheTest, AdmitsEveryBlockWhileThereIsRoom) {
  Make(1 << 20);
  for (uint64_t i = 0; i < 1000; i++) EXPECT_TRUE(cache_->Admit(7, i * 4096)) << i;
  Put(1, 0, 4096);  // far from full
  for (uint64_t i = 0; i < 1000; i++) EXPECT_TRUE(cache_->Admit(7, i * 4096)) << i;
}

TEST_F(BlockCacheTest, ZeroCapacityAdmitsNothing) {
  Make(0);
  EXPECT_FALSE(cache_->Admit(1, 0));
  EXPECT_FALSE(cache_->Admit(1, 0));
}

TEST_F(BlockCacheTest, OnceFullABlockIsAdmittedOnItsSecondMiss) {
  Make(1 << 20);
  for (uint64_t i = 0; i < 256; i++) Put(1, i * 4096, 4096);
  ASSERT_EQ(cache_->usage(), size_t{1} << 20);
  int first = 0;
  for (uint64_t i = 0; i < 200; i++) first += cache_->Admit(2, i * 4096) ? 1 : 0;
  // A first miss gets in only where its bit was already set by another block's.
  EXPECT_LE(first, 10);
  for (uint64_t i = 0; i < 200; i++) EXPECT_TRUE(cache_->Admit(2, i * 4096)) << i;
  // Admission changes nothing in the cache by itself.
  EXPECT_EQ(cache_->entries(), 256u);
  EXPECT_TRUE(Has(1, 0));
}

// A first miss passes for a second one only where both of its bits were set by other
// blocks: with 600 blocks marked, rarely (one bit per block let in about one in 20).
TEST_F(BlockCacheTest, AFirstMissRarelyPassesForASecond) {
  Make(1 << 20);  // a window of 1024 blocks: none of these misses clears it
  for (uint64_t i = 0; i < 256; i++) Put(1, i * 4096, 4096);
  for (uint64_t i = 0; i < 600; i++) cache_->Admit(3, i * 4096);
  int passed = 0;
  for (uint64_t i = 0; i < 400; i++) passed += cache_->Admit(4, i * 4096) ? 1 : 0;
  EXPECT_LE(passed, 6) << "of 400 first misses";
  // Each of them is admitted on its second miss.
  for (uint64_t i = 0; i < 400; i++) EXPECT_TRUE(cache_->Admit(4, i * 4096)) << i;
}

TEST_F(BlockCacheTest, TheDoorkeeperForgetsMissesOlderThanItsWindow) {
  Make(1 << 20);
  for (uint64_t i = 0; i < 256; i++) Put(1, i * 4096, 4096);
  for (uint64_t i = 0; i < 100; i++) cache_->Admit(3, i * 4096);
  // More first misses than the window (1024 blocks) clear the doorkeeper at least once.
  for (uint64_t i = 0; i < 3000; i++) cache_->Admit(4, i * 4096);
  int still = 0;
  for (uint64_t i = 0; i < 100; i++) still += cache_->Admit(3, i * 4096) ? 1 : 0;
  EXPECT_LE(still, 20) << "blocks missed three thousand misses ago still admitted";
}

TEST_F(BlockCacheTest, EraseFileDropsEveryBlockOfThatFileOnly) {
  Make(1 << 20);
  for (uint64_t off = 0; off < 10; off++) {
    Put(5, off, 10);
    Put(6, off, 10);
  }
  cache_->EraseFile(5);
  for (uint64_t off = 0; off < 10; off++) {
    EXPECT_FALSE(Has(5, off)) << off;
    EXPECT_TRUE(Has(6, off)) << off;
  }
  EXPECT_EQ(cache_->entries(), 10u);
  EXPECT_EQ(cache_->usage(), 100u);
  // The holes EraseFile left do not confuse later eviction.
  for (uint64_t off = 0; off < 200; off++) Put(7, off, 10);
  EXPECT_LE(cache_->usage(), cache_->capacity());
}

TEST_F(BlockCacheTest, PinnedBytesEvictEntriesAndUnpinReturnsThem) {
  Make(300);
  Put(1, 0, 100);
  Put(1, 1, 100);
  Put(1, 2, 100);
  cache_->Pin(150);  // an open table's index and filter
  EXPECT_EQ(cache_->pinned(), 150u);
  EXPECT_LE(cache_->usage(), 300u);
  EXPECT_EQ(cache_->entries(), 1u);
  EXPECT_TRUE(Has(1, 2));
  Put(1, 3, 200);  // 200 + 150 pinned > 300: cannot fit
  EXPECT_FALSE(Has(1, 3));
  cache_->Unpin(150);
  EXPECT_EQ(cache_->pinned(), 0u);
  EXPECT_EQ(cache_->usage(), 100u);
  Put(1, 3, 200);
  EXPECT_TRUE(Has(1, 3));
}

// The writer (this thread) inserts, evicts and erases files while reader threads look
// up blocks inside read-side sections: a hit must be the block of the (file, offset)
// asked for, and reading it must never touch a freed entry (ASan builds check that).
TEST_F(BlockCacheTest, ReadersOnOtherThreadsWhileTheWriterEvicts) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("RINGDB_TEST_SEED=" + std::to_string(seed));
  Make(64 * 100);  // room for 64 blocks of charge 100: constant eviction
  constexpr uint64_t kFiles = 8, kOffsets = 32;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> hits{0};
  std::atomic<bool> failed{false};
  auto reader = [&](uint64_t reader_seed) {
    Rng r(reader_seed);
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t file = r.Uniform(kFiles), offset = r.Uniform(kOffsets);
      rt::rcu::ReadLock l;
      const BlockPtr* hit = cache_->Lookup(file, offset);
      if (hit == nullptr) continue;
      const std::string want = testing::Cat("f", file) + testing::Cat("@", offset);
      if (KeyOf(**hit) != want || (*hit)->offset() != offset) {
        ADD_FAILURE() << "lookup of " << want << " returned " << KeyOf(**hit);
        failed = true;
        return;
      }
      hits.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread r1(reader, seed + 1), r2(reader, seed + 2);
  Rng w(seed);
  for (int i = 0; i < 50000 && !failed.load(); i++) {
    if (w.OneIn(500)) {
      cache_->EraseFile(w.Uniform(kFiles));
    } else {
      const uint64_t file = w.Uniform(kFiles), offset = w.Uniform(kOffsets);
      Put(file, offset, 100);
    }
    if (i % 256 == 0) retire_.Flush();  // as the shard does at the end of a group
    if (cache_->usage() > cache_->capacity()) {
      ADD_FAILURE() << "usage " << cache_->usage() << " over capacity " << cache_->capacity();
      break;
    }
  }
  stop = true;
  r1.join();
  r2.join();
  EXPECT_FALSE(failed.load());
  std::fprintf(stderr, "[ cache] %llu hits on reader threads\n",
               static_cast<unsigned long long>(hits.load()));
}

}  // namespace
}  // namespace ringdb::lsm
