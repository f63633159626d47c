#include "lsm/db_iter.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "iter_test_util.h"
#include "lsm/expiry.h"
#include "lsm/memtable.h"
#include "lsm/merging_iterator.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::Entry;
using testing::IKey;
using testing::Rng;
using testing::TestSeed;
using testing::VectorIterator;
using OptStr = std::optional<std::string>;

class DBIterTest : public ::testing::Test {
 protected:
  void Put(std::string_view k, SequenceNumber s, std::string_view v) {
    entries_.emplace_back(IKey(k, s), std::string(v));
  }
  void Del(std::string_view k, SequenceNumber s) {
    entries_.emplace_back(IKey(k, s, ValueType::kDeletion), "");
  }
  std::unique_ptr<UserIterator> Iter(SequenceNumber seq, OptStr lower = std::nullopt,
                                     OptStr upper = std::nullopt, int fail_after = -1) {
    return NewDBIterator(std::make_unique<VectorIterator>(entries_, fail_after), seq,
                         std::move(lower), std::move(upper));
  }
  static std::string Scan(UserIterator* it) {
    std::string r;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      r += std::string(it->key()) + "=" + std::string(it->value()) + ",";
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return r;
  }
  static std::string ScanBack(UserIterator* it) {
    std::string r;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      r += std::string(it->key()) + "=" + std::string(it->value()) + ",";
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return r;
  }
  static std::string At(UserIterator* it) {
    if (!it->Valid()) return "END";
    return std::string(it->key()) + "=" + std::string(it->value());
  }

  std::vector<Entry> entries_;
};

TEST_F(DBIterTest, EmptyInput) {
  auto it = Iter(100);
  EXPECT_EQ(Scan(it.get()), "");
  EXPECT_EQ(ScanBack(it.get()), "");
  it->Seek("a");
  EXPECT_FALSE(it->Valid());
}

TEST_F(DBIterTest, ShowsNewestVersionOnly) {
  Put("a", 1, "a1");
  Put("a", 3, "a3");
  Put("b", 2, "b2");
  auto it = Iter(10);
  EXPECT_EQ(Scan(it.get()), "a=a3,b=b2,");
  EXPECT_EQ(ScanBack(it.get()), "b=b2,a=a3,");
}

TEST_F(DBIterTest, HidesEntriesNewerThanSequence) {
  Put("a", 1, "a1");
  Put("a", 5, "a5");
  Put("b", 6, "b6");
  auto it = Iter(4);
  EXPECT_EQ(Scan(it.get()), "a=a1,");
  EXPECT_EQ(ScanBack(it.get()), "a=a1,");
}

TEST_F(DBIterTest, SequenceEqualToEntryIsVisible) {
  Put("a", 5, "a5");
  auto it = Iter(5);
  EXPECT_EQ(Scan(it.get()), "a=a5,");
}

TEST_F(DBIterTest, DeletionHidesKeyAndOlderVersions) {
  Put("a", 1, "a1");
  Del("a", 2);
  Put("b", 1, "b1");
  auto it = Iter(10);
  EXPECT_EQ(Scan(it.get()), "b=b1,");
  EXPECT_EQ(ScanBack(it.get()), "b=b1,");
}

TEST_F(DBIterTest, DeletionNewerThanSequenceDoesNotHide) {
  Put("a", 1, "a1");
  Del("a", 5);
  auto it = Iter(4);
  EXPECT_EQ(Scan(it.get()), "a=a1,");
  EXPECT_EQ(ScanBack(it.get()), "a=a1,");
}

TEST_F(DBIterTest, ValueAfterDeletionIsVisible) {
  Put("a", 1, "a1");
  Del("a", 2);
  Put("a", 3, "a3");
  auto it = Iter(10);
  EXPECT_EQ(Scan(it.get()), "a=a3,");
  EXPECT_EQ(ScanBack(it.get()), "a=a3,");
}

TEST_F(DBIterTest, AllKeysDeleted) {
  Put("a", 1, "a1");
  Del("a", 2);
  Put("b", 3, "b1");
  Del("b", 4);
  auto it = Iter(10);
  EXPECT_EQ(Scan(it.get()), "");
  EXPECT_EQ(ScanBack(it.get()), "");
}

TEST_F(DBIterTest, SeekSkipsDeletedKey) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Del("b", 2);
  Put("c", 1, "c1");
  auto it = Iter(10);
  it->Seek("b");
  EXPECT_EQ(At(it.get()), "c=c1");
  it->Seek("bb");
  EXPECT_EQ(At(it.get()), "c=c1");
  it->Seek("");
  EXPECT_EQ(At(it.get()), "a=a1");
  it->Seek("d");
  EXPECT_EQ(At(it.get()), "END");
}

TEST_F(DBIterTest, SeekIgnoresVersionsNewerThanSequence) {
  Put("b", 1, "b1");
  Put("b", 9, "b9");
  auto it = Iter(5);
  it->Seek("b");
  EXPECT_EQ(At(it.get()), "b=b1");
}

TEST_F(DBIterTest, PrevSkipsDeletedKey) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Del("b", 2);
  Put("c", 1, "c1");
  auto it = Iter(10);
  it->Seek("c");
  it->Prev();
  EXPECT_EQ(At(it.get()), "a=a1");
  it->Prev();
  EXPECT_EQ(At(it.get()), "END");
}

TEST_F(DBIterTest, DirectionSwitchesInTheMiddle) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Put("b", 2, "b2");
  Put("c", 1, "c1");
  Put("c", 7, "c7");
  Put("d", 1, "d1");
  auto it = Iter(5);
  it->Seek("b");
  EXPECT_EQ(At(it.get()), "b=b2");
  it->Next();
  EXPECT_EQ(At(it.get()), "c=c1");
  it->Prev();
  EXPECT_EQ(At(it.get()), "b=b2");
  it->Prev();
  EXPECT_EQ(At(it.get()), "a=a1");
  it->Next();
  EXPECT_EQ(At(it.get()), "b=b2");
  it->Next();
  EXPECT_EQ(At(it.get()), "c=c1");
  it->Next();
  EXPECT_EQ(At(it.get()), "d=d1");
}

TEST_F(DBIterTest, NextFromFirstAfterReverse) {
  // Reverse at the first key leaves the internal iterator before everything.
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  auto it = Iter(10);
  it->SeekToLast();
  it->Prev();
  ASSERT_EQ(At(it.get()), "a=a1");
  it->Next();
  EXPECT_EQ(At(it.get()), "b=b1");
}

TEST_F(DBIterTest, EmptyUserKeyIsAKey) {
  Put("", 1, "empty");
  Put("a", 1, "a1");
  auto it = Iter(10);
  EXPECT_EQ(Scan(it.get()), "=empty,a=a1,");
  EXPECT_EQ(ScanBack(it.get()), "a=a1,=empty,");
}

TEST_F(DBIterTest, LowerBoundIsInclusive) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Put("c", 1, "c1");
  auto it = Iter(10, "b");
  EXPECT_EQ(Scan(it.get()), "b=b1,c=c1,");
  EXPECT_EQ(ScanBack(it.get()), "c=c1,b=b1,");
}

TEST_F(DBIterTest, UpperBoundIsExclusive) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Put("c", 1, "c1");
  auto it = Iter(10, std::nullopt, "c");
  EXPECT_EQ(Scan(it.get()), "a=a1,b=b1,");
  EXPECT_EQ(ScanBack(it.get()), "b=b1,a=a1,");
}

TEST_F(DBIterTest, SeekBelowLowerBoundClamps) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  auto it = Iter(10, "b");
  it->Seek("a");
  EXPECT_EQ(At(it.get()), "b=b1");
}

TEST_F(DBIterTest, SeekAtOrAboveUpperBoundIsInvalid) {
  Put("a", 1, "a1");
  Put("c", 1, "c1");
  auto it = Iter(10, std::nullopt, "c");
  it->Seek("c");
  EXPECT_EQ(At(it.get()), "END");
  it->Seek("b");
  EXPECT_EQ(At(it.get()), "END");
}

TEST_F(DBIterTest, PrevStopsAtLowerBound) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  auto it = Iter(10, "b");
  it->Seek("b");
  it->Prev();
  EXPECT_EQ(At(it.get()), "END");
}

TEST_F(DBIterTest, BoundsWithNothingInside) {
  Put("a", 1, "a1");
  Put("d", 1, "d1");
  auto it = Iter(10, "b", "c");
  EXPECT_EQ(Scan(it.get()), "");
  EXPECT_EQ(ScanBack(it.get()), "");
}

TEST_F(DBIterTest, LowerBoundNotBelowUpperBoundIsEmpty) {
  Put("b", 1, "b1");
  auto it = Iter(10, "b", "b");
  EXPECT_EQ(Scan(it.get()), "");
  EXPECT_EQ(ScanBack(it.get()), "");
}

TEST_F(DBIterTest, SeekToLastSkipsDeletedKeysAtUpperBoundEdge) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Del("b", 2);
  Put("c", 1, "c1");
  auto it = Iter(10, std::nullopt, "c");
  it->SeekToLast();
  EXPECT_EQ(At(it.get()), "a=a1");
}

TEST_F(DBIterTest, CorruptInternalKeyIsReported) {
  Put("a", 1, "a1");
  entries_.emplace_back("bad", "x");  // shorter than a trailer: sorts bytewise
  auto it = Iter(10);
  it->SeekToFirst();
  while (it->Valid()) it->Next();
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
}

TEST_F(DBIterTest, InternalErrorEndsIteration) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  Put("c", 1, "c1");
  auto it = Iter(10, std::nullopt, std::nullopt, 2);  // fails on the second Next
  it->SeekToFirst();
  ASSERT_EQ(At(it.get()), "a=a1");
  it->Next();
  ASSERT_EQ(At(it.get()), "b=b1");
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsIOError());
}

TEST_F(DBIterTest, InternalErrorWhileReversingIsNotAValue) {
  Put("a", 1, "a1");
  Put("b", 1, "b1");
  auto it = Iter(10, std::nullopt, std::nullopt, 1);  // SeekToLast ok, Prev fails
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsIOError());
}

// ---- model-based --------------------------------------------------------------------

struct Model {
  struct Version {
    std::string value;
    uint64_t expire_at = 0;
  };
  // user key -> sequence -> value (nullopt = deletion)
  std::map<std::string, std::map<SequenceNumber, std::optional<Version>>> versions;
  uint64_t now_ms = 0;

  std::vector<std::pair<std::string, std::string>> Visible(SequenceNumber seq, const OptStr& lo,
                                                           const OptStr& hi) const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, vs] : versions) {
      if ((lo && k < *lo) || (hi && k >= *hi)) continue;
      auto it = vs.upper_bound(seq);
      if (it == vs.begin()) continue;
      --it;
      if (it->second && !Expired(it->second->expire_at, now_ms)) {
        out.emplace_back(k, it->second->value);
      }
    }
    return out;
  }
};

// Random writes spread over memtables and vectors (merged as the engine would), each
// also recorded in `model`. Returns the last sequence number written.
SequenceNumber WriteRandomly(Rng& rng, Model* model,
                             std::vector<std::unique_ptr<MemTable>>* mems_out,
                             std::vector<std::vector<Entry>>* vecs_out) {
  std::vector<std::unique_ptr<MemTable>>& mems = *mems_out;
  mems.resize(1 + rng.Uniform(3));
  for (auto& m : mems) m = std::make_unique<MemTable>();
  std::vector<std::vector<Entry>>& vecs = *vecs_out;
  vecs.resize(rng.Uniform(3));
  SequenceNumber seq = 0;
  size_t n = rng.Uniform(150);
  for (size_t i = 0; i < n; i++) {
    std::string k = rng.Key(3);
    bool del = rng.OneIn(3);
    std::string v = del ? "" : testing::Cat("v", seq + 1);
    // A third of the values carry a deadline, half of those already past.
    const uint64_t deadline = !del && rng.OneIn(3) ? 95 + rng.Uniform(20) : 0;
    seq++;
    model->versions[k][seq] =
        del ? std::nullopt : std::optional<Model::Version>(Model::Version{v, deadline});
    ValueType t = del ? ValueType::kDeletion : ValueType::kValue;
    if (deadline != 0) {
      std::string stored;
      util::PutFixed64(&stored, deadline);
      v = stored + v;
      t = ValueType::kValueExpiring;
    }
    size_t dst = rng.Uniform(mems.size() + vecs.size());
    if (dst < mems.size()) {
      mems[dst]->Add(seq, t, k, v);
    } else {
      vecs[dst - mems.size()].emplace_back(IKey(k, seq, t), v);
    }
  }
  return seq;
}

TEST(DBIterModelTest, RandomOpsSnapshotsAndBounds) {
  uint64_t seed = TestSeed();
  std::printf("seed=%llu (RINGDB_TEST_SEED)\n", static_cast<unsigned long long>(seed));
  Rng rng(seed);
  for (int round = 0; round < 150; round++) {
    SCOPED_TRACE(testing::Cat("seed=", seed) + testing::Cat(" round=", round));
    Model model;
    model.now_ms = 100 + rng.Uniform(10);
    std::vector<std::unique_ptr<MemTable>> mems;
    std::vector<std::vector<Entry>> vecs;
    const SequenceNumber seq = WriteRandomly(rng, &model, &mems, &vecs);
    std::vector<std::unique_ptr<InternalIterator>> children;
    for (auto& m : mems) children.push_back(m->NewIterator());
    for (auto& v : vecs) children.push_back(std::make_unique<VectorIterator>(v));

    SequenceNumber snap = rng.OneIn(4) ? kMaxSequenceNumber : rng.Uniform(seq + 1);
    OptStr lo, hi;
    if (rng.OneIn(3)) lo = rng.Key(2);
    if (rng.OneIn(3)) hi = rng.Key(3);
    auto want = model.Visible(snap, lo, hi);
    auto it = NewDBIterator(NewMergingIterator(std::move(children)), snap, lo, hi, model.now_ms);

    size_t pos = want.size();
    for (int step = 0; step < 120; step++) {
      std::string what;
      switch (rng.Uniform(5)) {
        case 0:
          it->SeekToFirst();
          pos = 0;
          what = "SeekToFirst";
          break;
        case 1:
          it->SeekToLast();
          pos = want.empty() ? 0 : want.size() - 1;
          what = "SeekToLast";
          break;
        case 2: {
          std::string t = rng.Key(3);
          it->Seek(t);
          pos = 0;
          while (pos < want.size() && want[pos].first < t) pos++;
          what = "Seek(" + EscapeBytes(t) + ")";
          break;
        }
        case 3:
          if (pos >= want.size()) continue;
          it->Next();
          pos++;
          what = "Next";
          break;
        default:
          if (pos >= want.size()) continue;
          it->Prev();
          pos = pos == 0 ? want.size() : pos - 1;
          what = "Prev";
          break;
      }
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      ASSERT_EQ(it->Valid(), pos < want.size()) << "step " << step << " " << what;
      if (pos < want.size()) {
        ASSERT_EQ(EscapeBytes(it->key()), EscapeBytes(want[pos].first))
            << "step " << step << " " << what;
        ASSERT_EQ(it->value(), want[pos].second) << "step " << step << " " << what;
      }
    }
  }
}

}  // namespace
}  // namespace ringdb::lsm
