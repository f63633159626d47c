// PendingTable: the writes a shard has queued and not yet acknowledged, newest per key.
// Read-modify-write commands (INCR, SETNX, APPEND...) read through it, so that two of
// them on one key in the same group commit see each other, and a reply never waits for
// more than the group commit it joined. Keys and values are views into the memory of
// the batch that wrote them, which outlives the acknowledgment (see keyspace.h).
//
// Open addressing with linear probing and backward-shift deletion; the capacity only
// grows, so a warm table allocates nothing.
//
// Thread ownership: one shard's thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace ringdb::server {

struct PendingEntry {
  uint64_t hash = 0;
  std::string_view key;
  std::string_view value;
  uint64_t expire_at_ms = 0;
  uint64_t ticket = 0;  // the write that put it here; 0: slot empty
  bool deleted = false;
};

class PendingTable {
 public:
  PendingTable() : slots_(kInitial) {}

  PendingEntry* Find(uint64_t hash, std::string_view key) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      PendingEntry& e = slots_[i];
      if (e.ticket == 0) return nullptr;
      if (e.hash == hash && e.key == key) return &e;
    }
  }

  // Inserts or replaces the entry of key. REQUIRES: e.ticket != 0.
  void Upsert(const PendingEntry& e) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = e.hash & mask;; i = (i + 1) & mask) {
      PendingEntry& s = slots_[i];
      if (s.ticket == 0) {
        s = e;
        size_++;
        return;
      }
      if (s.hash == e.hash && s.key == e.key) {
        s = e;
        return;
      }
    }
  }

  // Removes key's entry if it is still the one `ticket` wrote. True if removed.
  bool EraseIf(uint64_t hash, std::string_view key, uint64_t ticket) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    for (;; i = (i + 1) & mask) {
      PendingEntry& e = slots_[i];
      if (e.ticket == 0) return false;
      if (e.hash == hash && e.key == key) break;
    }
    if (slots_[i].ticket != ticket) return false;
    // Backward shift: pull later members of the probe run into the hole.
    size_t hole = i;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      PendingEntry& e = slots_[j];
      if (e.ticket == 0) break;
      const size_t home = e.hash & mask;
      // e may move into the hole if its home is not in (hole, j].
      const bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!between) {
        slots_[hole] = e;
        hole = j;
      }
    }
    slots_[hole] = PendingEntry();
    size_--;
    return true;
  }

  size_t size() const { return size_; }
  // Calls fn(entry) for every entry (FLUSHALL).
  template <class F>
  void ForEach(F fn) const {
    for (const PendingEntry& e : slots_) {
      if (e.ticket != 0) fn(e);
    }
  }

 private:
  static constexpr size_t kInitial = 1024;
  void Grow() {
    std::vector<PendingEntry> old(slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (const PendingEntry& e : old) {
      if (e.ticket != 0) Upsert(e);
    }
  }

  std::vector<PendingEntry> slots_;  // Invariant: size is a power of two, at most half full
  size_t size_ = 0;
};

}  // namespace ringdb::server
