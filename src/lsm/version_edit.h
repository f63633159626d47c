// VersionEdit: one MANIFEST record (docs/manifest.md), and VersionState: the set of live
// files per level obtained by applying edits. Pure data; the engine frames edits with
// wal_format.h (WalRecordType::kMeta) and does the I/O.
//
//   version_edit := (tag varint32 | value)*
//     1 log_number varint64      2 next_file_number varint64   3 last_sequence varint64
//     4 deleted_file: level varint32 | number varint64
//     5 new_file: level varint32 | number varint64 | size varint64 | lp(smallest)
//                 | lp(largest) | smallest_seq varint64 | largest_seq varint64
//     6 wal_segment: number varint64 | synced_bytes varint64 | last_seq varint64
//                    | flags varint32 (bit 0: sealed; other bits zero)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsm/dbformat.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

constexpr int kNumLevels = 7;

struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;  // internal keys
  std::string largest;
  SequenceNumber smallest_seq = 0;
  SequenceNumber largest_seq = 0;
  bool operator==(const FileMetaData&) const = default;
};

// What the MANIFEST knows of a live WAL segment (docs/manifest.md "WAL segments"):
// recovery refuses a segment that is missing, shorter than `synced_bytes`, or whose
// valid records end before `synced_bytes` or before `last_seq`.
struct WalSegmentMeta {
  uint64_t synced_bytes = 0;    // the first synced_bytes bytes were durable (fdatasync done)
  SequenceNumber last_seq = 0;  // the highest sequence in those bytes (0: none)
  bool sealed = false;          // closed: nothing was ever written past synced_bytes
  bool operator==(const WalSegmentMeta&) const = default;
};

class VersionEdit {
 public:
  void SetLogNumber(uint64_t n) { log_number_ = n; }
  void SetNextFileNumber(uint64_t n) { next_file_number_ = n; }
  void SetLastSequence(SequenceNumber s) { last_sequence_ = s; }
  void AddFile(int level, FileMetaData f) { new_files_.emplace_back(level, std::move(f)); }
  void DeleteFile(int level, uint64_t number) { deleted_files_.insert({level, number}); }
  // Records what is known of WAL segment `number` (a later record for the same segment
  // can only extend it).
  void AddWal(uint64_t number, const WalSegmentMeta& m) { wals_[number] = m; }
  void Clear() { *this = VersionEdit(); }

  const std::optional<uint64_t>& log_number() const { return log_number_; }
  const std::optional<uint64_t>& next_file_number() const { return next_file_number_; }
  const std::optional<SequenceNumber>& last_sequence() const { return last_sequence_; }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const { return new_files_; }
  const std::set<std::pair<int, uint64_t>>& deleted_files() const { return deleted_files_; }
  const std::map<uint64_t, WalSegmentMeta>& wals() const { return wals_; }

  // REQUIRES: levels < kNumLevels.
  void EncodeTo(std::string* dst) const;
  Status DecodeFrom(std::string_view src);
  std::string DebugString() const;
  bool operator==(const VersionEdit&) const = default;

 private:
  std::optional<uint64_t> log_number_;
  std::optional<uint64_t> next_file_number_;
  std::optional<SequenceNumber> last_sequence_;
  std::set<std::pair<int, uint64_t>> deleted_files_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
  std::map<uint64_t, WalSegmentMeta> wals_;
};

// The live files of a shard, independent of any engine machinery.
//
// Invariants: a file number appears at most once across levels; level 0 is ordered by
// largest_seq descending (newest first), ties by number descending; levels >= 1 are
// ordered by smallest key and their files do not overlap.
class VersionState {
 public:
  // All or nothing: Corruption (state unchanged) if the edit deletes a file that is not
  // live at that level, adds a live file number, adds a file with smallest > largest, or
  // makes files of a level >= 1 overlap, or shrinks or reopens a sealed WAL segment.
  // WAL segments numbered below the log number are dropped (obsolete).
  Status Apply(const VersionEdit& edit);
  // An edit that recreates this state from scratch (first record of a new MANIFEST).
  void EncodeSnapshot(VersionEdit* edit) const;

  const std::vector<FileMetaData>& files(int level) const { return levels_[level]; }
  uint64_t log_number() const { return log_number_; }
  uint64_t next_file_number() const { return next_file_number_; }
  SequenceNumber last_sequence() const { return last_sequence_; }
  // The live WAL segments the MANIFEST tracks (every one >= log_number()).
  const std::map<uint64_t, WalSegmentMeta>& wals() const { return wals_; }
  size_t NumFiles() const;
  uint64_t LevelBytes(int level) const;

 private:
  std::vector<FileMetaData> levels_[kNumLevels];
  uint64_t log_number_ = 0;
  uint64_t next_file_number_ = 0;
  SequenceNumber last_sequence_ = 0;
  std::map<uint64_t, WalSegmentMeta> wals_;
};

}  // namespace ringdb::lsm
