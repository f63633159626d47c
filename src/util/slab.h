// Slabs: a size-classed allocator for objects of a few sizes that threads allocate and
// free at a high rate and in great numbers: the blocks read from disk into the block cache
// (lsm/block.cc).
//
// Why not malloc: filling a cache means hundreds of MB of fresh memory. glibc grows a
// thread's arena 128 KiB at a time (an mprotect each) in 4 KiB pages, so every block
// copied into the cache takes its own page fault; on a VM with shadow page tables a
// fault costs 5-10 µs, more than the block's read. Here a class's slots are cut from
// chunks that grow from 64 KiB to 2 MiB; the 2 MiB ones are 2 MiB-aligned and advised
// MADV_HUGEPAGE, so one fault maps a whole chunk where the kernel allows it
// (docs/engine.md "Block memory").
//
// Classes step by 256 bytes up to kMaxSlotBytes (a 4 KiB block and its header waste
// under 256 bytes); larger allocations come from operator new. A freed slot goes back to
// its chunk and is the next one its class hands out. A chunk whose slots are all free is
// unmapped unless it is its class's last in its heap.
//
// Thread ownership: any thread. Threads are spread over kHeaps heaps, a mutex each
// (allocations are a cache miss's or a flush's, never a cache hit's); a slot is freed
// into the heap of its chunk, from whichever thread drops it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ringdb::util {

class Slabs {
 public:
  static constexpr size_t kStepBytes = 256;
  static constexpr size_t kMaxSlotBytes = size_t{16} << 10;
  static constexpr size_t kFirstChunkBytes = size_t{64} << 10;
  static constexpr size_t kMaxChunkBytes = size_t{2} << 20;
  static constexpr size_t kHeaps = 4;
  // Bytes in front of every allocation (where it came from).
  static constexpr size_t kHeaderBytes = 16;

  // use_slabs false: every allocation from operator new (the process's allocator in a
  // build under AddressSanitizer, which then checks blocks as any heap object).
  explicit Slabs(bool use_slabs = true) : use_slabs_(use_slabs) {}
  ~Slabs();  // unmaps every chunk: free everything first
  Slabs(const Slabs&) = delete;
  Slabs& operator=(const Slabs&) = delete;

  // The process's allocator (never destroyed).
  static Slabs& Default();

  // At least `bytes`, 16-byte aligned. *footprint: the bytes this allocation takes,
  // its header and its slot's rounding included (what a cache should charge for it).
  // Throws std::bad_alloc when no memory can be mapped, as operator new does.
  void* Allocate(size_t bytes, size_t* footprint);
  // The same from operator new, for Free as well (what a slot would not pay for).
  static void* AllocatePlain(size_t bytes, size_t* footprint);
  // p as Allocate returned it (any Slabs: an allocation knows where it came from).
  static void Free(void* p);

  // Chunks mapped now and their bytes, over every heap (tests, stats).
  size_t chunks() const;
  size_t mapped_bytes() const;

  struct Chunk;  // opaque: at the start of each chunk's mapping (slab.cc)

 private:
  static constexpr size_t kClasses = kMaxSlotBytes / kStepBytes;
  struct Heap;
  struct Class {
    Chunk* with_room = nullptr;  // chunks with a free or never-used slot
    size_t chunks = 0;
    size_t next_chunk_bytes = kFirstChunkBytes;
  };
  struct Heap {
    mutable std::mutex mu;
    Class classes[kClasses];
    size_t chunks = 0;
    size_t mapped = 0;
  };

  Chunk* NewChunk(Heap* h, uint32_t cls);
  static void Link(Class* c, Chunk* ch);
  static void Unlink(Class* c, Chunk* ch);

  const bool use_slabs_;
  Heap heaps_[kHeaps];
};

}  // namespace ringdb::util
