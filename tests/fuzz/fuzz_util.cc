#include "tests/fuzz/fuzz_util.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "lsm/block.h"
#include "lsm/table_format.h"
#include "lsm/wal_format.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::fuzz {

namespace {

constexpr size_t kBlock = 4096;

void PutHex8(uint32_t v, char* out) {
  static const char kDigits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--) {
    out[i] = kDigits[v & 0xf];
    v >>= 4;
  }
}

// Rewrites the trailer CRC of the block at h, keeping its kind byte, when it fits.
void ResealBlock(const lsm::BlockHandle& h, std::string* file) {
  if (h.offset > file->size() || h.size > file->size() || file->size() - h.offset < h.read_size()) {
    return;
  }
  char* t = file->data() + h.offset + h.size;
  std::string_view contents(file->data() + h.offset, h.size);
  util::EncodeFixed32(t + 1, TableBlockCrc(h.offset, contents, t[0]));
}

}  // namespace

bool SplitNumbered(std::string_view in, uint64_t* number, std::string_view* file) {
  if (in.size() < 8) return false;
  *number = util::DecodeFixed64(in.data());
  *file = in.substr(8);
  return true;
}

bool AllZero(std::string_view s, size_t from, size_t to) {
  to = std::min(to, s.size());
  for (size_t i = from; i < to; i++) {
    if (s[i] != 0) return false;
  }
  return true;
}

void ResealWal(uint64_t segment_no, std::string* seg) {
  const size_t size = seg->size();
  size_t x = 0;
  while (x < size) {
    const size_t boundary = std::min<size_t>(lsm::WalAlignUp(x + 1), size);
    if (AllZero(*seg, x, boundary)) {
      x = boundary;
      continue;
    }
    char* h = seg->data() + x;
    if (size - x >= lsm::kWalHeaderBytes) {
      const uint8_t type = static_cast<uint8_t>(h[8]);
      const uint32_t length = util::DecodeFixed32(h + 4);
      if ((type == 1 || type == 2) && h[9] == 0 && h[10] == 0 && h[11] == 0 &&
          length <= lsm::kMaxBatchBytes && size - x - lsm::kWalHeaderBytes >= length) {
        char where[16];
        util::EncodeFixed64(where, segment_no);
        util::EncodeFixed64(where + 8, x);
        uint32_t crc = util::crc32c::Value(where, sizeof(where));
        crc = util::crc32c::Extend(crc, h + 4, lsm::kWalHeaderBytes - 4 + length);
        util::EncodeFixed32(h, util::crc32c::Mask(crc));
        x += lsm::kWalHeaderBytes + length;
        continue;
      }
    }
    x = lsm::WalAlignUp(x + 1);
  }
}

uint32_t TableBlockCrc(uint64_t offset, std::string_view contents, char kind) {
  char where[8];
  util::EncodeFixed64(where, offset);
  uint32_t crc = util::crc32c::Value(where, sizeof(where));
  crc = util::crc32c::Extend(crc, contents.data(), contents.size());
  return util::crc32c::Mask(util::crc32c::Extend(crc, &kind, 1));
}

void ResealTable(std::string* file) {
  const size_t size = file->size();
  if (size < lsm::kFooterBytes) return;
  char* footer = file->data() + size - lsm::kFooterBytes;
  lsm::BlockHandle meta[3];  // index, filter, properties (footer order)
  for (int i = 0; i < 3; i++) {
    meta[i].offset = util::DecodeFixed64(footer + 16 * i);
    meta[i].size = util::DecodeFixed64(footer + 16 * i + 8);
  }
  // Data blocks first (from the index as found), then the meta blocks, then the footer:
  // a handle may point anywhere, and what is written last wins.
  const lsm::BlockHandle& ih = meta[0];
  if (ih.offset <= size && size - ih.offset >= ih.read_size() && ih.size < (1u << 24)) {
    lsm::BlockPtr index;
    std::string contents(file->data() + ih.offset, ih.size);
    if (lsm::Block::FromContents(std::move(contents), ih.offset, lsm::BlockKind::kIndex, &index)
            .ok()) {
      std::unique_ptr<lsm::Block::Iter> it = lsm::Block::NewIterator(index);
      size_t n = 0;
      for (it->SeekToFirst(); it->Valid() && n < 4096; it->Next(), n++) {
        std::string_view v = it->value();
        lsm::BlockHandle h;
        if (lsm::DecodeBlockHandle(&v, &h)) ResealBlock(h, file);
      }
    }
  }
  for (const lsm::BlockHandle& h : meta) {
    if (h.size != 0 || &h == &meta[2]) ResealBlock(h, file);
  }
  util::EncodeFixed32(footer + 52, util::crc32c::Mask(util::crc32c::Value(footer, 52)));
}

void ResealIoTrace(std::string* file) {
  for (size_t b = 0; b + kBlock <= file->size(); b += kBlock) {
    char* p = file->data() + b;
    util::EncodeFixed32(p + kBlock - 4, util::crc32c::Mask(util::crc32c::Value(p, kBlock - 4)));
  }
}

void ResealOptions(std::string* contents) {
  const size_t pos = contents->rfind("crc32c=");
  if (pos == std::string::npos || contents->size() - pos < 7 + 8) return;
  PutHex8(util::crc32c::Value(contents->data(), pos), contents->data() + pos + 7);
}

void ResealCurrent(std::string* contents) {
  const size_t sp = contents->find(' ');
  if (sp == std::string::npos || contents->compare(sp + 1, 7, "crc32c=") != 0 ||
      contents->size() - sp - 1 < 7 + 8) {
    return;
  }
  PutHex8(util::crc32c::Value(contents->data(), sp), contents->data() + sp + 8);
}

MemFile::MemFile(std::string_view bytes) {
  fd_ = ::memfd_create("ringdb-fuzz", MFD_CLOEXEC);
  FUZZ_CHECK(fd_ >= 0, "memfd_create: %s", std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    FUZZ_CHECK(n > 0, "write to a memfd: %s", std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  path_ = "/proc/self/fd/";
  path_ += std::to_string(fd_);
}

MemFile::~MemFile() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ringdb::fuzz
