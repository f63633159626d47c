// BlockCache: a shard's cache of verified SST blocks, bounded in bytes, CLOCK eviction.
//
// Thread ownership: one writer, the shard thread (Insert, EraseFile, Pin/Unpin and all
// eviction), and lock-free readers on any thread (Lookup, inside an rcu::ReadLock;
// Admit, after a miss).
// Lookup takes no lock and does no atomic read-modify-write: a hit costs a hash, a walk
// of one bucket's chain with acquire loads, and at most one relaxed store (the CLOCK
// reference bit, written only when it is clear, so a hot block's line stays shared).
//
// How it stays safe (STYLE.md item 22, in its RCU form):
//   - The table of buckets is fixed at construction (sized for the capacity in 4 KiB
//     blocks); each bucket is a singly linked chain of immutable entries.
//   - The writer links a fully built entry at the head of its chain with one release
//     store, and unlinks an evicted one by pointing its predecessor past it. A reader
//     standing on an unlinked entry still follows its old `next`, which stays valid.
//   - Unlinked entries are retired through the shard's rcu::RetireList: freed after
//     every reader that could hold them has left its read-side section.
// A reader that needs a block beyond its section copies the entry's BlockPtr (a
// reference count increment; iterators do this once per block, point reads never).
//
// Charges: data blocks by their heap size; index and filter blocks of open tables are
// pinned (charged, never evicted) while the table is open.
//
// Admission (Admit): while the cache has room every block read is cached. Once it is
// full, a block read after a miss is cached only when it missed before within about one
// cache lifetime (the doorkeeper of TinyLFU, Einziger et al.: two bits of one 64-bit
// word per hashed block, cleared after as many new blocks as the cache holds). A block
// read once would be
// evicted before anyone asked for it again; not caching it saves a message to the
// shard, its entry, an eviction and a free on the reclaimer, the whole cost of a cache
// that is far smaller than what is read (uniform reads over a large store), and keeps
// the cached blocks that are read again.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "lsm/block.h"
#include "runtime/rcu.h"
#include "util/huge_buffer.h"

namespace ringdb::lsm {

class BlockCache {
 public:
  // `retire` (owned by the shard) receives evicted entries; it must outlive the cache.
  BlockCache(size_t capacity_bytes, rt::rcu::RetireList* retire);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // Any thread. REQUIRES: inside an rcu::ReadLock, which the result must not outlive.
  // The cached block of (file, offset), or null.
  const BlockPtr* Lookup(uint64_t file_number, uint64_t offset) const {
    for (const Entry* e = buckets_[Bucket(file_number, offset)].load(std::memory_order_acquire);
         e != nullptr; e = e->next.load(std::memory_order_acquire)) {
      if (e->offset == offset && e->file == file_number) {
        if (e->referenced.load(std::memory_order_relaxed) == 0) {
          e->referenced.store(1, std::memory_order_relaxed);
        }
        return &e->block;
      }
    }
    return nullptr;
  }

  // Any thread, for a block just read after a miss of Lookup: whether it should be
  // offered to Insert (see "Admission" above). Touches the doorkeeper only while the
  // cache is full: one relaxed load, and for a first miss a relaxed store and one
  // fetch_add on a counter shared by the cache's readers (misses only; a miss costs a
  // disk read).
  bool Admit(uint64_t file_number, uint64_t offset) const;

  // ---- writer (shard thread) ----
  // Whether (file, offset) is cached, without marking it referenced.
  bool Contains(uint64_t file_number, uint64_t offset) const {
    return Find(file_number, offset) != nullptr;
  }
  // Caches `block`; keeps the cached copy if (file, offset) is present already (two
  // readers may fetch the same block at once). Skipped when it cannot fit.
  void Insert(uint64_t file_number, uint64_t offset, BlockPtr block, size_t charge);
  // Drops every block of a file (it was deleted).
  void EraseFile(uint64_t file_number);
  // Memory held outside the cache's entries but charged to the same budget: the index
  // and filter blocks of open tables. Entries are evicted to make room; pinned bytes
  // alone may exceed the capacity (then nothing is cached).
  void Pin(size_t bytes) {
    pinned_ += bytes;
    AddUsage(bytes);
    EvictToFit();
  }
  void Unpin(size_t bytes) {
    pinned_ -= bytes;
    SubUsage(bytes);
  }

  size_t usage() const { return usage_.load(std::memory_order_relaxed); }  // entries + pinned
  size_t pinned() const { return pinned_; }
  size_t capacity() const { return capacity_; }
  size_t entries() const { return entries_; }

 private:
  struct Entry {
    std::atomic<Entry*> next{nullptr};
    uint64_t file = 0;
    uint64_t offset = 0;
    BlockPtr block;
    size_t charge = 0;
    mutable std::atomic<uint8_t> referenced{0};  // CLOCK bit: readers set, the writer clears
  };
  size_t Bucket(uint64_t file, uint64_t offset) const {
    uint64_t h = (file * 0x9e3779b97f4a7c15ull) ^ (offset * 0xc2b2ae3d27d4eb4full);
    h ^= h >> 29;
    return static_cast<size_t>(h) & mask_;
  }
  // The writer's updates of usage_ (one writer: load and store, no read-modify-write).
  void AddUsage(size_t n) { usage_.store(usage() + n, std::memory_order_relaxed); }
  void SubUsage(size_t n) { usage_.store(usage() - n, std::memory_order_relaxed); }
  // True while Insert would have to evict (Admit's test: less than a few blocks free).
  bool Full() const;
  Entry* Find(uint64_t file, uint64_t offset) const;
  void Unlink(Entry* e);  // from its chain; then retire it
  void EvictToFit();

  const size_t capacity_;
  rt::rcu::RetireList* const retire_;
  size_t mask_ = 0;
  // On huge pages (util::HugeArena), as the tables' filters and indexes: a lookup after
  // a system call (every cold read's first touch) costs a cache miss but rarely a walk.
  std::vector<std::atomic<Entry*>, util::HugeAllocator<std::atomic<Entry*>>> buckets_;
  // Writer only. CLOCK as a second-chance FIFO: the hand takes the front; a referenced
  // entry loses its bit and goes to the back, an unreferenced one is evicted.
  std::deque<Entry*> clock_;  // entries in the cache, plus EraseFile'd ones (skipped)
  size_t entries_ = 0;
  std::atomic<size_t> usage_{0};  // written by the writer, read by Admit on any thread
  size_t pinned_ = 0;

  // The doorkeeper (Admit): 32 bits per block the capacity holds (in 4 KiB blocks),
  // cleared by the thread whose first miss brings the new blocks to the window. A block
  // sets two bits of one word (one cache line to read): at most 1/16 of the bits are
  // set, so a block missed for the first time passes for one missed before about once
  // in 800 first misses over a window, once in 256 at its end. With one bit in 16 per
  // block that was once in 32 (at its end 16): three quarters of the admissions of a
  // store 50 times the cache's size were such, at the cost of a block copied, sent and
  // evicted each. Threads count their new blocks in strides of kDoorStride (one shared
  // add per stride, not one per miss): the window is kept to within a stride per
  // reading thread.
  static constexpr size_t kDoorStride = 32;
  size_t door_words_mask_ = 0;  // door_.size() - 1
  size_t door_window_ = 0;
  mutable std::vector<std::atomic<uint64_t>, util::HugeAllocator<std::atomic<uint64_t>>> door_;
  alignas(64) mutable std::atomic<size_t> door_marks_{0};  // new bits since the last clear
};

}  // namespace ringdb::lsm
