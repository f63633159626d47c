#include "lsm/table_cache.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <vector>

#include "io/aligned_buffer.h"
#include "lsm/filenames.h"
#include "lsm/io_batch.h"
#include "runtime/file_io.h"
#include "util/log.h"

namespace ringdb::lsm {

using io::AlignDown;
using io::AlignUp;

TableCache::TableCache(std::string dir, int dir_fd, size_t cache_bytes, rt::rcu::RetireList* retire,
                       IoPacer* pacer)
    : dir_(std::move(dir)), dir_fd_(dir_fd), pacer_(pacer), cache_(cache_bytes, retire) {}

void TableCache::ProbeDirectIoAlignment(int fd) {
  dio_probed_ = true;
#ifdef STATX_DIOALIGN
  // A metadata lookup on an open descriptor (no disk I/O), once per shard.
  struct statx stx;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0 &&
      stx.stx_dio_offset_align <= io::AlignedBuffer::kAlignment &&
      (stx.stx_dio_offset_align & (stx.stx_dio_offset_align - 1)) == 0) {
    dio_align_ = stx.stx_dio_offset_align;
    return;
  }
#endif
  dio_align_ = 4096;  // always valid
}

Status TableCache::LoadMeta(TableHandle* t) {
  // Footer page first; then the meta region (index, filter, properties).
  const uint64_t file_size = t->file_size;
  const uint64_t footer_bytes = TableReader::FooterReadBytes(file_size);
  io::AlignedBuffer page(footer_bytes);
  Status s = rt::ReadFull(t->fd, page.data(), footer_bytes, file_size - footer_bytes,
                          io::IoClass::kUserRead, t->path);
  if (!s.ok()) return s;
  Footer footer;
  s = Footer::DecodeFrom(std::string_view(page.data(), footer_bytes), file_size, &footer);
  if (!s.ok()) return Status::Corruption(t->path + ": " + s.message());
  const uint64_t meta_start = AlignDown(footer.meta_offset(), kTableAlignBytes);
  io::AlignedBuffer meta_buf(file_size - meta_start);
  s = rt::ReadFull(t->fd, meta_buf.data(), file_size - meta_start, meta_start,
                   io::IoClass::kUserRead, t->path);
  if (!s.ok()) return s;
  std::string meta(meta_buf.data() + (footer.meta_offset() - meta_start),
                   file_size - footer.meta_offset());
  s = TableReader::Open(file_size, footer, std::move(meta), &t->reader);
  if (!s.ok()) return Status::Corruption(t->path + ": " + s.message());
  return Status::OK();
}

Status TableCache::Open(uint64_t number, uint64_t file_size, TableRef* out) {
  const std::string name = TableFileName(number);
  auto t = std::make_shared<TableHandle>();
  t->number = number;
  t->file_size = file_size;
  t->path = PathOf(name);
  Status s = rt::OpenAt(dir_fd_, name.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC, 0, &t->fd);
  if (!s.ok()) return s;
  if (!dio_probed_) ProbeDirectIoAlignment(t->fd);
  t->dio_align = dio_align_;
  if (file_size < kTableAlignBytes || file_size % kTableAlignBytes != 0) {
    s = Status::Corruption(t->path + ": size " + std::to_string(file_size) +
                           " is not a whole number of 4 KiB pages");
  } else {
    // What goes wrong here would stay with the handle (every read of the table fails
    // with it) until the store is reopened, so a transient fault must not: a failed
    // read (EIO) or a bad checksum from the read path (a flipped or misdirected read)
    // is read again. Only damage that is still there after kOpenTries reads is kept.
    constexpr int kOpenTries = 3;
    for (int attempt = 1;; attempt++) {
      s = LoadMeta(t.get());
      if (s.ok() || attempt == kOpenTries) break;
      RINGDB_LOG_WARN("%s (reading it again)", s.ToString().c_str());
    }
  }
  if (s.ok()) {
    t->pinned = t->reader->memory_usage();
    cache_.Pin(t->pinned);
  } else if (s.IsCorruption()) {
    // Damaged (short, bad checksum or format): reads that reach it fail with that
    // status, reads of other tables keep working.
    t->status = s;
    RINGDB_LOG_ERROR("%s", s.ToString().c_str());
  } else {
    return s;  // the disk fails (EIO): the caller gets it, nothing is kept
  }
  *out = std::move(t);
  return Status::OK();
}

void TableCache::Evict(const TableHandle& t) {
  t.evicted = true;
  cache_.Unpin(t.pinned);
  cache_.EraseFile(t.number);
}

void TableCache::ReadBlocks(BlockRead* reads, size_t n, uint64_t* table_reads) {
  std::vector<io::IoRequest> reqs(n);
  std::vector<io::AlignedBuffer> bufs(n);
  IoBatch batch;
  for (size_t i = 0; i < n; i++) {
    PrepareBlockRead(reads[i], &reqs[i], &bufs[i]);
    pacer_->ForegroundStarted();
    batch.Add(&reqs[i]);
  }
  batch.WaitAll();
  for (size_t i = 0; i < n; i++) {
    pacer_->ForegroundDone();
    BlockRead& r = reads[i];
    if (reqs[i].result >= 0) (*table_reads)++;
    FinishBlockRead(&r, reqs[i]);
    if (r.status.ok() && r.fill_cache && cache_.Admit(r.table->number, r.handle.offset)) {
      cache_.Insert(r.table->number, r.handle.offset, r.block, r.block->charge());
    }
  }
}

uint64_t TableCache::BlockReadBytes(const BlockRead& r) {
  const uint64_t align = r.table->dio_align;
  return AlignUp(r.handle.offset + r.handle.read_size(), align) - AlignDown(r.handle.offset, align);
}

void TableCache::PrepareBlockReadInto(const BlockRead& r, io::IoRequest* q, char* buf) {
  q->op = io::IoOp::kRead;
  q->io_class = io::IoClass::kUserRead;
  q->fd = r.table->fd;
  q->offset = AlignDown(r.handle.offset, r.table->dio_align);
  q->len = BlockReadBytes(r);
  q->buf = buf;
}

void TableCache::PrepareBlockRead(const BlockRead& r, io::IoRequest* q, io::AlignedBuffer* buf) {
  buf->Reset(BlockReadBytes(r));
  PrepareBlockReadInto(r, q, buf->data());
}

namespace {

// False (r->status set) when the read failed or came back short.
bool ReadLanded(BlockRead* r, const io::IoRequest& q) {
  if (q.result < 0) {
    r->status = Status::FromErrno(static_cast<int>(-q.result),
                                  "read " + r->table->path + " offset " + std::to_string(q.offset));
    return false;
  }
  if (static_cast<uint64_t>(q.result) != q.len) {
    r->status = Status::Corruption(r->table->path + ": short read at offset " +
                                   std::to_string(q.offset) + " (" + std::to_string(q.result) +
                                   " of " + std::to_string(q.len) + " bytes)");
    return false;
  }
  return true;
}

}  // namespace

void TableCache::FinishBlockRead(BlockRead* r, const io::IoRequest& q, Block* borrow) {
  if (!ReadLanded(r, q)) return;
  const std::string_view raw(static_cast<const char*>(q.buf) + (r->handle.offset - q.offset),
                             r->handle.read_size());
  if (borrow != nullptr) {
    r->status = Block::BorrowRaw(raw, r->handle, BlockKind::kData, borrow);
    // No owner: an empty shared_ptr aliasing the borrowed block (no count, no free).
    if (r->status.ok()) r->block = BlockPtr(BlockPtr(), borrow);
  } else {
    r->status = Block::FromRaw(raw, r->handle, BlockKind::kData, &r->block);
  }
  if (!r->status.ok()) r->status = Status::Corruption(r->table->path + ": " + r->status.message());
}

}  // namespace ringdb::lsm
