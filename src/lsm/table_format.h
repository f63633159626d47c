// SST building blocks shared by the builder and the reader: block handles, block
// trailers, the footer and the properties block. Grammar in docs/sst.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

constexpr size_t kTableAlignBytes = 4096;
constexpr size_t kBlockTrailerBytes = 5;  // kind u8 | masked crc32c fixed32
constexpr size_t kFooterBytes = 64;
constexpr uint32_t kTableFormatVersion = 1;
constexpr uint64_t kTableMagic = 0x3154535342445252ull;  // "RRDBSST1" little-endian

// DO NOT CHANGE: on-disk (block trailers).
enum class BlockKind : uint8_t {
  kData = 1,
  kIndex = 2,
  kFilter = 3,
  kProperties = 4,
};
const char* BlockKindName(BlockKind kind);

// Where a block's contents lie in the file; the trailer follows at offset + size.
struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
  // Bytes the engine reads to fetch the block: contents and trailer.
  uint64_t read_size() const { return size + kBlockTrailerBytes; }
  bool operator==(const BlockHandle&) const = default;
};
// Index-entry value: varint64 offset | varint64 size.
void EncodeBlockHandle(const BlockHandle& h, std::string* dst);
bool DecodeBlockHandle(std::string_view* input, BlockHandle* h);

// Appends the trailer for contents that will sit at file offset `offset`.
void AppendBlockTrailer(uint64_t offset, BlockKind kind, std::string_view contents,
                        std::string* dst);
// Checks raw = contents | trailer read from handle; on success *contents views raw.
// Corruption ("sst <kind> block at offset N: ...") on size, kind or checksum mismatch.
Status VerifyBlock(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                   std::string_view* contents);

struct Footer {
  BlockHandle index;
  BlockHandle filter;  // size 0: no filter
  BlockHandle properties;
  uint32_t format_version = kTableFormatVersion;

  // First byte of the meta region (filter, properties, index, padding, footer).
  uint64_t meta_offset() const { return filter.size != 0 ? filter.offset : properties.offset; }
  void EncodeTo(std::string* dst) const;  // appends exactly kFooterBytes
  // Parses the last kFooterBytes of a file of `file_size` bytes and checks that the
  // handles are in order and inside the file.
  static Status DecodeFrom(std::string_view bytes, uint64_t file_size, Footer* out);
};

struct TableProperties {
  uint64_t num_entries = 0;
  uint64_t num_deletions = 0;
  uint64_t num_data_blocks = 0;
  uint64_t raw_key_bytes = 0;
  uint64_t raw_value_bytes = 0;
  std::string smallest_key;  // internal keys; empty for an empty table
  std::string largest_key;
  SequenceNumber smallest_seq = 0;
  SequenceNumber largest_seq = 0;
  uint32_t bloom_bits_per_key = 0;

  void EncodeTo(std::string* dst) const;
  static Status DecodeFrom(std::string_view contents, TableProperties* out);
};

}  // namespace ringdb::lsm
