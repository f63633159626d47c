// The checks recovery makes before and while it replays a shard, as pure functions of
// bytes already read and of the directory listing. Shard::Recover and `ringdb-tool
// verify` both call them, so the tool says OK exactly when Open would accept the shard
// (docs/manifest.md "What Open does with damage", docs/wal.md).
//
// Thread ownership: none (pure); the caller does the I/O.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/dbformat.h"
#include "lsm/version_edit.h"
#include "lsm/wal_format.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

// A MANIFEST replayed into a VersionState.
struct ManifestReplay {
  VersionState state;
  uint64_t edits = 0;
  WalTail tail;  // where the valid records end (a torn tail passed CheckManifestTear)
};
// Replays MANIFEST-<number> held in `bytes` (its path is `path`). Errors name `shard`
// ("shard 3") and the MANIFEST; on Corruption *bad_offset is where.
Status ReplayManifest(std::string_view shard, uint64_t number, std::string_view bytes,
                      const std::string& path, ManifestReplay* out, uint64_t* bad_offset);

// A live WAL segment that recovery replays (oldest first).
struct WalReplayItem {
  uint64_t number = 0;
  uint64_t file_bytes = 0;  // its size on disk
  uint64_t read_bytes = 0;  // how much recovery reads: synced_bytes when sealed, else all
  bool tracked = false;     // the MANIFEST records it (meta is valid)
  WalSegmentMeta meta;
};
// Checks the MANIFEST's view against the shard directory: every live table exists, every
// WAL segment the MANIFEST tracks exists and is at least as long as the bytes it records
// synced. `wal_bytes` maps each segment on disk to its size. On success *out lists the
// segments to replay (number >= the log number). Errors name shard, MANIFEST and file.
Status PlanRecovery(std::string_view shard, const std::string& manifest_path,
                    const std::string& shard_dir, const VersionState& state,
                    const std::set<uint64_t>& tables_on_disk,
                    const std::map<uint64_t, uint64_t>& wal_bytes, std::vector<WalReplayItem>* out);

// What walking one segment's bytes found.
struct WalWalk {
  WalTail tail;
  uint64_t records = 0;
  SequenceNumber max_seq = 0;  // highest sequence in a valid record (0: none)
};
// Where a walked segment breaks: the walk's stopping point when that lies inside the
// synced bytes, else the end of its valid records.
uint64_t WalBreakOffset(const WalReplayItem& item, const WalWalk& walk);
// Checks a walked segment against what the MANIFEST recorded for it: the valid records
// must reach its synced bytes and its last sequence. And a segment may only follow a
// torn one when it holds no record (writes after a hole are never replayed):
// `torn_before` is the path of an earlier segment whose tail was torn ("" if none).
// A segment the MANIFEST does not track must hold no record: it is tracked before its
// first write, so records in it prove that MANIFEST edits were lost.
Status CheckWalWalk(std::string_view shard, const std::string& manifest_path,
                    const std::string& wal_path, const WalReplayItem& item, const WalWalk& walk,
                    const std::string& torn_before);

}  // namespace ringdb::lsm
