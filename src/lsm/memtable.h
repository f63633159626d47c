// MemTable: a shard's in-memory write buffer, a skiplist of internal keys in an arena.
//
// Thread ownership: one writer, the shard thread (Add); readers on any thread (Get,
// iterators) while the memtable is reachable from a published ReadView or referenced
// (skiplist.h publishes each node with a release store).
//
// Entry layout in the arena (what the skiplist's `const char*` keys point at):
//   varint32 internal_key_len | user_key | fixed64 tag | varint32 value_len | value
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "lsm/skiplist.h"
#include "util/arena.h"

namespace ringdb::lsm {

class MemTable {
 public:
  explicit MemTable(size_t arena_block_bytes = 1 << 20);
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // REQUIRES: (key, seq) not already added; key/value within dbformat.h limits; for
  // kValueExpiring, value is the stored form (lsm/expiry.h).
  void Add(SequenceNumber seq, ValueType type, std::string_view key, std::string_view value);

  using GetResult = LookupResult;
  // Newest entry for key.user_key() with sequence <= key.sequence(). *value (the
  // payload) and *expire_at_ms (0: no deadline; the caller judges it) are set only for
  // kFound.
  GetResult Get(const LookupKey& key, std::string* value, uint64_t* expire_at_ms = nullptr) const;

  // Arena bytes reserved; the engine flushes when this passes its write-buffer size.
  size_t ApproximateMemoryUsage() const { return arena_.MemoryUsage(); }
  size_t num_entries() const { return table_.size(); }
  uint64_t num_deletions() const { return num_deletions_; }
  // Smallest/largest sequence added (0/0 when empty).
  SequenceNumber smallest_seq() const { return smallest_seq_; }
  SequenceNumber largest_seq() const { return largest_seq_; }

  // Iterates internal keys. The memtable must outlive the iterator.
  std::unique_ptr<InternalIterator> NewIterator() const;

 private:
  struct KeyComparator {
    InternalKeyComparator icmp;
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, KeyComparator>;
  class Iter;

  util::Arena arena_;
  Table table_;
  uint64_t num_deletions_ = 0;
  SequenceNumber smallest_seq_ = 0;
  SequenceNumber largest_seq_ = 0;
};

}  // namespace ringdb::lsm
