// Shard: write path (group commit) and lifecycle. Reads live in shard_read.cc, recovery
// in shard_recovery.cc, flush and MANIFEST in shard_flush.cc, compaction in
// shard_compaction.cc.
#include "lsm/shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lsm/filenames.h"
#include "lsm/io_batch.h"
#include "lsm/wal_format.h"
#include "lsm/write_batch_rep.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {
namespace {

// A group commit takes at most this many payload bytes (one larger batch goes alone).
constexpr size_t kMaxGroupBytes = 4 << 20;

}  // namespace

Shard::Table::~Table() {
  // close(2) of a read-only file has nothing to flush; it does not block the reactor.
  if (fd >= 0) ::close(fd);
  if (cache != nullptr) cache->Unpin(pinned);
}

Shard::Shard(const ShardOptions& opt)
    : opt_(opt),
      mem_(std::make_shared<MemTable>()),
      cache_(opt.block_cache_bytes),
      pacer_(opt.pacer) {}

Shard::~Shard() {
  // Normally Close() closed everything through the backend; after Crash() or a failed
  // Open() the descriptors are still here.
  if (wal_.fd >= 0) ::close(wal_.fd);
  if (manifest_fd_ >= 0) ::close(manifest_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
  tables_.clear();  // before cache_ goes: each table unpins its index and filter there
}

Status Shard::Open(const ShardOptions& opt, std::unique_ptr<Shard>* out) {
  std::unique_ptr<Shard> shard(new Shard(opt));
  Status s = shard->Recover();
  if (!s.ok()) return s;
  rt::Reactor* r = rt::CurrentReactor();
  Shard* raw = shard.get();
  raw->fibers_.Add(3);
  r->Spawn(
      [raw] {
        raw->CompactionLoop();
        raw->fibers_.Done();
      },
      "compaction");
  r->Spawn(
      [raw] {
        raw->CommitLoop();
        raw->fibers_.Done();
      },
      "commit");
  r->Spawn(
      [raw] {
        raw->FlushLoop();
        raw->fibers_.Done();
      },
      "flush");
  *out = std::move(shard);
  return Status::OK();
}

// ---------------------------------------------------------------------------------
// Write path

void Shard::SubmitWrite(WriteRequest* w) {
  w->next = nullptr;
  w->start_ns = util::NowNanos();
  if (crashed_ || stopping_) {
    w->status = Status::Aborted("shard is closing");
    w->done(w);
    return;
  }
  if (WriteBatchRep::Empty(w->rep)) {
    w->status = Status::OK();
    w->done(w);
    return;
  }
  if (queue_tail_ == nullptr) {
    queue_head_ = queue_tail_ = w;
  } else {
    queue_tail_->next = w;
    queue_tail_ = w;
  }
  queue_len_++;
  commit_wakeup_.Set();
}

void Shard::FailQueued(const Status& s) {
  WriteRequest* w = queue_head_;
  queue_head_ = queue_tail_ = nullptr;
  queue_len_ = 0;
  while (w != nullptr) {
    WriteRequest* next = w->next;  // done() may free w
    w->status = s;
    const uint64_t count = WriteBatchRep::Count(w->rep);
    RecordOp(w->kind, w->start_ns, s, count);
    if (s.ok()) stats_.user_bytes_written += w->rep.size() - WriteBatchRep::kHeaderBytes;
    w->done(w);
    w = next;
  }
}

void Shard::SetBackgroundError(const Status& s) {
  if (!bg_error_.ok() || s.ok()) return;
  bg_error_ = s;
  RINGDB_LOG_ERROR("shard %u is now read-only: %s", opt_.shard_id, s.ToString().c_str());
  flush_progress_.Set();  // stalled writers re-check and see the error
}

void Shard::CommitLoop() {
  const uint64_t period_ns = uint64_t{opt_.periodic_sync_ms} * 1'000'000;
  for (;;) {
    if (crashed_) {
      DrainGroups();
      FailQueued(Status::Aborted("shard crashed (test)"));
      return;
    }
    if (switch_requested_) {
      if (mem_->num_entries() > 0 && bg_error_.ok()) {
        Status s = SwitchMemtable();
        (void)s;  // a failure is the background error now
      }
      switch_requested_ = false;
      switch_done_.Set();
      continue;
    }
    if (queue_head_ == nullptr) {
      if (stopping_) {
        DrainGroups();
        return;
      }
      if (opt_.durability == Durability::kPeriodic && bg_error_.ok() &&
          wal_.synced_upto < wal_.write_offset) {
        uint64_t now = util::NowNanos(), deadline = last_sync_ns_ + period_ns;
        if (now >= deadline) {
          Status s = SyncWal();
          if (!s.ok()) SetBackgroundError(s);
          continue;
        }
        commit_wakeup_.Reset();
        commit_wakeup_.WaitFor(deadline - now);
        continue;
      }
      commit_wakeup_.Reset();
      commit_wakeup_.Wait();
      continue;
    }
    if (!bg_error_.ok()) {
      FailQueued(Status::ReadOnly("shard " + std::to_string(opt_.shard_id) +
                                  " is read-only after an earlier error: " + bg_error_.ToString()));
      continue;
    }
    // Backpressure: too many L0 files slow writes down, then stop them, until
    // compaction catches up. The time is counted as stall.
    if (WriteStall ws = L0WriteStall(version_, opt_.compaction); ws != WriteStall::kNone) {
      const uint64_t t0 = util::NowNanos();
      compact_wakeup_.Set();
      if (ws == WriteStall::kStop) {
        compact_progress_.Reset();
        compact_progress_.WaitFor(10'000'000);
      } else {
        rt::SleepFor(1'000'000);
      }
      stats_.stall_ns += util::NowNanos() - t0;
      stats_.stalls++;
      if (ws == WriteStall::kStop) continue;
    }
    // Take every queued request, up to kMaxGroupBytes, as one group.
    WriteRequest* head = queue_head_;
    WriteRequest* last = head;
    size_t n = 1, bytes = head->rep.size();
    while (last->next != nullptr && bytes + last->next->rep.size() <= kMaxGroupBytes) {
      last = last->next;
      bytes += last->rep.size();
      n++;
    }
    queue_head_ = last->next;
    if (queue_head_ == nullptr) queue_tail_ = nullptr;
    last->next = nullptr;
    queue_len_ -= n;

    if (wal_direct()) {
      // Pipelined: up to kMaxGroupsInFlight groups, each a write + linked fdatasync,
      // acknowledged in order by CompleteGroups() as their I/O completes.
      while (inflight_.size() >= kMaxGroupsInFlight) {
        inflight_progress_.Reset();
        inflight_progress_.Wait();
      }
      Status s = bg_error_.ok() ? MakeRoomForWrite()
                                : Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
      if (s.ok()) s = IssueGroup(head);
      if (s.ok()) continue;
      CompleteRequests(head, s);
      continue;
    }
    Status s = MakeRoomForWrite();
    if (s.ok()) s = CommitGroup(head, n);
    for (WriteRequest* w = head; w != nullptr;) {
      WriteRequest* next = w->next;
      w->status = s;
      w->done(w);
      w = next;
    }
  }
}

void Shard::CompleteRequests(WriteRequest* head, const Status& s) {
  for (WriteRequest* w = head; w != nullptr;) {
    WriteRequest* next = w->next;  // done() may free w
    w->status = s;
    w->done(w);
    w = next;
  }
}

Status Shard::IssueGroup(WriteRequest* head) {
  std::unique_ptr<InflightGroup> g;
  if (!spare_groups_.empty()) {
    g = std::move(spare_groups_.back());
    spare_groups_.pop_back();
  } else {
    g = std::make_unique<InflightGroup>();
  }
  g->shard = this;
  g->head = head;
  g->first_seq = next_seq_;
  g->n = 0;
  SequenceNumber seq = next_seq_;
  {
    // Each group starts on a fresh 4 KiB page, so groups in flight never share a page
    // and a later group's write cannot disturb an earlier group's bytes.
    WalWriteEncoder enc(wal_.number, wal_.write_offset, durable_upto_, &encode_buf_);
    for (WriteRequest* w = head; w != nullptr; w = w->next) {
      enc.AddBatch(seq, w->rep);
      seq += WriteBatchRep::Count(w->rep);
      g->n++;
    }
    enc.FinishPadded();
  }
  const size_t len = encode_buf_.size();
  if (opt_.wal_preallocate_bytes > 0 && wal_.write_offset + len > wal_.allocated) {
    uint64_t grow = std::max<uint64_t>(opt_.wal_preallocate_bytes, len);
    Status s = rt::Fallocate(wal_.fd, 0, wal_.allocated, grow, FilePath(WalFileName(wal_.number)));
    if (!s.ok() && !s.IsNotSupported()) {
      SetBackgroundError(s);
      spare_groups_.push_back(std::move(g));
      return s;
    }
    wal_.allocated += grow;
  }
  if (g->buf.capacity() < len) g->buf.Reset(std::max<size_t>(len, 64 << 10));
  std::memcpy(g->buf.data(), encode_buf_.data(), len);
  g->offset = wal_.write_offset;
  g->len = len;
  g->pending = 2;
  g->done = false;
  g->wr = io::IoRequest();
  g->wr.op = io::IoOp::kWrite;
  g->wr.io_class = io::IoClass::kWal;
  g->wr.flags = io::IoRequest::kLinkNext;
  g->wr.fd = wal_.fd;
  g->wr.offset = g->offset;
  g->wr.len = len;
  g->wr.buf = g->buf.data();
  g->wr.done = &Shard::OnGroupIo;
  g->wr.user = g.get();
  g->fs = io::IoRequest();
  g->fs.op = io::IoOp::kFdatasync;
  g->fs.io_class = io::IoClass::kWal;
  g->fs.fd = wal_.fd;
  g->fs.done = &Shard::OnGroupIo;
  g->fs.user = g.get();
  wal_.write_offset += len;
  next_seq_ = seq;
  rt::Reactor* r = rt::CurrentReactor();
  r->PrepareIo(&g->wr);
  r->PrepareIo(&g->fs);
  inflight_.push_back(std::move(g));
  pacer_.ForegroundStarted();
  return Status::OK();
}

void Shard::OnGroupIo(io::IoRequest* req) {
  auto* g = static_cast<InflightGroup*>(req->user);
  if (--g->pending > 0) return;
  g->done = true;
  g->shard->CompleteGroups();
}

void Shard::CompleteGroups() {
  while (!inflight_.empty() && inflight_.front()->done) {
    std::unique_ptr<InflightGroup> g = std::move(inflight_.front());
    inflight_.pop_front();
    pacer_.ForegroundDone();
    const std::string path = FilePath(WalFileName(wal_.number));
    Status s = WriteSyncStatus(g->wr, &g->fs, path);
    if (crashed_) {
      s = Status::Aborted("shard crashed (test)");
    } else if (!s.ok()) {
      SetBackgroundError(s);
    } else if (!bg_error_.ok()) {
      // An earlier group failed: this one's bytes may be durable, but recovery drops
      // them (they follow a break in the log), so it must not be acknowledged.
      s = Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
    }
    if (s.ok()) {
      SequenceNumber seq = g->first_seq;
      for (WriteRequest* w = g->head; w != nullptr; w = w->next) {
        Status a = WriteBatchRep::InsertInto(w->rep, seq, mem_.get());
        RINGDB_ASSERT_MSG(a.ok(), "a validated batch failed to apply");
        seq += WriteBatchRep::Count(w->rep);
      }
      last_seq_ = seq - 1;
      durable_upto_ = g->offset + g->len;
      wal_.synced_upto = durable_upto_;
      last_sync_ns_ = util::NowNanos();
      stats_.writes += g->n;
      stats_.write_groups++;
      stats_.wal_syncs++;
      stats_.wal_bytes += g->len;
      stats_.group_size.Record(g->n);
    }
    WriteRequest* head = g->head;
    g->head = nullptr;
    spare_groups_.push_back(std::move(g));
    CompleteRequests(head, s);
  }
  inflight_progress_.Set();
}

void Shard::DrainGroups() {
  while (!inflight_.empty()) {
    inflight_progress_.Reset();
    inflight_progress_.Wait();
  }
}

Status Shard::CommitGroup(WriteRequest* head, size_t n) {
  bool sync = opt_.durability == Durability::kSync;
  for (WriteRequest* w = head; w != nullptr; w = w->next) sync |= w->sync;
  if (opt_.durability == Durability::kPeriodic &&
      util::NowNanos() - last_sync_ns_ >= uint64_t{opt_.periodic_sync_ms} * 1'000'000) {
    sync = true;
  }
  const SequenceNumber first_seq = last_seq_ + 1;
  SequenceNumber seq = first_seq;
  if (wal_direct()) {
    // O_DIRECT: the group is one write from a 4 KiB boundary, zero-padded to the next.
    WalWriteEncoder enc(wal_.number, wal_.write_offset, wal_.synced_upto, &encode_buf_);
    for (WriteRequest* w = head; w != nullptr; w = w->next) {
      enc.AddBatch(seq, w->rep);
      seq += WriteBatchRep::Count(w->rep);
    }
    enc.FinishPadded();
  } else {
    // Buffered: records follow each other without padding (docs/wal.md allows both).
    encode_buf_.clear();
    WalRecord meta;
    meta.type = WalRecordType::kBatch;
    meta.synced_upto = wal_.synced_upto & ~uint64_t{kWalBlockBytes - 1};
    for (WriteRequest* w = head; w != nullptr; w = w->next) {
      meta.count = WriteBatchRep::Count(w->rep);
      meta.first_seq = seq;
      EncodeRecord(wal_.number, wal_.write_offset + encode_buf_.size(), meta, w->rep, &encode_buf_);
      seq += meta.count;
    }
  }
  pacer_.ForegroundStarted();
  Status s = WriteWal(encode_buf_, sync);
  pacer_.ForegroundDone();
  if (!s.ok()) {
    if (!crashed_) SetBackgroundError(s);
    return s;
  }
  seq = first_seq;
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    s = WriteBatchRep::InsertInto(w->rep, seq, mem_.get());
    RINGDB_ASSERT_MSG(s.ok(), "a validated batch failed to apply");
    seq += WriteBatchRep::Count(w->rep);
  }
  last_seq_ = seq - 1;
  next_seq_ = seq;
  stats_.writes += n;
  stats_.write_groups++;
  stats_.group_size.Record(n);
  return Status::OK();
}

Status Shard::WriteWal(const std::string& bytes, bool sync) {
  const std::string path = FilePath(WalFileName(wal_.number));
  const size_t len = bytes.size();
  if (opt_.wal_preallocate_bytes > 0 && wal_.write_offset + len > wal_.allocated) {
    uint64_t grow = std::max<uint64_t>(opt_.wal_preallocate_bytes, len);
    Status s = rt::Fallocate(wal_.fd, 0, wal_.allocated, grow, path);
    if (!s.ok() && !s.IsNotSupported()) return s;
    wal_.allocated += grow;
  }
  const void* src = bytes.data();
  if (wal_direct()) {  // O_DIRECT needs an aligned buffer
    if (wal_buf_.capacity() < len) wal_buf_.Reset(std::max<size_t>(len, 64 << 10));
    std::memcpy(wal_buf_.data(), bytes.data(), len);
    src = wal_buf_.data();
  }

  io::IoRequest wr, fs;
  wr.op = io::IoOp::kWrite;
  wr.io_class = io::IoClass::kWal;
  wr.fd = wal_.fd;
  wr.offset = wal_.write_offset;
  wr.len = len;
  wr.buf = const_cast<void*>(src);
  if (sync) {
    wr.flags = io::IoRequest::kLinkNext;
    fs.op = io::IoOp::kFdatasync;
    fs.io_class = io::IoClass::kWal;
    fs.fd = wal_.fd;
  }
  IoBatch batch;
  batch.Add(&wr);
  if (sync) batch.Add(&fs);
  batch.WaitAll();
  Status s = WriteSyncStatus(wr, sync ? &fs : nullptr, path);
  if (!s.ok()) return s;
  wal_.write_offset += len;
  stats_.wal_bytes += len;
  if (sync) {
    wal_.synced_upto = wal_.write_offset;
    last_sync_ns_ = util::NowNanos();
    stats_.wal_syncs++;
  }
  return Status::OK();
}

Status Shard::SyncWal() {
  const std::string path = FilePath(WalFileName(wal_.number));
  uint64_t upto = wal_.write_offset;
  Status s = rt::Fdatasync(wal_.fd, io::IoClass::kWal, path);
  if (!s.ok()) return s;
  wal_.synced_upto = std::max(wal_.synced_upto, upto);
  last_sync_ns_ = util::NowNanos();
  stats_.wal_syncs++;
  return Status::OK();
}

Status Shard::MakeRoomForWrite() {
  if (mem_->ApproximateMemoryUsage() < opt_.memtable_bytes) return Status::OK();
  return SwitchMemtable();
}

Status Shard::SwitchMemtable() {
  DrainGroups();  // the old segment's writes must be done before it is closed
  if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
  uint64_t stall_start = 0;
  while (imm_.size() >= opt_.max_immutable_memtables && bg_error_.ok() && !crashed_) {
    if (stall_start == 0) {
      stall_start = util::NowNanos();
      RINGDB_LOG_DEBUG("shard %u: writes stalled, %zu immutable memtables wait for flush",
                       opt_.shard_id, imm_.size());
    }
    flush_wakeup_.Set();
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (stall_start != 0) {
    stats_.stall_ns += util::NowNanos() - stall_start;
    stats_.stalls++;
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());

  WalSegment seg;
  Status s = NewWalSegment(&seg);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  // Invariant (relied on by FlushOldestImmutable's log number): every memtable's WAL
  // segment is either wal_ or recorded in imm_. So the switch of segment and memtable
  // happens without a suspension in between; only then is the old segment closed.
  WalSegment old = wal_;
  wal_ = seg;
  durable_upto_ = 0;
  imm_.push_back(Immutable{std::move(mem_), old.number});
  mem_ = std::make_shared<MemTable>();
  flush_wakeup_.Set();
  // kSync: every byte of the old segment is synced already. kPeriodic: sync it now so
  // the period bound holds. kNone: the flush makes its contents durable.
  s = CloseWalSegment(&old, opt_.durability == Durability::kPeriodic);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  return Status::OK();
}

Status Shard::NewWalSegment(WalSegment* seg) {
  seg->number = next_file_number_++;
  const std::string name = WalFileName(seg->number);
  const std::string path = FilePath(name);
  int fd = -1;
  const int direct = wal_direct() ? O_DIRECT : 0;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | direct | O_CLOEXEC,
                        0644, &fd);
  if (!s.ok()) return s;
  seg->fd = fd;
  seg->write_offset = seg->synced_upto = 0;
  seg->allocated = 0;
  if (opt_.wal_preallocate_bytes > 0) {
    s = rt::Fallocate(fd, 0, 0, opt_.wal_preallocate_bytes, path);
    if (s.ok()) {
      seg->allocated = opt_.wal_preallocate_bytes;
    } else if (!s.IsNotSupported()) {
      return s;
    }
  }
  // The segment's directory entry must be durable before a write in it is acknowledged.
  return rt::Fsync(dir_fd_, io::IoClass::kWal, opt_.dir);
}

Status Shard::CloseWalSegment(WalSegment* seg, bool sync) {
  Status s;
  if (sync && seg->synced_upto < seg->write_offset) {
    s = rt::Fdatasync(seg->fd, io::IoClass::kWal, FilePath(WalFileName(seg->number)));
  }
  Status c = rt::Close(seg->fd);
  seg->fd = -1;
  return s.ok() ? c : s;
}

// ---------------------------------------------------------------------------------
// Lifecycle

Status Shard::Flush() {
  if (!bg_error_.ok()) return bg_error_;
  if (mem_->num_entries() > 0) {
    // Only the commit fiber switches memtables (it owns the WAL), so ask it.
    switch_requested_ = true;
    commit_wakeup_.Set();
    while (switch_requested_ && !crashed_) {
      switch_done_.Reset();
      switch_done_.Wait();
    }
  }
  flush_wakeup_.Set();
  while (!imm_.empty() && bg_error_.ok() && !crashed_) {
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  return bg_error_;
}

Status Shard::Close() {
  stopping_ = true;
  compact_wakeup_.Set();
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
  Status s = bg_error_;
  if (s.ok() && wal_.fd >= 0 && wal_.synced_upto < wal_.write_offset) s = SyncWal();
  if (wal_.fd >= 0) {
    Status c = rt::Close(wal_.fd);
    wal_.fd = -1;
    if (s.ok()) s = c;
  }
  if (manifest_fd_ >= 0) {
    Status c = rt::Close(manifest_fd_);
    manifest_fd_ = -1;
    if (s.ok()) s = c;
  }
  tables_.clear();
  if (dir_fd_ >= 0) {
    rt::Close(dir_fd_);
    dir_fd_ = -1;
  }
  if (rt::CurrentReactor()->io_trace_running()) {
    Status t = rt::CurrentReactor()->StopIoTrace();
    if (!t.ok()) RINGDB_LOG_WARN("shard %u: I/O trace: %s", opt_.shard_id, t.ToString().c_str());
  }
  return s;
}

void Shard::Crash() {
  crashed_ = true;
  stopping_ = true;
  switch_done_.Set();
  compact_wakeup_.Set();
  FailQueued(Status::Aborted("shard crashed (test)"));
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
}

bool Shard::IsLiveFile(uint64_t number) const {
  for (int level = 0; level < kNumLevels; level++) {
    for (const FileMetaData& f : version_.files(level)) {
      if (f.number == number) return true;
    }
  }
  return false;
}

void Shard::GetStats(ShardStats* out) const {
  // Filled in place: the stats hold histograms too big for a fiber's stack.
  ShardStats& st = *out;
  st = stats_;
  st.memtable_bytes = mem_->ApproximateMemoryUsage();
  st.immutable_memtables = imm_.size();
  st.l0_files = version_.files(0).size();
  for (int l = 0; l < kNumLevels; l++) st.level_files[l] = version_.files(l).size();
  st.cache_bytes = cache_.usage();
  st.cache_hits = cache_.hits();
  st.cache_misses = cache_.misses();
  st.immutable_memtable_bytes = 0;
  for (const Immutable& m : imm_) st.immutable_memtable_bytes += m.mem->ApproximateMemoryUsage();
  for (int l = 0; l < kNumLevels && l < kStatsLevels; l++) {
    st.level_bytes[l] = 0;
    for (const FileMetaData& f : version_.files(l)) st.level_bytes[l] += f.file_size;
  }
  if (rt::Reactor* r = rt::CurrentReactor()) r->FillStats(&st);
}

}  // namespace ringdb::lsm
