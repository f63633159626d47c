#include "lsm/compaction_iterator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "iter_test_util.h"
#include "lsm/compaction.h"
#include "lsm/db_iter.h"
#include "lsm/merging_iterator.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::Entry;
using testing::IKey;
using testing::Rng;
using testing::TestSeed;
using testing::VectorIterator;

constexpr ValueType kDel = ValueType::kDeletion;

// Runs a compaction over `in` and returns what it keeps, as "key@seq[=v|:del]" items.
std::vector<Entry> Compact(std::vector<Entry> in, std::vector<SequenceNumber> snapshots,
                           bool bottommost, CompactionIterator::Stats* stats = nullptr,
                           uint64_t now_ms = 0) {
  VectorIterator input(std::move(in));
  CompactionIterator c(&input, std::move(snapshots), bottommost, now_ms);
  std::vector<Entry> out;
  for (c.SeekToFirst(); c.Valid(); c.Next()) out.emplace_back(c.key(), c.value());
  EXPECT_TRUE(c.status().ok()) << c.status().ToString();
  if (stats != nullptr) *stats = c.stats();
  return out;
}

std::string Show(const std::vector<Entry>& v) {
  std::string r;
  for (const auto& [k, val] : v) {
    ParsedInternalKey p;
    EXPECT_TRUE(ParseInternalKey(k, &p));
    r += std::string(p.user_key) + "@" + std::to_string(p.sequence);
    r += p.type == kDel ? ":del " : "=" + val + " ";
  }
  return r;
}

// Newest entry of user_key with sequence <= snap: its value, "DEL" or "ABSENT".
std::string Get(const std::vector<Entry>& sorted, std::string_view user_key, SequenceNumber snap) {
  for (const auto& [k, v] : sorted) {
    ParsedInternalKey p;
    EXPECT_TRUE(ParseInternalKey(k, &p));
    if (p.user_key != user_key || p.sequence > snap) continue;
    return p.type == kDel ? "DEL" : v;
  }
  return "ABSENT";
}

// An expiring value: the stored form, fixed64(deadline) | payload.
Entry Expiring(std::string_view key, SequenceNumber seq, uint64_t deadline, std::string_view v) {
  std::string stored;
  util::PutFixed64(&stored, deadline);
  stored.append(v);
  return {IKey(key, seq, ValueType::kValueExpiring), stored};
}

TEST(CompactionIteratorTest, EmptyInput) {
  EXPECT_EQ(Show(Compact({}, {}, true)), "");
}

TEST(CompactionIteratorTest, NoSnapshotsKeepsNewestVersionOnly) {
  auto out = Compact({{IKey("a", 3), "a3"}, {IKey("a", 2), "a2"}, {IKey("b", 1), "b1"}}, {}, false);
  EXPECT_EQ(Show(out), "a@3=a3 b@1=b1 ");
}

TEST(CompactionIteratorTest, TombstoneKeptWhenNotBottommost) {
  auto out = Compact({{IKey("a", 3, kDel), ""}, {IKey("a", 2), "a2"}}, {}, false);
  EXPECT_EQ(Show(out), "a@3:del ");
}

TEST(CompactionIteratorTest, TombstoneAndOlderVersionsDroppedWhenBottommost) {
  CompactionIterator::Stats st;
  auto out = Compact({{IKey("a", 3, kDel), ""}, {IKey("a", 2), "a2"}, {IKey("b", 1), "b1"}}, {},
                     true, &st);
  EXPECT_EQ(Show(out), "b@1=b1 ");
  EXPECT_EQ(st.input_entries, 3u);
  EXPECT_EQ(st.output_entries, 1u);
  EXPECT_EQ(st.dropped_tombstones, 1u);
  EXPECT_EQ(st.dropped_shadowed, 1u);
}

TEST(CompactionIteratorTest, OlderTombstoneUnderNewerValueDroppedAsShadowed) {
  auto out =
      Compact({{IKey("a", 3), "a3"}, {IKey("a", 2, kDel), ""}, {IKey("a", 1), "a1"}}, {}, false);
  EXPECT_EQ(Show(out), "a@3=a3 ");
}

TEST(CompactionIteratorTest, SnapshotKeepsNewestOfEachStripe) {
  // Snapshots 4 and 8 give stripes [0,4], (4,8], (8,inf).
  auto out = Compact({{IKey("a", 10), "a10"},
                      {IKey("a", 9), "a9"},
                      {IKey("a", 8), "a8"},
                      {IKey("a", 5), "a5"},
                      {IKey("a", 3), "a3"},
                      {IKey("a", 1), "a1"}},
                     {4, 8}, false);
  EXPECT_EQ(Show(out), "a@10=a10 a@8=a8 a@3=a3 ");
}

TEST(CompactionIteratorTest, SnapshotEqualToSequenceSeesThatEntry) {
  auto out = Compact({{IKey("a", 5), "a5"}, {IKey("a", 4), "a4"}}, {5}, false);
  EXPECT_EQ(Show(out), "a@5=a5 ");
  out = Compact({{IKey("a", 5), "a5"}, {IKey("a", 4), "a4"}}, {4}, false);
  EXPECT_EQ(Show(out), "a@5=a5 a@4=a4 ");
}

TEST(CompactionIteratorTest, TombstoneAboveOldestSnapshotSurvivesBottommost) {
  // A reader at snapshot 5 must still see a2; readers after 7 must not.
  auto out = Compact({{IKey("a", 7, kDel), ""}, {IKey("a", 2), "a2"}}, {5}, true);
  EXPECT_EQ(Show(out), "a@7:del a@2=a2 ");
}

TEST(CompactionIteratorTest, TombstoneBelowOldestSnapshotDroppedWhenBottommost) {
  auto out =
      Compact({{IKey("a", 9), "a9"}, {IKey("a", 3, kDel), ""}, {IKey("a", 2), "a2"}}, {5}, true);
  EXPECT_EQ(Show(out), "a@9=a9 ");
}

TEST(CompactionIteratorTest, UnsortedDuplicateSnapshotsAreNormalized) {
  auto out = Compact({{IKey("a", 10), "a10"}, {IKey("a", 6), "a6"}, {IKey("a", 3), "a3"}},
                     {8, 4, 8, 4}, false);
  EXPECT_EQ(Show(out), "a@10=a10 a@6=a6 a@3=a3 ");
}

TEST(CompactionIteratorTest, StripesRestartForEachUserKey) {
  auto out = Compact({{IKey("a", 3), "a3"}, {IKey("b", 2), "b2"}, {IKey("b", 1), "b1"}}, {}, false);
  EXPECT_EQ(Show(out), "a@3=a3 b@2=b2 ");
}

TEST(CompactionIteratorTest, ExpiredValueBecomesTombstoneAboveBottommost) {
  CompactionIterator::Stats st;
  auto out =
      Compact({Expiring("a", 3, 100, "a3"), {IKey("a", 2), "a2"}, Expiring("b", 1, 200, "b1")}, {},
              false, &st, 150);
  // a's deadline passed: a tombstone at its sequence still hides a2 in lower levels; b
  // is kept as it was, deadline and all.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Show(out), "a@3:del b@1=" + out[1].second + " ");
  EXPECT_EQ(out[0].second, "");
  EXPECT_EQ(out[1], Expiring("b", 1, 200, "b1"));
  EXPECT_EQ(st.expired, 1u);
}

TEST(CompactionIteratorTest, DeadlineEqualToNowHasPassed) {
  auto out = Compact({Expiring("a", 1, 150, "a1")}, {}, false, nullptr, 150);
  EXPECT_EQ(Show(out), "a@1:del ");
  EXPECT_EQ(Show(Compact({Expiring("a", 1, 150, "a1")}, {}, false, nullptr, 149)).substr(0, 4),
            "a@1=");
}

TEST(CompactionIteratorTest, DroppedExpiredEntryDoesNotRenameTheNextKey) {
  // Bottommost: a's expired value is dropped like a tombstone; the next key kept must be
  // b itself (a regression: the rewritten key once stuck to the following entry).
  CompactionIterator::Stats st;
  auto out = Compact({Expiring("a", 4, 100, "a4"), {IKey("b", 3), "b3"}, {IKey("c", 2), "c2"}}, {},
                     true, &st, 150);
  EXPECT_EQ(Show(out), "b@3=b3 c@2=c2 ");
  EXPECT_EQ(st.expired, 1u);
  EXPECT_EQ(st.dropped_tombstones, 1u);
}

TEST(CompactionIteratorTest, ExpiredValueUnderSnapshotKeepsStripes) {
  // Snapshot 5: a@7 (expired) and a@3 (live) are in different stripes; the snapshot
  // still reads a3 and the latest view reads a tombstone.
  auto out = Compact({Expiring("a", 7, 100, "a7"), {IKey("a", 3), "a3"}}, {5}, true, nullptr, 150);
  EXPECT_EQ(Show(out), "a@7:del a@3=a3 ");
}

TEST(CompactionIteratorTest, ShortExpiringValueIsCorruption) {
  VectorIterator input({{IKey("a", 1, ValueType::kValueExpiring), "1234567"}});
  CompactionIterator c(&input, {}, false, 150);
  c.SeekToFirst();
  EXPECT_FALSE(c.Valid());
  EXPECT_TRUE(c.status().IsCorruption()) << c.status().ToString();
}

TEST(CompactionIteratorTest, CorruptKeyStopsWithCorruption) {
  VectorIterator input({{IKey("a", 1), "a1"}, {"bad", "x"}});
  CompactionIterator c(&input, {}, false);
  c.SeekToFirst();
  ASSERT_TRUE(c.Valid());
  c.Next();
  EXPECT_FALSE(c.Valid());
  EXPECT_TRUE(c.status().IsCorruption()) << c.status().ToString();
}

TEST(CompactionIteratorTest, InputErrorIsReported) {
  VectorIterator input({{IKey("a", 1), "a1"}, {IKey("b", 1), "b1"}}, 1);
  CompactionIterator c(&input, {}, false);
  c.SeekToFirst();
  ASSERT_TRUE(c.Valid());
  c.Next();
  EXPECT_FALSE(c.Valid());
  EXPECT_TRUE(c.status().IsIOError());
}

// For each snapshot and for the latest, reading through the output answers like
// reading through the input (a tombstone and absence are the same when bottommost),
// and the output keeps at most one entry per key and stripe.
TEST(CompactionIteratorTest, RandomModelReadsMatchAtEverySnapshot) {
  uint64_t seed = TestSeed();
  std::printf("seed=%llu (RINGDB_TEST_SEED)\n", static_cast<unsigned long long>(seed));
  Rng rng(seed);
  InternalKeyComparator icmp;
  for (int round = 0; round < 400; round++) {
    SCOPED_TRACE(testing::Cat("seed=", seed) + testing::Cat(" round=", round));
    size_t n_sources = 1 + rng.Uniform(4);
    std::vector<std::vector<Entry>> sources(n_sources);
    std::vector<Entry> all;
    std::set<std::string> keys;
    SequenceNumber seq = 0;
    size_t n = rng.Uniform(80);
    for (size_t i = 0; i < n; i++) {
      std::string k = rng.Key(2);
      keys.insert(k);
      seq++;
      Entry e{IKey(k, seq, rng.OneIn(3) ? kDel : ValueType::kValue), testing::Cat("v", seq)};
      sources[rng.Uniform(n_sources)].push_back(e);
      all.push_back(e);
    }
    testing::SortEntries(&all);
    std::vector<SequenceNumber> snaps;
    for (uint64_t i = rng.Uniform(5); i > 0; i--) snaps.push_back(rng.Uniform(seq + 2));
    bool bottommost = rng.OneIn(2);

    std::vector<std::unique_ptr<InternalIterator>> children;
    for (auto& s : sources) children.push_back(std::make_unique<VectorIterator>(s));
    auto merged = NewMergingIterator(std::move(children));
    CompactionIterator c(merged.get(), snaps, bottommost);
    std::vector<Entry> out;
    for (c.SeekToFirst(); c.Valid(); c.Next()) out.emplace_back(c.key(), c.value());
    ASSERT_TRUE(c.status().ok());
    for (size_t i = 1; i < out.size(); i++) {
      ASSERT_LT(icmp.Compare(out[i - 1].first, out[i].first), 0);
    }

    std::vector<SequenceNumber> readers = snaps;
    readers.push_back(kMaxSequenceNumber);
    for (const auto& k : keys) {
      for (SequenceNumber r : readers) {
        std::string want = Get(all, k, r);
        std::string got = Get(out, k, r);
        if (bottommost && want == "DEL") want = "ABSENT";
        if (bottommost && got == "DEL") got = "ABSENT";
        ASSERT_EQ(got, want) << "key " << EscapeBytes(k) << " reader " << r
                             << "\nin:  " << Show(all) << "\nout: " << Show(out);
      }
    }
    // Minimal: no two kept entries of one key in the same stripe.
    std::sort(snaps.begin(), snaps.end());
    std::set<std::pair<std::string, size_t>> stripes;
    for (const auto& [k, v] : out) {
      ParsedInternalKey p;
      ASSERT_TRUE(ParseInternalKey(k, &p));
      size_t stripe = static_cast<size_t>(std::lower_bound(snaps.begin(), snaps.end(), p.sequence) -
                                          snaps.begin());
      ASSERT_TRUE(stripes.insert({std::string(p.user_key), stripe}).second) << Show(out);
      if (bottommost && stripe == 0) {
        ASSERT_NE(p.type, kDel) << Show(out);
      }
    }
  }
}

// ---- OutputSplitter -----------------------------------------------------------------

TEST(OutputSplitterTest, NoCutBeforeTarget) {
  OutputSplitter s(1000);
  EXPECT_FALSE(s.ShouldCutBefore(IKey("a", 1)));
  s.Add(IKey("a", 1), 100);
  EXPECT_FALSE(s.ShouldCutBefore(IKey("b", 1)));
  EXPECT_TRUE(s.has_open_file());
}

TEST(OutputSplitterTest, CutsAtNextUserKeyOnceTargetReached) {
  OutputSplitter s(100);
  s.Add(IKey("a", 1), 200);
  EXPECT_TRUE(s.ShouldCutBefore(IKey("b", 1)));
}

TEST(OutputSplitterTest, NeverSplitsVersionsOfOneUserKey) {
  OutputSplitter s(10);
  s.Add(IKey("a", 9), 100);
  EXPECT_FALSE(s.ShouldCutBefore(IKey("a", 5)));
  s.Add(IKey("a", 5), 100);
  EXPECT_FALSE(s.ShouldCutBefore(IKey("a", 1, kDel)));
  s.Add(IKey("a", 1, kDel), 0);
  EXPECT_TRUE(s.ShouldCutBefore(IKey("b", 7)));
}

TEST(OutputSplitterTest, FinishFileReportsRangeAndSequences) {
  OutputSplitter s(1 << 20);
  s.Add(IKey("a", 9), 3);
  s.Add(IKey("a", 2), 3);
  s.Add(IKey("c", 5), 3);
  FileMetaData m = s.FinishFile();
  EXPECT_EQ(m.smallest, IKey("a", 9));
  EXPECT_EQ(m.largest, IKey("c", 5));
  EXPECT_EQ(m.smallest_seq, 2u);
  EXPECT_EQ(m.largest_seq, 9u);
  EXPECT_EQ(m.file_size, 3 * (9 + 3u));
  EXPECT_FALSE(s.has_open_file());
  EXPECT_FALSE(s.ShouldCutBefore(IKey("d", 1)));
  s.Add(IKey("d", 1), 1);
  EXPECT_EQ(s.FinishFile().smallest, IKey("d", 1));
}

TEST(OutputSplitterTest, RandomStreamsCutOnlyBetweenKeysNearTarget) {
  uint64_t seed = TestSeed();
  std::printf("seed=%llu (RINGDB_TEST_SEED)\n", static_cast<unsigned long long>(seed));
  Rng rng(seed);
  for (int round = 0; round < 100; round++) {
    SCOPED_TRACE(testing::Cat("seed=", seed) + testing::Cat(" round=", round));
    std::vector<Entry> in;
    SequenceNumber seq = 0;
    for (uint64_t i = rng.Uniform(300); i > 0; i--) {
      in.emplace_back(IKey(rng.Key(3), ++seq), rng.Bytes(rng.Uniform(40)));
    }
    testing::SortEntries(&in);
    uint64_t target = 1 + rng.Uniform(400);
    OutputSplitter s(target);
    std::vector<std::vector<Entry>> files(1);
    std::vector<FileMetaData> metas;
    for (const auto& e : in) {
      if (s.ShouldCutBefore(e.first)) {
        metas.push_back(s.FinishFile());
        files.emplace_back();
      }
      s.Add(e.first, e.second.size());
      files.back().push_back(e);
    }
    if (s.has_open_file()) metas.push_back(s.FinishFile());
    if (files.back().empty()) files.pop_back();
    ASSERT_EQ(files.size(), metas.size());
    std::set<std::string> seen_keys;
    for (size_t f = 0; f < files.size(); f++) {
      uint64_t bytes = 0;
      std::set<std::string> keys;
      for (const auto& [k, v] : files[f]) {
        bytes += k.size() + v.size();
        keys.insert(std::string(ExtractUserKey(k)));
      }
      EXPECT_EQ(metas[f].file_size, bytes);
      EXPECT_EQ(metas[f].smallest, files[f].front().first);
      EXPECT_EQ(metas[f].largest, files[f].back().first);
      if (f + 1 < files.size()) {
        EXPECT_GE(bytes, target);
        // Cut at the first boundary after the target: without its last user key,
        // the file was still below the target.
        uint64_t without_last = 0;
        std::string_view last = ExtractUserKey(files[f].back().first);
        for (const auto& [k, v] : files[f]) {
          if (ExtractUserKey(k) != last) without_last += k.size() + v.size();
        }
        EXPECT_LT(without_last, target);
      }
      for (const auto& k : keys) ASSERT_TRUE(seen_keys.insert(k).second) << "split key";
    }
  }
}

// ---- end to end: flushes and compactions over a VersionState --------------------------

// A tiny LSM over in-memory "files": flushes write L0 files, PickCompaction chooses,
// the merging and compaction iterators and the splitter produce outputs, the edit
// installs them. After every step, reads at the latest sequence and at every live
// snapshot must match a model of all writes, both through a merged DBIter and through
// level-ordered point lookups (which trust the level invariants).
class MiniLsm {
 public:
  explicit MiniLsm(uint64_t seed) : rng_(seed) {
    opts_.l0_compaction_trigger = 2;
    opts_.max_bytes_for_level_base = 2048;
    opts_.level_multiplier = 4;
    opts_.target_file_size = 512;
  }

  void WriteAndFlush() {
    std::vector<Entry> mem;
    for (uint64_t i = 1 + rng_.Uniform(40); i > 0; i--) {
      std::string k = rng_.Key(3);
      bool del = rng_.OneIn(4);
      ++seq_;
      std::string v = del ? "" : testing::Cat("v", seq_) + rng_.Bytes(rng_.Uniform(20));
      mem.emplace_back(IKey(k, seq_, del ? kDel : ValueType::kValue), v);
      model_[k][seq_] = del ? std::nullopt : std::optional<std::string>(v);
    }
    testing::SortEntries(&mem);
    OutputSplitter s(UINT64_MAX);
    for (const auto& e : mem) s.Add(e.first, e.second.size());
    FileMetaData f = s.FinishFile();
    f.number = next_file_++;
    files_[f.number] = std::move(mem);
    VersionEdit e;
    e.AddFile(0, f);
    e.SetLastSequence(seq_);
    ASSERT_TRUE(v_.Apply(e).ok());
  }

  void MaybeChangeSnapshots() {
    if (rng_.OneIn(3)) snapshots_.insert(seq_);
    if (!snapshots_.empty() && rng_.OneIn(4)) {
      auto it = snapshots_.begin();
      std::advance(it, static_cast<long>(rng_.Uniform(snapshots_.size())));
      snapshots_.erase(it);
    }
  }

  // Runs compactions until none is needed. Returns how many ran.
  int CompactAll() {
    int n = 0;
    while (auto c = PickCompaction(v_, opts_, pointers_)) {
      RunCompaction(*c);
      if (::testing::Test::HasFatalFailure()) return n;
      EXPECT_LT(++n, 1000) << "compaction does not converge";
      if (n >= 1000) return n;
    }
    return n;
  }

  void RunCompaction(const Compaction& c) {
    std::vector<FileMetaData> outputs;
    if (c.IsTrivialMove()) {
      outputs = c.inputs[0];
      trivial_moves_++;
    } else {
      std::vector<std::unique_ptr<InternalIterator>> children;
      for (const auto& in : c.inputs) {
        for (const auto& f : in)
          children.push_back(std::make_unique<VectorIterator>(files_[f.number]));
      }
      auto merged = NewMergingIterator(std::move(children));
      std::vector<SequenceNumber> snaps(snapshots_.begin(), snapshots_.end());
      CompactionIterator it(merged.get(), snaps, c.is_bottommost);
      OutputSplitter split(opts_.target_file_size);
      std::vector<std::vector<Entry>> data;
      for (it.SeekToFirst(); it.Valid(); it.Next()) {
        if (split.ShouldCutBefore(it.key())) {
          outputs.push_back(split.FinishFile());
        }
        if (!split.has_open_file()) data.emplace_back();
        split.Add(it.key(), it.value().size());
        data.back().emplace_back(it.key(), it.value());
      }
      ASSERT_TRUE(it.status().ok());
      if (split.has_open_file()) outputs.push_back(split.FinishFile());
      ASSERT_EQ(outputs.size(), data.size());
      for (size_t i = 0; i < outputs.size(); i++) {
        outputs[i].number = next_file_++;
        files_[outputs[i].number] = std::move(data[i]);
      }
    }
    VersionEdit e;
    AddCompactionToEdit(c, outputs, &e);
    Status s = v_.Apply(e);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << e.DebugString();
    pointers_[c.level] = c.next_compact_pointer;
  }

  void CheckReads() {
    std::vector<SequenceNumber> readers(snapshots_.begin(), snapshots_.end());
    readers.push_back(seq_);
    for (SequenceNumber r : readers) {
      SCOPED_TRACE(testing::Cat("reader seq ", r));
      // Merged scan.
      std::vector<std::unique_ptr<InternalIterator>> children;
      for (int l = 0; l < kNumLevels; l++) {
        for (const auto& f : v_.files(l)) {
          children.push_back(std::make_unique<VectorIterator>(files_[f.number]));
        }
      }
      auto it = NewDBIterator(NewMergingIterator(std::move(children)), r);
      auto want = Visible(r);
      size_t i = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
        ASSERT_LT(i, want.size());
        ASSERT_EQ(EscapeBytes(it->key()), EscapeBytes(want[i].first));
        ASSERT_EQ(it->value(), want[i].second);
      }
      ASSERT_EQ(i, want.size());
      ASSERT_TRUE(it->status().ok());
      // Level-ordered point lookups.
      for (const auto& [k, vs] : model_) {
        auto m = vs.upper_bound(r);
        std::string expect = "ABSENT";
        if (m != vs.begin()) expect = std::prev(m)->second.value_or("ABSENT");
        std::string got = LevelGet(k, r);
        if (got == "DEL") got = "ABSENT";
        ASSERT_EQ(got, expect) << "key " << EscapeBytes(k);
      }
    }
  }

  int trivial_moves() const { return trivial_moves_; }
  const VersionState& version() const { return v_; }

 private:
  std::vector<std::pair<std::string, std::string>> Visible(SequenceNumber r) const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, vs] : model_) {
      auto m = vs.upper_bound(r);
      if (m != vs.begin() && std::prev(m)->second) out.emplace_back(k, *std::prev(m)->second);
    }
    return out;
  }

  // Searches as an engine would: L0 newest first, then one file per deeper level.
  std::string LevelGet(std::string_view k, SequenceNumber r) {
    for (int l = 0; l < kNumLevels; l++) {
      int candidates = 0;
      for (const auto& f : v_.files(l)) {
        if (k < ExtractUserKey(f.smallest) || k > ExtractUserKey(f.largest)) continue;
        candidates++;
        std::string got = Get(files_[f.number], k, r);
        if (l > 0) {
          EXPECT_EQ(candidates, 1) << "user key in two files of L" << l;
        }
        if (got != "ABSENT") return got;
      }
    }
    return "ABSENT";
  }

  Rng rng_;
  CompactionOptions opts_;
  VersionState v_;
  CompactPointers pointers_;
  std::map<uint64_t, std::vector<Entry>> files_;
  std::map<std::string, std::map<SequenceNumber, std::optional<std::string>>> model_;
  std::set<SequenceNumber> snapshots_;
  SequenceNumber seq_ = 0;
  uint64_t next_file_ = 1;
  int trivial_moves_ = 0;
};

TEST(CompactionEndToEndTest, FlushCompactReadMatchesModel) {
  uint64_t seed = TestSeed();
  std::printf("seed=%llu (RINGDB_TEST_SEED)\n", static_cast<unsigned long long>(seed));
  for (int run = 0; run < 4; run++) {
    SCOPED_TRACE(testing::Cat("seed=", seed) + testing::Cat(" run=", run));
    MiniLsm lsm(seed * 31 + static_cast<uint64_t>(run));
    int compactions = 0;
    for (int step = 0; step < 150; step++) {
      SCOPED_TRACE(testing::Cat("step ", step));
      ASSERT_NO_FATAL_FAILURE(lsm.WriteAndFlush());
      lsm.MaybeChangeSnapshots();
      compactions += lsm.CompactAll();
      ASSERT_FALSE(::testing::Test::HasFailure());
      ASSERT_NO_FATAL_FAILURE(lsm.CheckReads());
    }
    EXPECT_GT(compactions, 0);
    int deepest = 0;
    for (int l = 0; l < kNumLevels; l++) {
      if (!lsm.version().files(l).empty()) deepest = l;
    }
    EXPECT_GE(deepest, 2) << "the workload should reach past L1";
    std::printf("run %d: %d compactions (%d trivial moves), deepest level L%d\n", run, compactions,
                lsm.trivial_moves(), deepest);
  }
}

}  // namespace
}  // namespace ringdb::lsm
