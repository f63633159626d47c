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
  // array. Corruption on any mismatch. raw is moved into the block.
  static Status FromRaw(std::string raw, const BlockHandle& handle, BlockKind kind, BlockPtr* out);
  // The same for raw bytes in a buffer the caller keeps (an O_DIRECT read buffer): the
  // block copies the verified contents into an allocation of their exact size, so the
  // cache charges what the block holds, not the pages the read spanned.
  static Status FromCopy(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                         BlockPtr* out);
  // Parses unverified contents already in memory (tests, builders). Checks the
  // restart array only.
  static Status FromContents(std::string contents, uint64_t offset, BlockKind kind, BlockPtr* out);

  std::string_view contents() const { return contents_; }
  uint64_t offset() const { return offset_; }
  BlockKind kind() const { return kind_; }
  uint32_t num_restarts() const { return num_restarts_; }
  // True when the block holds no entry (only its restart array).
  bool empty() const { return restarts_offset_ == 0; }
  // Heap bytes held (block cache charge).
  size_t charge() const { return storage_.capacity() + sizeof(*this); }

  // The entry at restart point i, for blocks whose every entry is a restart point
  // (index blocks): false when it is malformed (or shares a prefix).
  bool RestartEntry(uint32_t i, std::string_view* key, std::string_view* value) const;

  class Iter;
  // The iterator keeps the block alive.
  static std::unique_ptr<Iter> NewIterator(BlockPtr block);

 private:
  Block() = default;
  Status ParseRestarts();

  std::string storage_;
  std::string_view contents_;
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
