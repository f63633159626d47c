// HugeBuffer: a large scratch buffer backed by 2 MiB transparent huge pages where the
// kernel allows (MADV_HUGEPAGE), so that filling it takes one page fault per 2 MiB
// instead of one per 4 KiB. WAL recovery reads whole segments (up to 64 MiB) into one;
// with 4 KiB pages its faults cost as much as the read itself.
// Thread ownership: whoever holds it.
//
// HugeArena: long-lived allocations that lookups probe at random (a table's index
// prefixes and its Bloom filter), packed together into 2 MiB chunks of the same kind of
// mapping, so that such a probe costs a cache miss but rarely a page walk as well: with
// 4 KiB pages a point read's probes into the filters and indexes of a store of a few
// GB each missed the TLB too. HugeAllocator<T> puts a std::vector there.
// Thread ownership: any thread (one mutex; tables are opened and dropped rarely).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace ringdb::util {

// A 2 MiB-aligned anonymous mapping of `len` (a multiple of 2 MiB) advised
// MADV_HUGEPAGE, or nullptr. munmap it.
char* MapHugePages(size_t len);

class HugeBuffer {
 public:
  HugeBuffer() = default;
  // `bytes` of uninitialized memory: a huge-page mapping when it is 2 MiB or more (and
  // the mapping succeeds), else from new[].
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& o) noexcept;
  HugeBuffer& operator=(HugeBuffer&& o) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  char* get() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void Release();

  char* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_bytes_ = 0;  // > 0: data_ is a mapping of this length (munmap)
};

class HugeArena {
 public:
  // Allocations under this many bytes come from operator new: they fit a page anyway.
  static constexpr size_t kMinBytes = 4096;
  static constexpr size_t kChunkBytes = size_t{2} << 20;

  // use_chunks false: every allocation from operator new (the process-wide arena of a
  // build under AddressSanitizer, so that it still checks these arrays' bounds).
  explicit HugeArena(bool use_chunks = true) : use_chunks_(use_chunks) {}
  ~HugeArena();  // unmaps every chunk: free everything first
  HugeArena(const HugeArena&) = delete;
  HugeArena& operator=(const HugeArena&) = delete;

  // The process's arena (never destroyed).
  static HugeArena& Default();

  // 64-byte aligned. One over half a chunk gets a mapping of its own. Throws
  // std::bad_alloc when no memory can be mapped, as operator new does.
  void* Allocate(size_t bytes);
  // p and bytes as allocated. The chunk goes when its last allocation does (the chunk
  // being filled starts over instead).
  void Free(void* p, size_t bytes);

  // Chunks (and own mappings) mapped now, and their bytes (tests).
  size_t chunks() const;
  size_t mapped_bytes() const;

 private:
  struct Chunk {
    size_t len = 0;   // bytes mapped
    size_t used = 0;  // bytes handed out from the start (the whole of an own mapping)
    size_t live = 0;  // allocations not yet freed
  };
  void Unmap(uintptr_t base, const Chunk& c);

  const bool use_chunks_;
  mutable std::mutex mu_;
  std::unordered_map<uintptr_t, Chunk> chunks_;  // by base address (2 MiB aligned)
  uintptr_t current_ = 0;                        // the chunk being filled; 0: none
  size_t mapped_ = 0;
};

// A std::allocator for HugeArena::Default().
template <typename T>
struct HugeAllocator {
  using value_type = T;
  HugeAllocator() = default;
  template <typename U>
  HugeAllocator(const HugeAllocator<U>&) {}  // NOLINT: conversion, as std::allocator's
  T* allocate(size_t n) { return static_cast<T*>(HugeArena::Default().Allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { HugeArena::Default().Free(p, n * sizeof(T)); }
  friend bool operator==(const HugeAllocator&, const HugeAllocator&) { return true; }
};

}  // namespace ringdb::util
