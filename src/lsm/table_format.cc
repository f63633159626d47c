#include "lsm/table_format.h"

#include "util/assert.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::lsm {

namespace {

// DO NOT CHANGE: on-disk (properties block tags).
enum PropTag : uint32_t {
  kNumEntries = 1,
  kNumDeletions = 2,
  kNumDataBlocks = 3,
  kRawKeyBytes = 4,
  kRawValueBytes = 5,
  kSmallestKey = 6,
  kLargestKey = 7,
  kSmallestSeq = 8,
  kLargestSeq = 9,
  kBloomBitsPerKey = 10,
};

uint32_t BlockCrc(uint64_t offset, std::string_view contents, char kind) {
  char where[8];
  util::EncodeFixed64(where, offset);
  uint32_t crc = util::crc32c::Value(where, sizeof(where));
  crc = util::crc32c::Extend(crc, contents.data(), contents.size());
  return util::crc32c::Extend(crc, &kind, 1);
}

std::string BlockError(BlockKind kind, uint64_t offset, const std::string& what) {
  return std::string("sst ") + BlockKindName(kind) + " block at offset " + std::to_string(offset) +
         ": " + what;
}

}  // namespace

const char* BlockKindName(BlockKind kind) {
  switch (kind) {
    case BlockKind::kData:
      return "data";
    case BlockKind::kIndex:
      return "index";
    case BlockKind::kFilter:
      return "filter";
    case BlockKind::kProperties:
      return "properties";
  }
  return "unknown";
}

void EncodeBlockHandle(const BlockHandle& h, std::string* dst) {
  util::PutVarint64(dst, h.offset);
  util::PutVarint64(dst, h.size);
}

bool DecodeBlockHandle(std::string_view* input, BlockHandle* h) {
  return util::GetVarint64(input, &h->offset) && util::GetVarint64(input, &h->size);
}

void AppendBlockTrailer(uint64_t offset, BlockKind kind, std::string_view contents,
                        std::string* dst) {
  char t[kBlockTrailerBytes];
  t[0] = static_cast<char>(kind);
  util::EncodeFixed32(t + 1, util::crc32c::Mask(BlockCrc(offset, contents, t[0])));
  dst->append(t, sizeof(t));
}

Status VerifyBlock(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                   std::string_view* contents) {
  // Not raw.size() != handle.read_size(): that sum wraps for a size near 2^64, which
  // then "matches" a short read.
  if (raw.size() < kBlockTrailerBytes || raw.size() - kBlockTrailerBytes != handle.size) {
    return Status::Corruption(BlockError(kind, handle.offset,
                                         "read " + std::to_string(raw.size()) +
                                             " bytes, expected " +
                                             std::to_string(handle.read_size())));
  }
  std::string_view body = raw.substr(0, handle.size);
  const char* t = raw.data() + handle.size;
  uint32_t expected = util::crc32c::Unmask(util::DecodeFixed32(t + 1));
  if (BlockCrc(handle.offset, body, t[0]) != expected) {
    return Status::Corruption(BlockError(kind, handle.offset, "checksum mismatch"));
  }
  if (static_cast<uint8_t>(t[0]) != static_cast<uint8_t>(kind)) {
    return Status::Corruption(BlockError(kind, handle.offset,
                                         "block kind " + std::to_string(uint8_t(t[0])) + " where " +
                                             BlockKindName(kind) + " expected"));
  }
  *contents = body;
  return Status::OK();
}

void Footer::EncodeTo(std::string* dst) const {
  size_t start = dst->size();
  for (const BlockHandle* h : {&index, &filter, &properties}) {
    util::PutFixed64(dst, h->offset);
    util::PutFixed64(dst, h->size);
  }
  util::PutFixed32(dst, format_version);
  uint32_t crc = util::crc32c::Value(dst->data() + start, 52);
  util::PutFixed32(dst, util::crc32c::Mask(crc));
  util::PutFixed64(dst, kTableMagic);
  RINGDB_ASSERT(dst->size() - start == kFooterBytes);
}

Status Footer::DecodeFrom(std::string_view bytes, uint64_t file_size, Footer* out) {
  auto err = [&](const std::string& what) {
    return Status::Corruption("sst footer (file size " + std::to_string(file_size) + "): " + what);
  };
  if (bytes.size() < kFooterBytes || file_size < kFooterBytes) return err("file too short");
  const char* p = bytes.data() + bytes.size() - kFooterBytes;
  if (util::DecodeFixed64(p + 56) != kTableMagic) return err("bad magic number");
  if (util::crc32c::Unmask(util::DecodeFixed32(p + 52)) != util::crc32c::Value(p, 52)) {
    return err("checksum mismatch");
  }
  Footer f;
  BlockHandle* hs[] = {&f.index, &f.filter, &f.properties};
  for (int i = 0; i < 3; i++) {
    hs[i]->offset = util::DecodeFixed64(p + 16 * i);
    hs[i]->size = util::DecodeFixed64(p + 16 * i + 8);
  }
  f.format_version = util::DecodeFixed32(p + 48);
  if (f.format_version != kTableFormatVersion) {
    return Status::NotSupported("sst format version " + std::to_string(f.format_version));
  }
  // Order: [filter] properties index, all before the footer, none overlapping.
  const uint64_t footer_off = file_size - kFooterBytes;
  uint64_t cursor = f.meta_offset();
  auto in_order = [&](const BlockHandle& h) {
    if (h.offset != cursor || h.size > footer_off || h.offset > footer_off - h.size ||
        footer_off - h.offset - h.size < kBlockTrailerBytes) {
      return false;
    }
    cursor = h.offset + h.read_size();
    return true;
  };
  if (f.filter.size != 0 && !in_order(f.filter)) return err("bad filter handle");
  if (f.filter.size == 0 && f.filter.offset != 0) return err("bad filter handle");
  if (!in_order(f.properties)) return err("bad properties handle");
  if (!in_order(f.index)) return err("bad index handle");
  *out = f;
  return Status::OK();
}

void TableProperties::EncodeTo(std::string* dst) const {
  auto put64 = [dst](uint32_t tag, uint64_t v) {
    util::PutVarint32(dst, tag);
    util::PutVarint64(dst, v);
  };
  put64(kNumEntries, num_entries);
  put64(kNumDeletions, num_deletions);
  put64(kNumDataBlocks, num_data_blocks);
  put64(kRawKeyBytes, raw_key_bytes);
  put64(kRawValueBytes, raw_value_bytes);
  util::PutVarint32(dst, kSmallestKey);
  util::PutLengthPrefixed(dst, smallest_key);
  util::PutVarint32(dst, kLargestKey);
  util::PutLengthPrefixed(dst, largest_key);
  put64(kSmallestSeq, smallest_seq);
  put64(kLargestSeq, largest_seq);
  put64(kBloomBitsPerKey, bloom_bits_per_key);
}

Status TableProperties::DecodeFrom(std::string_view in, TableProperties* out) {
  TableProperties p;
  while (!in.empty()) {
    uint32_t tag;
    uint64_t v = 0;
    std::string_view s;
    if (!util::GetVarint32(&in, &tag)) return Status::Corruption("sst properties: bad tag");
    bool ok = true;
    switch (tag) {
      case kSmallestKey:
      case kLargestKey:
        ok = util::GetLengthPrefixed(&in, &s);
        (tag == kSmallestKey ? p.smallest_key : p.largest_key).assign(s.data(), s.size());
        break;
      case kNumEntries:
      case kNumDeletions:
      case kNumDataBlocks:
      case kRawKeyBytes:
      case kRawValueBytes:
      case kSmallestSeq:
      case kLargestSeq:
      case kBloomBitsPerKey:
        ok = util::GetVarint64(&in, &v);
        break;
      default:
        return Status::Corruption("sst properties: unknown tag " + std::to_string(tag));
    }
    if (!ok) return Status::Corruption("sst properties: truncated field " + std::to_string(tag));
    switch (tag) {
      case kNumEntries:
        p.num_entries = v;
        break;
      case kNumDeletions:
        p.num_deletions = v;
        break;
      case kNumDataBlocks:
        p.num_data_blocks = v;
        break;
      case kRawKeyBytes:
        p.raw_key_bytes = v;
        break;
      case kRawValueBytes:
        p.raw_value_bytes = v;
        break;
      case kSmallestSeq:
        p.smallest_seq = v;
        break;
      case kLargestSeq:
        p.largest_seq = v;
        break;
      case kBloomBitsPerKey:
        p.bloom_bits_per_key = static_cast<uint32_t>(v);
        break;
      default:
        break;
    }
  }
  *out = std::move(p);
  return Status::OK();
}

}  // namespace ringdb::lsm
