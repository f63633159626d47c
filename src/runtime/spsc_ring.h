// SpscRing<T>: a bounded single-producer/single-consumer queue, the only channel
// between shard threads (DESIGN.md rule 1, STYLE.md item 9).
//
// Thread ownership: exactly one producer thread calls TryPush/TryPushN and exactly one
// consumer thread calls TryPop/PopN/Empty. Neither side ever writes the other side's
// cache line: the producer owns `tail_` and its cached copy of `head_`, the consumer
// owns `head_` and its cached copy of `tail_`, each on its own 64-byte line, so a
// steady stream costs one cache-line transfer per batch, not per item.
//
// Memory ordering: the producer publishes slots with a release store of tail_; the
// consumer acquires tail_ before reading them, and releases head_ after it is done
// with them so the producer may overwrite. Nothing stronger than acquire/release.
//
// Invariant: head_ <= tail_ <= head_ + capacity (indices grow without wrapping; a
// 64-bit counter does not wrap in the lifetime of a process).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "util/assert.h"

namespace ringdb::rt {

inline constexpr size_t kCacheLine = 64;

template <class T>
class SpscRing {
  static_assert(std::is_nothrow_move_assignable_v<T> && std::is_default_constructible_v<T>,
                "SpscRing slots are default-constructed and move-assigned");

 public:
  // capacity is rounded up to a power of two (at least 2).
  explicit SpscRing(size_t capacity) {
    size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    mask_ = cap - 1;
    slots_ = std::make_unique<T[]>(cap);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // ---- producer side ----

  // False when the ring is full (the item is left untouched).
  bool TryPush(T&& item) {
    const size_t tail = prod_.tail.load(std::memory_order_relaxed);
    if (tail - prod_.head_cache > mask_) {
      prod_.head_cache = cons_.head.load(std::memory_order_acquire);
      if (tail - prod_.head_cache > mask_) return false;
    }
    slots_[tail & mask_] = std::move(item);
    prod_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }
  bool TryPush(const T& item) {
    T copy(item);
    return TryPush(std::move(copy));
  }

  // Pushes the first k <= n items (as many as fit); returns k.
  size_t TryPushN(const T* items, size_t n) {
    const size_t tail = prod_.tail.load(std::memory_order_relaxed);
    size_t free_slots = capacity() - (tail - prod_.head_cache);
    if (free_slots < n) {
      prod_.head_cache = cons_.head.load(std::memory_order_acquire);
      free_slots = capacity() - (tail - prod_.head_cache);
    }
    const size_t k = n < free_slots ? n : free_slots;
    for (size_t i = 0; i < k; i++) slots_[(tail + i) & mask_] = items[i];
    if (k) prod_.tail.store(tail + k, std::memory_order_release);
    return k;
  }

  // Producer side: how many more items fit right now (refreshes the cached head when
  // the ring looks full).
  size_t FreeSlots() {
    const size_t tail = prod_.tail.load(std::memory_order_relaxed);
    if (tail - prod_.head_cache > mask_) {
      prod_.head_cache = cons_.head.load(std::memory_order_acquire);
    }
    return capacity() - (tail - prod_.head_cache);
  }
  // The same with a fresh look at the consumer's head (one load of its line).
  size_t FreeSlotsNow() {
    prod_.head_cache = cons_.head.load(std::memory_order_acquire);
    return capacity() - (prod_.tail.load(std::memory_order_relaxed) - prod_.head_cache);
  }

  // ---- consumer side ----

  bool TryPop(T* out) {
    const size_t head = cons_.head.load(std::memory_order_relaxed);
    if (head == cons_.tail_cache) {
      cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
      if (head == cons_.tail_cache) return false;
    }
    *out = std::move(slots_[head & mask_]);
    cons_.head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Pops up to `max` items into out[]; returns how many.
  size_t PopN(T* out, size_t max) {
    size_t avail;
    return PopN(out, max, &avail);
  }
  // The same; *available is how many items the ring held when popped (exact when it
  // is < max, else a lower bound: the ring is not re-read once max are known).
  size_t PopN(T* out, size_t max, size_t* available) {
    const size_t head = cons_.head.load(std::memory_order_relaxed);
    size_t avail = cons_.tail_cache - head;
    if (avail < max) {
      cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
      avail = cons_.tail_cache - head;
    }
    *available = avail;
    const size_t k = avail < max ? avail : max;
    for (size_t i = 0; i < k; i++) out[i] = std::move(slots_[(head + i) & mask_]);
    if (k) cons_.head.store(head + k, std::memory_order_release);
    return k;
  }

  // Consumer side: true when nothing is published. Refreshes the cached tail, so the
  // reactor's "re-check before sleeping" sees every push ordered before its fence.
  bool Empty() {
    const size_t head = cons_.head.load(std::memory_order_relaxed);
    if (head != cons_.tail_cache) return false;
    cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
    return head == cons_.tail_cache;
  }

  // Either side, approximate (for stats and tests).
  size_t SizeApprox() const {
    const size_t head = cons_.head.load(std::memory_order_acquire);
    const size_t tail = prod_.tail.load(std::memory_order_acquire);
    return tail >= head ? tail - head : 0;
  }

 private:
  struct alignas(kCacheLine) ProducerSide {
    std::atomic<size_t> tail{0};
    size_t head_cache = 0;  // producer's last view of cons_.head
  };
  struct alignas(kCacheLine) ConsumerSide {
    std::atomic<size_t> head{0};
    size_t tail_cache = 0;  // consumer's last view of prod_.tail
  };

  ProducerSide prod_;
  ConsumerSide cons_;
  alignas(kCacheLine) size_t mask_ = 0;  // read-only after construction
  std::unique_ptr<T[]> slots_;
};

}  // namespace ringdb::rt
