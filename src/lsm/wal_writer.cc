#include "lsm/wal_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "lsm/filenames.h"
#include "lsm/io_batch.h"
#include "lsm/wal_format.h"
#include "lsm/write_batch_rep.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {

WalWriter::WalWriter(const WalWriterOptions& opt, std::string dir, int dir_fd, IoPacer* pacer)
    : opt_(opt), dir_(std::move(dir)), dir_fd_(dir_fd), pacer_(pacer) {}

WalWriter::~WalWriter() {
  // Normally CloseSegment() closed it through the backend; after a crash (test) or a
  // failed Open it is still here.
  if (seg_.fd >= 0) ::close(seg_.fd);
}

Status WalWriter::CreateSegment(uint64_t number, Segment* out) {
  const std::string name = WalFileName(number);
  Segment seg;
  seg.number = number;
  seg.path = dir_ + "/" + name;
  const int direct = opt_.direct ? O_DIRECT : 0;
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | direct | O_CLOEXEC,
                        0644, &seg.fd);
  if (!s.ok()) return s;
  // Direct mode: the zero-fill fiber grows the file with written zeros instead.
  if (opt_.preallocate_bytes > 0 && !opt_.direct) {
    s = Preallocate(&seg, opt_.preallocate_bytes);
  }
  // The segment's directory entry must be durable before a write in it is acknowledged.
  if (s.ok()) s = rt::Fsync(dir_fd_, io::IoClass::kWal, dir_);
  if (!s.ok()) {
    // Nothing was written to it: remove it, so that a full disk is not kept full.
    rt::Close(seg.fd, seg.path);
    rt::UnlinkAt(dir_fd_, name.c_str());
    return s;
  }
  *out = std::move(seg);
  return Status::OK();
}

Status WalWriter::Preallocate(Segment* seg, uint64_t want) {
  // A disk too full for the whole preallocation still has room to work: halve it down
  // to kMinPreallocateBytes, then write without one (each write allocates its space).
  constexpr uint64_t kMinPreallocateBytes = 1 << 20;
  for (uint64_t len = want;; len /= 2) {
    Status s = rt::Fallocate(seg->fd, 0, seg->allocated, len, seg->path);
    if (s.ok()) {
      if (len < want) {
        RINGDB_LOG_WARN("%s: preallocated %llu bytes, not %llu: the disk is nearly full",
                        seg->path.c_str(), static_cast<unsigned long long>(len),
                        static_cast<unsigned long long>(want));
      }
      seg->allocated += len;
      return s;
    }
    if (!s.IsNotSupported() && !s.IsNoSpace()) return s;
    if (s.IsNotSupported() || len / 2 < kMinPreallocateBytes) {
      if (s.IsNoSpace()) {
        RINGDB_LOG_WARN("%s: no room to preallocate (%s); writing without", seg->path.c_str(),
                        s.ToString().c_str());
      }
      // Stop trying for this segment: its writes allocate their own space.
      seg->allocated = std::numeric_limits<uint64_t>::max();
      return Status::OK();
    }
  }
}

WalWriter::Segment WalWriter::Swap(Segment next) {
  RINGDB_ASSERT(inflight_.empty() && !zero_in_flight_);
  Segment old = std::move(seg_);
  seg_ = std::move(next);
  zeroed_ = seg_.allocated;
  if (zero_wakeup_ != nullptr) zero_wakeup_->Set();
  return old;
}

Status WalWriter::OpenSegment(uint64_t number) {
  RINGDB_ASSERT(seg_.fd < 0);
  Segment seg;
  Status s = CreateSegment(number, &seg);
  if (s.ok()) Swap(std::move(seg));
  return s;
}

Status WalWriter::Close(Segment* seg, bool sync) {
  if (seg->fd < 0) return Status::OK();
  Status s;
  if (sync && seg->synced_upto < seg->write_offset) {
    s = rt::Fdatasync(seg->fd, io::IoClass::kWal, seg->path);
    if (s.ok()) {
      seg->synced_upto = seg->write_offset;
      last_sync_ns_ = util::NowNanos();
      syncs_++;
    }
  }
  Status c = rt::Close(seg->fd, seg->path);
  seg->fd = -1;
  return s.ok() ? c : s;
}

Status WalWriter::CloseSegment(bool sync) {
  RINGDB_ASSERT(inflight_.empty());
  Segment old = Swap(Segment());
  return Close(&old, sync);
}

Status WalWriter::Sync() {
  RINGDB_ASSERT(inflight_.empty());
  const uint64_t upto = seg_.write_offset;
  Status s = rt::Fdatasync(seg_.fd, io::IoClass::kWal, seg_.path);
  if (!s.ok()) return s;
  seg_.synced_upto = std::max(seg_.synced_upto, upto);
  last_sync_ns_ = util::NowNanos();
  syncs_++;
  return Status::OK();
}

WalGroup* WalWriter::NewGroup() {
  if (spare_.empty()) {
    groups_.push_back(std::make_unique<WalGroup>());
    spare_.push_back(groups_.back().get());
  }
  WalGroup* g = spare_.back();
  spare_.pop_back();
  g->owner = this;
  g->head = nullptr;
  g->requests = 0;
  g->applied = false;
  g->status = Status::OK();
  return g;
}

void WalWriter::Recycle(WalGroup* g) {
  g->head = nullptr;
  spare_.push_back(g);
}

void WalWriter::Encode(WalGroup* g, WriteRequest* head) {
  RINGDB_ASSERT(seg_.fd >= 0);
  g->head = head;
  g->segment = seg_.number;
  size_t n = 0;
  if (opt_.direct) {
    // Each group starts on a fresh page, so groups in flight never share a page and a
    // later group's write cannot disturb an earlier group's bytes.
    WalWriteEncoder enc(seg_.number, seg_.write_offset,
                        seg_.synced_upto & ~uint64_t{kWalBlockBytes - 1}, &encode_buf_);
    for (WriteRequest* w = head; w != nullptr; w = w->next, n++) enc.AddBatch(w->first_seq, w->rep);
    enc.FinishPadded();
    if (g->direct_buf.capacity() < encode_buf_.size()) {
      g->direct_buf.Reset(std::max<size_t>(encode_buf_.size(), 64 << 10));
    }
    std::memcpy(g->direct_buf.data(), encode_buf_.data(), encode_buf_.size());
    g->len = encode_buf_.size();
  } else {
    g->bytes.clear();
    WalRecord meta;
    meta.type = WalRecordType::kBatch;
    // Exact, not rounded down: a WriteOptions::sync write in the last page is then
    // proven durable by the next record, whatever damage lies before it (docs/wal.md).
    meta.synced_upto = seg_.synced_upto;
    for (WriteRequest* w = head; w != nullptr; w = w->next, n++) {
      meta.count = WriteBatchRep::Count(w->rep);
      meta.first_seq = w->first_seq;
      EncodeRecord(seg_.number, seg_.write_offset + g->bytes.size(), meta, w->rep, &g->bytes);
    }
    g->len = g->bytes.size();
  }
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    const uint32_t count = WriteBatchRep::Count(w->rep);
    if (count > 0) seg_.max_seq = std::max<SequenceNumber>(seg_.max_seq, w->first_seq + count - 1);
  }
  g->requests = n;
  g->offset = seg_.write_offset;
}

Status WalWriter::Grow(uint64_t len) {
  if (opt_.direct) {
    // Never write under a zero-fill still in flight: it could land after the group.
    while (zero_in_flight_ && seg_.write_offset < zero_end_ &&
           seg_.write_offset + len > zero_start_) {
      zero_done_.Reset();
      zero_done_.Wait();
    }
    if (zero_wakeup_ != nullptr) zero_wakeup_->Set();
    return Status::OK();
  }
  if (opt_.preallocate_bytes == 0 || seg_.write_offset + len <= seg_.allocated) {
    return Status::OK();
  }
  const uint64_t grow = std::max<uint64_t>(opt_.preallocate_bytes, len);
  return Preallocate(&seg_, grow);
}

Status WalWriter::Issue(WalGroup* g, bool sync) {
  RINGDB_ASSERT(g->offset == seg_.write_offset);
  Status s = Grow(g->len);
  if (!s.ok()) return s;
  // Buffered: an earlier group's write still in flight may not be in the page cache
  // yet, and an fdatasync started now would not cover it; if that write were then lost
  // with the power, recovery would stop at the hole, before this synced group (or see
  // it and report corruption). Let those writes land first; their own fdatasyncs, if
  // any, may still be running. Only synced groups wait, and buffered writes are quick.
  if (sync && !opt_.direct) WaitWritesLanded();
  // kSync (O_DIRECT): the write itself is durable on completion (RWF_DSYNC), one device
  // round trip and no io_uring worker for an fdatasync; every earlier group was written
  // the same way, so the segment is durable up to this group's end once the earlier
  // ones completed too. Buffered: a linked fdatasync, which also covers the earlier,
  // unsynced writes of the segment.
  const bool linked_sync = sync && !opt_.direct;
  g->sync = sync;
  g->pending = linked_sync ? 2 : 1;
  g->pending_sync = linked_sync;
  g->written = false;
  g->done = false;
  g->wr = io::IoRequest();
  g->wr.op = io::IoOp::kWrite;
  g->wr.io_class = io::IoClass::kWal;
  g->wr.flags = linked_sync ? io::IoRequest::kLinkNext : 0;
  if (sync && opt_.direct) g->wr.flags = io::IoRequest::kDsync;
  // Buffered and unsynced: a copy into the page cache, done at the reactor's submit
  // (io_uring would hand it to a worker thread on ext4), completed in the same pass.
  if (!opt_.direct && !linked_sync && g->len <= kInlineWriteMax) {
    g->wr.flags |= io::IoRequest::kInline;
  }
  g->wr.fd = seg_.fd;
  g->wr.offset = g->offset;
  g->wr.len = g->len;
  g->wr.buf = opt_.direct ? g->direct_buf.data() : g->bytes.data();
  g->wr.done = &WalWriter::OnIo;
  g->wr.user = g;
  rt::Reactor* r = rt::CurrentReactor();
  r->PrepareIo(&g->wr);
  if (linked_sync) {
    g->fs = io::IoRequest();
    g->fs.op = io::IoOp::kFdatasync;
    g->fs.io_class = io::IoClass::kWal;
    g->fs.fd = seg_.fd;
    g->fs.done = &WalWriter::OnIo;
    g->fs.user = g;
    r->PrepareIo(&g->fs);
  }
  seg_.write_offset += g->len;
  inflight_.push_back(g);
  pacer_->ForegroundStarted();
  return Status::OK();
}

void WalWriter::OnIo(io::IoRequest* req) {
  auto* g = static_cast<WalGroup*>(req->user);
  WalWriter* w = g->owner;
  if (req == &g->wr) {
    g->written = true;
    w->progress_.Set();  // a synced group may be waiting for this write (Issue)
  }
  if (--g->pending > 0) return;
  w->Finish(g);
  if (w->inflight_.front()->done && w->on_complete_ != nullptr)
    w->on_complete_(w->on_complete_arg_);
  w->progress_.Set();
}

void WalWriter::Finish(WalGroup* g) {
  g->done = true;
  pacer_->ForegroundDone();
  g->status = WriteSyncStatus(g->wr, g->pending_sync ? &g->fs : nullptr, seg_.path);
  g->write_failed = g->wr.result < 0 || static_cast<uint64_t>(g->wr.result) != g->wr.len;
}

WalGroup* WalWriter::PopCompleted() {
  if (inflight_.empty() || !inflight_.front()->done) return nullptr;
  WalGroup* g = inflight_.front();
  inflight_.pop_front();
  if (!g->status.ok() && g->segment == seg_.number && !seg_.broken()) {
    seg_.break_offset = g->offset;
  }
  if (g->status.ok() && g->segment == seg_.number && !seg_.broken()) {
    for (const WriteRequest* w = g->head; w != nullptr; w = w->next) {
      const uint32_t count = WriteBatchRep::Count(w->rep);
      if (count > 0) seg_.good_max_seq = std::max(seg_.good_max_seq, w->first_seq + count - 1);
    }
  }
  if (g->status.ok()) {
    bytes_written_ += g->len;
    // Groups complete in any order, but a synced group proves the segment durable up
    // to its end only once every earlier group is done too: advance in WAL order.
    // Never past a failed group: what follows it is not part of the log.
    if (g->sync && g->segment == seg_.number && !seg_.broken()) {
      seg_.synced_upto = std::max(seg_.synced_upto, g->offset + g->len);
      last_sync_ns_ = util::NowNanos();
      syncs_++;
    }
  }
  return g;
}

void WalWriter::WaitZeroIdle() {
  while (zero_in_flight_) {
    zero_done_.Reset();
    zero_done_.Wait();
  }
}

void WalWriter::ZeroAheadLoop(const std::function<bool()>& stop, rt::Event* wakeup) {
  // How far ahead of the write position to keep zeroed space, and in what steps (a
  // 1 MiB sequential write costs about what one 4 KiB synced write does). The lead
  // grows with what the segment has taken, from 2 MiB to 16 MiB: a new segment's whole
  // lead, written at once, competes with its first synced groups for the disk (a fresh
  // DB's first 24,000 synced writes from 16 threads: median 35.9K/s with a 16 MiB lead
  // from the start, 39.8K/s with 2 MiB, seven alternating pairs on the 2-vCPU VM),
  // while a segment that fills fast soon gets the full lead.
  constexpr uint64_t kAheadMin = 2 << 20, kAheadMax = 16 << 20;
  constexpr uint64_t kChunk = 1 << 20;
  constexpr uint64_t kSyncEvery = 8 << 20;
  zero_wakeup_ = wakeup;
  io::AlignedBuffer zeros(kChunk);
  zeros.Zero();
  uint64_t unsynced = 0;
  // Commits the zeroed extents, so the synced group writes that land there need no
  // journal commit of their own. In flight like a zero write, with an empty range (it
  // holds up no group write): WaitZeroIdle waits for it, so the segment is not swapped
  // out and closed under it (an fdatasync of a closed descriptor, and its error
  // message built from the freed path: TSan, db-powerloss).
  auto sync_zeroed = [&](int fd, const std::string& path) {
    zero_start_ = zero_end_ = 0;
    zero_in_flight_ = true;
    Status s = rt::Fdatasync(fd, io::IoClass::kOther, path);
    zero_in_flight_ = false;
    zero_done_.Set();
    if (!s.ok()) RINGDB_LOG_WARN("%s: zero-fill: %s", path.c_str(), s.ToString().c_str());
    unsynced = 0;
  };
  while (!stop()) {
    const int fd = seg_.fd;
    const uint64_t from = std::max(zeroed_, seg_.write_offset);
    const uint64_t ahead = std::clamp<uint64_t>(seg_.write_offset, kAheadMin, kAheadMax);
    if (fd < 0 || from >= seg_.write_offset + ahead) {
      if (unsynced > 0 && fd >= 0) {
        sync_zeroed(fd, std::string(seg_.path));
        continue;
      }
      wakeup->Reset();
      wakeup->Wait();
      continue;
    }
    pacer_->Acquire(kChunk, /*urgent=*/false);
    // The writer may have moved (or the segment changed) while the pacer held us.
    if (stop() || fd != seg_.fd || std::max(zeroed_, seg_.write_offset) != from) {
      pacer_->Release();
      continue;
    }
    const std::string path = seg_.path;
    zero_start_ = from;
    zero_end_ = from + kChunk;
    zero_in_flight_ = true;
    Status s = rt::WriteFull(fd, zeros.data(), kChunk, from, io::IoClass::kOther, path);
    pacer_->Release();
    zero_in_flight_ = false;
    zero_done_.Set();
    if (!s.ok()) {
      // Only speed is lost: the writer extends the file itself. Retry later.
      RINGDB_LOG_WARN("%s: zero-fill: %s", path.c_str(), s.ToString().c_str());
      rt::SleepFor(100'000'000);
      continue;
    }
    if (fd == seg_.fd) zeroed_ = std::max(zeroed_, from + kChunk);
    unsynced += kChunk;
    if (unsynced >= kSyncEvery && fd == seg_.fd) sync_zeroed(fd, path);
  }
  zero_wakeup_ = nullptr;
}

void WalWriter::WaitWritesLanded() {
  for (;;) {
    bool landed = true;
    for (const WalGroup* g : inflight_) landed &= g->written;
    if (landed) return;
    progress_.Reset();
    progress_.Wait();
  }
}

void WalWriter::WaitInFlightAtMost(size_t n) {
  while (inflight_.size() > n) {
    progress_.Reset();
    progress_.Wait();
  }
}

}  // namespace ringdb::lsm
