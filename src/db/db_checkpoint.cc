// DBImpl::Checkpoint (docs/engine.md "Checkpoints"): every shard flushes and captures
// its tables on its own thread (lsm/checkpoint.h); the calling thread then writes the
// copy with blocking system calls, outside the call gate, so a long copy holds up
// neither Close nor RCU grace periods (the capture keeps the tables open by itself).
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "db/db_impl.h"
#include "lsm/checkpoint.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::db {
namespace {

std::string ParentOf(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const size_t slash = dir.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : dir.substr(0, slash);
}

// Writes the checkpoint's files into `dir` (created, empty): the shards, then OPTIONS
// (last: until it exists, Open refuses the folder as a store that lost it), then makes
// `dir` itself durable in its parent.
Status WriteCheckpointFiles(const std::string& src, const std::string& dir,
                            const std::vector<lsm::ShardCheckpoint>& shards,
                            const lsm::CheckpointFileOptions& fo, lsm::CheckpointCounts* counts) {
  for (uint32_t i = 0; i < shards.size(); i++) {
    Status s = lsm::WriteShardCheckpoint(shards[i], ShardDir(dir, i), fo, counts);
    if (!s.ok()) return s;
  }
  StoreOptions so;
  Status s = ReadStoreOptions(src, &so);
  if (s.ok() && fo.before_file) s = fo.before_file(dir + "/OPTIONS");
  if (s.ok()) s = WriteStoreOptions(dir, so);  // and fsyncs dir
  if (s.ok()) s = SyncDirBlocking(ParentOf(dir));
  return s;
}

}  // namespace

Status DBImpl::Checkpoint(const std::string& dir) {
  const uint64_t start_ns = util::NowNanos();
  std::vector<lsm::ShardCheckpoint> shards;
  {
    CallGate gate(*open_);
    Status s = CheckCall(gate);
    if (!s.ok()) return s;
    if (dir.empty()) return Status::InvalidArgument("Checkpoint: no directory given");
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno == EEXIST) {
        return Status::InvalidArgument("Checkpoint: " + dir +
                                       " exists; a checkpoint goes into a new directory");
      }
      return Status::FromErrno(errno, "Checkpoint: mkdir " + dir);
    }
    // Every posted write acknowledged before the call is in a memtable the shards flush.
    WaitForAllPostedWrites();
    shards.resize(nshards_);
    s = OnAllShards(
        [this, &shards](uint32_t i) { return shards_[i]->PrepareCheckpoint(&shards[i]); });
    if (!s.ok()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      return s;
    }
  }
  lsm::CheckpointFileOptions fo;
  fo.copy_tables = checkpoint_copy_tables_;
  fo.before_file = checkpoint_before_file_;
  lsm::CheckpointCounts n;
  Status s = WriteCheckpointFiles(opt_.path, dir, shards, fo, &n);
  shards.clear();  // the tables the capture held open
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    RINGDB_LOG_WARN("checkpoint %s failed (removed): %s", dir.c_str(), s.ToString().c_str());
    return s;
  }
  RINGDB_LOG_INFO(
      "checkpoint %s of %s: %u shards, %llu tables linked (%llu bytes), %llu copied (%llu "
      "bytes), %.1f ms",
      dir.c_str(), opt_.path.c_str(), nshards_, static_cast<unsigned long long>(n.tables_linked),
      static_cast<unsigned long long>(n.bytes_linked),
      static_cast<unsigned long long>(n.tables_copied),
      static_cast<unsigned long long>(n.bytes_copied),
      static_cast<double>(util::NowNanos() - start_ns) / 1e6);
  return Status::OK();
}

}  // namespace ringdb::db
