// PostBuffer: the bytes of messages a foreign thread hands to one shard without waiting
// for them (posted writes, docs/engine.md). It is an SPSC byte ring that lives beside
// the thread's message ring to that shard: the producer carves a record off the ring,
// fills it (the message object and its payload) and pushes a pointer to it over the
// message ring; the consumer gives records back in the order it received them, once it
// no longer needs their bytes. Nothing is allocated per message.
//
// The memory comes from the owner (the engine maps a file there, so that the kernel
// holds a record as soon as it is written: lsm/post_log.h), with the two positions
// stored in it as well; the destructor runs the owner's release hook.
//
// Thread ownership: one producer thread (Reserve) and one consumer thread (Release,
// Drained). `released` is the only word the consumer writes; the producer publishes
// `produced` at every Reserve.
//
// Invariant: released <= produced <= released + capacity. Records are released in the
// order they were reserved (releasing one releases every earlier one).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "util/assert.h"

namespace ringdb::rt {

class PostBuffer {
 public:
  static constexpr size_t kAlign = 16;

  struct Memory {
    char* ring = nullptr;
    size_t capacity = 0;  // a power of two
    std::atomic<uint64_t>* produced = nullptr;
    std::atomic<uint64_t>* released = nullptr;
    std::function<void(bool drained)> release;  // run by the destructor
  };

  explicit PostBuffer(Memory m) : m_(std::move(m)) {
    RINGDB_ASSERT((m_.capacity & (m_.capacity - 1)) == 0 && m_.capacity >= 4 * kAlign);
    head_ = m_.produced->load(std::memory_order_relaxed);
    released_cache_ = m_.released->load(std::memory_order_relaxed);
  }
  ~PostBuffer() {
    if (m_.release) m_.release(Drained());
  }
  PostBuffer(const PostBuffer&) = delete;
  PostBuffer& operator=(const PostBuffer&) = delete;

  size_t capacity() const { return m_.capacity; }

  // Producer: contiguous room for `bytes`, aligned to kAlign, or nullptr while the ring
  // is too full (or the record could never fit: bytes > capacity / 2). *pos is the
  // record's ring position (its bytes are at ring[pos % capacity]); *token is what the
  // consumer passes to Release() for it.
  void* Reserve(size_t bytes, uint64_t* pos, uint64_t* token) {
    const size_t n = (bytes + kAlign - 1) & ~(kAlign - 1);
    const size_t cap = m_.capacity;
    if (n > cap / 2) return nullptr;
    uint64_t head = head_;
    const size_t at = static_cast<size_t>(head & (cap - 1));
    const size_t skip = at + n > cap ? cap - at : 0;  // the tail is too short: wrap
    if (head + skip + n - released_cache_ > cap) {
      released_cache_ = m_.released->load(std::memory_order_acquire);
      if (head + skip + n - released_cache_ > cap) return nullptr;
    }
    head += skip;
    *pos = head;
    head_ = head + n;
    m_.produced->store(head_, std::memory_order_release);
    *token = head_;
    return m_.ring + (head & (cap - 1));
  }

  // Consumer: the record with this token, and every earlier one, may be reused.
  void Release(uint64_t token) { m_.released->store(token, std::memory_order_release); }
  // Either side: true when every record reserved so far was released.
  bool Drained() const {
    return m_.released->load(std::memory_order_acquire) ==
           m_.produced->load(std::memory_order_acquire);
  }

 private:
  Memory m_;
  uint64_t head_ = 0;            // producer: bytes handed out, wrap skips included
  uint64_t released_cache_ = 0;  // producer's last view of *released
};

}  // namespace ringdb::rt
