#include "lsm/compaction.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "iter_test_util.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::IKey;

constexpr uint64_t kMiB = uint64_t{1} << 20;

class CompactionPickTest : public ::testing::Test {
 protected:
  // Adds a file covering user keys [lo, hi] with sequences [seq, seq + 1].
  void Add(int level, std::string_view lo, std::string_view hi, uint64_t bytes,
           SequenceNumber seq = 0) {
    FileMetaData f;
    f.number = next_number_++;
    f.file_size = bytes;
    if (seq == 0) seq = f.number * 10;
    f.smallest = IKey(lo, seq + 1);
    f.largest = IKey(hi, seq);
    f.smallest_seq = seq;
    f.largest_seq = seq + 1;
    VersionEdit e;
    e.AddFile(level, f);
    ASSERT_TRUE(v_.Apply(e).ok()) << e.DebugString();
  }
  std::optional<Compaction> Pick() { return PickCompaction(v_, opts_, pointers_); }
  static std::string Numbers(const std::vector<FileMetaData>& files) {
    std::string r;
    for (const auto& f : files) r += std::to_string(f.number) + " ";
    return r;
  }

  VersionState v_;
  CompactionOptions opts_;
  CompactPointers pointers_;
  uint64_t next_number_ = 1;
};

TEST_F(CompactionPickTest, EmptyStateNeedsNothing) {
  EXPECT_FALSE(Pick().has_value());
  for (int l = 0; l < kNumLevels; l++) EXPECT_EQ(CompactionScore(v_, opts_, l), 0);
}

TEST_F(CompactionPickTest, MaxBytesForLevelGrowsByMultiplier) {
  EXPECT_EQ(MaxBytesForLevel(opts_, 1), 64 * kMiB);
  EXPECT_EQ(MaxBytesForLevel(opts_, 2), 640 * kMiB);
  EXPECT_EQ(MaxBytesForLevel(opts_, 3), 6400 * kMiB);
}

TEST_F(CompactionPickTest, L0BelowTriggerIsNotPicked) {
  for (int i = 0; i < 3; i++) Add(0, "a", "z", kMiB);
  EXPECT_DOUBLE_EQ(CompactionScore(v_, opts_, 0), 0.75);
  EXPECT_FALSE(Pick().has_value());
}

TEST_F(CompactionPickTest, L0AtTriggerTakesAllOverlappingFilesAndL1Overlap) {
  for (int i = 0; i < 4; i++) Add(0, "c", "m", kMiB);
  Add(1, "a", "b", kMiB);  // 5: before the range
  Add(1, "d", "f", kMiB);  // 6
  Add(1, "k", "p", kMiB);  // 7
  Add(1, "q", "z", kMiB);  // 8: after
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 0);
  EXPECT_EQ(c->output_level, 1);
  EXPECT_DOUBLE_EQ(c->score, 1.0);
  EXPECT_EQ(Numbers(c->inputs[0]), "4 3 2 1 ");  // newest first, as in the level
  EXPECT_EQ(Numbers(c->inputs[1]), "6 7 ");
  EXPECT_EQ(c->smallest_user_key, "c");
  EXPECT_EQ(c->largest_user_key, "p");
  EXPECT_TRUE(c->is_bottommost);
  EXPECT_FALSE(c->IsTrivialMove());
}

TEST_F(CompactionPickTest, L0TakesOldestFileAndOnlyWhatOverlapsIt) {
  Add(0, "a", "c", kMiB);  // 1: oldest
  Add(0, "x", "z", kMiB);  // 2
  Add(0, "b", "d", kMiB);  // 3: overlaps 1
  Add(0, "m", "n", kMiB);  // 4
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "3 1 ");
}

TEST_F(CompactionPickTest, L0OverlapIsTransitive) {
  // Level order is 4 3 2 1: file 3 overlaps the range only once file 2 has widened
  // it, after the scan passed file 3.
  Add(0, "a", "c", kMiB);  // 1: oldest
  Add(0, "c", "e", kMiB);  // 2: overlaps 1 and 3
  Add(0, "e", "g", kMiB);  // 3: overlaps only 2
  Add(0, "x", "z", kMiB);  // 4
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "3 2 1 ");
}

TEST_F(CompactionPickTest, L0NeverLeavesAnOlderVersionBehind) {
  // File 3 overlaps the oldest file; file 2 is older than 3 and overlaps only 3. Leaving
  // file 2 in L0 while file 3 moves to L1 would let reads of "d" find file 2's older
  // version first.
  Add(0, "a", "c", kMiB);  // 1: oldest
  Add(0, "d", "d", kMiB);  // 2
  Add(0, "c", "e", kMiB);  // 3
  Add(0, "x", "z", kMiB);  // 4
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "3 2 1 ");
}

TEST_F(CompactionPickTest, SingleL0FileWithNoOverlapIsATrivialMove) {
  opts_.l0_compaction_trigger = 1;
  Add(0, "a", "c", kMiB);
  Add(1, "d", "f", kMiB);
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->IsTrivialMove());
  VersionEdit e;
  AddCompactionToEdit(*c, c->inputs[0], &e);
  ASSERT_TRUE(v_.Apply(e).ok()) << e.DebugString();
  EXPECT_TRUE(v_.files(0).empty());
  EXPECT_EQ(v_.files(1).size(), 2u);
}

TEST_F(CompactionPickTest, LevelOverBudgetIsPicked) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "c", 6 * kMiB);
  Add(1, "d", "f", 6 * kMiB);
  EXPECT_DOUBLE_EQ(CompactionScore(v_, opts_, 1), 1.2);
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 1);
  EXPECT_EQ(c->output_level, 2);
  EXPECT_EQ(Numbers(c->inputs[0]), "1 ");
  EXPECT_EQ(c->next_compact_pointer, v_.files(1)[0].largest);
}

TEST_F(CompactionPickTest, LevelAtExactlyBudgetIsPicked) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "c", 10 * kMiB);
  EXPECT_TRUE(Pick().has_value());
}

TEST_F(CompactionPickTest, CompactPointerRoundRobinsAndWraps) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "c", 6 * kMiB);  // 1
  Add(1, "d", "f", 6 * kMiB);  // 2
  Add(1, "g", "i", 6 * kMiB);  // 3
  pointers_[1] = v_.files(1)[0].largest;
  EXPECT_EQ(Numbers(Pick()->inputs[0]), "2 ");
  pointers_[1] = v_.files(1)[1].largest;
  EXPECT_EQ(Numbers(Pick()->inputs[0]), "3 ");
  pointers_[1] = v_.files(1)[2].largest;
  EXPECT_EQ(Numbers(Pick()->inputs[0]), "1 ");
}

TEST_F(CompactionPickTest, HighestScoreWins) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  for (int i = 0; i < 5; i++) Add(0, "a", "b", kMiB);  // 1.25
  Add(1, "c", "d", 15 * kMiB);                         // 1.5
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 1);
}

TEST_F(CompactionPickTest, LastLevelIsNeverCompacted) {
  opts_.max_bytes_for_level_base = 1;
  Add(kNumLevels - 1, "a", "z", 100 * kMiB);
  EXPECT_EQ(CompactionScore(v_, opts_, kNumLevels - 1), 0);
  EXPECT_FALSE(Pick().has_value());
}

TEST_F(CompactionPickTest, SharedBoundaryUserKeyPullsInNeighbour) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "c", 6 * kMiB, 100);  // 1: c@100 is its largest
  Add(1, "c", "f", 6 * kMiB, 50);   // 2: starts with c@51, older versions of "c"
  Add(1, "g", "h", 6 * kMiB);       // 3
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "1 2 ");
}

TEST_F(CompactionPickTest, NotBottommostWhenDeeperLevelOverlaps) {
  for (int i = 0; i < 4; i++) Add(0, "c", "m", kMiB);
  Add(3, "l", "z", kMiB);
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->is_bottommost);
}

TEST_F(CompactionPickTest, BottommostWhenDeeperLevelDisjoint) {
  for (int i = 0; i < 4; i++) Add(0, "c", "m", kMiB);
  Add(3, "n", "z", kMiB);
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->is_bottommost);
}

TEST_F(CompactionPickTest, InputsGrowWhenNextLevelUnchanged) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "b", 4 * kMiB);  // 1: seed
  Add(1, "c", "d", 4 * kMiB);  // 2: inside L2's range: taken along
  Add(1, "x", "y", 4 * kMiB);  // 3
  Add(2, "a", "d", kMiB);      // 4
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "1 2 ");
  EXPECT_EQ(Numbers(c->inputs[1]), "4 ");
}

TEST_F(CompactionPickTest, InputsDoNotGrowPastSizeLimit) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  opts_.target_file_size = kMiB;
  opts_.expanded_compaction_factor = 5;
  Add(1, "a", "b", 4 * kMiB);
  Add(1, "c", "d", 4 * kMiB);
  Add(1, "x", "y", 4 * kMiB);
  Add(2, "a", "d", kMiB);
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "1 ");
}

TEST_F(CompactionPickTest, InputsDoNotGrowWhenThatAddsNextLevelFiles) {
  opts_.max_bytes_for_level_base = 10 * kMiB;
  Add(1, "a", "b", 4 * kMiB);  // 1: seed
  Add(1, "c", "f", 4 * kMiB);  // 2: overlaps L2 file 5 too
  Add(1, "x", "y", 4 * kMiB);  // 3
  Add(2, "a", "d", kMiB);      // 4
  Add(2, "e", "g", kMiB);      // 5
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "1 ");
  EXPECT_EQ(Numbers(c->inputs[1]), "4 ");
}

TEST_F(CompactionPickTest, L0WriteStallThresholds) {
  EXPECT_EQ(L0WriteStall(v_, opts_), WriteStall::kNone);
  for (int i = 0; i < 7; i++) Add(0, "a", "b", 1);
  EXPECT_EQ(L0WriteStall(v_, opts_), WriteStall::kNone);
  Add(0, "a", "b", 1);  // 8
  EXPECT_EQ(L0WriteStall(v_, opts_), WriteStall::kSlowdown);
  for (int i = 0; i < 3; i++) Add(0, "a", "b", 1);  // 11
  EXPECT_EQ(L0WriteStall(v_, opts_), WriteStall::kSlowdown);
  Add(0, "a", "b", 1);  // 12
  EXPECT_EQ(L0WriteStall(v_, opts_), WriteStall::kStop);
}

TEST_F(CompactionPickTest, CompactionForRangeTakesOverlappingFiles) {
  Add(1, "a", "b", kMiB);  // 1
  Add(1, "d", "f", kMiB);  // 2
  Add(1, "h", "j", kMiB);  // 3
  Add(2, "e", "g", kMiB);  // 4
  auto c = CompactionForRange(v_, opts_, 1, std::string("c"), std::string("e"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Numbers(c->inputs[0]), "2 ");
  EXPECT_EQ(Numbers(c->inputs[1]), "4 ");
  EXPECT_FALSE(CompactionForRange(v_, opts_, 1, std::string("k"), std::nullopt).has_value());
  auto all = CompactionForRange(v_, opts_, 1, std::nullopt, std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(Numbers(all->inputs[0]), "1 2 3 ");
}

TEST_F(CompactionPickTest, EditDeletesInputsAndAddsOutputs) {
  for (int i = 0; i < 4; i++) Add(0, "c", "m", kMiB);
  Add(1, "d", "f", kMiB);  // 5
  auto c = Pick();
  ASSERT_TRUE(c.has_value());
  FileMetaData out;
  out.number = 100;
  out.file_size = 3 * kMiB;
  out.smallest = IKey("c", 41);
  out.largest = IKey("m", 10);
  VersionEdit e;
  AddCompactionToEdit(*c, {out}, &e);
  EXPECT_EQ(e.deleted_files().size(), 5u);
  ASSERT_TRUE(v_.Apply(e).ok()) << e.DebugString();
  EXPECT_TRUE(v_.files(0).empty());
  ASSERT_EQ(v_.files(1).size(), 1u);
  EXPECT_EQ(v_.files(1)[0].number, 100u);
}

}  // namespace
}  // namespace ringdb::lsm
