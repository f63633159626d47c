// stats: per shard and in total, the files, bytes and entries per level (entries from
// each table's properties block) and the WAL data a reopen would replay, of a closed
// store. It reads the MANIFEST, each table's footer and meta region, and the live WAL
// segments; `verify` is what checks everything else.
#include <array>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/store_files.h"
#include "lsm/filenames.h"
#include "tools/tool_commands.h"
#include "tools/tool_common.h"
#include "tools/tool_store.h"

namespace ringdb::tools {
namespace {

struct LevelStats {
  uint64_t files = 0, bytes = 0, entries = 0, deletions = 0;
  void Add(const LevelStats& o) {
    files += o.files;
    bytes += o.bytes;
    entries += o.entries;
    deletions += o.deletions;
  }
};

struct WalStats {
  uint64_t segments = 0, bytes = 0, records = 0, entries = 0;
  void Add(const WalStats& o) {
    segments += o.segments;
    bytes += o.bytes;
    records += o.records;
    entries += o.entries;
  }
};

// What the files of one closed shard hold (not the engine's ringdb::ShardStats counters).
struct ShardFileStats {
  std::array<LevelStats, lsm::kNumLevels> levels;
  WalStats wal;
  uint64_t last_sequence = 0, log_number = 0, next_file_number = 0;
  bool empty = false;  // never initialized
};

Status CollectShard(uint32_t shard, const std::string& sdir, ShardFileStats* out) {
  ShardListing ls;
  Status s = ListShardDir(sdir, &ls);
  if (!s.ok()) return s;
  if (!ls.has_current) {
    if (ls.wals.empty() && ls.tables.empty() && ls.manifests.empty()) {
      out->empty = true;
      return Status::OK();
    }
    return Status::Corruption(sdir + ": CURRENT is missing (run `ringdb-tool verify`)");
  }
  uint64_t mnum = 0;
  s = ReadCurrent(sdir, &mnum);
  if (!s.ok()) return s;
  const std::string mpath = JoinPath(sdir, lsm::ManifestFileName(mnum));
  std::string mbytes;
  s = ReadWholeFile(mpath, &mbytes);
  if (!s.ok()) return s;
  ManifestReplay replay;
  uint64_t bad = 0;
  s = ReplayManifest(shard, mnum, mbytes, mpath, &replay, &bad);
  if (!s.ok()) return s;
  const lsm::VersionState& v = replay.state;
  out->last_sequence = v.last_sequence();
  out->log_number = v.log_number();
  out->next_file_number = v.next_file_number();
  for (int level = 0; level < lsm::kNumLevels; level++) {
    for (const lsm::FileMetaData& f : v.files(level)) {
      lsm::TableProperties props;
      s = ReadTableProperties(JoinPath(sdir, lsm::TableFileName(f.number)), &props);
      if (!s.ok()) return s;
      LevelStats& l = out->levels[level];
      l.files++;
      l.bytes += f.file_size;
      l.entries += props.num_entries;
      l.deletions += props.num_deletions;
    }
  }
  for (uint64_t n : ls.wals) {
    if (n < v.log_number()) continue;  // flushed already; the next Open deletes it
    const std::string path = JoinPath(sdir, lsm::WalFileName(n));
    std::string bytes;
    s = ReadWholeFile(path, &bytes);
    if (!s.ok()) return s;
    WalScan scan;
    s = ScanWal(n, bytes, path, &scan, &bad);
    if (!s.ok()) return s;
    out->wal.segments++;
    out->wal.bytes += scan.tail.valid_end;
    out->wal.records += scan.records;
    out->wal.entries += scan.entries;
  }
  return Status::OK();
}

void PrintLevels(const std::array<LevelStats, lsm::kNumLevels>& levels, const WalStats& wal) {
  std::printf("  %-6s %8s %14s %12s %10s\n", "level", "files", "bytes", "entries", "deletions");
  LevelStats sum;
  for (int level = 0; level < lsm::kNumLevels; level++) {
    const LevelStats& l = levels[level];
    sum.Add(l);
    if (l.files == 0) continue;
    std::printf("  L%-5d %8" PRIu64 " %14" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", level, l.files,
                l.bytes, l.entries, l.deletions);
  }
  std::printf("  %-6s %8" PRIu64 " %14" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", "sum", sum.files,
              sum.bytes, sum.entries, sum.deletions);
  std::printf("  wal: %" PRIu64 " segment(s), %" PRIu64 " bytes pending (%" PRIu64
              " records, %" PRIu64 " entries not yet in a table)\n",
              wal.segments, wal.bytes, wal.records, wal.entries);
}

void AddLevelsJson(const std::array<LevelStats, lsm::kNumLevels>& levels, const WalStats& wal,
                   nlohmann::ordered_json* j) {
  (*j)["levels"] = nlohmann::ordered_json::array();
  for (int level = 0; level < lsm::kNumLevels; level++) {
    const LevelStats& l = levels[level];
    (*j)["levels"].push_back({{"level", level},
                              {"files", l.files},
                              {"bytes", l.bytes},
                              {"entries", l.entries},
                              {"deletions", l.deletions}});
  }
  (*j)["wal"] = {{"segments", wal.segments},
                 {"bytes", wal.bytes},
                 {"records", wal.records},
                 {"entries", wal.entries}};
}

}  // namespace

int CmdStats(const std::string& dir, bool json) {
  Status s = CheckStoreDir(dir);
  StoreReadLock lock;
  if (s.ok()) s = lock.Acquire(dir);
  db::StoreOptions so;
  if (s.ok()) s = db::ReadStoreOptions(dir, &so);
  if (!s.ok()) return ReportError("stats", s);

  std::vector<ShardFileStats> shards(so.shards);
  for (uint32_t i = 0; i < so.shards; i++) {
    s = CollectShard(i, JoinPath(dir, ShardDirName(i)), &shards[i]);
    if (!s.ok()) return ReportError("stats", s);
  }
  std::array<LevelStats, lsm::kNumLevels> total{};
  WalStats total_wal;
  for (const ShardFileStats& sh : shards) {
    for (int level = 0; level < lsm::kNumLevels; level++) total[level].Add(sh.levels[level]);
    total_wal.Add(sh.wal);
  }

  if (json) {
    nlohmann::ordered_json j;
    j["path"] = dir;
    j["shards"] = nlohmann::ordered_json::array();
    for (uint32_t i = 0; i < so.shards; i++) {
      const ShardFileStats& sh = shards[i];
      nlohmann::ordered_json js;
      js["shard"] = i;
      js["initialized"] = !sh.empty;
      js["last_sequence"] = sh.last_sequence;
      js["log_number"] = sh.log_number;
      js["next_file_number"] = sh.next_file_number;
      AddLevelsJson(sh.levels, sh.wal, &js);
      j["shards"].push_back(js);
    }
    nlohmann::ordered_json jt;
    AddLevelsJson(total, total_wal, &jt);
    j["total"] = jt;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("stats %s: %u shards\n", dir.c_str(), so.shards);
  for (uint32_t i = 0; i < so.shards; i++) {
    const ShardFileStats& sh = shards[i];
    if (sh.empty) {
      std::printf("%s: empty (never initialized)\n", ShardDirName(i).c_str());
      continue;
    }
    std::printf("%s: last_sequence %" PRIu64 ", log_number %" PRIu64 ", next_file_number %" PRIu64
                "\n",
                ShardDirName(i).c_str(), sh.last_sequence, sh.log_number, sh.next_file_number);
    PrintLevels(sh.levels, sh.wal);
  }
  std::printf("total (%u shards):\n", so.shards);
  PrintLevels(total, total_wal);
  return kExitOk;
}

}  // namespace ringdb::tools
