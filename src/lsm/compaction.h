// Leveled compaction policy: which files to compact next, and the VersionEdit that
// installs a finished compaction. Pure logic over VersionState; the engine does the
// reading, merging (merging_iterator.h, compaction_iterator.h) and writing.
// See docs/compaction.md for the policy and the reasons behind it.
//
// Thread ownership: none held; callers pass the shard's state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/version_edit.h"

namespace ringdb::lsm {

struct CompactionOptions {
  // L0 file counts: compact at trigger; the engine slows writes at slowdown and stops
  // them at stop until compaction catches up.
  int l0_compaction_trigger = 4;
  int l0_slowdown_writes_trigger = 8;
  int l0_stop_writes_trigger = 12;
  // Target size of L1; each deeper level may hold level_multiplier times more.
  uint64_t max_bytes_for_level_base = uint64_t{64} << 20;
  double level_multiplier = 10;
  // Compaction outputs are cut near this size (raw key + value bytes).
  uint64_t target_file_size = uint64_t{8} << 20;
  // Ln inputs may grow (without adding Ln+1 files) while all inputs stay below
  // this many times target_file_size.
  int expanded_compaction_factor = 25;
};

// Per level, the largest internal key of the last compaction that started there ("" =
// none): the next compaction of that level starts after it, so a level is compacted
// round-robin across its key space rather than always at its first file.
using CompactPointers = std::array<std::string, kNumLevels>;

// Byte budget of level >= 1: base * multiplier^(level - 1).
uint64_t MaxBytesForLevel(const CompactionOptions& opts, int level);

// >= 1 means the level needs compacting. L0: files / l0_compaction_trigger (counted in
// files because every L0 file is a separate sorted run that each read must consult);
// Ln: bytes / MaxBytesForLevel(n). The last level is never compacted: 0.
double CompactionScore(const VersionState& v, const CompactionOptions& opts, int level);

enum class WriteStall { kNone, kSlowdown, kStop };
// What the engine should do to writes given the current L0 file count.
WriteStall L0WriteStall(const VersionState& v, const CompactionOptions& opts);

struct Compaction {
  int level = 0;
  int output_level = 1;
  // inputs[0]: files of `level`; inputs[1]: the files of output_level they overlap.
  // Both ordered as in VersionState.
  std::vector<FileMetaData> inputs[2];
  // No file in a level below output_level overlaps the inputs' user-key range, so the
  // output holds the oldest data for its keys: tombstones may go (compaction_iterator.h).
  bool is_bottommost = false;
  double score = 0;
  // User-key range covered by all inputs.
  std::string smallest_user_key;
  std::string largest_user_key;
  // Store this in CompactPointers[level] once the compaction is installed.
  std::string next_compact_pointer;

  uint64_t InputBytes() const;
  // One input file and nothing to merge it with: the engine can move the file to
  // output_level with an edit alone, rewriting nothing.
  bool IsTrivialMove() const { return inputs[0].size() == 1 && inputs[1].empty(); }
};

// The most urgent compaction (highest score >= 1), or nullopt when every level is
// within budget.
// REQUIRES: no compaction is in flight on this state (one compaction at a time per
// shard); compact_pointers hold internal keys or "".
std::optional<Compaction> PickCompaction(const VersionState& v, const CompactionOptions& opts,
                                         const CompactPointers& compact_pointers);

// A compaction of `level` seeded with the files overlapping the user-key range
// [begin, end] (nullopt = unbounded), e.g. for a manual CompactRange. nullopt when
// nothing in the level overlaps. REQUIRES: level < kNumLevels - 1.
std::optional<Compaction> CompactionForRange(const VersionState& v, const CompactionOptions& opts,
                                             int level, const std::optional<std::string>& begin,
                                             const std::optional<std::string>& end);

// Files of `level` whose user-key range intersects [begin, end] (nullopt = unbounded),
// in level order. For level 0 the range grows to cover each file picked until no
// other L0 file overlaps it, so a key's versions are never split between the picked and
// the remaining L0 files.
std::vector<FileMetaData> GetOverlappingInputs(const VersionState& v, int level,
                                               std::optional<std::string_view> begin,
                                               std::optional<std::string_view> end);

// The edit that installs `c`: deletes every input, adds `outputs` at c.output_level.
// For a trivial move pass c.inputs[0] as outputs (same file numbers).
void AddCompactionToEdit(const Compaction& c, const std::vector<FileMetaData>& outputs,
                         VersionEdit* edit);

}  // namespace ringdb::lsm
