// verify: checks every checksum of a closed store and reports the first bad file and
// offset. The rules (what is an error, what is only a note) are in docs/tools.md; they
// follow what recovery accepts (docs/engine.md "Recovery", docs/wal.md).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "db/store_files.h"
#include "lsm/filenames.h"
#include "lsm/recovery_check.h"
#include "lsm/wal_segment_read.h"
#include "tools/tool_commands.h"
#include "tools/tool_common.h"
#include "tools/tool_store.h"

namespace ringdb::tools {
namespace {

class Verifier {
 public:
  Verifier(std::string dir, bool verbose) : dir_(std::move(dir)), verbose_(verbose) {}

  int Run() {
    Status s = CheckStoreDir(dir_);
    if (s.ok()) s = lock_.Acquire(dir_);
    if (!s.ok()) return ReportError("verify", s);
    uint32_t shards = 0;
    bool ok = VerifyOptions(&shards);
    for (uint32_t i = 0; ok && i < shards; i++) ok = VerifyShard(i);
    if (!ok) {
      std::printf("verify: FAILED: the first problem is above\n");
      return kExitError;
    }
    std::printf("OK: %u shards, %" PRIu64 " files, %" PRIu64 " blocks, %" PRIu64
                " log records verified; %" PRIu64 " note(s)\n",
                shards, files_, blocks_, records_, notes_);
    return kExitOk;
  }

 private:
  // Reports the problem that ends the run. Returns false for `return Fail(...)`.
  bool Fail(const std::string& file, std::optional<uint64_t> offset, const std::string& what) {
    std::printf("CORRUPT %s", file.c_str());
    if (offset) std::printf(" offset %" PRIu64, *offset);
    std::printf(": %s\n", what.c_str());
    return false;
  }
  void Note(const std::string& file, const std::string& what) {
    std::printf("note: %s: %s\n", file.c_str(), what.c_str());
    notes_++;
  }
  void Ok(const std::string& file, const std::string& what) {
    files_++;
    if (verbose_) std::printf("ok   %s: %s\n", file.c_str(), what.c_str());
  }

  bool VerifyOptions(uint32_t* shards) {
    const std::string path = JoinPath(dir_, "OPTIONS");
    std::string contents;
    Status s = ReadWholeFile(path, &contents);
    if (!s.ok()) return Fail(path, std::nullopt, s.ToString());
    db::StoreOptions so;
    s = db::DecodeStoreOptions(contents, path, &so);
    // One checksum covers the whole file: a mismatch is located at its start.
    if (!s.ok()) return Fail(path, 0, s.ToString());
    *shards = so.shards;
    std::printf("verify %s: %u shards, format version %u\n", dir_.c_str(), so.shards,
                so.format_version);
    Ok(path, Cat("shards ", so.shards));
    return true;
  }

  bool VerifyShard(uint32_t i) {
    const std::string sdir = JoinPath(dir_, ShardDirName(i));
    ShardListing ls;
    Status s = ListShardDir(sdir, &ls);
    if (!s.ok()) return Fail(sdir, std::nullopt, s.ToString());
    if (!ls.has_current) {
      if (ls.wals.empty() && ls.tables.empty() && ls.manifests.empty()) {
        Note(sdir, "empty (its first Open never finished); recovery starts it afresh");
        return true;
      }
      return Fail(JoinPath(sdir, lsm::kCurrentFileName), std::nullopt,
                  "missing, but the shard holds ringdb files; recovery refuses to guess the "
                  "live MANIFEST");
    }
    uint64_t mnum = 0;
    s = ReadCurrent(sdir, &mnum);
    if (!s.ok()) return Fail(JoinPath(sdir, lsm::kCurrentFileName), 0, s.ToString());
    Ok(JoinPath(sdir, lsm::kCurrentFileName), lsm::ManifestFileName(mnum));

    const std::string mpath = JoinPath(sdir, lsm::ManifestFileName(mnum));
    std::string mbytes;
    s = ReadWholeFile(mpath, &mbytes);
    if (!s.ok()) return Fail(mpath, std::nullopt, "named by CURRENT: " + s.ToString());
    ManifestReplay replay;
    uint64_t bad = 0;
    s = ReplayManifest(i, mnum, mbytes, mpath, &replay, &bad);
    if (!s.ok()) return Fail(mpath, bad, s.ToString());
    records_ += replay.edits;
    if (replay.tail.kind == lsm::WalTail::Kind::kTorn) {
      Note(mpath, Cat("torn tail at offset ", replay.tail.bad_offset, " (", replay.tail.reason,
                      "): an unacknowledged edit cut short by a crash; recovery ignores it"));
    }
    Ok(mpath, Cat(replay.edits, " edits, ", replay.state.NumFiles(), " live tables"));

    std::set<uint64_t> live;
    for (int level = 0; level < lsm::kNumLevels; level++) {
      for (const lsm::FileMetaData& f : replay.state.files(level)) {
        live.insert(f.number);
        if (!VerifyTable(sdir, level, f, ls, mpath)) return false;
      }
    }
    // The checks Open makes against the directory, from the same code
    // (lsm/recovery_check.h): live tables and tracked WAL segments present and long enough.
    std::vector<lsm::WalReplayItem> plan;
    s = lsm::PlanRecovery(Cat("shard ", i), mpath, sdir, replay.state, ls.tables, ls.wal_bytes,
                          &plan);
    if (!s.ok()) return Fail(mpath, std::nullopt, s.ToString());
    if (!VerifyWals(i, sdir, mpath, ls, replay.state, plan)) return false;
    for (uint64_t n : ls.tables) {
      if (live.count(n) == 0) {
        Note(JoinPath(sdir, lsm::TableFileName(n)),
             "not named by the MANIFEST (left by an interrupted flush or compaction); not "
             "checked, the next Open deletes it");
      }
    }
    for (uint64_t n : ls.manifests) {
      if (n != mnum) {
        Note(JoinPath(sdir, lsm::ManifestFileName(n)),
             "not the live MANIFEST; not checked, the next Open deletes it");
      }
    }
    for (const std::string& t : ls.temps) {
      Note(JoinPath(sdir, t), "temporary file; the next Open deletes it");
    }
    return true;
  }

  bool VerifyTable(const std::string& sdir, int level, const lsm::FileMetaData& f,
                   const ShardListing& ls, const std::string& mpath) {
    const std::string path = JoinPath(sdir, lsm::TableFileName(f.number));
    const std::string named = Cat("named by ", mpath, " (L", level, ")");
    if (ls.tables.count(f.number) == 0) return Fail(path, std::nullopt, "missing; " + named);
    std::string bytes;
    Status s = ReadWholeFile(path, &bytes);
    if (!s.ok()) return Fail(path, std::nullopt, s.ToString());
    if (bytes.size() != f.file_size) {
      return Fail(path, std::min<uint64_t>(bytes.size(), f.file_size),
                  Cat("size ", bytes.size(), " bytes, but the MANIFEST records ", f.file_size, "; ",
                      named));
    }
    TableCheck tc;
    uint64_t bad = 0;
    s = CheckTable(bytes, &f, &tc, &bad);
    if (!s.ok()) return Fail(path, bad, s.ToString());
    blocks_ += tc.blocks;
    Ok(path, Cat("L", level, ", ", tc.blocks, " blocks, ", tc.entries, " entries"));
    return true;
  }

  // Live segments (number >= the MANIFEST's log number) are what recovery replays, and
  // only as much of each as Open reads (a sealed segment: its recorded length). The
  // verdict on each is lsm::CheckWalWalk's, as in Open: synced data must be intact, and
  // no segment with records may follow a torn one. A torn tail of the last segment with
  // records is a note (a write cut short by a crash).
  bool VerifyWals(uint32_t shard, const std::string& sdir, const std::string& mpath,
                  const ShardListing& ls, const lsm::VersionState& state,
                  const std::vector<lsm::WalReplayItem>& plan) {
    for (uint64_t n : ls.wals) {
      if (n < state.log_number()) {
        Note(JoinPath(sdir, lsm::WalFileName(n)),
             Cat("older than the MANIFEST's log number ", state.log_number(),
                 " (already flushed); not checked, the next Open deletes it"));
      }
    }
    std::string torn_path;
    lsm::WalTail torn_tail;
    for (const lsm::WalReplayItem& item : plan) {
      const std::string path = JoinPath(sdir, lsm::WalFileName(item.number));
      // Read as Open reads it: what a torn tail or Corruption rests on is read again
      // (lsm/wal_segment_read.h); the checks below then run on the bytes decided on.
      lsm::WalSegmentRead seg;
      Status s = lsm::ReadWalSegment(
          item,
          [&](uint64_t offset, char* dst, uint64_t len) {
            std::string part;
            Status r = ReadFileRange(path, offset, len, &part);
            if (r.ok()) std::copy(part.begin(), part.end(), dst);
            return r;
          },
          Cat("shard ", shard), mpath, path, torn_path, &seg);
      if (!s.ok()) return Fail(path, std::nullopt, s.ToString());
      const std::string_view bytes(seg.bytes.get(), item.read_bytes);
      WalScan scan;
      uint64_t bad = 0;
      s = ScanWal(item.number, bytes, path, &scan, &bad);
      if (!s.ok()) return Fail(path, bad, s.ToString());
      lsm::WalWalk walk;
      walk.tail = scan.tail;
      walk.records = scan.records;
      walk.max_seq = scan.max_seq;
      s = lsm::CheckWalWalk(Cat("shard ", shard), mpath, path, item, walk, torn_path);
      if (!s.ok()) return Fail(path, lsm::WalBreakOffset(item, walk), s.ToString());
      records_ += scan.records;
      if (scan.tail.kind == lsm::WalTail::Kind::kTorn) {
        torn_path = path;
        torn_tail = scan.tail;
      }
      Ok(path, Cat(scan.records, " records, ", scan.entries, " entries, valid data ends at offset ",
                   scan.tail.valid_end, item.meta.sealed ? " (sealed)" : ""));
    }
    if (!torn_path.empty()) {
      std::string orphans;
      if (torn_tail.orphan_records > 0) {
        orphans = Cat("; ", torn_tail.orphan_records,
                      " record(s) after it belong to unsynced writes and are not replayed");
      }
      Note(torn_path, Cat("torn tail at offset ", torn_tail.bad_offset, " (", torn_tail.reason,
                          "): the last write was cut short by a crash; recovery keeps the data "
                          "before offset ",
                          torn_tail.valid_end, orphans));
    }
    return true;
  }

  const std::string dir_;
  const bool verbose_;
  StoreReadLock lock_;
  uint64_t files_ = 0, blocks_ = 0, records_ = 0, notes_ = 0;
};

}  // namespace

int CmdVerify(const std::string& dir, bool verbose) {
  return Verifier(dir, verbose).Run();
}

}  // namespace ringdb::tools
