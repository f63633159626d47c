#include "lsm/compaction.h"

#include <algorithm>
#include <cmath>

#include "lsm/dbformat.h"
#include "util/assert.h"

namespace ringdb::lsm {
namespace {

using OptKey = std::optional<std::string_view>;

std::string_view SmallestUserKey(const FileMetaData& f) {
  return ExtractUserKey(f.smallest);
}
std::string_view LargestUserKey(const FileMetaData& f) {
  return ExtractUserKey(f.largest);
}

bool Overlaps(const FileMetaData& f, OptKey begin, OptKey end) {
  if (begin && LargestUserKey(f) < *begin) return false;
  if (end && SmallestUserKey(f) > *end) return false;
  return true;
}

uint64_t TotalBytes(const std::vector<FileMetaData>& files) {
  uint64_t n = 0;
  for (const auto& f : files) n += f.file_size;
  return n;
}

// User-key range of a non-empty set of files.
void UserRange(const std::vector<FileMetaData>& files, std::string* smallest,
               std::string* largest) {
  RINGDB_ASSERT(!files.empty());
  std::string_view lo = SmallestUserKey(files[0]);
  std::string_view hi = LargestUserKey(files[0]);
  for (const auto& f : files) {
    lo = std::min(lo, SmallestUserKey(f));
    hi = std::max(hi, LargestUserKey(f));
  }
  smallest->assign(lo);
  largest->assign(hi);
}

void UserRange2(const std::vector<FileMetaData>& a, const std::vector<FileMetaData>& b,
                std::string* smallest, std::string* largest) {
  std::vector<FileMetaData> all = a;
  all.insert(all.end(), b.begin(), b.end());
  UserRange(all, smallest, largest);
}

bool IsBottommost(const VersionState& v, int output_level, std::string_view lo,
                  std::string_view hi) {
  for (int l = output_level + 1; l < kNumLevels; l++) {
    for (const auto& f : v.files(l)) {
      if (Overlaps(f, lo, hi)) return false;
    }
  }
  return true;
}

// Builds the compaction of `level` whose first inputs are the files overlapping the
// user-key range [lo, hi].
std::optional<Compaction> Setup(const VersionState& v, const CompactionOptions& opts, int level,
                                std::string_view lo, std::string_view hi) {
  RINGDB_ASSERT(level >= 0 && level < kNumLevels - 1);
  Compaction c;
  c.level = level;
  c.output_level = level + 1;
  c.score = CompactionScore(v, opts, level);
  c.inputs[0] = GetOverlappingInputs(v, level, lo, hi);
  if (c.inputs[0].empty()) return std::nullopt;

  std::string s0, l0;
  UserRange(c.inputs[0], &s0, &l0);
  c.inputs[1] = GetOverlappingInputs(v, c.output_level, s0, l0);

  // Grow the level's inputs to the whole range the next level's inputs cover, if that
  // adds no next-level file and stays small: more work done for the same rewrite.
  if (!c.inputs[1].empty()) {
    std::string sa, la;
    UserRange2(c.inputs[0], c.inputs[1], &sa, &la);
    auto expanded0 = GetOverlappingInputs(v, level, sa, la);
    uint64_t limit = opts.target_file_size * static_cast<uint64_t>(opts.expanded_compaction_factor);
    if (expanded0.size() > c.inputs[0].size() &&
        TotalBytes(expanded0) + TotalBytes(c.inputs[1]) < limit) {
      std::string se, le;
      UserRange(expanded0, &se, &le);
      auto expanded1 = GetOverlappingInputs(v, c.output_level, se, le);
      if (expanded1.size() == c.inputs[1].size()) {
        c.inputs[0] = std::move(expanded0);
        c.inputs[1] = std::move(expanded1);
      }
    }
  }

  UserRange2(c.inputs[0], c.inputs[1], &c.smallest_user_key, &c.largest_user_key);
  c.is_bottommost = IsBottommost(v, c.output_level, c.smallest_user_key, c.largest_user_key);
  InternalKeyComparator icmp;
  c.next_compact_pointer = c.inputs[0][0].largest;
  for (const auto& f : c.inputs[0]) {
    if (icmp.Compare(f.largest, c.next_compact_pointer) > 0) c.next_compact_pointer = f.largest;
  }
  return c;
}

}  // namespace

uint64_t MaxBytesForLevel(const CompactionOptions& opts, int level) {
  double bytes = static_cast<double>(opts.max_bytes_for_level_base);
  for (int l = 2; l <= level; l++) bytes *= opts.level_multiplier;
  return static_cast<uint64_t>(bytes);
}

double CompactionScore(const VersionState& v, const CompactionOptions& opts, int level) {
  RINGDB_ASSERT(level >= 0 && level < kNumLevels);
  if (level == kNumLevels - 1) return 0;
  if (level == 0) {
    return static_cast<double>(v.files(0).size()) /
           static_cast<double>(std::max(1, opts.l0_compaction_trigger));
  }
  uint64_t budget = std::max<uint64_t>(1, MaxBytesForLevel(opts, level));
  return static_cast<double>(v.LevelBytes(level)) / static_cast<double>(budget);
}

WriteStall L0WriteStall(const VersionState& v, const CompactionOptions& opts) {
  auto n = static_cast<int64_t>(v.files(0).size());
  if (n >= opts.l0_stop_writes_trigger) return WriteStall::kStop;
  if (n >= opts.l0_slowdown_writes_trigger) return WriteStall::kSlowdown;
  return WriteStall::kNone;
}

uint64_t Compaction::InputBytes() const {
  return TotalBytes(inputs[0]) + TotalBytes(inputs[1]);
}

std::vector<FileMetaData> GetOverlappingInputs(const VersionState& v, int level, OptKey begin,
                                               OptKey end) {
  // The range only grows, so restarting after each growth terminates; levels are small
  // (tens to thousands of files) and this runs once per compaction.
  std::string lo(begin.value_or(""));
  std::string hi(end.value_or(""));
  bool has_lo = begin.has_value();
  bool has_hi = end.has_value();
  const auto& files = v.files(level);
  std::vector<FileMetaData> out;
  for (size_t i = 0; i < files.size();) {
    const FileMetaData& f = files[i++];
    if (!Overlaps(f, has_lo ? OptKey(lo) : std::nullopt, has_hi ? OptKey(hi) : std::nullopt)) {
      continue;
    }
    // A key's versions may straddle files (newer and older L0 files; in a level >= 1,
    // two neighbours sharing a boundary user key): if this file reaches outside the
    // range, widen the range and start over so none of them is left behind.
    bool grew = false;
    if (has_lo && SmallestUserKey(f) < lo) {
      lo.assign(SmallestUserKey(f));
      grew = true;
    }
    if (has_hi && LargestUserKey(f) > hi) {
      hi.assign(LargestUserKey(f));
      grew = true;
    }
    if (grew) {
      out.clear();
      i = 0;
      continue;
    }
    out.push_back(f);
  }
  return out;
}

std::optional<Compaction> PickCompaction(const VersionState& v, const CompactionOptions& opts,
                                         const CompactPointers& compact_pointers) {
  int best_level = -1;
  double best_score = 0;
  for (int l = 0; l < kNumLevels - 1; l++) {
    double s = CompactionScore(v, opts, l);
    if (s >= 1 && s > best_score) {
      best_score = s;
      best_level = l;
    }
  }
  if (best_level < 0) return std::nullopt;
  const auto& files = v.files(best_level);
  RINGDB_ASSERT(!files.empty());

  const FileMetaData* seed = nullptr;
  if (best_level == 0) {
    seed = &files.back();  // the oldest; overlap expansion pulls in the rest
  } else {
    // Round-robin: the first file after the last compaction of this level.
    InternalKeyComparator icmp;
    const std::string& ptr = compact_pointers[best_level];
    for (const auto& f : files) {
      if (ptr.empty() || icmp.Compare(f.largest, ptr) > 0) {
        seed = &f;
        break;
      }
    }
    if (seed == nullptr) seed = &files.front();  // wrap around
  }
  return Setup(v, opts, best_level, SmallestUserKey(*seed), LargestUserKey(*seed));
}

std::optional<Compaction> CompactionForRange(const VersionState& v, const CompactionOptions& opts,
                                             int level, const std::optional<std::string>& begin,
                                             const std::optional<std::string>& end) {
  RINGDB_ASSERT(level >= 0 && level < kNumLevels - 1);
  auto files = GetOverlappingInputs(v, level, begin ? OptKey(*begin) : std::nullopt,
                                    end ? OptKey(*end) : std::nullopt);
  if (files.empty()) return std::nullopt;
  std::string lo, hi;
  UserRange(files, &lo, &hi);
  return Setup(v, opts, level, lo, hi);
}

void AddCompactionToEdit(const Compaction& c, const std::vector<FileMetaData>& outputs,
                         VersionEdit* edit) {
  for (int which = 0; which < 2; which++) {
    int level = which == 0 ? c.level : c.output_level;
    for (const auto& f : c.inputs[which]) edit->DeleteFile(level, f.number);
  }
  for (const auto& f : outputs) edit->AddFile(c.output_level, f);
}

}  // namespace ringdb::lsm
