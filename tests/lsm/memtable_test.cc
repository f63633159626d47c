#include "lsm/memtable.h"

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lsm/dbformat.h"
#include "test_util.h"
#include "util/coding.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using testing::TestSeed;

std::string Get(const MemTable& m, std::string_view key, SequenceNumber seq) {
  std::string v;
  switch (m.Get(LookupKey(key, seq), &v)) {
    case LookupResult::kFound:
      return v;
    case LookupResult::kDeleted:
      return "DELETED";
    case LookupResult::kAbsent:
      return "ABSENT";
  }
  return "?";
}

TEST(InternalKeyTest, EncodeDecode) {
  for (std::string_view k :
       {std::string_view(""), std::string_view("k"), std::string_view("\0\xff", 2)}) {
    for (SequenceNumber s : {SequenceNumber{0}, SequenceNumber{1}, kMaxSequenceNumber}) {
      for (ValueType t : {ValueType::kValue, ValueType::kDeletion}) {
        std::string ik = MakeInternalKey(k, s, t);
        ParsedInternalKey p;
        ASSERT_TRUE(ParseInternalKey(ik, &p));
        EXPECT_EQ(p.user_key, k);
        EXPECT_EQ(p.sequence, s);
        EXPECT_EQ(p.type, t);
      }
    }
  }
  ParsedInternalKey p;
  EXPECT_FALSE(ParseInternalKey("short", &p));
  std::string bad = MakeInternalKey("k", 1, ValueType::kValue);
  bad[bad.size() - 8] = 7;  // unknown type
  EXPECT_FALSE(ParseInternalKey(bad, &p));
}

TEST(InternalKeyTest, OrderUserKeyAscSeqDesc) {
  InternalKeyComparator c;
  EXPECT_LT(c.Compare(MakeInternalKey("a", 5, ValueType::kValue),
                      MakeInternalKey("b", 9, ValueType::kValue)),
            0);
  EXPECT_LT(c.Compare(MakeInternalKey("a", 9, ValueType::kValue),
                      MakeInternalKey("a", 5, ValueType::kValue)),
            0);
  EXPECT_LT(c.Compare(MakeInternalKey("a", 5, ValueType::kValue),
                      MakeInternalKey("a", 5, ValueType::kDeletion)),
            0);
  // A prefix sorts first, whatever the trailer bytes are.
  EXPECT_LT(c.Compare(MakeInternalKey("a", 1, ValueType::kValue),
                      MakeInternalKey(std::string_view("a\0", 2), 99, ValueType::kValue)),
            0);
  EXPECT_LT(c.Compare(MakeInternalKey("", 1, ValueType::kValue),
                      MakeInternalKey("\x01", 1, ValueType::kValue)),
            0);
}

TEST(InternalKeyTest, SeparatorAndSuccessorStayInBounds) {
  InternalKeyComparator c;
  Rng rng(TestSeed());
  for (int i = 0; i < 20000; i++) {
    std::string a = MakeInternalKey(rng.Key(8), rng.Uniform(100), ValueType::kValue);
    std::string b = MakeInternalKey(rng.Key(8), rng.Uniform(100), ValueType::kValue);
    if (c.Compare(a, b) == 0) continue;
    if (c.Compare(a, b) > 0) std::swap(a, b);
    std::string sep = a;
    c.FindShortestSeparator(&sep, b);
    ASSERT_LE(c.Compare(a, sep), 0);
    ASSERT_LT(c.Compare(sep, b), 0);
    std::string succ = a;
    c.FindShortSuccessor(&succ);
    ASSERT_LE(c.Compare(a, succ), 0);
  }
  std::string s = MakeInternalKey("abcdef", 5, ValueType::kValue);
  c.FindShortestSeparator(&s, MakeInternalKey("abzz", 5, ValueType::kValue));
  EXPECT_EQ(ExtractUserKey(s), "abd");
}

TEST(MemTableTest, EmptyIsAbsent) {
  MemTable m;
  EXPECT_EQ(Get(m, "k", kMaxSequenceNumber), "ABSENT");
  EXPECT_EQ(m.num_entries(), 0u);
  auto it = m.NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
}

TEST(MemTableTest, OverwritesAndDeletesBySequence) {
  MemTable m;
  m.Add(1, ValueType::kValue, "k", "v1");
  m.Add(2, ValueType::kValue, "k", "v2");
  m.Add(3, ValueType::kDeletion, "k", "");
  m.Add(4, ValueType::kValue, "k", "v4");
  EXPECT_EQ(Get(m, "k", 0), "ABSENT");
  EXPECT_EQ(Get(m, "k", 1), "v1");
  EXPECT_EQ(Get(m, "k", 2), "v2");
  EXPECT_EQ(Get(m, "k", 3), "DELETED");
  EXPECT_EQ(Get(m, "k", 4), "v4");
  EXPECT_EQ(Get(m, "k", kMaxSequenceNumber), "v4");
  EXPECT_EQ(m.num_deletions(), 1u);
  EXPECT_EQ(m.smallest_seq(), 1u);
  EXPECT_EQ(m.largest_seq(), 4u);
}

TEST(MemTableTest, ExpiringValueReturnsPayloadAndDeadline) {
  MemTable m;
  std::string stored;
  util::PutFixed64(&stored, 777);
  m.Add(1, ValueType::kValueExpiring, "k", stored + "v1");
  m.Add(2, ValueType::kValue, "k", "v2");
  std::string v;
  uint64_t deadline = 5;
  ASSERT_EQ(m.Get(LookupKey("k", 1), &v, &deadline), MemTable::GetResult::kFound);
  EXPECT_EQ(v, "v1");
  EXPECT_EQ(deadline, 777u);
  ASSERT_EQ(m.Get(LookupKey("k", 2), &v, &deadline), MemTable::GetResult::kFound);
  EXPECT_EQ(v, "v2");
  EXPECT_EQ(deadline, 0u);
}

TEST(MemTableTest, PrefixKeysDoNotMatch) {
  MemTable m;
  m.Add(1, ValueType::kValue, "ab", "x");
  m.Add(2, ValueType::kValue, std::string_view("a\0", 2), "y");
  m.Add(3, ValueType::kValue, "", "empty");
  EXPECT_EQ(Get(m, "a", 10), "ABSENT");
  EXPECT_EQ(Get(m, "abc", 10), "ABSENT");
  EXPECT_EQ(Get(m, std::string_view("a\0", 2), 10), "y");
  EXPECT_EQ(Get(m, "", 10), "empty");
}

TEST(MemTableTest, LargeKeyAndValue) {
  MemTable m;
  std::string key(kMaxUserKeyBytes, 'k');
  std::string value(1 << 20, 'v');
  m.Add(7, ValueType::kValue, key, value);
  EXPECT_EQ(Get(m, key, 7), value);
  EXPECT_GE(m.ApproximateMemoryUsage(), key.size() + value.size());
}

TEST(MemTableTest, IteratorMatchesSortedModel) {
  Rng rng(TestSeed());
  SCOPED_TRACE(testing::Cat("seed ", TestSeed()));
  MemTable m;
  std::map<std::string, std::string, InternalKeyComparator> model;
  for (SequenceNumber seq = 1; seq <= 5000; seq++) {
    std::string k = rng.Key(6);
    ValueType t = rng.OneIn(4) ? ValueType::kDeletion : ValueType::kValue;
    std::string v = t == ValueType::kValue ? rng.Bytes(rng.Uniform(20)) : "";
    m.Add(seq, t, k, v);
    model[MakeInternalKey(k, seq, t)] = v;
  }
  auto it = m.NewIterator();
  auto mi = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++mi) {
    ASSERT_NE(mi, model.end());
    ASSERT_EQ(it->key(), mi->first);
    ASSERT_EQ(it->value(), mi->second);
  }
  EXPECT_EQ(mi, model.end());
  auto rmi = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++rmi) {
    ASSERT_NE(rmi, model.rend());
    ASSERT_EQ(it->key(), rmi->first);
  }
  EXPECT_EQ(rmi, model.rend());
  for (int i = 0; i < 2000; i++) {
    std::string target = MakeInternalKey(rng.Key(6), rng.Uniform(6000), ValueType::kValue);
    it->Seek(target);
    auto expect = model.lower_bound(target);
    if (expect == model.end()) {
      ASSERT_FALSE(it->Valid());
    } else {
      ASSERT_TRUE(it->Valid());
      ASSERT_EQ(it->key(), expect->first);
    }
  }
}

TEST(MemTableTest, GetMatchesModelAtEverySnapshot) {
  Rng rng(TestSeed() + 1);
  MemTable m;
  std::vector<std::tuple<std::string, ValueType, std::string>> log;  // index = seq - 1
  for (SequenceNumber seq = 1; seq <= 2000; seq++) {
    std::string k = rng.Key(3);
    ValueType t = rng.OneIn(3) ? ValueType::kDeletion : ValueType::kValue;
    std::string v = t == ValueType::kValue ? std::to_string(seq) : "";
    m.Add(seq, t, k, v);
    log.emplace_back(k, t, v);
  }
  for (int i = 0; i < 3000; i++) {
    std::string k = rng.Key(3);
    SequenceNumber snap = rng.Uniform(2100);
    std::string expect = "ABSENT";
    for (SequenceNumber s = std::min<SequenceNumber>(snap, 2000); s >= 1; s--) {
      const auto& [lk, lt, lv] = log[s - 1];
      if (lk == k) {
        expect = lt == ValueType::kValue ? lv : "DELETED";
        break;
      }
    }
    ASSERT_EQ(Get(m, k, snap), expect) << "key " << EscapeBytes(k) << " snap " << snap;
  }
}

std::string Numbered(char prefix, int i) {
  std::string s(1, prefix);
  s += std::to_string(i);
  return s;
}

// The hash index grows many times; every key stays findable at its newest entry, older
// snapshots fall back to the list, and the list still iterates in order.
TEST(MemTableTest, IndexGrowsAndKeepsEveryKey) {
  MemTable m;
  constexpr int kKeys = 20000;
  SequenceNumber seq = 0;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < kKeys; i++) {
      m.Add(++seq, ValueType::kValue, "key" + std::to_string(i), Numbered('r', round));
    }
  }
  for (int i = 0; i < kKeys; i++) {
    const std::string k = "key" + std::to_string(i);
    ASSERT_EQ(Get(m, k, kMaxSequenceNumber), "r1") << k;
    ASSERT_EQ(Get(m, k, kKeys), "r0") << k << ": a snapshot before round 1";
    ASSERT_EQ(Get(m, k, static_cast<SequenceNumber>(i)), "ABSENT") << k;
  }
  EXPECT_EQ(Get(m, "key", kMaxSequenceNumber), "ABSENT");
  EXPECT_EQ(Get(m, "key" + std::to_string(kKeys), kMaxSequenceNumber), "ABSENT");
  auto it = m.NewIterator();
  size_t n = 0;
  std::string prev;
  for (it->SeekToFirst(); it->Valid(); it->Next(), n++) {
    const std::string cur(it->key());
    if (n > 0) {
      ASSERT_LT(InternalKeyComparator().Compare(prev, cur), 0);
    }
    prev = cur;
  }
  EXPECT_EQ(n, 2u * kKeys);
}

// Readers on other threads while the writer adds (and the index grows): a key whose
// Add was published (release) before the reader looked (acquire) is always found, with
// its newest value at that point or a later one.
TEST(MemTableTest, ConcurrentReadersSeeEveryPublishedKey) {
  MemTable m;
  constexpr int kKeys = 60000;
  std::atomic<int> published{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; r++) {
    readers.emplace_back([&, r] {
      Rng rng(TestSeed() + 10 + r);
      while (published.load(std::memory_order_acquire) < kKeys && !failed) {
        const int n = published.load(std::memory_order_acquire);
        if (n == 0) continue;
        const int i = static_cast<int>(rng.Uniform(static_cast<uint64_t>(n)));
        const std::string v = Get(m, Numbered('k', i), kMaxSequenceNumber);
        if (v != Numbered('v', i)) failed = true;
      }
    });
  }
  for (int i = 0; i < kKeys; i++) {
    m.Add(static_cast<SequenceNumber>(i + 1), ValueType::kValue, Numbered('k', i),
          Numbered('v', i));
    published.store(i + 1, std::memory_order_release);
  }
  for (std::thread& t : readers) t.join();
  EXPECT_FALSE(failed.load()) << "a reader missed a published key";
}

}  // namespace
}  // namespace ringdb::lsm
