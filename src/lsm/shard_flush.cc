// Shard: flushing immutable memtables into L0 tables, and the MANIFEST.
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

void Shard::FlushLoop() {
  for (;;) {
    if (crashed_) break;
    // While stopping, keep flushing what is immutable: the commit fiber may be stalled
    // on it, and the next Open then has less WAL to replay.
    if (imm_.empty() || !bg_error_.ok()) {
      if (stopping_) break;
      flush_wakeup_.Reset();
      flush_wakeup_.Wait();
      continue;
    }
    Status s = FlushOldestImmutable();
    if (!s.ok() && !crashed_) SetBackgroundError(s);
    flush_progress_.Set();
    compact_wakeup_.Set();
  }
  flush_progress_.Set();
}

Status Shard::FlushOldestImmutable() {
  Immutable& m = imm_.front();
  FileMetaData meta;
  std::unique_ptr<InternalIterator> it = m.mem->NewIterator();
  Status s = WriteTable(it.get(), &meta);
  if (!s.ok()) return s;
  VersionEdit edit;
  edit.AddFile(0, meta);
  // Every WAL segment older than the next memtable's is now covered by tables.
  edit.SetLogNumber(imm_.size() > 1 ? imm_[1].wal_number : wal_.number);
  edit.SetNextFileNumber(next_file_number_);
  edit.SetLastSequence(last_seq_);
  s = LogAndApply(&edit);
  if (!s.ok()) return s;
  const uint64_t old_wal = imm_.front().wal_number;
  imm_.pop_front();
  stats_.flushes++;
  stats_.flush_bytes += meta.file_size;
  // The edit that makes the segment obsolete is durable; a failure here leaves a file
  // the next Open deletes.
  Status u = rt::UnlinkAt(dir_fd_, WalFileName(old_wal).c_str());
  if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
  return Status::OK();
}

Status Shard::WriteTable(InternalIterator* it, FileMetaData* meta) {
  const uint64_t number = next_file_number_++;
  const std::string name = TableFileName(number);
  const std::string path = FilePath(name);
  int fd = -1;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC,
                        0644, &fd);
  if (!s.ok()) return s;

  TableBuilder builder(opt_.table);
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
  if (s.ok()) s = rt::Fdatasync(fd, io::IoClass::kFlush, path);
  Status c = rt::Close(fd);
  if (s.ok()) s = c;
  // The table's directory entry must be durable before the MANIFEST names it.
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kFlush, opt_.dir);
  if (!s.ok()) {
    rt::UnlinkAt(dir_fd_, name.c_str());
    return s;
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

Status Shard::LogAndApply(VersionEdit* edit) {
  // Flush and compaction fibers both install edits; each must apply to the version the
  // previous one produced and own the MANIFEST's tail while it writes.
  manifest_lock_.Acquire();
  struct Release {
    rt::Semaphore* sem;
    ~Release() { sem->Release(); }
  } release{&manifest_lock_};
  // A failed MANIFEST write or sync (by the other fiber, while this one waited for the
  // lock) leaves its tail unknown: nothing may be appended after it.
  if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
  VersionState next = version_;
  Status s = next.Apply(*edit);
  RINGDB_ASSERT_MSG(s.ok(), "engine produced an invalid version edit");
  s = AppendManifestRecord(*edit);
  if (!s.ok()) return s;
  version_ = std::move(next);
  return Status::OK();
}

Status Shard::AppendManifestRecord(const VersionEdit& edit) {
  std::string payload;
  edit.EncodeTo(&payload);
  std::string bytes;
  {
    WalWriteEncoder enc(manifest_number_, manifest_offset_, manifest_offset_, &bytes);
    enc.AddMeta(payload);
    enc.FinishPadded();
  }
  const std::string path = FilePath(ManifestFileName(manifest_number_));
  io::AlignedBuffer buf(bytes.size());
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  io::IoRequest wr, fs;
  wr.op = io::IoOp::kWrite;
  wr.io_class = io::IoClass::kManifest;
  wr.fd = manifest_fd_;
  wr.offset = manifest_offset_;
  wr.len = bytes.size();
  wr.buf = buf.data();
  wr.flags = io::IoRequest::kLinkNext;
  fs.op = io::IoOp::kFdatasync;
  fs.io_class = io::IoClass::kManifest;
  fs.fd = manifest_fd_;
  IoBatch batch;
  batch.Add(&wr);
  batch.Add(&fs);
  batch.WaitAll();
  Status s = WriteSyncStatus(wr, &fs, path);
  if (!s.ok()) return s;
  manifest_offset_ += bytes.size();
  return Status::OK();
}

Status Shard::WriteNewManifest() {
  const uint64_t old_manifest = manifest_number_;
  const int old_fd = manifest_fd_;
  const uint64_t number = next_file_number_++;
  const std::string name = ManifestFileName(number);
  int fd = -1;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC,
                        0644, &fd);
  if (!s.ok()) return s;
  manifest_number_ = number;
  manifest_fd_ = fd;
  manifest_offset_ = 0;

  VersionEdit fields;
  fields.SetLogNumber(wal_.number);
  fields.SetNextFileNumber(next_file_number_);
  fields.SetLastSequence(last_seq_);
  s = version_.Apply(fields);
  RINGDB_ASSERT(s.ok());
  VersionEdit snapshot;
  version_.EncodeSnapshot(&snapshot);
  s = AppendManifestRecord(snapshot);
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kManifest, opt_.dir);

  // CURRENT: write a temp file, sync it, rename over CURRENT, sync the directory.
  if (s.ok()) {
    const std::string current = EncodeCurrent(number);
    int tfd = -1;
    s = rt::OpenAt(dir_fd_, kCurrentTempFileName, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644,
                   &tfd);
    if (s.ok()) {
      s = rt::WriteFull(tfd, current.data(), current.size(), 0, io::IoClass::kManifest,
                        FilePath(kCurrentTempFileName));
      if (s.ok()) s = rt::Fsync(tfd, io::IoClass::kManifest, FilePath(kCurrentTempFileName));
      Status c = rt::Close(tfd);
      if (s.ok()) s = c;
    }
    if (s.ok()) s = rt::RenameAt(dir_fd_, kCurrentTempFileName, kCurrentFileName);
    if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kManifest, opt_.dir);
  }
  if (old_fd >= 0) rt::Close(old_fd);
  if (s.ok() && old_manifest != 0) {
    Status u = rt::UnlinkAt(dir_fd_, ManifestFileName(old_manifest).c_str());
    if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
  }
  return s;
}

Status Shard::OpenTable(uint64_t number, uint64_t file_size, std::shared_ptr<Table>* out) {
  const std::string name = TableFileName(number);
  const std::string path = FilePath(name);
  auto t = std::make_shared<Table>();
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC, 0, &t->fd);
  if (!s.ok()) return s;
  if (file_size < kTableAlignBytes || file_size % kTableAlignBytes != 0) {
    return Status::Corruption(path + ": size " + std::to_string(file_size) +
                              " is not a whole number of 4 KiB pages");
  }
  // Footer page first; then the meta region (index, filter, properties).
  const uint64_t footer_bytes = TableReader::FooterReadBytes(file_size);
  io::AlignedBuffer page(footer_bytes);
  s = rt::ReadFull(t->fd, page.data(), footer_bytes, file_size - footer_bytes,
                   io::IoClass::kUserRead, path);
  if (!s.ok()) return s;
  Footer footer;
  s = Footer::DecodeFrom(std::string_view(page.data(), footer_bytes), file_size, &footer);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  const uint64_t meta_start = footer.meta_offset() & ~uint64_t{kTableAlignBytes - 1};
  io::AlignedBuffer meta_buf(file_size - meta_start);
  s = rt::ReadFull(t->fd, meta_buf.data(), file_size - meta_start, meta_start,
                   io::IoClass::kUserRead, path);
  if (!s.ok()) return s;
  std::string meta(meta_buf.data() + (footer.meta_offset() - meta_start),
                   file_size - footer.meta_offset());
  s = TableReader::Open(file_size, footer, std::move(meta), &t->reader);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  t->pinned = t->reader->memory_usage();
  t->cache = &cache_;
  cache_.Pin(t->pinned);
  *out = std::move(t);
  return Status::OK();
}

Status Shard::GetTable(const FileMetaData& f, std::shared_ptr<Table>* out) {
  auto it = tables_.find(f.number);
  if (it != tables_.end()) {
    *out = it->second;
    return Status::OK();
  }
  std::shared_ptr<Table> t;
  Status s = OpenTable(f.number, f.file_size, &t);
  if (!s.ok()) return s;
  // Another fiber may have opened it while this one waited for I/O.
  auto [pos, inserted] = tables_.emplace(f.number, t);
  *out = pos->second;
  return Status::OK();
}

}  // namespace ringdb::lsm
