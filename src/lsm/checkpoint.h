// One shard's part of DB::Checkpoint (docs/engine.md "Checkpoints"): what the shard
// thread captures (Shard::PrepareCheckpoint) and the files the calling thread then
// writes from it into <checkpoint>/shard-NNN/.
//
// Thread ownership: a ShardCheckpoint is filled on the shard thread, then handed to the
// calling (application) thread, which owns it from then on; WriteShardCheckpoint does
// blocking file I/O and must not run on a shard thread. Dropping the Version on that
// thread is allowed (version.h: the last reference frees on whichever thread drops it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "lsm/version.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

struct ShardCheckpoint {
  std::string src_dir;  // the live shard directory
  // The tables at the captured instant, held open: a compaction may delete a file
  // before it is linked, and its descriptor is then what the copy reads.
  VersionPtr version;
  uint64_t manifest_number = 0;  // of the checkpoint's MANIFEST
  // The checkpoint's whole MANIFEST: one snapshot edit (the captured files, no WAL
  // segment) framed as the engine frames MANIFEST records (docs/manifest.md).
  std::string manifest_bytes;
};

struct CheckpointFileOptions {
  bool copy_tables = false;  // never hard-link (tests: the fallback of a file system without links)
  // Called before each file is created (its path); an error stops the checkpoint there.
  std::function<Status(const std::string& path)> before_file;
};

struct CheckpointCounts {
  uint64_t tables_linked = 0;
  uint64_t tables_copied = 0;
  uint64_t bytes_linked = 0;
  uint64_t bytes_copied = 0;
};

// The checkpoint's MANIFEST edit for the captured `state`: its files, no WAL segment
// (the log number is past every segment, so Open of the checkpoint expects none), the
// last sequence its tables hold, and `next_file_number` (past the MANIFEST's number).
VersionEdit CheckpointSnapshotEdit(const VersionState& state, uint64_t next_file_number);

// The checkpoint's whole MANIFEST-<manifest_number>: that edit (next file number
// manifest_number + 1) as one kMeta record, framed and padded as the engine writes
// MANIFEST records.
std::string EncodeCheckpointManifest(const VersionState& state, uint64_t manifest_number);

// Creates `dst_dir` (which must not exist) and fills it: a hard link per table (a copy
// from the held descriptor when the link fails: another file system, no permission,
// the file deleted meanwhile), the MANIFEST, CURRENT; fsyncs what it wrote and the
// directory. On error the caller removes what was created.
Status WriteShardCheckpoint(const ShardCheckpoint& cp, const std::string& dst_dir,
                            const CheckpointFileOptions& opt, CheckpointCounts* counts);

}  // namespace ringdb::lsm
