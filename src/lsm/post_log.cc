#include "lsm/post_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/assert.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::lsm {
namespace {

constexpr uint64_t kFileMagic = 0x3154534f50424452ull;  // "RDBPOST1" little-endian
constexpr uint32_t kVersion = 1;
constexpr size_t kProducedOff = 64;
constexpr size_t kReleasedOff = 128;
constexpr size_t kRecordAlign = 16;

std::atomic<uint64_t> g_next_log{1};

// Offsets inside a record header.
constexpr size_t kMagicOff = 0, kCrcOff = 4, kPosOff = 8, kSeqOff = 16, kCountOff = 24,
                 kRepBytesOff = 28, kRecordBytesOff = 32;

uint32_t RecordCrc(const char* rec, uint32_t rep_bytes) {
  return util::crc32c::Mask(
      util::crc32c::Value(rec + kPosOff, kPostRecordHeaderBytes - kPosOff + rep_bytes));
}

}  // namespace

Status CreatePostLog(const std::string& dir, uint32_t shard, size_t capacity, PostLogFile* out) {
  RINGDB_ASSERT((capacity & (capacity - 1)) == 0 && capacity >= 4096);
  char name[64];
  std::snprintf(name, sizeof(name), "/POST-%d-%llu", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(g_next_log.fetch_add(1)));
  PostLogFile f;
  f.path = dir + name;
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f.fd < 0) return Status::FromErrno(errno, "create " + f.path);
  f.map_bytes = kPostHeaderBytes + capacity;
  if (::ftruncate(f.fd, static_cast<off_t>(f.map_bytes)) != 0) {
    Status s = Status::FromErrno(errno, "ftruncate " + f.path);
    ::close(f.fd);
    ::unlink(f.path.c_str());
    return s;
  }
  void* m = ::mmap(nullptr, f.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
  if (m == MAP_FAILED) {
    Status s = Status::FromErrno(errno, "mmap " + f.path);
    ::close(f.fd);
    ::unlink(f.path.c_str());
    return s;
  }
  f.map = static_cast<char*>(m);
  util::EncodeFixed64(f.map, kFileMagic);
  util::EncodeFixed32(f.map + 8, kVersion);
  util::EncodeFixed32(f.map + 12, shard);
  util::EncodeFixed64(f.map + 16, capacity);
  f.produced = new (f.map + kProducedOff) std::atomic<uint64_t>(0);
  f.released = new (f.map + kReleasedOff) std::atomic<uint64_t>(0);
  f.ring = f.map + kPostHeaderBytes;
  f.capacity = capacity;
  *out = std::move(f);
  return Status::OK();
}

void DestroyPostLog(PostLogFile* f, bool unlink) {
  if (f->map != nullptr) ::munmap(f->map, f->map_bytes);
  if (f->fd >= 0) ::close(f->fd);
  if (unlink && !f->path.empty()) ::unlink(f->path.c_str());
  *f = PostLogFile();
}

void SealPostRecord(char* rec, uint64_t pos, SequenceNumber first_seq, uint32_t count,
                    uint32_t rep_bytes, uint32_t record_bytes) {
  util::EncodeFixed64(rec + kPosOff, pos);
  util::EncodeFixed64(rec + kSeqOff, first_seq);
  util::EncodeFixed32(rec + kCountOff, count);
  util::EncodeFixed32(rec + kRepBytesOff, rep_bytes);
  util::EncodeFixed32(rec + kRecordBytesOff, record_bytes);
  util::EncodeFixed32(rec + kRecordBytesOff + 4, 0);
  util::EncodeFixed32(rec + kCrcOff, RecordCrc(rec, rep_bytes));
  util::EncodeFixed32(rec + kMagicOff, kPostRecordMagic);
}

bool PostLogDrained(std::string_view header) {
  if (header.size() < kReleasedOff + 8) return false;
  return util::DecodeFixed64(header.data() + kProducedOff) ==
         util::DecodeFixed64(header.data() + kReleasedOff);
}

Status ParsePostLog(std::string_view file, const std::string& path,
                    std::vector<PostedRecord>* out) {
  if (file.size() < kPostHeaderBytes || util::DecodeFixed64(file.data()) != kFileMagic ||
      util::DecodeFixed32(file.data() + 8) != kVersion) {
    return Status::Corruption(path + ": not a post log");
  }
  const uint64_t capacity = util::DecodeFixed64(file.data() + 16);
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 ||
      file.size() < kPostHeaderBytes + capacity) {
    return Status::Corruption(path + ": bad ring capacity " + std::to_string(capacity));
  }
  const char* ring = file.data() + kPostHeaderBytes;
  const uint64_t produced = util::DecodeFixed64(file.data() + kProducedOff);
  uint64_t pos = util::DecodeFixed64(file.data() + kReleasedOff);
  if (produced < pos || produced - pos > capacity) return Status::OK();  // torn header
  bool skipped = false;
  while (pos < produced) {
    const uint64_t at = pos % capacity;
    const char* rec = ring + at;
    const bool fits = capacity - at >= kPostRecordHeaderBytes;
    if (!fits || util::DecodeFixed32(rec + kMagicOff) != kPostRecordMagic ||
        util::DecodeFixed64(rec + kPosOff) != pos) {
      // The writer skipped the short tail of the lap: the record is at the next lap.
      if (skipped || at == 0) break;
      pos += capacity - at;
      skipped = true;
      continue;
    }
    skipped = false;
    const uint32_t rep_bytes = util::DecodeFixed32(rec + kRepBytesOff);
    const uint32_t record_bytes = util::DecodeFixed32(rec + kRecordBytesOff);
    if (record_bytes < kPostRecordHeaderBytes + rep_bytes || record_bytes % kRecordAlign != 0 ||
        record_bytes > capacity - at ||
        util::DecodeFixed32(rec + kCrcOff) != RecordCrc(rec, rep_bytes)) {
      break;  // not sealed: its writer never returned
    }
    PostedRecord r;
    r.first_seq = util::DecodeFixed64(rec + kSeqOff);
    r.count = util::DecodeFixed32(rec + kCountOff);
    r.rep.assign(rec + kPostRecordHeaderBytes, rep_bytes);
    out->push_back(std::move(r));
    pos += record_bytes;
  }
  return Status::OK();
}

}  // namespace ringdb::lsm
