// PostBuffer: the bytes of messages a foreign thread hands to one shard without waiting
// for them (posted writes, docs/engine.md). It is an SPSC byte ring that lives beside
// the thread's message ring to that shard: the producer carves a record off the ring,
// fills it (the message object and its payload) and pushes a pointer to it over the
// message ring; the consumer gives records back in the order it received them, once it
// no longer needs their bytes. Nothing is allocated per message.
//
// Thread ownership: one producer thread (Reserve) and one consumer thread (Release,
// Drained). `released_` is the only shared word, on its own cache line; the producer
// publishes `produced_` only for the consumer's Drained() check at reclamation.
//
// Invariant: released_ <= produced_ <= released_ + capacity. Records are released in
// the order they were reserved (the consumer must not release a record while an
// earlier one is still in use: releasing one releases every earlier one).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/spsc_ring.h"
#include "util/assert.h"

namespace ringdb::rt {

class PostBuffer {
 public:
  static constexpr size_t kAlign = 16;

  // capacity: a power of two.
  explicit PostBuffer(size_t capacity)
      : cap_(capacity), data_(new (std::align_val_t{kCacheLine}) char[capacity]) {
    RINGDB_ASSERT((capacity & (capacity - 1)) == 0 && capacity >= 4 * kAlign);
  }
  ~PostBuffer() { operator delete[](data_, std::align_val_t{kCacheLine}); }
  PostBuffer(const PostBuffer&) = delete;
  PostBuffer& operator=(const PostBuffer&) = delete;

  size_t capacity() const { return cap_; }

  // Producer: contiguous room for `bytes`, aligned to kAlign, or nullptr while the ring
  // is too full (or the record could never fit: bytes > capacity / 2). *token is what
  // the consumer passes to Release() for this record.
  void* Reserve(size_t bytes, uint64_t* token) {
    const size_t n = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (n > cap_ / 2) return nullptr;
    uint64_t head = head_;
    size_t pos = static_cast<size_t>(head & (cap_ - 1));
    const size_t skip = pos + n > cap_ ? cap_ - pos : 0;  // the tail is too short: wrap
    if (head + skip + n - released_cache_ > cap_) {
      released_cache_ = released_.load(std::memory_order_acquire);
      if (head + skip + n - released_cache_ > cap_) return nullptr;
    }
    head += skip;
    pos = skip != 0 ? 0 : pos;
    head_ = head + n;
    produced_.store(head_, std::memory_order_release);
    *token = head_;
    return data_ + pos;
  }

  // Consumer: the record with this token, and every earlier one, may be reused.
  void Release(uint64_t token) { released_.store(token, std::memory_order_release); }
  // Consumer: true when every record reserved so far was released.
  bool Drained() const {
    return released_.load(std::memory_order_acquire) == produced_.load(std::memory_order_acquire);
  }

 private:
  const size_t cap_;
  char* const data_;
  alignas(kCacheLine) uint64_t head_ = 0;  // producer: bytes handed out, wrap skips included
  uint64_t released_cache_ = 0;            // producer's last view of released_
  std::atomic<uint64_t> produced_{0};      // head_, for Drained()
  alignas(kCacheLine) std::atomic<uint64_t> released_{0};
};

}  // namespace ringdb::rt
