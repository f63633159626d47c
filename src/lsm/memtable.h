// MemTable: a shard's in-memory write buffer, a skiplist of internal keys in an arena,
// plus a hash index of user keys for point lookups.
//
// Thread ownership: one writer, the shard thread (Add); readers on any thread (Get,
// iterators) while the memtable is reachable from a published ReadView or referenced
// (skiplist.h publishes each node with a release store; the index publishes each slot
// and each grown table with a release store).
//
// Entry layout in the arena (what the skiplist's `const char*` keys point at; stored
// inline after the skiplist node's links, skiplist.h InsertInline):
//   varint32 internal_key_len | user_key | fixed64 tag | varint32 value_len | value
//
// The index (open addressing, linear probing) maps each user key to its newest entry,
// so Get costs a hash and one or two cache misses instead of a skiplist search (~20
// misses with a few hundred thousand keys). A slot holds the entry pointer in its low
// 48 bits and 16 more bits of the hash above them (x86-64/AArch64 user pointers fit in
// 48 bits: asserted). When it is half full the writer builds a table twice the size
// and publishes it; the old tables stay in the arena (readers may still be in them)
// and die with it.
// Invariant: every user key in the skiplist has a slot in the newest table, holding the
// entry with the highest sequence number added for that key. A Get whose snapshot is
// older than that entry falls back to the skiplist search.
// Why a reader at sequence S finds what it needs: the writer adds an entry (skiplist
// and index) before the shard publishes its sequence number; a reader acquired S, so
// it sees every index store made before S was published, the newest table included.
#pragma once

#include <atomic>
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

  struct NewEntry {
    SequenceNumber seq;
    ValueType type;
    std::string_view key;
    std::string_view value;
  };
  // Add for entries[0..n) at once (a write batch's): their places in the list are
  // searched together, their cache misses overlapping. Same requirements as Add.
  void AddMany(const NewEntry* entries, size_t n);

  using GetResult = LookupResult;
  // Newest entry for key.user_key() with sequence <= key.sequence(). *value (the
  // payload) and *expire_at_ms (0: no deadline; the caller judges it) are set only for
  // kFound.
  GetResult Get(const LookupKey& key, std::string* value, uint64_t* expire_at_ms = nullptr) const;

  // Arena bytes reserved (the index's tables included); the engine flushes when this
  // passes its write-buffer size.
  size_t ApproximateMemoryUsage() const { return arena_.MemoryUsage(); }
  size_t num_entries() const { return table_.size(); }
  uint64_t num_deletions() const { return num_deletions_; }
  // Smallest/largest sequence added (0/0 when empty).
  SequenceNumber smallest_seq() const { return smallest_seq_; }
  SequenceNumber largest_seq() const { return largest_seq_; }

  // Iterates internal keys. The memtable must outlive the iterator.
  std::unique_ptr<InternalIterator> NewIterator() const;

 private:
  // A searched key, decoded once per search (skiplist.h Probe).
  struct Decoded {
    std::string_view ikey;
    std::string_view user_key;  // when full
    uint64_t tag = 0;           // when full
    bool full = false;          // the key has a trailer (seek targets may not)
  };
  struct KeyComparator {
    int operator()(const char* a, const char* b) const;
    int operator()(const char* a, const Decoded& b) const;
    Decoded Decode(const char* k) const;
  };
  using Table = SkipList<const char*, KeyComparator>;
  class Iter;

  // The index's table: `mask + 1` slots (a power of two), each 0 or tag|entry.
  struct IndexTable {
    uint64_t mask;
    uint64_t used;  // writer only
    std::atomic<uint64_t> slots[1];
  };
  IndexTable* NewIndexTable(uint64_t slot_count);
  // Writer: entry (of user_key, hash h) becomes the key's slot unless the slot holds a
  // newer entry.
  void IndexAdd(IndexTable* t, const char* entry, std::string_view user_key, uint64_t h) const;
  void IndexGrow();
  // Any thread: the newest entry of user_key, or null.
  const char* IndexFind(std::string_view user_key, uint64_t h) const;
  // The skiplist search (snapshots older than the newest entry of a key).
  GetResult SearchList(const LookupKey& key, std::string* value, uint64_t* expire_at_ms) const;

  util::Arena arena_;
  Table table_;
  std::atomic<IndexTable*> index_{nullptr};  // written by the writer (release), read anywhere
  uint64_t num_deletions_ = 0;
  SequenceNumber smallest_seq_ = 0;
  SequenceNumber largest_seq_ = 0;
};

}  // namespace ringdb::lsm
