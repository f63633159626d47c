// Shard: flushing immutable memtables into L0 tables.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lsm/filenames.h"
#include "lsm/io_batch.h"
#include "lsm/shard.h"
#include "lsm/wal_format.h"
#include "lsm/write_behind.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {

void Shard::SwitchForFlush() {
  if (mem_->num_entries() > 0 || queue_head_ != nullptr) {
    // Only the commit fiber switches memtables (it owns the WAL), so ask it; it first
    // commits what is queued.
    switch_requested_ = true;
    commit_wakeup_.Set();
    while (switch_requested_ && !crashed_) {
      switch_done_.Reset();
      switch_done_.Wait();
    }
  }
}

void Shard::FlushLoop() {
  for (;;) {
    if (crashed_) break;
    // While stopping, keep flushing what is immutable: the commit fiber may be stalled
    // on it, and the next Open then has less WAL to replay.
    if (imm_.empty() || !bg_error_.ok()) {
      if (stopping_) break;
      MaybeTrackWal();
      flush_wakeup_.Reset();
      if (opt_.wal_track_interval_ms == 0) {
        flush_wakeup_.Wait();
      } else {
        flush_wakeup_.WaitFor(uint64_t{opt_.wal_track_interval_ms} * 1'000'000);
      }
      continue;
    }
    Status s = FlushOldestImmutable();
    if (!s.ok() && !crashed_) SetBackgroundError(s, flush_retryable_);
    flush_progress_.Set();
    compact_wakeup_.Set();
  }
  flush_progress_.Set();
}

void Shard::MaybeTrackWal() {
  if (opt_.wal_track_interval_ms == 0 || !bg_error_.ok() || stopping_ || crashed_ ||
      !wal_.segment_open()) {
    return;
  }
  const uint64_t number = wal_.number(), synced = wal_.synced_upto();
  const uint64_t now = util::NowNanos();
  if (number == wal_tracked_number_ && synced <= wal_tracked_bytes_) return;
  if (now - wal_tracked_ns_ < uint64_t{opt_.wal_track_interval_ms} * 1'000'000) return;
  VersionEdit edit;
  edit.AddWal(number, WalSegmentMeta{synced, 0, false});
  Status s = versions_.LogAndApply(&edit, {});
  if (!s.ok()) {
    SetBackgroundError(s);
    return;
  }
  wal_tracked_number_ = number;
  wal_tracked_bytes_ = synced;
  wal_tracked_ns_ = now;
}

Status Shard::FlushOldestImmutable() {
  Immutable& m = imm_.front();
  FileMetaData meta;
  TableRef table;
  std::unique_ptr<InternalIterator> it = m.mem->NewIterator();
  flush_retryable_ = false;
  Status s = WriteTable(it.get(), &meta, &table);
  if (!s.ok()) return s;
  VersionEdit edit;
  edit.AddFile(0, meta);
  // Every WAL segment older than the next memtable's is now covered by tables.
  edit.SetLogNumber(imm_.size() > 1 ? imm_[1].wal_number : wal_.number());
  edit.SetNextFileNumber(versions_.next_file_number());
  // Every sequence number up to the memtable's covered one is now in a table (the
  // sources never overlap in sequence); recovery skips post-log records at or below it.
  edit.SetLastSequence(m.covered);
  s = versions_.LogAndApply(&edit, {table});
  if (!s.ok()) {
    tables_.Evict(*table);
    // A MANIFEST record that did not land: the table is unnamed; the next flush
    // (after Resume) writes another and the next Open deletes this one.
    flush_retryable_ = versions_.append_retryable();
    return s;
  }
  std::vector<uint64_t> obsolete = std::move(imm_.front().older_wals);
  obsolete.push_back(imm_.front().wal_number);
  imm_.pop_front();
  PublishView();
  stats_.flushes++;
  stats_.flush_bytes += meta.file_size;
  // The edit that makes the segments obsolete is durable; a failure here leaves a file
  // the next Open deletes.
  for (uint64_t n : obsolete) {
    Status u = rt::UnlinkAt(dir_fd_, WalFileName(n).c_str());
    if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
  }
  return Status::OK();
}

Status Shard::WriteTable(InternalIterator* it, FileMetaData* meta, TableRef* table) {
  const uint64_t number = versions_.NewFileNumber();
  const std::string name = TableFileName(number);
  const std::string path = FilePath(name);
  int fd = -1;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC,
                        0644, &fd);
  if (!s.ok()) {
    flush_retryable_ = true;  // nothing was created
    return s;
  }

  TableBuilder builder(opt_.table);
  builder.KeepDataBlocks();
  {
    WriteBehind wb(fd, io::IoClass::kFlush, path, &pacer_, /*urgent=*/true);
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid() && s.ok(); it->Next()) {
      s = builder.Add(it->key(), it->value());
      if (builder.ready().size() >= kWriteChunkBytes) {
        size_t take = builder.ready().size();
        wb.Write(builder.ready(), builder.ready_offset());
        builder.Consume(take);
      }
      if (++n % 512 == 0) {
        rt::MaybeYield();
        if (crashed_) s = Status::Aborted("shard crashed (test)");
      }
    }
    if (s.ok()) s = it->status();
    if (s.ok()) s = builder.Finish();
    if (s.ok()) {
      size_t take = builder.ready().size();
      wb.Write(builder.ready(), builder.ready_offset());
      builder.Consume(take);
    } else {
      builder.Abandon();
    }
    Status w = wb.Finish();
    if (s.ok()) s = w;
  }
  // Up to here a failure is a write the table's removal undoes (Resume may retry).
  flush_retryable_ = !s.ok();
  if (s.ok()) s = rt::Fdatasync(fd, io::IoClass::kFlush, path);
  Status c = rt::Close(fd, path);
  if (s.ok()) s = c;
  // The table's directory entry must be durable before the MANIFEST names it.
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kFlush, opt_.dir);
  if (s.ok()) s = tables_.Open(number, builder.FileSize(), table);
  if (s.ok() && !(*table)->status.ok()) s = (*table)->status;  // read back damaged
  if (!s.ok()) {
    if (*table != nullptr) tables_.Evict(**table);
    table->reset();
    rt::UnlinkAt(dir_fd_, name.c_str());
    return s;
  }
  // What was just written is what is most likely read next, and it left no copy in the
  // page cache (O_DIRECT): cache its data blocks (RocksDB's prepopulate_block_cache).
  for (TableBuilder::BuiltBlock& b : builder.kept_blocks()) {
    const size_t charge = b.block->charge();
    tables_.blocks().Insert(number, b.handle.offset, std::move(b.block), charge);
  }
  const TableProperties& p = builder.properties();
  meta->number = number;
  meta->file_size = builder.FileSize();
  meta->smallest = p.smallest_key;
  meta->largest = p.largest_key;
  meta->smallest_seq = p.smallest_seq;
  meta->largest_seq = p.largest_seq;
  return Status::OK();
}

}  // namespace ringdb::lsm
