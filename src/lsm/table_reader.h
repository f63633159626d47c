// TableReader: reads an SST through blocks the engine fetches (docs/sst.md).
//
// The reader does no I/O. Opening takes two reads the engine issues:
//   1. the last FooterReadBytes(file_size) bytes -> Footer::DecodeFrom();
//   2. the meta region [footer.meta_offset(), file_size) -> TableReader::Open(), which
//      verifies and keeps the index block, filter and properties (often already covered
//      by read 1).
// After that, data blocks are fetched on demand through a BlockFetcher, which the
// engine implements with async reads (the calling fiber suspends inside Fetch) and its
// block cache. Every block read from disk is checksum-verified by Block::FromRaw.
//
// Thread ownership: immutable after Open(); any thread may read through it at once
// (FindDataBlock, SearchDataBlock and iterators touch no shared mutable state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/block.h"
#include "lsm/bloom.h"
#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "lsm/table_format.h"
#include "ringdb/status.h"
#include "util/huge_buffer.h"

namespace ringdb::lsm {

class BlockFetcher {
 public:
  virtual ~BlockFetcher() = default;
  // Produces the verified block at `handle`: either reads handle.read_size() bytes at
  // handle.offset and calls Block::FromRaw(raw, handle, kind, out), or returns a cached
  // block that came from FromRaw. IOError/Corruption are passed through to the caller.
  virtual Status Fetch(const BlockHandle& handle, BlockKind kind, BlockPtr* out) = 0;
};

// A fetcher over a whole file held in memory (tests, ringdb-tool).
class StringBlockFetcher final : public BlockFetcher {
 public:
  explicit StringBlockFetcher(std::string_view file) : file_(file) {}
  Status Fetch(const BlockHandle& handle, BlockKind kind, BlockPtr* out) override;
  uint64_t fetches() const { return fetches_; }

 private:
  std::string_view file_;
  uint64_t fetches_ = 0;
};

class TableReader {
 public:
  // Bytes to read from the end of the file for the footer (step 1).
  static uint64_t FooterReadBytes(uint64_t file_size) {
    return file_size < kTableAlignBytes ? file_size : kTableAlignBytes;
  }
  // Step 2. meta holds the bytes [footer.meta_offset(), file_size).
  static Status Open(uint64_t file_size, const Footer& footer, std::string meta,
                     std::unique_ptr<TableReader>* out);
  // Convenience for a file fully in memory: both steps.
  static Status OpenFromFile(std::string_view file, std::unique_ptr<TableReader>* out);

  const TableProperties& properties() const { return props_; }
  const Footer& footer() const { return footer_; }
  uint64_t file_size() const { return file_size_; }

  bool has_filter() const { return has_filter_; }
  // Heap bytes this reader keeps while open (index block, filter, properties).
  size_t memory_usage() const {
    return meta_.capacity() + filter_bytes_.capacity() + index_->charge() +
           index_prefix_.capacity() * sizeof(IndexEntry) +
           (index_top_.capacity() + index_mid_.capacity()) * sizeof(uint64_t) + sizeof(*this);
  }
  // False when the filter proves user_key is absent.
  bool MayContain(std::string_view user_key) const;

  // The most index entries that share one 8-byte prefix (after the common one): how many
  // separators a point lookup may have to compare in full (ringdb-tool shows it).
  uint32_t max_prefix_tie() const { return max_prefix_tie_; }
  // Point lookup, step 1: the data block that may hold key (*handle); *may_exist is
  // false when the filter or the index rules the key out (no read needed).
  // seeded_hash: Hash64(user key, kBloomHashSeed), computed once per lookup.
  Status FindDataBlock(const LookupKey& key, uint64_t seeded_hash, BlockHandle* handle,
                       bool* may_exist) const;
  Status FindDataBlock(const LookupKey& key, BlockHandle* handle, bool* may_exist) const;
  // Point lookup, step 2: searches the fetched block. *value (the payload) and
  // *expire_at_ms (0: no deadline; the caller judges it) are set for kFound.
  // Corruption for a bad key or an expiring value too short for its deadline.
  static Status SearchDataBlock(const Block& block, const LookupKey& key, LookupResult* result,
                                std::string* value, uint64_t* expire_at_ms = nullptr);
  // Both steps through a fetcher.
  Status Get(const LookupKey& key, BlockFetcher* fetcher, LookupResult* result, std::string* value,
             uint64_t* expire_at_ms = nullptr) const;

  // Iterates the whole table, fetching data blocks as it goes. The reader and the
  // fetcher must outlive the iterator.
  std::unique_ptr<InternalIterator> NewIterator(BlockFetcher* fetcher) const;
  // The index: key = separator, value = EncodeBlockHandle(data block). For read-ahead.
  std::unique_ptr<Block::Iter> NewIndexIterator() const { return Block::NewIterator(index_); }

 private:
  TableReader() = default;
  // Builds index_common_ and index_prefix_ from the index block.
  Status BuildIndexPrefixes();
  // The index entry a point lookup of ikey lands on: the first separator >= ikey, or
  // num_restarts() when none (the key is past the table). With filter_hash (the key's
  // hash for the filter, whose line the caller has asked for), the filter is consulted
  // once the search's next line is on its way too: *filtered, and no entry, when it
  // rules the key out.
  Status FindIndexEntry(std::string_view ikey, const uint64_t* filter_hash, bool* filtered,
                        uint32_t* entry) const;
  // FindIndexEntry's search of the prefix arrays for p (the key's 8 bytes after
  // index_common_): the top level, which returns the range of index_mid_ to search and
  // has asked for its line; then the middle level and the entries (the first >= p).
  struct MidRange {
    uint32_t begin, end;
  };
  MidRange SearchTop(uint64_t p) const;
  uint32_t SearchMidAndBottom(uint64_t p, MidRange mid) const;

  uint64_t file_size_ = 0;
  Footer footer_;
  std::string meta_;  // the meta region while Open decodes it; then empty
  // The filter's contents (the filter views them), with the index search arrays below
  // in the process's HugeArena: a lookup probes all three at random.
  std::vector<char, util::HugeAllocator<char>> filter_bytes_;
  BlockPtr index_;
  // Point lookups binary-search these rather than the index block (whose entries are
  // scattered over hundreds of KB: two cache misses a probe). index_common_ is the
  // prefix every separator's user key shares; index_prefix_[i].prefix is the next 8
  // bytes of separator i's user key, big-endian, zero-padded: non-decreasing, so a
  // lookup key's 8 bytes bound the range of entries that need a full comparison
  // (usually one). Every separator but the last has index_common_ as a prefix:
  // index_sharing_ is n, or n - 1 when the last (a short successor such as "1") does
  // not, and then its .prefix is all ones. .handle is entry i's data block, packed
  // (offset << 28 | size << 4 | suffix), on the cache line the search ends on, so a
  // lookup need not read the index block at all; kNoPackedHandle where it does not fit
  // (offsets from 64 GiB, blocks from 16 MiB: then it is decoded from the block).
  // suffix is how many bytes the separator's user key has after index_common_, where
  // at most 8 (kLongSuffix otherwise): with the key's own, it orders two user keys
  // whose prefixes tie, and tells when they are equal (fixed-width keys tie with the
  // separator that is the last key of their block), without reading the block.
  struct IndexEntry {
    uint64_t prefix;
    uint64_t handle;
  };
  static constexpr uint64_t kNoPackedHandle = ~uint64_t{0};
  static constexpr uint64_t kLongSuffix = 15;
  std::string index_common_;
  uint32_t index_sharing_ = 0;
  uint32_t max_prefix_tie_ = 0;
  std::vector<IndexEntry, util::HugeAllocator<IndexEntry>> index_prefix_;
  // index_prefix_[i * kTopStride].prefix for every i: searched first (a few KB per
  // table, usually cached), so the rest of the search spans kTopStride entries.
  // index_mid_[i] is index_prefix_[i * kMidStride].prefix: the kTopStride / kMidStride
  // samples inside one top interval fill one cache line, and the kMidStride entries they
  // leave two. A lookup thus waits for two lines of these arrays, one after the other,
  // where a binary search over the interval's 16 lines waited for four or five.
  static constexpr uint32_t kTopStride = 64;
  static constexpr uint32_t kMidStride = 8;
  std::vector<uint64_t, util::HugeAllocator<uint64_t>> index_top_;
  std::vector<uint64_t, util::HugeAllocator<uint64_t>> index_mid_;
  // A lookup at this sequence or above sorts before every entry of its user key in the
  // table: the table's largest sequence (its properties), else kMaxSequenceNumber.
  SequenceNumber settle_seq_ = kMaxSequenceNumber;
  BloomFilter filter_;
  bool has_filter_ = false;
  TableProperties props_;
};

}  // namespace ringdb::lsm
