// BlockCache: a shard's cache of verified SST blocks, bounded in bytes, LRU.
//
// Thread ownership: one shard thread; no locks, no atomics of its own (BlockPtr's
// reference count is the only shared-pointer traffic, and it stays on this thread).
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>

#include "lsm/block.h"

namespace ringdb::lsm {

class BlockCache {
 public:
  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The cached block for (file, offset), or null.
  BlockPtr Lookup(uint64_t file_number, uint64_t offset);
  void Insert(uint64_t file_number, uint64_t offset, BlockPtr block, size_t charge);
  // Drops every block of a file (it was deleted).
  void EraseFile(uint64_t file_number);

  // Memory held outside the LRU but charged to the same budget: the index and filter
  // blocks of open tables (pinned while the table is open). Data blocks are evicted to
  // make room; pinned bytes alone may exceed the capacity (then nothing is cached).
  void Pin(size_t bytes) {
    pinned_ += bytes;
    usage_ += bytes;
    EvictToFit();
  }
  void Unpin(size_t bytes) {
    pinned_ -= bytes;
    usage_ -= bytes;
  }

  size_t usage() const { return usage_; }  // data blocks + pinned
  size_t pinned() const { return pinned_; }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Key {
    uint64_t file;
    uint64_t offset;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return (k.file * 0x9e3779b97f4a7c15ull) ^ k.offset; }
  };
  struct Entry {
    Key key;
    BlockPtr block;
    size_t charge;
  };
  void EvictToFit();

  size_t capacity_;
  size_t usage_ = 0;
  size_t pinned_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> map_;
};

}  // namespace ringdb::lsm
