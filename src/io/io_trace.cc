#include "io/io_trace.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/assert.h"
#include "util/clock.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/log.h"

namespace ringdb::io {

namespace {

constexpr size_t kTrailerOffset = kIoTraceRecordsPerBlock * kIoTraceRecordBytes;  // 4032
constexpr size_t kCrcOffset = kIoTraceBlockBytes - 4;                             // 4092

uint32_t BlockCrc(const char* block) {
  return util::crc32c::Mask(util::crc32c::Value(block, kCrcOffset));
}

bool CrcOk(const char* block) {
  return util::DecodeFixed32(block + kCrcOffset) == BlockCrc(block);
}

uint64_t TransferLen(const IoRequest& r) {
  if (r.op != IoOp::kReadv && r.op != IoOp::kWritev) return r.len;
  uint64_t n = 0;
  for (uint32_t i = 0; i < r.iovcnt; i++) n += r.iov[i].iov_len;
  return n;
}

std::string_view BaseName(const char* path) {
  std::string_view p(path);
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// ---- record layouts (docs/iotrace.md) ----
//
// kIo:      type u8 | class u8 | op u8 | flags u8 | depth u32 | submit_ns u64 |
//           complete_ns u64 | offset u64 | len u64 | result i64 | fd i32 | 0 u32 |
//           file_number u64
// kFile:    type u8 | name_len u8 | 0 u16 | fd i32 | file_number u64 | at_ns u64 |
//           name char[40]
// kDropped: type u8 | 0 u8[7] | count u64 | at_ns u64 | 0 ...

void EncodeIo(const IoRequest& r, uint64_t file_number, char* p) {
  p[0] = static_cast<char>(IoTraceRecordType::kIo);
  p[1] = static_cast<char>(r.io_class);
  p[2] = static_cast<char>(r.op);
  p[3] = static_cast<char>(r.flags);
  util::EncodeFixed32(p + 4, r.depth_at_submit);
  util::EncodeFixed64(p + 8, r.submit_ns);
  util::EncodeFixed64(p + 16, r.complete_ns);
  util::EncodeFixed64(p + 24, r.offset);
  util::EncodeFixed64(p + 32, TransferLen(r));
  util::EncodeFixed64(p + 40, static_cast<uint64_t>(r.result));
  util::EncodeFixed32(p + 48, static_cast<uint32_t>(r.fd));
  util::EncodeFixed32(p + 52, 0);
  util::EncodeFixed64(p + 56, file_number);
}

void EncodeFile(int fd, uint64_t number, std::string_view name, uint64_t at_ns, char* p) {
  std::memset(p, 0, kIoTraceRecordBytes);
  const size_t n = std::min(name.size(), kIoTraceFileNameBytes);
  p[0] = static_cast<char>(IoTraceRecordType::kFile);
  p[1] = static_cast<char>(n);
  util::EncodeFixed32(p + 4, static_cast<uint32_t>(fd));
  util::EncodeFixed64(p + 8, number);
  util::EncodeFixed64(p + 16, at_ns);
  std::memcpy(p + 24, name.data(), n);
}

void EncodeDrop(uint64_t count, uint64_t at_ns, char* p) {
  std::memset(p, 0, kIoTraceRecordBytes);
  p[0] = static_cast<char>(IoTraceRecordType::kDropped);
  util::EncodeFixed64(p + 8, count);
  util::EncodeFixed64(p + 16, at_ns);
}

// False for an unknown record type (skipped by readers: later versions may add some).
bool DecodeRecord(const char* p, IoTraceEntry* e) {
  const auto type = static_cast<IoTraceRecordType>(static_cast<uint8_t>(p[0]));
  e->type = type;
  switch (type) {
    case IoTraceRecordType::kIo:
      e->io_class = static_cast<IoClass>(static_cast<uint8_t>(p[1]));
      e->op = static_cast<IoOp>(static_cast<uint8_t>(p[2]));
      e->flags = static_cast<uint8_t>(p[3]);
      e->depth_at_submit = util::DecodeFixed32(p + 4);
      e->submit_ns = util::DecodeFixed64(p + 8);
      e->complete_ns = util::DecodeFixed64(p + 16);
      e->offset = util::DecodeFixed64(p + 24);
      e->len = util::DecodeFixed64(p + 32);
      e->result = static_cast<int64_t>(util::DecodeFixed64(p + 40));
      e->fd = static_cast<int32_t>(util::DecodeFixed32(p + 48));
      e->file_number = util::DecodeFixed64(p + 56);
      return true;
    case IoTraceRecordType::kFile: {
      const size_t n = std::min<size_t>(static_cast<uint8_t>(p[1]), kIoTraceFileNameBytes);
      e->fd = static_cast<int32_t>(util::DecodeFixed32(p + 4));
      e->file_number = util::DecodeFixed64(p + 8);
      e->at_ns = util::DecodeFixed64(p + 16);
      e->name.assign(p + 24, n);
      return true;
    }
    case IoTraceRecordType::kDropped:
      e->dropped = util::DecodeFixed64(p + 8);
      e->at_ns = util::DecodeFixed64(p + 16);
      return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------- header
//
// magic char[8] | version u32 | block_bytes u32 | record_bytes u32 | shard u32 |
// start_wall_ns u64 | start_mono_ns u64 | end_mono_ns u64 | records u64 | dropped u64 |
// flags u32 | backend char[32] | zeros ... | masked crc32c u32 (last 4 bytes)

void EncodeIoTraceHeader(const IoTraceHeader& h, char* p) {
  std::memset(p, 0, kIoTraceBlockBytes);
  std::memcpy(p, kIoTraceMagic, sizeof(kIoTraceMagic));
  util::EncodeFixed32(p + 8, h.version);
  util::EncodeFixed32(p + 12, static_cast<uint32_t>(kIoTraceBlockBytes));
  util::EncodeFixed32(p + 16, static_cast<uint32_t>(kIoTraceRecordBytes));
  util::EncodeFixed32(p + 20, h.shard);
  util::EncodeFixed64(p + 24, h.start_wall_ns);
  util::EncodeFixed64(p + 32, h.start_mono_ns);
  util::EncodeFixed64(p + 40, h.end_mono_ns);
  util::EncodeFixed64(p + 48, h.records);
  util::EncodeFixed64(p + 56, h.dropped);
  util::EncodeFixed32(p + 64, h.flags);
  std::memcpy(p + 68, h.backend.data(), std::min(h.backend.size(), kIoTraceBackendNameBytes - 1));
  util::EncodeFixed32(p + kCrcOffset, BlockCrc(p));
}

Status DecodeIoTraceHeader(const char* p, IoTraceHeader* h) {
  if (std::memcmp(p, kIoTraceMagic, sizeof(kIoTraceMagic)) != 0) {
    return Status::Corruption("not an I/O trace (bad magic)");
  }
  h->version = util::DecodeFixed32(p + 8);
  if (h->version != kIoTraceVersion) {
    return Status::NotSupported("I/O trace version " + std::to_string(h->version) +
                                " (this build reads version " + std::to_string(kIoTraceVersion) +
                                ")");
  }
  if (!CrcOk(p)) return Status::Corruption("I/O trace header: checksum mismatch");
  if (util::DecodeFixed32(p + 12) != kIoTraceBlockBytes ||
      util::DecodeFixed32(p + 16) != kIoTraceRecordBytes) {
    return Status::Corruption("I/O trace header: unexpected block or record size");
  }
  h->shard = util::DecodeFixed32(p + 20);
  h->start_wall_ns = util::DecodeFixed64(p + 24);
  h->start_mono_ns = util::DecodeFixed64(p + 32);
  h->end_mono_ns = util::DecodeFixed64(p + 40);
  h->records = util::DecodeFixed64(p + 48);
  h->dropped = util::DecodeFixed64(p + 56);
  h->flags = util::DecodeFixed32(p + 64);
  h->backend.assign(p + 68, strnlen(p + 68, kIoTraceBackendNameBytes - 1));
  return Status::OK();
}

uint64_t FileNumberFromName(std::string_view name) {
  size_t i = 0;
  if (name.empty() || name[0] < '0' || name[0] > '9') {
    const size_t dash = name.rfind('-');
    if (dash == std::string_view::npos) return 0;
    i = dash + 1;
  }
  uint64_t n = 0;
  bool any = false;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; i++) {
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
    any = true;
  }
  return any ? n : 0;
}

// ---------------------------------------------------------------- recorder

IoTraceRecorder::IoTraceRecorder(IoBackend* backend, int fd, size_t buffer_bytes)
    : backend_(backend), fd_(fd), file_off_(kIoTraceBlockBytes) {
  blocks_per_half_ = std::max<size_t>(1, buffer_bytes / 2 / kIoTraceBlockBytes);
  half_bytes_ = blocks_per_half_ * kIoTraceBlockBytes;
  buf_.Reset(2 * half_bytes_);
  buf_.Zero();
  write_req_.op = IoOp::kWrite;
  write_req_.io_class = IoClass::kOther;
  write_req_.flags = IoRequest::kNoTrace;
  write_req_.fd = fd_;
  write_req_.done = &IoTraceRecorder::OnWriteDone;
  write_req_.user = this;
}

IoTraceRecorder::~IoTraceRecorder() {
  RINGDB_ASSERT_MSG(!writing_, "IoTraceRecorder destroyed with a write in flight");
}

void IoTraceRecorder::OnIo(const IoRequest& r) {
  if (finished_ || (r.flags & IoRequest::kNoTrace) != 0) return;
  if (pending_drops_ > 0) EmitDropMarker();
  char* p = pending_drops_ > 0 ? nullptr : Slot();
  if (p == nullptr) {
    counters_.dropped++;
    pending_drops_++;
  } else {
    EncodeIo(r, FileOf(r.fd), p);
    Commit();
    counters_.records++;
  }
  if (r.op == IoOp::kOpen && r.result >= 0 && r.path != nullptr) {
    const std::string_view name = BaseName(r.path);
    EmitFile(static_cast<int>(r.result), FileNumberFromName(name), name, r.complete_ns);
  } else if (r.op == IoOp::kClose && r.fd >= 0 && static_cast<size_t>(r.fd) < file_of_fd_.size()) {
    file_of_fd_[static_cast<size_t>(r.fd)] = 0;  // the fd may be reused for another file
  }
}

void IoTraceRecorder::RegisterFile(int fd, uint64_t number, std::string_view name,
                                   uint64_t now_ns) {
  if (finished_ || fd < 0) return;
  EmitFile(fd, number != 0 ? number : FileNumberFromName(name), name, now_ns);
}

void IoTraceRecorder::EmitFile(int fd, uint64_t number, std::string_view name, uint64_t now_ns) {
  if (static_cast<size_t>(fd) >= file_of_fd_.size()) {
    file_of_fd_.resize(std::max<size_t>(static_cast<size_t>(fd) + 1, 2 * file_of_fd_.size()));
  }
  file_of_fd_[static_cast<size_t>(fd)] = number;
  if (pending_drops_ > 0) EmitDropMarker();
  char* p = pending_drops_ > 0 ? nullptr : Slot();
  if (p == nullptr) return;  // the name is lost; records still carry the file number
  EncodeFile(fd, number, name, now_ns, p);
  Commit();
}

void IoTraceRecorder::EmitDropMarker() {
  char* p = Slot();
  if (p == nullptr) return;
  EncodeDrop(pending_drops_, util::NowNanos(), p);
  Commit();
  pending_drops_ = 0;
}

char* IoTraceRecorder::Slot() {
  if (finished_ || failed_) return nullptr;
  if (slot_ == kIoTraceRecordsPerBlock) {  // the block is full (and sealed)
    if (block_ + 1 < blocks_per_half_) {
      block_++;
      slot_ = 0;
    } else if (!SwapHalves()) {
      return nullptr;  // both halves full: the disk is behind
    }
  }
  return HalfBase(cur_) + block_ * kIoTraceBlockBytes + slot_ * kIoTraceRecordBytes;
}

void IoTraceRecorder::Commit() {
  slot_++;
  if (slot_ == kIoTraceRecordsPerBlock) {
    SealBlock(HalfBase(cur_) + block_ * kIoTraceBlockBytes, slot_);
  }
}

// trailer: magic u32 | used u32 | seq u64 | zeros | masked crc32c of [0, 4092) u32
void IoTraceRecorder::SealBlock(char* block, uint32_t used) {
  if (used < kIoTraceRecordsPerBlock) {
    std::memset(block + used * kIoTraceRecordBytes, 0,
                (kIoTraceRecordsPerBlock - used) * kIoTraceRecordBytes);
  }
  char* t = block + kTrailerOffset;
  std::memset(t, 0, kIoTraceRecordBytes);
  util::EncodeFixed32(t, kIoTraceBlockMagic);
  util::EncodeFixed32(t + 4, used);
  util::EncodeFixed64(t + 8, seq_++);
  util::EncodeFixed32(block + kCrcOffset, BlockCrc(block));
}

bool IoTraceRecorder::SwapHalves() {
  if (writing_ || failed_) return false;
  write_req_.buf = HalfBase(cur_);
  write_req_.len = half_bytes_;
  write_req_.offset = file_off_;
  write_req_.result = 0;
  write_req_.next_ = nullptr;
  writing_ = true;
  file_off_ += half_bytes_;
  backend_->Prepare(&write_req_);  // goes out with the reactor's next Submit()
  cur_ ^= 1;
  block_ = 0;
  slot_ = 0;
  return true;
}

void IoTraceRecorder::OnWriteDone(IoRequest* req) {
  auto* self = static_cast<IoTraceRecorder*>(req->user);
  self->writing_ = false;
  if (req->result == static_cast<int64_t>(req->len)) {
    self->counters_.bytes_written += req->len;
  } else {
    self->failed_ = true;
    self->counters_.write_errors++;
    RINGDB_LOG_WARN(
        "I/O trace: write of %llu bytes at offset %llu failed (%s); tracing stops",
        static_cast<unsigned long long>(req->len), static_cast<unsigned long long>(req->offset),
        req->result < 0 ? std::strerror(static_cast<int>(-req->result)) : "short write");
    return;
  }
  // Records were dropped while the filling half waited for this write: write it now.
  if (!self->finished_ && self->slot_ == kIoTraceRecordsPerBlock &&
      self->block_ + 1 == self->blocks_per_half_) {
    self->SwapHalves();
  }
}

void IoTraceRecorder::Finish(const char** data, size_t* len, uint64_t* offset) {
  RINGDB_ASSERT_MSG(!writing_, "IoTraceRecorder::Finish with a write in flight");
  if (pending_drops_ > 0) EmitDropMarker();
  finished_ = true;
  *data = HalfBase(cur_);
  *offset = file_off_;
  *len = 0;
  if (failed_) return;
  if (slot_ > 0 && slot_ < kIoTraceRecordsPerBlock) {
    SealBlock(HalfBase(cur_) + block_ * kIoTraceBlockBytes, slot_);
  }
  *len = (block_ + (slot_ > 0 ? 1 : 0)) * kIoTraceBlockBytes;
}

void IoTraceRecorder::FinishWritten(size_t len, bool ok) {
  if (ok) {
    counters_.bytes_written += len;
  } else {
    counters_.write_errors++;
    failed_ = true;
  }
}

// ---------------------------------------------------------------- reader

Status IoTraceReader::Open(const std::string& path, std::unique_ptr<IoTraceReader>* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno(errno, "open " + path);
  std::unique_ptr<IoTraceReader> r(new IoTraceReader(f, path));
  if (std::fread(r->block_, 1, kIoTraceBlockBytes, f) != kIoTraceBlockBytes) {
    return Status::Corruption(path + ": not an I/O trace (shorter than its header)");
  }
  Status s = DecodeIoTraceHeader(r->block_, &r->header_);
  if (!s.ok()) return Status::Corruption(path + ": " + s.ToString());
  *out = std::move(r);
  return Status::OK();
}

IoTraceReader::~IoTraceReader() {
  std::fclose(f_);
}

bool IoTraceReader::LoadBlock() {
  if (eof_) return false;
  const size_t got = std::fread(block_, 1, kIoTraceBlockBytes, f_);
  const bool closed = (header_.flags & kIoTraceClosed) != 0;
  auto end = [&](const char* why) {
    eof_ = true;
    // A trace that was not closed (crash) may end anywhere; a closed one may not.
    if (why != nullptr && closed) {
      status_ = Status::Corruption(path_ + ": block " + std::to_string(blocks_) + ": " + why);
    }
    return false;
  };
  if (got == 0) return end(nullptr);
  if (got < kIoTraceBlockBytes) return end("truncated block");
  const char* t = block_ + kTrailerOffset;
  if (util::DecodeFixed32(t) != kIoTraceBlockMagic) return end("missing block trailer");
  if (!CrcOk(block_)) {
    eof_ = true;
    status_ =
        Status::Corruption(path_ + ": block " + std::to_string(blocks_) + ": checksum mismatch");
    return false;
  }
  // Checked before it replaces used_: Next() walks [next_, used_) of block_.
  const uint32_t used = util::DecodeFixed32(t + 4);
  if (used > kIoTraceRecordsPerBlock || util::DecodeFixed64(t + 8) != blocks_) {
    eof_ = true;
    status_ = Status::Corruption(path_ + ": block " + std::to_string(blocks_) +
                                 ": bad trailer (record count or sequence)");
    return false;
  }
  used_ = used;
  next_ = 0;
  blocks_++;
  return true;
}

bool IoTraceReader::Next(IoTraceEntry* e) {
  for (;;) {
    while (next_ < used_) {
      const char* p = block_ + static_cast<size_t>(next_++) * kIoTraceRecordBytes;
      if (DecodeRecord(p, e)) return true;
    }
    if (!LoadBlock()) return false;
  }
}

}  // namespace ringdb::io
