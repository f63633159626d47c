#include "lsm/wal_writer.h"

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
#include "util/assert.h"
#include "util/clock.h"

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
  if (opt_.preallocate_bytes > 0) {
    s = rt::Fallocate(seg.fd, 0, 0, opt_.preallocate_bytes, seg.path);
    if (s.ok()) {
      seg.allocated = opt_.preallocate_bytes;
    } else if (!s.IsNotSupported()) {
      rt::Close(seg.fd, seg.path);
      return s;
    }
  }
  // The segment's directory entry must be durable before a write in it is acknowledged.
  s = rt::Fsync(dir_fd_, io::IoClass::kWal, dir_);
  if (!s.ok()) {
    rt::Close(seg.fd, seg.path);
    return s;
  }
  *out = std::move(seg);
  return Status::OK();
}

WalWriter::Segment WalWriter::Swap(Segment next) {
  RINGDB_ASSERT(inflight_.empty());
  Segment old = std::move(seg_);
  seg_ = std::move(next);
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
    meta.synced_upto = seg_.synced_upto & ~uint64_t{kWalBlockBytes - 1};
    for (WriteRequest* w = head; w != nullptr; w = w->next, n++) {
      meta.count = WriteBatchRep::Count(w->rep);
      meta.first_seq = w->first_seq;
      EncodeRecord(seg_.number, seg_.write_offset + g->bytes.size(), meta, w->rep, &g->bytes);
    }
    g->len = g->bytes.size();
  }
  g->requests = n;
  g->offset = seg_.write_offset;
}

Status WalWriter::Grow(uint64_t len) {
  if (opt_.preallocate_bytes == 0 || seg_.write_offset + len <= seg_.allocated) {
    return Status::OK();
  }
  const uint64_t grow = std::max<uint64_t>(opt_.preallocate_bytes, len);
  Status s = rt::Fallocate(seg_.fd, 0, seg_.allocated, grow, seg_.path);
  if (!s.ok() && !s.IsNotSupported()) return s;
  seg_.allocated += grow;
  return Status::OK();
}

Status WalWriter::Issue(WalGroup* g, bool sync) {
  RINGDB_ASSERT(g->offset == seg_.write_offset);
  Status s = Grow(g->len);
  if (!s.ok()) return s;
  g->sync = sync;
  g->pending = sync ? 2 : 1;
  g->done = false;
  g->wr = io::IoRequest();
  g->wr.op = io::IoOp::kWrite;
  g->wr.io_class = io::IoClass::kWal;
  g->wr.flags = sync ? io::IoRequest::kLinkNext : 0;
  g->wr.fd = seg_.fd;
  g->wr.offset = g->offset;
  g->wr.len = g->len;
  g->wr.buf = opt_.direct ? g->direct_buf.data() : g->bytes.data();
  g->wr.done = &WalWriter::OnIo;
  g->wr.user = g;
  rt::Reactor* r = rt::CurrentReactor();
  r->PrepareIo(&g->wr);
  if (sync) {
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
  if (--g->pending > 0) return;
  WalWriter* w = g->owner;
  w->Finish(g);
  if (w->inflight_.front()->done && w->on_complete_ != nullptr)
    w->on_complete_(w->on_complete_arg_);
  w->progress_.Set();
}

void WalWriter::Finish(WalGroup* g) {
  g->done = true;
  pacer_->ForegroundDone();
  g->status = WriteSyncStatus(g->wr, g->sync ? &g->fs : nullptr, seg_.path);
}

WalGroup* WalWriter::PopCompleted() {
  if (inflight_.empty() || !inflight_.front()->done) return nullptr;
  WalGroup* g = inflight_.front();
  inflight_.pop_front();
  if (g->status.ok()) {
    bytes_written_ += g->len;
    // Groups complete in any order, but a synced group proves the segment durable up
    // to its end only once every earlier group is done too: advance in WAL order.
    if (g->sync && g->segment == seg_.number) {
      seg_.synced_upto = std::max(seg_.synced_upto, g->offset + g->len);
      last_sync_ns_ = util::NowNanos();
      syncs_++;
    }
  }
  return g;
}

void WalWriter::WaitInFlightAtMost(size_t n) {
  while (inflight_.size() > n) {
    progress_.Reset();
    progress_.Wait();
  }
}

}  // namespace ringdb::lsm
