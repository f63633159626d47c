#include "lsm/version_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "io/aligned_buffer.h"
#include "lsm/filenames.h"
#include "lsm/io_batch.h"
#include "lsm/recovery_check.h"
#include "lsm/wal_format.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/coding.h"
#include "util/log.h"

namespace ringdb::lsm {

VersionSet::VersionSet(const VersionSetOptions& opt, int dir_fd, TableCache* tables)
    : opt_(opt), dir_fd_(dir_fd), tables_(tables), current_(std::make_shared<Version>()) {}

VersionSet::~VersionSet() {
  if (manifest_fd_ >= 0) ::close(manifest_fd_);
}

Status VersionSet::Recover(const std::set<uint64_t>& manifests_on_disk,
                           const std::function<Status(const VersionState&)>& check) {
  std::string contents;
  Status s = rt::ReadFileAt(dir_fd_, kCurrentFileName, PathOf(kCurrentFileName), &contents);
  if (!s.ok()) return s;
  s = DecodeCurrent(contents, PathOf(kCurrentFileName), &manifest_number_);
  if (!s.ok()) return s;
  const std::string mname = ManifestFileName(manifest_number_);
  if (manifests_on_disk.count(manifest_number_) == 0) {
    return Status::Corruption(ShardName() + ": " + PathOf(kCurrentFileName) + " names " + mname +
                              ", which does not exist");
  }
  s = ReadManifest(mname);
  if (!s.ok()) return s;
  s = check(state_);
  if (!s.ok()) return s;
  next_file_number_ = std::max(next_file_number_, state_.next_file_number());
  return OpenLiveTables();
}

Status VersionSet::ReadManifest(const std::string& mname) {
  std::string manifest;
  Status s = rt::ReadFileAt(dir_fd_, mname.c_str(), PathOf(mname), &manifest);
  if (!s.ok()) return s;
  ManifestReplay replay;
  uint64_t bad = 0;
  s = ReplayManifest(ShardName(), manifest_number_, manifest, PathOf(mname), &replay, &bad);
  if (!s.ok()) return s;
  state_ = std::move(replay.state);
  if (replay.tail.kind == WalTail::Kind::kTorn) {
    RINGDB_LOG_WARN("%s: %s: torn tail at offset %llu (%s); ignored an unsynced edit",
                    ShardName().c_str(), PathOf(mname).c_str(),
                    static_cast<unsigned long long>(replay.tail.bad_offset),
                    replay.tail.reason.c_str());
  }
  return Status::OK();
}

Status VersionSet::OpenLiveTables() {
  // Every table opens with two reads; open up to 32 at once so a store of many tables
  // reopens at the disk's parallelism, not its latency.
  std::vector<const FileMetaData*> files;
  for (int level = 0; level < kNumLevels; level++) {
    for (const FileMetaData& f : state_.files(level)) files.push_back(&f);
  }
  std::vector<TableRef> opened(files.size());
  std::vector<Status> status(files.size());
  size_t next = 0;
  rt::WaitGroup wg;
  auto worker = [&] {
    while (next < files.size()) {
      const size_t i = next++;
      status[i] = tables_->Open(files[i]->number, files[i]->file_size, &opened[i]);
    }
    wg.Done();
  };
  const size_t workers = std::min<size_t>(files.size(), 32);
  for (size_t w = 0; w < workers; w++) {
    wg.Add(1);
    rt::CurrentReactor()->Spawn(worker, "open_table");
  }
  wg.Wait();
  for (const Status& s : status) {
    if (!s.ok()) return s;
  }
  current_ = Build(opened);
  return Status::OK();
}

VersionPtr VersionSet::Build(const std::vector<TableRef>& added) const {
  std::unordered_map<uint64_t, TableRef> handles;
  for (int level = 0; level < kNumLevels; level++) {
    for (const VersionFile& f : current_->files(level)) handles.emplace(f.meta.number, f.table);
  }
  for (const TableRef& t : added) handles[t->number] = t;
  auto v = std::make_shared<Version>();
  for (int level = 0; level < kNumLevels; level++) {
    std::vector<VersionFile>& out = v->mutable_files(level);
    out.reserve(state_.files(level).size());
    for (const FileMetaData& f : state_.files(level)) {
      auto it = handles.find(f.number);
      RINGDB_ASSERT_MSG(it != handles.end(), "a live table has no open handle");
      out.push_back(VersionFile{f, it->second});
    }
  }
  v->Seal();
  return v;
}

Status VersionSet::ApplyUnlogged(const VersionEdit& edit, const std::vector<TableRef>& added) {
  RINGDB_ASSERT(manifest_fd_ < 0);
  Status s = state_.Apply(edit);
  if (!s.ok()) return s;
  current_ = Build(added);
  return Status::OK();
}

Status VersionSet::AppendRecord(const VersionEdit& edit) {
  std::string payload;
  edit.EncodeTo(&payload);
  std::string bytes;
  {
    WalWriteEncoder enc(manifest_number_, manifest_offset_, manifest_offset_, &bytes);
    enc.AddMeta(payload);
    enc.FinishPadded();
  }
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
  Status s = WriteSyncStatus(wr, &fs, PathOf(ManifestFileName(manifest_number_)));
  if (!s.ok()) {
    append_retryable_ = wr.result < 0 || static_cast<uint64_t>(wr.result) != wr.len;
    return s;
  }
  manifest_offset_ += bytes.size();
  return Status::OK();
}

Status VersionSet::WriteCurrent(uint64_t manifest_number) {
  // CURRENT: write a temp file, sync it, rename over CURRENT, sync the directory.
  const std::string current = EncodeCurrent(manifest_number);
  const std::string tmp_path = PathOf(kCurrentTempFileName);
  int tfd = -1;
  Status s = rt::OpenAt(dir_fd_, kCurrentTempFileName, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0644, &tfd);
  if (!s.ok()) return s;
  s = rt::WriteFull(tfd, current.data(), current.size(), 0, io::IoClass::kManifest, tmp_path);
  if (s.ok()) s = rt::Fsync(tfd, io::IoClass::kManifest, tmp_path);
  Status c = rt::Close(tfd, tmp_path);
  if (s.ok()) s = c;
  if (s.ok()) {
    current_replaced_ = true;
    s = rt::RenameAt(dir_fd_, kCurrentTempFileName, kCurrentFileName);
  }
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kManifest, opt_.dir);
  return s;
}

Status VersionSet::WriteSnapshot(uint64_t log_number, SequenceNumber last_sequence) {
  const uint64_t old_manifest = manifest_number_;
  const int old_fd = manifest_fd_;
  const uint64_t number = NewFileNumber();
  const std::string name = ManifestFileName(number);
  int fd = -1;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC,
                        0644, &fd);
  if (!s.ok()) return s;
  created_manifest_ = number;
  manifest_number_ = number;
  manifest_fd_ = fd;
  manifest_offset_ = 0;

  VersionEdit fields;
  fields.SetLogNumber(log_number);
  fields.SetNextFileNumber(next_file_number_);
  fields.SetLastSequence(last_sequence);
  s = state_.Apply(fields);
  RINGDB_ASSERT(s.ok());
  VersionEdit snapshot;
  state_.EncodeSnapshot(&snapshot);
  s = AppendRecord(snapshot);
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kManifest, opt_.dir);
  if (s.ok()) s = WriteCurrent(number);
  if (old_fd >= 0) rt::Close(old_fd);
  if (s.ok() && old_manifest != 0) {
    Status u = rt::UnlinkAt(dir_fd_, ManifestFileName(old_manifest).c_str());
    if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
  }
  return s;
}

Status VersionSet::LogAndApply(VersionEdit* edit, const std::vector<TableRef>& added) {
  // Flush and compaction fibers both install edits; each must apply to the version the
  // previous one produced and own the MANIFEST's tail while it writes.
  lock_.Acquire();
  struct Release {
    rt::Semaphore* sem;
    ~Release() { sem->Release(); }
  } release{&lock_};
  append_retryable_ = false;
  VersionState next = state_;
  Status s = next.Apply(*edit);
  RINGDB_ASSERT_MSG(s.ok(), "engine produced an invalid version edit");
  s = AppendRecord(*edit);
  if (!s.ok()) return s;
  const VersionPtr old = current_;
  state_ = std::move(next);
  current_ = Build(added);
  for (const auto& [level, number] : edit->deleted_files()) {
    if (current_->Find(number) != nullptr) continue;  // moved to another level
    const VersionFile* f = old->Find(number);
    RINGDB_ASSERT(f != nullptr);
    tables_->Evict(*f->table);
  }
  if (manifest_offset_ >= opt_.manifest_max_bytes) {
    // The edit is durable in the old MANIFEST; a failed rollover leaves that one live
    // (CURRENT still names it unless the rename happened, and then the new one is
    // complete). Either way the shard's state is what was just installed.
    s = WriteSnapshot(state_.log_number(), state_.last_sequence());
    if (!s.ok()) return s;
    rollovers_++;
  }
  return Status::OK();
}

void VersionSet::Capture(VersionState* state, VersionPtr* version, uint64_t* next_file_number) {
  lock_.Acquire();  // an edit being logged is either wholly in the capture or not at all
  *state = state_;
  *version = current_;
  *next_file_number = next_file_number_;
  lock_.Release();
}

Status VersionSet::Close() {
  if (manifest_fd_ < 0) return Status::OK();
  Status s = rt::Close(manifest_fd_);
  manifest_fd_ = -1;
  return s;
}

}  // namespace ringdb::lsm
