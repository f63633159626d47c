#include "lsm/merging_iterator.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "iter_test_util.h"
#include "lsm/memtable.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::Entry;
using testing::IKey;
using testing::Rng;
using testing::TestSeed;
using testing::VectorIterator;

using Children = std::vector<std::unique_ptr<InternalIterator>>;

Children Make(std::vector<std::vector<Entry>> sources) {
  Children c;
  for (auto& s : sources) c.push_back(std::make_unique<VectorIterator>(std::move(s)));
  return c;
}

// "key@seq=value" for every entry, forward from SeekToFirst.
std::string Forward(InternalIterator* it) {
  std::string r;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    r += DebugInternalKey(it->key()) + "=" + std::string(it->value()) + ";";
  }
  return r;
}
std::string Backward(InternalIterator* it) {
  std::string r;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    r += DebugInternalKey(it->key()) + "=" + std::string(it->value()) + ";";
  }
  return r;
}

TEST(MergingIteratorTest, NoChildrenIsEmpty) {
  auto it = NewMergingIterator({});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek(IKey("a", 1));
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MergingIteratorTest, AllChildrenEmpty) {
  auto it = NewMergingIterator(Make({{}, {}, {}}));
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MergingIteratorTest, SingleChildPassesThrough) {
  auto it = NewMergingIterator(Make({{{IKey("a", 1), "1"}, {IKey("b", 2), "2"}}}));
  EXPECT_EQ(Forward(it.get()), "'a' @ 1 : 1=1;'b' @ 2 : 1=2;");
}

TEST(MergingIteratorTest, InterleavesByInternalKeyOrder) {
  auto it = NewMergingIterator(Make({
      {{IKey("a", 1), "a1"}, {IKey("c", 9), "c9"}},
      {{IKey("a", 5), "a5"}, {IKey("b", 3), "b3"}},
      {{IKey("c", 2, ValueType::kDeletion), ""}},
  }));
  const char* want =
      "'a' @ 5 : 1=a5;'a' @ 1 : 1=a1;'b' @ 3 : 1=b3;'c' @ 9 : 1=c9;"
      "'c' @ 2 : 0=;";
  EXPECT_EQ(Forward(it.get()), want);
}

TEST(MergingIteratorTest, BackwardIsReverseOfForward) {
  auto it = NewMergingIterator(Make({
      {{IKey("a", 1), "a1"}, {IKey("d", 9), "d9"}},
      {{IKey("a", 5), "a5"}, {IKey("b", 3), "b3"}},
      {},
      {{IKey("c", 2), "c2"}, {IKey("e", 1), "e1"}},
  }));
  EXPECT_EQ(Backward(it.get()),
            "'e' @ 1 : 1=e1;'d' @ 9 : 1=d9;'c' @ 2 : 1=c2;'b' @ 3 : 1=b3;"
            "'a' @ 1 : 1=a1;'a' @ 5 : 1=a5;");
}

TEST(MergingIteratorTest, SeekLandsOnFirstEntryAtOrAfterTarget) {
  auto it = NewMergingIterator(Make({
      {{IKey("a", 1), "a1"}, {IKey("c", 9), "c9"}},
      {{IKey("b", 5), "b5"}, {IKey("b", 3), "b3"}},
  }));
  it->Seek(IKey("b", 4));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "b3");
  it->Seek(IKey("b", 100));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "b5");
  it->Seek(IKey("d", 100));
  EXPECT_FALSE(it->Valid());
}

TEST(MergingIteratorTest, PrevAfterNextSwitchesDirection) {
  auto it = NewMergingIterator(Make({
      {{IKey("a", 1), "a"}, {IKey("c", 1), "c"}, {IKey("e", 1), "e"}},
      {{IKey("b", 1), "b"}, {IKey("d", 1), "d"}},
  }));
  it->Seek(IKey("c", 1));
  it->Next();  // d
  ASSERT_EQ(it->value(), "d");
  it->Prev();
  ASSERT_EQ(it->value(), "c");
  it->Prev();
  ASSERT_EQ(it->value(), "b");
  it->Next();
  ASSERT_EQ(it->value(), "c");
  it->Next();
  ASSERT_EQ(it->value(), "d");
}

TEST(MergingIteratorTest, PrevFromFirstGoesInvalid) {
  auto it = NewMergingIterator(Make({{{IKey("a", 1), "a"}}, {{IKey("b", 1), "b"}}}));
  it->SeekToFirst();
  it->Prev();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MergingIteratorTest, NextAfterSeekToLastWhenOtherChildExhausted) {
  // Switching to forward at the last entry: the other child has nothing after it.
  auto it = NewMergingIterator(Make({{{IKey("a", 1), "a"}}, {{IKey("b", 1), "b"}}}));
  it->SeekToLast();
  it->Prev();
  ASSERT_EQ(it->value(), "a");
  it->Next();
  ASSERT_EQ(it->value(), "b");
  it->Next();
  EXPECT_FALSE(it->Valid());
}

TEST(MergingIteratorTest, DuplicateKeysAcrossChildrenYieldedOnceEachBothWays) {
  auto it = NewMergingIterator(Make({
      {{IKey("k", 1), "first"}},
      {{IKey("k", 1), "second"}},
      {{IKey("k", 1), "third"}},
  }));
  it->SeekToFirst();
  ASSERT_EQ(it->value(), "first");
  it->Next();
  ASSERT_EQ(it->value(), "second");
  it->Prev();
  ASSERT_EQ(it->value(), "first");
  it->Next();
  ASSERT_EQ(it->value(), "second");
  it->Next();
  ASSERT_EQ(it->value(), "third");
  it->Prev();
  ASSERT_EQ(it->value(), "second");
  it->Prev();
  ASSERT_EQ(it->value(), "first");
  it->Prev();
  EXPECT_FALSE(it->Valid());
}

TEST(MergingIteratorTest, ChildErrorOnSeekEndsMerge) {
  Children c;
  c.push_back(std::make_unique<VectorIterator>(std::vector<Entry>{{IKey("a", 1), "a"}}));
  c.push_back(std::make_unique<VectorIterator>(std::vector<Entry>{{IKey("b", 1), "b"}}, 0));
  auto it = NewMergingIterator(std::move(c));
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();
}

TEST(MergingIteratorTest, ChildErrorMidScanEndsMergeWithoutSkippingData) {
  Children c;
  c.push_back(std::make_unique<VectorIterator>(
      std::vector<Entry>{{IKey("a", 1), "a"}, {IKey("c", 1), "c"}, {IKey("e", 1), "e"}}));
  // Fails on its second move: the Next() after "b".
  c.push_back(std::make_unique<VectorIterator>(
      std::vector<Entry>{{IKey("b", 1), "b"}, {IKey("d", 1), "d"}}, 1));
  auto it = NewMergingIterator(std::move(c));
  std::string seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) seen += it->value();
  EXPECT_EQ(seen, "ab");
  EXPECT_TRUE(it->status().IsIOError());
}

TEST(MergingIteratorTest, ReseekAfterErrorReportsChildAgain) {
  Children c;
  c.push_back(std::make_unique<VectorIterator>(std::vector<Entry>{{IKey("a", 1), "a"}}, 0));
  c.push_back(std::make_unique<VectorIterator>(std::vector<Entry>{{IKey("b", 1), "b"}}));
  auto it = NewMergingIterator(std::move(c));
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek(IKey("b", 1));
  EXPECT_FALSE(it->Valid());
  EXPECT_FALSE(it->status().ok());
}

TEST(MergingIteratorTest, MergesMemtables) {
  Rng rng(TestSeed());
  SCOPED_TRACE(testing::Cat("seed=", TestSeed()));
  std::vector<std::unique_ptr<MemTable>> mems;
  std::vector<Entry> all;
  SequenceNumber seq = 0;
  for (int m = 0; m < 4; m++) {
    mems.push_back(std::make_unique<MemTable>());
    for (int i = 0; i < 300; i++) {
      std::string k = rng.Key(4);
      ValueType t = rng.OneIn(4) ? ValueType::kDeletion : ValueType::kValue;
      std::string v = t == ValueType::kValue ? rng.Bytes(rng.Uniform(10)) : "";
      mems.back()->Add(++seq, t, k, v);
      all.emplace_back(IKey(k, seq, t), v);
    }
  }
  testing::SortEntries(&all);
  Children c;
  for (auto& m : mems) c.push_back(m->NewIterator());
  auto it = NewMergingIterator(std::move(c));
  size_t i = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
    ASSERT_LT(i, all.size());
    ASSERT_EQ(it->key(), all[i].first);
    ASSERT_EQ(it->value(), all[i].second);
  }
  EXPECT_EQ(i, all.size());
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    ASSERT_GT(i, 0u);
    i--;
    ASSERT_EQ(it->key(), all[i].first);
  }
  EXPECT_EQ(i, 0u);
}

// Random walks (seeks, steps both ways) against a sorted vector of every entry.
TEST(MergingIteratorTest, RandomWalkMatchesSortedModel) {
  uint64_t seed = TestSeed();
  std::printf("seed=%llu (RINGDB_TEST_SEED)\n", static_cast<unsigned long long>(seed));
  Rng rng(seed);
  InternalKeyComparator icmp;
  for (int round = 0; round < 200; round++) {
    SCOPED_TRACE(testing::Cat("seed=", seed) + testing::Cat(" round=", round));
    size_t n_children = 1 + rng.Uniform(6);
    std::vector<std::vector<Entry>> sources(n_children);
    std::vector<Entry> all;
    SequenceNumber seq = 0;
    size_t n = rng.Uniform(60);
    for (size_t i = 0; i < n; i++) {
      seq++;
      Entry e{IKey(rng.Key(3), seq, rng.OneIn(3) ? ValueType::kDeletion : ValueType::kValue),
              testing::Cat("v", seq)};
      sources[rng.Uniform(n_children)].push_back(e);
      all.push_back(e);
    }
    testing::SortEntries(&all);
    auto it = NewMergingIterator(Make(sources));
    size_t pos = all.size();  // model position; all.size() = invalid
    for (int step = 0; step < 100; step++) {
      switch (rng.Uniform(5)) {
        case 0:
          it->SeekToFirst();
          pos = 0;
          break;
        case 1:
          it->SeekToLast();
          pos = all.empty() ? 0 : all.size() - 1;
          break;
        case 2: {
          std::string t = IKey(rng.Key(3), rng.Uniform(seq + 2));
          it->Seek(t);
          pos = 0;
          while (pos < all.size() && icmp.Compare(all[pos].first, t) < 0) pos++;
          break;
        }
        case 3:
          if (pos >= all.size()) continue;
          it->Next();
          pos++;
          break;
        default:
          if (pos >= all.size()) continue;
          it->Prev();
          pos = pos == 0 ? all.size() : pos - 1;
          break;
      }
      ASSERT_EQ(it->Valid(), pos < all.size()) << "step " << step;
      if (pos < all.size()) {
        ASSERT_EQ(DebugInternalKey(it->key()), DebugInternalKey(all[pos].first));
        ASSERT_EQ(it->value(), all[pos].second);
      }
    }
    ASSERT_TRUE(it->status().ok());
  }
}

}  // namespace
}  // namespace ringdb::lsm
