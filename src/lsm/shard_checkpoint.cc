// Shard::PrepareCheckpoint: the shard thread's part of DB::Checkpoint (lsm/checkpoint.h).
#include <algorithm>

#include "lsm/shard.h"

namespace ringdb::lsm {

Status Shard::PrepareCheckpoint(ShardCheckpoint* out) {
  if (!bg_error_.ok()) return bg_error_;
  SwitchForFlush();
  // Waits for the memtables that hold what was applied before the call, not for those
  // the writers fill meanwhile (under a steady load imm_ may never be empty, so
  // Flush() could wait for a long time). They are flushed oldest first.
  const std::shared_ptr<MemTable> newest = imm_.empty() ? nullptr : imm_.back().mem;
  auto pending = [&] {
    return std::any_of(imm_.begin(), imm_.end(),
                       [&](const Immutable& m) { return m.mem == newest; });
  };
  flush_wakeup_.Set();
  while (newest != nullptr && pending() && bg_error_.ok() && !crashed_) {
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  if (!bg_error_.ok()) return bg_error_;
  // Writes applied from here on may or may not be in the checkpoint: the capture is
  // whatever the MANIFEST holds at this instant (the flushed tables, and any edit
  // logged since, e.g. a compaction that moved those keys: it keeps them).
  VersionState state;
  uint64_t next_file_number = 0;
  versions_.Capture(&state, &out->version, &next_file_number);
  out->src_dir = opt_.dir;
  // A number no file of the captured state has: the checkpoint's MANIFEST.
  out->manifest_number = next_file_number;
  out->manifest_bytes = EncodeCheckpointManifest(state, next_file_number);
  return Status::OK();
}

}  // namespace ringdb::lsm
