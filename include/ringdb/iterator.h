// Iterator: an ordered cursor over the whole store (every shard), from DB::NewIterator.
//
//   std::unique_ptr<ringdb::Iterator> it = db->NewIterator(ringdb::ReadOptions{});
//   for (it->Seek("user:"); it->Valid() && it->key().starts_with("user:"); it->Next()) ...
//   if (!it->status().ok()) ...  // an I/O error or corruption ends the iteration
//
// Keys come in bytewise order across all shards (a k-way merge of per-shard
// iterators; each shard sends its entries in chunks and the next chunk is prefetched
// while the caller consumes the current one). The view is fixed when the iterator is
// created: one sequence number per shard (see DB::GetSnapshot for what that means
// across shards), or ReadOptions::snapshot's.
//
// key() and value() stay valid until the next call that moves the iterator.
// Thread safety: one iterator must not be used by two threads at once; different
// iterators are independent. An iterator must be destroyed before its DB.
#pragma once

#include <string_view>

#include "ringdb/status.h"

namespace ringdb {

class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator() = default;

  // True when positioned at an entry. False past either end, or on error (status()).
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // First key >= target (and within the bounds).
  virtual void Seek(std::string_view target) = 0;
  // Last key <= target (and within the bounds).
  virtual void SeekForPrev(std::string_view target) = 0;
  // REQUIRES: Valid().
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // REQUIRES: Valid(). The value's deadline in Unix milliseconds, 0 when it has none.
  // Keys past their deadline when the iterator was created are not shown.
  virtual uint64_t expire_at_unix_ms() const { return 0; }
  // OK, or the first error met (the iterator is then not Valid()).
  virtual Status status() const = 0;
};

}  // namespace ringdb
