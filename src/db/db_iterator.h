// DBIterator: the public Iterator over every shard, run entirely on the caller's thread.
// Each shard contributes an lsm iterator over a pinned read view (its memtables and
// tables stay alive while the iterator lives; blocks come from the shard's block cache
// lock-free, and a block that misses it is read by the owning shard on request); the
// shards' iterators are merged by key with a heap (min-heap forward, max-heap
// backward). A key lives in exactly one shard, so the merge never meets duplicates.
//
// Cost (docs/engine.md "What reads cost"): creating one pins one view per shard (a
// reference count each); Seek positions every shard (a binary search per memtable and
// level, in memory when the blocks are cached); Next moves one shard and fixes the
// heap. A cache miss costs one round trip to its shard.
//
// Every call runs inside the DB's gate (db_impl.h): after Close, or once the DB is
// destroyed (a bug the docs forbid), calls see Shutdown instead of touching shards.
//
// Thread ownership: one thread at a time (the caller's).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "db/caller_reads.h"
#include "db/db_impl.h"
#include "lsm/db_iter.h"
#include "ringdb/iterator.h"
#include "util/assert.h"

namespace ringdb::db {

class DBIterator final : public Iterator {
 public:
  struct Child {
    uint32_t shard = 0;
    std::unique_ptr<ThreadBlockReader> reader;
    std::unique_ptr<lsm::UserIterator> it;  // declared after reader: destroyed first
  };
  DBIterator(DBImpl* db, std::vector<Child> children);

  bool Valid() const override { return status_.ok() && !heap_.empty(); }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void SeekForPrev(std::string_view target) override;
  void Next() override;
  void Prev() override;
  // REQUIRES: Valid() (the heap is empty otherwise).
  std::string_view key() const override {
    RINGDB_ASSERT(Valid());
    return heap_.front()->it->key();
  }
  std::string_view value() const override {
    RINGDB_ASSERT(Valid());
    return heap_.front()->it->value();
  }
  uint64_t expire_at_unix_ms() const override {
    RINGDB_ASSERT(Valid());
    return heap_.front()->it->expire_at();
  }
  Status status() const override { return status_; }

 private:
  enum class Op : uint8_t { kFirst, kLast, kSeek, kSeekForPrev };
  // Positions every child (inside the gate) and rebuilds the heap.
  void Reposition(Op op, std::string_view target);
  // Moves the current child one step and restores the heap.
  void Step(bool forward);
  // Turns around: every other child to the first key past (forward) or before the
  // current one.
  void SwitchDirection(bool forward);
  void RebuildHeap();
  bool Check(const Child& c);                         // false (status_ set) when c failed
  bool Before(const Child* a, const Child* b) const;  // heap order: a after b

  DBImpl* const db_;
  const OpenFlag open_;  // shared: outlives the DB
  std::vector<Child> children_;
  // Invariant: every member is a child whose iterator is Valid(); heap_[0] is the
  // current entry; empty once status_ is an error.
  std::vector<Child*> heap_;
  bool forward_ = true;
  Status status_;
};

}  // namespace ringdb::db
