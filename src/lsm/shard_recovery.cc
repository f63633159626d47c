// Shard: Open and recovery. Runs once per shard at start-up, in a fiber on the shard's
// reactor; every read and write goes through the backend (so fault injection and
// power-loss simulation see them). Listing the directory is the one blocking call:
// readdir has no asynchronous form, and it happens before the shard serves anything.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <map>
#include <set>

#include "lsm/filenames.h"
#include "lsm/post_log.h"
#include "lsm/shard.h"
#include "lsm/wal_format.h"
#include "lsm/wal_segment_read.h"
#include "lsm/write_batch_rep.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/coding.h"
#include "util/log.h"

namespace ringdb::lsm {
namespace {

struct DirListing {
  std::set<uint64_t> wals, tables, manifests;
  std::map<uint64_t, uint64_t> wal_bytes;  // size of each segment
  std::vector<std::string> temps, post_logs;
  bool has_current = false;
  uint64_t max_number = 0;
};

Status ListDir(const std::string& dir, DirListing* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    uint64_t number = 0;
    switch (ParseFileName(name, &number)) {
      case FileKind::kWal: {
        out->wals.insert(number);
        struct stat st;
        if (::fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
          const int err = errno;
          ::closedir(d);
          return Status::FromErrno(err, "stat " + dir + "/" + std::string(name));
        }
        out->wal_bytes[number] = static_cast<uint64_t>(st.st_size);
        break;
      }
      case FileKind::kTable:
        out->tables.insert(number);
        break;
      case FileKind::kManifest:
        out->manifests.insert(number);
        break;
      case FileKind::kCurrent:
        out->has_current = true;
        break;
      case FileKind::kTemp:
        out->temps.emplace_back(name);
        break;
      case FileKind::kPostLog:
        out->post_logs.emplace_back(name);
        continue;
      case FileKind::kUnknown:
        continue;
    }
    out->max_number = std::max(out->max_number, number);
  }
  ::closedir(d);
  // Every numbered file is below max_number + 1, the floor of the next file number.
  RINGDB_ASSERT(out->wal_bytes.size() == out->wals.size());
  RINGDB_ASSERT(out->wals.empty() || *out->wals.rbegin() <= out->max_number);
  RINGDB_ASSERT(out->tables.empty() || *out->tables.rbegin() <= out->max_number);
  RINGDB_ASSERT(out->manifests.empty() || *out->manifests.rbegin() <= out->max_number);
  return Status::OK();
}

// CURRENT is replaced by rename, so once written it never goes missing in a crash. A
// shard without it (and without tables) whose WAL segments hold no record is one whose
// first Open was cut short (nothing in it was ever acknowledged): clear the leftovers.
// REQUIRES: no CURRENT and no table in the listing.
Status RemoveLeftoversOfInterruptedCreation(int dir_fd, const std::string& dir, DirListing* ls) {
  RINGDB_ASSERT(!ls->has_current && ls->tables.empty());
  bool any_record = false;
  for (uint64_t number : ls->wals) {
    std::string data;
    const std::string name = WalFileName(number);
    Status s = rt::ReadFileAt(dir_fd, name.c_str(), dir + "/" + name, &data);
    if (!s.ok()) return s;
    WalReader reader(number, data);
    WalRecord rec;
    if (reader.Next(&rec) || !reader.status().ok()) any_record = true;
  }
  if (!any_record && (!ls->wals.empty() || !ls->manifests.empty())) {
    RINGDB_LOG_WARN("%s: removing the leftovers of an interrupted creation", dir.c_str());
    for (uint64_t n : ls->wals) rt::UnlinkAt(dir_fd, WalFileName(n).c_str());
    for (uint64_t n : ls->manifests) rt::UnlinkAt(dir_fd, ManifestFileName(n).c_str());
    ls->wals.clear();
    ls->wal_bytes.clear();
    ls->manifests.clear();
  }
  return Status::OK();
}

}  // namespace

Status Shard::Recover() {
  Status s = RecoverSteps();
  replay_syncs_.Wait();  // (none may outlive a failed Open)
  if (!s.ok() && dir_fd_ >= 0) CleanUpFailedOpen();
  if (s.ok()) {
    // A recovered shard writes to a fresh segment and hands out the sequence numbers
    // after the last one recovered.
    RINGDB_ASSERT(dir_fd_ >= 0 && wal_.segment_open());
    RINGDB_ASSERT(seq_alloc_.load(std::memory_order_relaxed) == last_seq_ + 1);
    RINGDB_ASSERT(published_seq_.load(std::memory_order_relaxed) == last_seq_);
  }
  return s;
}

// REQUIRES: the shard directory is open (RecoverSteps got that far).
void Shard::CleanUpFailedOpen() {
  RINGDB_ASSERT(dir_fd_ >= 0);
  const uint64_t wal = wal_.segment_open() ? wal_.number() : 0;
  if (wal != 0) {
    Status c = wal_.CloseSegment(/*sync=*/false);
    (void)c;  // the segment goes anyway
  }
  Status m = versions_.Close();
  (void)m;
  if (versions_.current_replaced()) return;  // the new files may be live: keep them
  std::vector<std::string> doomed;
  if (wal != 0) doomed.push_back(WalFileName(wal));
  if (open_created_table_ != 0) doomed.push_back(TableFileName(open_created_table_));
  // Only a MANIFEST this Open created; never the one it recovered from.
  if (versions_.created_manifest() != 0) {
    doomed.push_back(ManifestFileName(versions_.created_manifest()));
  }
  for (const std::string& name : doomed) {
    Status u = rt::UnlinkAt(dir_fd_, name.c_str());
    if (u.ok()) {
      RINGDB_LOG_INFO("%s: Open failed; removed %s, which it had created", ShardName().c_str(),
                      FilePath(name).c_str());
    }
  }
}

Status Shard::RecoverSteps() {
  const std::string& dir = opt_.dir;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir);
  }
  Status s = rt::OpenAt(AT_FDCWD, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &dir_fd_);
  if (!s.ok()) return s;
  tables_.set_dir_fd(dir_fd_);
  versions_.set_dir_fd(dir_fd_);
  wal_.set_dir_fd(dir_fd_);
  if (opt_.io_trace) {
    // From here on every I/O of the shard is traced, recovery's included. A trace that
    // cannot start costs the trace, not the store.
    Status t = rt::CurrentReactor()->StartIoTrace(FilePath("IOTRACE"), opt_.io_trace_buffer_bytes);
    if (!t.ok()) RINGDB_LOG_WARN("shard %u: I/O trace: %s", opt_.shard_id, t.ToString().c_str());
  }
  DirListing ls;
  s = ListDir(dir, &ls);
  if (!s.ok()) return s;

  if (!ls.has_current && ls.tables.empty()) {
    s = RemoveLeftoversOfInterruptedCreation(dir_fd_, dir, &ls);
    if (!s.ok()) return s;
  }
  if (!ls.has_current) {
    if (!ls.wals.empty() || !ls.tables.empty() || !ls.manifests.empty()) {
      return Status::Corruption(
          dir + ": CURRENT is missing but the directory holds " +
          std::to_string(ls.wals.size() + ls.tables.size() + ls.manifests.size()) +
          " ringdb files; refusing to guess which MANIFEST is live");
    }
    if (!opt_.create_if_missing) return Status::InvalidArgument(dir + ": no ringdb shard here");
  }
  // Which segments to replay, how much of each to read, and what the MANIFEST says was
  // synced in them (lsm/recovery_check.h; ringdb-tool verify runs the same checks).
  std::vector<WalReplayItem> plan;
  if (ls.has_current) {
    s = versions_.Recover(ls.manifests, [&](const VersionState& st) {
      return PlanRecovery(ShardName(), versions_.ManifestPath(), dir, st, ls.tables, ls.wal_bytes,
                          &plan);
    });
    if (!s.ok()) return s;
  } else {
    for (const auto& [number, size] : ls.wal_bytes) {
      plan.push_back(WalReplayItem{number, size, size, false, {}});
    }
  }
  versions_.AdvanceFileNumber(std::max<uint64_t>(ls.max_number + 1, 1));
  const uint64_t next_file = versions_.next_file_number();
  RINGDB_ASSERT(next_file > ls.max_number);  // no new file can take a name on disk
  const VersionState& state = versions_.state();
  last_seq_ = state.last_sequence();
  for (int level = 0; level < kNumLevels; level++) {
    for (const FileMetaData& f : state.files(level)) {
      // PlanRecovery found every live table on disk, so below the next file number.
      RINGDB_ASSERT(f.number < next_file);
      last_seq_ = std::max(last_seq_, f.largest_seq);
    }
  }
  RINGDB_ASSERT(replayed_segments_.empty() && replayed_.empty() && mem_->num_entries() == 0);

  // Replay the WAL segments the MANIFEST does not cover, oldest first; then what only
  // the post logs hold.
  std::string torn_path;
  for (const WalReplayItem& item : plan) {
    RINGDB_ASSERT(item.number < next_file);  // a segment on disk
    s = ReplayWal(item, &torn_path);
    if (!s.ok()) return s;
  }
  s = ReplayPostLogs(ls.post_logs);
  if (!s.ok()) return s;

  return StartAfterReplay();
}

// A new segment is started and tracked. The replayed data then either stays in memory,
// its segments kept (KeepReplayedSegments), or becomes an L0 table written here; the new
// MANIFEST snapshot makes what is obsolete so.
Status Shard::StartAfterReplay() {
  Status s;
  // Recovery only raises last_seq_ above what the MANIFEST says the tables hold.
  RINGDB_ASSERT(last_seq_ >= versions_.state().last_sequence());
  seq_alloc_.store(last_seq_ + 1, std::memory_order_release);
  published_seq_.store(last_seq_, std::memory_order_release);
  s = wal_.OpenSegment(versions_.NewFileNumber());
  if (!s.ok()) return s;
  // The new segment is newer than every replayed one (their numbers were on disk).
  RINGDB_ASSERT(replayed_segments_.empty() || replayed_segments_.back().number < wal_.number());
  {
    // The new segment is tracked from the snapshot on (its directory entry is durable).
    VersionEdit track;
    track.AddWal(wal_.number(), WalSegmentMeta{});
    s = versions_.ApplyUnlogged(track, {});
    if (!s.ok()) return s;
  }
  uint64_t log_number = wal_.number();
  SequenceNumber in_tables = last_seq_;
  bool kept = false;
  s = KeepReplayedSegments(&kept);
  if (!s.ok()) return s;
  if (kept) {
    log_number = replayed_segments_.front().number;
    in_tables = versions_.state().last_sequence();
  } else if (mem_->num_entries() > 0) {
    FileMetaData meta;
    TableRef table;
    std::unique_ptr<InternalIterator> it = mem_->NewIterator();
    s = WriteTable(it.get(), &meta, &table);
    if (!s.ok()) return s;
    RINGDB_ASSERT(meta.number > 0 && meta.number < versions_.next_file_number());
    RINGDB_ASSERT(meta.largest_seq <= last_seq_);
    open_created_table_ = meta.number;
    VersionEdit edit;
    edit.AddFile(0, meta);
    s = versions_.ApplyUnlogged(edit, {table});
    if (!s.ok()) return s;
    mem_ = std::make_shared<MemTable>();
  }
  s = versions_.WriteSnapshot(log_number, in_tables);
  if (!s.ok()) return s;
  PublishView();
  return DeleteObsoleteFiles();
}

// Starts an fdatasync of a segment being replayed, on a fiber of its own, so that it
// runs while the segment is read and its records decoded. KeepReplayedSegments needs
// the segment durable before it may keep it; the sync is harmless when a table is
// written instead.
void Shard::SyncReplayedSegment(const std::string& name) {
  replay_syncs_.Add();
  rt::CurrentReactor()->Spawn(
      [this, name] {
        int fd = -1;
        Status s = rt::OpenAt(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC, 0, &fd);
        if (s.ok()) s = rt::Fdatasync(fd, io::IoClass::kWal, FilePath(name));
        if (fd >= 0) {
          Status c = rt::Close(fd, FilePath(name));
          if (s.ok()) s = c;
        }
        if (!s.ok() && replay_sync_status_.ok()) replay_sync_status_ = s;
        replay_syncs_.Done();
      },
      "wal_replay_sync");
}

// Open should cost what the live WAL costs to read, not a table write on top: when the
// replay was clean (every segment ended cleanly, nothing came from the post logs), the
// replayed memtable becomes an immutable one that the flush fiber writes after Open,
// and its segments stay live until then. Each is synced (a process crash may have left
// its last writes in the page cache only; SyncReplayedSegment) and sealed in the MANIFEST at the
// length it was replayed to, so the next recovery reads exactly those records again.
Status Shard::KeepReplayedSegments(bool* kept) {
  *kept = false;
  if (mem_->num_entries() == 0 || replayed_segments_.empty() || posted_replayed_ > 0 ||
      !replay_clean_) {
    return Status::OK();
  }
  replay_syncs_.Wait();
  if (!replay_sync_status_.ok()) return replay_sync_status_;
  VersionEdit seal;
  for (const ReplayedSegment& r : replayed_segments_) {
    auto it = versions_.state().wals().find(r.number);
    if (it == versions_.state().wals().end() || !it->second.sealed) {
      seal.AddWal(r.number, WalSegmentMeta{r.valid_end, r.max_seq, true});
    }
  }
  Status s = versions_.ApplyUnlogged(seal, {});
  if (!s.ok()) return s;
  for (size_t i = 0; i < replayed_segments_.size(); i++) {
    // Replayed oldest first; none holds a sequence number past last_seq_, which the
    // immutable memtable covers.
    RINGDB_ASSERT(i == 0 || replayed_segments_[i - 1].number < replayed_segments_[i].number);
    RINGDB_ASSERT(replayed_segments_[i].max_seq <= last_seq_);
  }
  Immutable m{std::move(mem_), replayed_segments_.back().number, last_seq_};
  for (size_t i = 0; i + 1 < replayed_segments_.size(); i++) {
    m.older_wals.push_back(replayed_segments_[i].number);
  }
  imm_.push_back(std::move(m));
  mem_ = std::make_shared<MemTable>();
  *kept = true;
  return Status::OK();
}

// Reads `len` bytes of the open segment at `offset`, in pieces: each read suspends, so a
// long segment never holds the reactor.
Status Shard::ReadWalRange(int fd, const std::string& path, uint64_t offset, char* dst,
                           uint64_t len) {
  constexpr uint64_t kChunk = 4 << 20;
  uint64_t done = 0;
  while (done < len) {
    size_t got = 0;
    Status s = rt::ReadAt(fd, dst + done, std::min(kChunk, len - done), offset + done,
                          io::IoClass::kOther, &got, path);
    if (!s.ok()) return s;
    if (got == 0) {
      return Status::Corruption(ShardName() + ": " + path + " ends at " +
                                std::to_string(offset + done) + " bytes, before the " +
                                std::to_string(offset + len) + " bytes to replay");
    }
    done += got;
  }
  return Status::OK();
}

// REQUIRES: segments are replayed oldest first.
Status Shard::ReplayWal(const WalReplayItem& item, std::string* torn_path) {
  const uint64_t number = item.number;
  RINGDB_ASSERT(replayed_segments_.empty() || replayed_segments_.back().number < number);
  const std::string name = WalFileName(number);
  const std::string path = FilePath(name);
  int fd = -1;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC, 0, &fd);
  if (!s.ok()) return s;
  // The writeback of what a crash left in the page cache overlaps the read and replay.
  SyncReplayedSegment(name);
  // The bytes are read, and what a torn tail or Corruption rests on read again, before
  // anything is replayed (F6; lsm/wal_segment_read.h, shared with ringdb-tool verify).
  WalSegmentRead seg;
  s = ReadWalSegment(
      item,
      [&](uint64_t offset, char* dst, uint64_t len) {
        return ReadWalRange(fd, path, offset, dst, len);
      },
      ShardName(), versions_.ManifestPath(), path, *torn_path, &seg);
  Status c = rt::Close(fd, path);
  if (s.ok()) s = c;
  if (!s.ok()) return s;
  SequenceNumber seg_max = 0;
  MemTable* mem = mem_.get();
  for (const WalRecord& rec : seg.records) {
    if (rec.type != WalRecordType::kBatch) {
      return Status::Corruption(path + " offset " + std::to_string(rec.offset) +
                                ": unexpected record type");
    }
    // Within a segment sequences may come in any order (posted writes); every one is
    // above the earlier segments' (a memtable switch waits for every number taken).
    if (rec.first_seq <= replay_prev_max_) {
      return Status::Corruption(path + " offset " + std::to_string(rec.offset) +
                                ": sequence numbers go backwards across segments");
    }
    // WalReader's contract: a batch record's sequence numbers are in range.
    RINGDB_ASSERT(rec.first_seq > 0 && rec.first_seq + rec.count <= kMaxSequenceNumber + 1);
    s = WriteBatchRep::InsertInto(rec.payload, rec.first_seq, mem);
    if (!s.ok()) {
      return Status::Corruption(path + " offset " + std::to_string(rec.offset) + ": " +
                                s.message());
    }
    last_seq_ = std::max<uint64_t>(last_seq_, rec.first_seq + rec.count - 1);
    seg_max = std::max<uint64_t>(seg_max, rec.first_seq + rec.count - 1);
    replayed_.emplace_back(rec.first_seq, rec.count);
    // Long segments: let the reactor run its other fibers (replay is CPU work).
    rt::MaybeYield();
  }
  replay_prev_max_ = std::max(replay_prev_max_, seg_max);
  RINGDB_ASSERT(seg_max <= last_seq_);
  if (!seg.verdict.ok()) return seg.verdict;
  const WalWalk& walk = seg.walk;
  const WalTail& tail = walk.tail;
  // What was replayed lies within what was read of the segment.
  RINGDB_ASSERT(tail.valid_end <= item.read_bytes);
  replayed_segments_.push_back(ReplayedSegment{number, tail.valid_end, seg_max});
  if (tail.kind == WalTail::Kind::kTorn) {
    replay_clean_ = false;
    *torn_path = path;
    RINGDB_LOG_WARN(
        "%s: torn tail at offset %llu (%s): %llu valid records replayed, data from offset %llu "
        "on dropped (read %u more times to be sure)",
        path.c_str(), static_cast<unsigned long long>(tail.bad_offset), tail.reason.c_str(),
        static_cast<unsigned long long>(walk.records),
        static_cast<unsigned long long>(tail.valid_end), seg.rereads);
  } else {
    RINGDB_LOG_DEBUG("%s: replayed %llu records", path.c_str(),
                     static_cast<unsigned long long>(walk.records));
  }
  return Status::OK();
}

Status Shard::ReplayPostLogs(const std::vector<std::string>& logs) {
  if (logs.empty()) return Status::OK();
  std::sort(replayed_.begin(), replayed_.end());
  auto in_wal = [&](SequenceNumber seq) {
    auto it = std::upper_bound(replayed_.begin(), replayed_.end(),
                               std::make_pair(seq, std::numeric_limits<uint32_t>::max()));
    return it != replayed_.begin() && std::prev(it)->first + std::prev(it)->second > seq;
  };
  const SequenceNumber in_tables = versions_.state().last_sequence();
  RINGDB_ASSERT(in_tables <= last_seq_);
  RINGDB_ASSERT(posted_replayed_ == 0);  // once per Open
  uint64_t replayed = 0, skipped = 0;
  for (const std::string& name : logs) {
    std::string data;
    Status s = rt::ReadFileAt(dir_fd_, name.c_str(), FilePath(name), &data);
    if (!s.ok()) return s;
    std::vector<PostedRecord> records;
    s = ParsePostLog(data, FilePath(name), &records);
    if (!s.ok()) {
      // Not a post log of ours (or a header torn by a power loss): nothing in it was
      // acknowledged without also being in the WAL's durable part, as far as a
      // machine crash is concerned.
      RINGDB_LOG_WARN("%s: %s; ignored", FilePath(name).c_str(), s.ToString().c_str());
      continue;
    }
    for (const PostedRecord& r : records) {
      if (r.first_seq <= in_tables || in_wal(r.first_seq)) {
        skipped++;
        continue;
      }
      s = WriteBatchRep::InsertInto(r.rep, r.first_seq, mem_.get());
      if (!s.ok()) {
        return Status::Corruption(FilePath(name) + ": posted write at sequence " +
                                  std::to_string(r.first_seq) + ": " + s.message());
      }
      last_seq_ = std::max<uint64_t>(last_seq_, r.first_seq + r.count - 1);
      replayed++;
    }
  }
  posted_replayed_ = replayed;
  if (replayed > 0) {
    RINGDB_LOG_INFO("%s: replayed %llu posted writes the WAL lacked (%llu already there)",
                    opt_.dir.c_str(), static_cast<unsigned long long>(replayed),
                    static_cast<unsigned long long>(skipped));
  }
  return Status::OK();
}

// REQUIRES: the new segment is open, the new MANIFEST written, and a table written
// from the replay is in the version: none of them may be deleted here.
Status Shard::DeleteObsoleteFiles() {
  RINGDB_ASSERT(wal_.segment_open() && versions_.manifest_number() != 0);
  RINGDB_ASSERT(open_created_table_ == 0 || versions_.IsLive(open_created_table_));
  DirListing ls;
  Status s = ListDir(opt_.dir, &ls);
  if (!s.ok()) return s;
  // Post logs: what they held is in the table written at recovery (writers of this
  // process have not created any yet).
  std::vector<std::string> doomed = ls.temps;
  doomed.insert(doomed.end(), ls.post_logs.begin(), ls.post_logs.end());
  for (uint64_t n : ls.wals) {
    if (n < wal_.number() && !versions_.state().wals().contains(n)) {
      doomed.push_back(WalFileName(n));
    }
  }
  for (uint64_t n : ls.tables) {
    if (!versions_.IsLive(n)) doomed.push_back(TableFileName(n));
  }
  for (uint64_t n : ls.manifests) {
    if (n != versions_.manifest_number()) doomed.push_back(ManifestFileName(n));
  }
  for (const std::string& name : doomed) {
    Status u = rt::UnlinkAt(dir_fd_, name.c_str());
    if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
  }
  return Status::OK();
}

}  // namespace ringdb::lsm
