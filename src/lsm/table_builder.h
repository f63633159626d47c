// TableBuilder: streams a sorted run of internal keys into SST bytes (docs/sst.md).
//
// The builder does no I/O. It appends finished bytes to an output buffer that the
// caller drains in 4 KiB-aligned pieces, so the engine can issue large O_DIRECT writes
// (and keep several in flight) while the builder goes on:
//
//   TableBuilder b(options);
//   for (...) {
//     b.Add(ikey, value);
//     if (b.ready().size() >= kWriteChunk) { write b.ready() at b.ready_offset();
//                                            b.Consume(b.ready().size()); }
//   }
//   b.Finish();             // ready() now holds the rest; the file size is 4 KiB aligned
//   write b.ready() at b.ready_offset(); b.Consume(b.ready().size());
//
// Sticky error: after a failed Add() every call returns that status. The destructor
// asserts that Finish() or Abandon() ran.
//
// Thread ownership: the flush/compaction fiber that created it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/bloom.h"
#include "lsm/dbformat.h"
#include "lsm/table_format.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

struct TableOptions {
  size_t block_bytes = 4096;    // target data block size (before the trailer)
  int restart_interval = 16;    // data blocks; the index uses 1
  int bloom_bits_per_key = 10;  // 0: no filter block
  // Page-aligned data blocks (docs/sst.md "Aligned data blocks"): every data block starts
  // on a kTableAlignBytes boundary (zero padding before it), and a block is also cut
  // before an entry that would make block + trailer overflow one page, so a block read
  // is one page. An entry too big for a page gets a block of its own.
  // REQUIRES: block_bytes <= kTableAlignBytes when set.
  bool block_align = false;
};

class TableBuilder {
 public:
  explicit TableBuilder(const TableOptions& options);
  ~TableBuilder();
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  // REQUIRES: internal_key is a valid internal key greater than every key added so far
  // (else InvalidArgument, sticky); value within kMaxValueBytes.
  Status Add(std::string_view internal_key, std::string_view value);
  // Writes the remaining blocks, padding and footer. After it, ready() holds everything
  // not yet consumed and FileSize() is final (a multiple of kTableAlignBytes).
  Status Finish();
  // Gives up on the table; the caller deletes whatever it wrote.
  void Abandon();

  // Finished bytes not yet consumed: they belong at file offset ready_offset(). Their
  // size is a multiple of kTableAlignBytes.
  std::string_view ready() const;
  uint64_t ready_offset() const { return out_base_; }
  // Drops the first n ready bytes (the caller has copied or written them).
  // REQUIRES: n <= ready().size(), n a multiple of kTableAlignBytes.
  void Consume(size_t n);

  Status status() const { return status_; }
  // Bytes produced so far (written or buffered); the file size after Finish().
  uint64_t FileSize() const { return out_base_ + out_.size(); }
  uint64_t NumEntries() const { return props_.num_entries; }
  // Final after Finish().
  const TableProperties& properties() const { return props_; }

  // Keeps every data block as it is finished, parsed and in an allocation of its own
  // (the one the cache will hold: no second copy), for the caller to put into its block
  // cache once the table is live (flushes do: the data just written is the data most
  // likely to be read next). Call before the first Add().
  struct BuiltBlock {
    BlockHandle handle;
    BlockPtr block;
  };
  void KeepDataBlocks() { keep_blocks_ = true; }
  std::vector<BuiltBlock>& kept_blocks() { return kept_; }

 private:
  void FlushDataBlock();
  // block_align: zeros up to the next kTableAlignBytes boundary.
  void PadToPage();
  BlockHandle WriteBlock(BlockKind kind, std::string_view contents);

  const TableOptions options_;
  InternalKeyComparator icmp_;
  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::unique_ptr<BloomFilterBuilder> filter_;
  bool keep_blocks_ = false;
  std::vector<BuiltBlock> kept_;
  TableProperties props_;

  std::string out_;        // bytes from file offset out_base_ on
  uint64_t out_base_ = 0;  // Invariant: multiple of kTableAlignBytes
  std::string last_key_;
  // Invariant: pending_index_entry_ iff a data block was flushed and its index entry
  // waits for the next key (to pick a short separator).
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;
  std::string handle_encoding_;
  Status status_;
  bool closed_ = false;  // Finish() or Abandon() ran
  bool finished_ = false;
};

}  // namespace ringdb::lsm
