// Block: a verified, parsed key/value block (data or index) and its iterator.
//
// Thread ownership: a block is immutable once built, and is owned by the shard that
// read it (its block cache shares it through BlockPtr). Iterators never trust the
// contents: every varint and length is bounds-checked and a malformed entry turns the
// iterator invalid with a Corruption status naming the block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "lsm/table_format.h"
#include "ringdb/status.h"
#include "util/coding.h"

namespace ringdb::lsm {

class Block;
using BlockPtr = std::shared_ptr<const Block>;

class Block {
 public:
  // Verifies raw (contents | trailer, as read from `handle`) and parses the restart
  // array. Corruption on any mismatch. The block copies the verified contents into its
  // own allocation, of their exact size: the caller keeps raw (an O_DIRECT read buffer,
  // a read-ahead chunk), and the cache charges what the block holds, not the pages the
  // read spanned.
  static Status FromRaw(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                        BlockPtr* out);
  // Parses unverified contents already in memory (builders, tests). Checks the
  // restart array only. Its allocation comes from operator new, not util::Slabs: a
  // flush's blocks read 1-5% slower from slots (in-memory reads on the shards, rotated
  // rounds; docs/engine.md "Block memory"), for reasons not found yet.
  static Status FromContents(std::string_view contents, uint64_t offset, BlockKind kind,
                             BlockPtr* out);
  // Verifies raw as FromRaw does and parses it into *out without a copy: *out borrows
  // raw, which must outlive every use of it (a point lookup's block, searched in the
  // reading thread's buffer where the read landed, and dropped before that thread reads
  // again). *out charges nothing.
  static Status BorrowRaw(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                          Block* out);

  Block() = default;  // empty; for BorrowRaw

  std::string_view contents() const { return contents_; }
  uint64_t offset() const { return offset_; }
  BlockKind kind() const { return kind_; }
  uint32_t num_restarts() const { return num_restarts_; }
  // True when the block holds no entry (only its restart array).
  bool empty() const { return restarts_offset_ == 0; }
  // Heap bytes held (block cache charge): the one allocation that holds the block, its
  // contents and the shared_ptr's reference counts; for a block read from disk, its
  // util::Slabs slot (rounded up to 256 bytes).
  size_t charge() const { return charge_; }

  // The entry at restart point i, for blocks whose every entry is a restart point
  // (index blocks): false when it is malformed (or shares a prefix).
  bool RestartEntry(uint32_t i, std::string_view* key, std::string_view* value) const;

  // A point lookup's search, without an iterator: the first entry whose internal key is
  // >= target, its key rebuilt in *key and its value in *value. False when there is no
  // such entry (*status untouched) or an entry is malformed (*status a Corruption naming
  // the block). It checks what Iter::Seek and the entries it passes check.
  bool SeekPoint(std::string_view target, InlineBytes* key, std::string_view* value,
                 Status* status) const;

  class Iter;
  // The iterator keeps the block alive.
  static std::unique_ptr<Iter> NewIterator(BlockPtr block);

  // For Make only: where allocate_shared put the room for the contents, and how many
  // bytes it allocated in all.
  struct Tail {
    char* data = nullptr;
    size_t bytes = 0;
  };
  Block(const Tail& tail, std::string_view contents, uint64_t offset, BlockKind kind);
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

 private:
  // One allocation per block (a cache miss makes one): Make asks allocate_shared to
  // place the contents right before the object and its reference counts (the restart
  // array, which every search reads first, next to the object).
  // slab: a slot of util::Slabs (blocks read from disk: a cache fill's), else
  // operator new.
  static std::shared_ptr<Block> Make(std::string_view contents, uint64_t offset, BlockKind kind,
                                     bool slab);
  static Status Parse(std::string_view contents, uint64_t offset, BlockKind kind, bool slab,
                      BlockPtr* out);
  Status ParseRestarts();
  // The last restart point whose key is < target, or 0: where Iter::Seek and SeekPoint
  // start their scans. False when an entry at a restart point is malformed.
  bool LastRestartBefore(std::string_view target, uint32_t* index) const;

  std::string_view contents_;  // in the same allocation, after the object
  size_t charge_ = 0;
  uint64_t offset_ = 0;
  BlockKind kind_ = BlockKind::kData;
  uint32_t restarts_offset_ = 0;  // Invariant: restart array = contents_[restarts_offset_, size-4)
  uint32_t num_restarts_ = 0;
};

class Block::Iter final : public InternalIterator {
 public:
  // Owns a reference to the block.
  explicit Iter(BlockPtr block);
  // Borrows the block, which must outlive the iterator (point lookups: no reference
  // count traffic on a block other threads read too).
  explicit Iter(const Block* block);

  bool Valid() const override { return current_ < restarts_offset_ && status_.ok(); }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override { return key_.view(); }
  std::string_view value() const override { return value_; }
  Status status() const override { return status_; }

 private:
  uint32_t RestartPoint(uint32_t i) const {
    return util::DecodeFixed32(data_ + restarts_offset_ + 4 * i);
  }
  void SeekToRestartPoint(uint32_t i);
  // Decodes the entry at next_; false at the end or on corruption.
  bool ParseNextKey();
  void MarkCorrupt(const char* what);

  BlockPtr owner_;  // null for a borrowing iterator
  const Block* block_;
  const char* data_;
  uint32_t restarts_offset_;
  uint32_t num_restarts_;
  InternalKeyComparator icmp_;

  // Invariant: when Valid(), [current_, next_) is the current entry.
  uint32_t current_;
  uint32_t next_ = 0;
  uint32_t restart_index_ = 0;  // restart block that holds current_
  InlineBytes key_;
  std::string_view value_;
  Status status_;
};

}  // namespace ringdb::lsm
