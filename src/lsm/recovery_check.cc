#include "lsm/recovery_check.h"

#include <algorithm>
#include <cstdlib>

#include "lsm/filenames.h"

namespace ringdb::lsm {
namespace {

std::string Str(uint64_t v) {
  return std::to_string(v);
}

std::string Prefix(std::string_view shard) {
  return std::string(shard) + ": ";
}

// The offset a WalReader's Corruption names ("wal segment N offset X: ..."), else fallback.
uint64_t OffsetOf(const Status& s, uint64_t fallback) {
  const std::string& m = s.message();
  const size_t at = m.find(" offset ");
  if (at == std::string::npos) return fallback;
  return std::strtoull(m.c_str() + at + 8, nullptr, 10);
}

}  // namespace

Status ReplayManifest(std::string_view shard, uint64_t number, std::string_view bytes,
                      const std::string& path, ManifestReplay* out, uint64_t* bad_offset) {
  WalReader reader(number, bytes);
  WalRecord rec;
  uint64_t valid_end = 0;
  while (reader.Next(&rec)) {
    *bad_offset = rec.offset;
    const std::string where = Prefix(shard) + path + " offset " + Str(rec.offset) + ": ";
    if (rec.type != WalRecordType::kMeta) {
      return Status::Corruption(where + "not a version edit record");
    }
    VersionEdit edit;
    Status s = edit.DecodeFrom(rec.payload);
    if (s.ok()) s = out->state.Apply(edit);
    if (!s.ok()) return Status::Corruption(where + s.message());
    out->edits++;
    valid_end = rec.end_offset();
  }
  if (!reader.status().ok()) {
    // The framing's message says "wal segment N offset X"; for a MANIFEST, say which.
    *bad_offset = OffsetOf(reader.status(), valid_end);
    std::string why = reader.status().message();
    const size_t colon = why.find(": ");
    if (colon != std::string::npos) why = why.substr(colon + 2);
    return Status::Corruption(Prefix(shard) + path + " offset " + Str(*bad_offset) + ": " + why);
  }
  out->tail = reader.tail();
  if (out->tail.kind == WalTail::Kind::kTorn) {
    *bad_offset = out->tail.bad_offset;
    Status s = CheckManifestTear(bytes, out->tail.bad_offset, path);
    if (!s.ok()) return Status::Corruption(Prefix(shard) + s.message());
  }
  if (out->edits == 0) {
    *bad_offset = 0;
    return Status::Corruption(Prefix(shard) + path + ": holds no version edit");
  }
  return Status::OK();
}

Status PlanRecovery(std::string_view shard, const std::string& manifest_path,
                    const std::string& shard_dir, const VersionState& state,
                    const std::set<uint64_t>& tables_on_disk,
                    const std::map<uint64_t, uint64_t>& wal_bytes,
                    std::vector<WalReplayItem>* out) {
  out->clear();
  for (int level = 0; level < kNumLevels; level++) {
    for (const FileMetaData& f : state.files(level)) {
      if (tables_on_disk.count(f.number) == 0) {
        return Status::Corruption(Prefix(shard) + manifest_path + " names table " + shard_dir +
                                  "/" + TableFileName(f.number) + ", which does not exist");
      }
    }
  }
  // Every tracked segment: it held acknowledged writes up to synced_bytes.
  for (const auto& [number, m] : state.wals()) {
    const std::string path = shard_dir + "/" + WalFileName(number);
    auto it = wal_bytes.find(number);
    if (it == wal_bytes.end()) {
      // A segment is tracked only once its directory entry is durable, and untracked
      // (log number) before it is deleted: missing, it was lost.
      return Status::Corruption(Prefix(shard) + "WAL segment " + path + " is missing, but " +
                                manifest_path + " records " + Str(m.synced_bytes) +
                                " bytes synced in it (up to sequence " + Str(m.last_seq) +
                                "): acknowledged writes are gone");
    }
    if (it->second < m.synced_bytes) {
      return Status::Corruption(Prefix(shard) + "WAL segment " + path + " is " + Str(it->second) +
                                " bytes long, but " + manifest_path + " records " +
                                Str(m.synced_bytes) +
                                " bytes synced in it: the segment was truncated");
    }
  }
  for (const auto& [number, size] : wal_bytes) {
    if (number < state.log_number()) continue;
    WalReplayItem item;
    item.number = number;
    item.file_bytes = size;
    item.read_bytes = size;
    auto it = state.wals().find(number);
    if (it != state.wals().end()) {
      item.tracked = true;
      item.meta = it->second;
      // Nothing was ever written past a sealed segment's synced end: read no further.
      if (item.meta.sealed) item.read_bytes = item.meta.synced_bytes;
    }
    out->push_back(item);
  }
  return Status::OK();
}

uint64_t WalBreakOffset(const WalReplayItem& item, const WalWalk& walk) {
  const uint64_t stop = walk.tail.bad_offset;
  return item.tracked && stop < item.meta.synced_bytes ? stop : walk.tail.valid_end;
}

Status CheckWalWalk(std::string_view shard, const std::string& manifest_path,
                    const std::string& wal_path, const WalReplayItem& item, const WalWalk& walk,
                    const std::string& torn_before) {
  if (!torn_before.empty() && walk.records > 0) {
    return Status::Corruption(Prefix(shard) + torn_before +
                              ": the log breaks in this segment's tail, yet " + wal_path +
                              " holds later records: writes after a hole are never replayed");
  }
  if (!item.tracked) {
    // A segment is tracked by a durable MANIFEST edit before anything is written into
    // it (Open's snapshot, a memtable switch, Resume). One that holds records although
    // the MANIFEST does not know it proves that edits were lost: the MANIFEST was cut
    // at an edit boundary, and its older view must not be taken for the shard's state.
    // An untracked segment without records is what a crash during a switch leaves.
    if (walk.records > 0) {
      return Status::Corruption(
          Prefix(shard) + wal_path + " holds " + Str(walk.records) + " records (up to sequence " +
          Str(walk.max_seq) + "), but " + manifest_path +
          " does not track it: edits of the MANIFEST were lost (cut at an edit boundary?)");
    }
    return Status::OK();
  }
  const WalSegmentMeta& m = item.meta;
  // Where the walk stopped (or the end of the valid records) must not lie inside what
  // was synced; and the synced records must all be there.
  const uint64_t stop = walk.tail.bad_offset;
  if (stop < m.synced_bytes || walk.max_seq < m.last_seq) {
    return Status::Corruption(Prefix(shard) + wal_path + " offset " +
                              Str(std::min(stop, walk.tail.valid_end)) +
                              ": valid records end at offset " + Str(walk.tail.valid_end) +
                              " (up to sequence " + Str(walk.max_seq) + "), but " + manifest_path +
                              " records " + Str(m.synced_bytes) + " bytes synced (up to sequence " +
                              Str(m.last_seq) + "): synced data is damaged or missing");
  }
  return Status::OK();
}

}  // namespace ringdb::lsm
