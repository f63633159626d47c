// Arena: bump allocator for memtable nodes. Memory is released all at once when the
// arena dies. Thread ownership: one shard thread; no synchronization.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringdb::util {

class Arena {
 public:
  explicit Arena(size_t block_bytes = 1 << 20) : block_bytes_(block_bytes) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Memory for `bytes`, aligned to `align` (power of two, <= 64).
  char* Allocate(size_t bytes, size_t align = alignof(std::max_align_t)) {
    uintptr_t p = reinterpret_cast<uintptr_t>(ptr_);
    uintptr_t aligned = (p + align - 1) & ~(uintptr_t(align) - 1);
    size_t needed = bytes + (aligned - p);
    if (needed <= remaining_) {
      ptr_ += needed;
      remaining_ -= needed;
      return reinterpret_cast<char*>(aligned);
    }
    return AllocateSlow(bytes, align);
  }

  // Bytes handed out, plus the unused tails of blocks already left behind (the part of
  // the current block not yet handed out is not counted).
  size_t MemoryUsage() const { return memory_usage_ - remaining_; }
  // Bytes reserved from the system.
  size_t ReservedBytes() const { return memory_usage_; }

 private:
  char* AllocateSlow(size_t bytes, size_t align);

  size_t block_bytes_;
  char* ptr_ = nullptr;
  size_t remaining_ = 0;
  size_t memory_usage_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
};

}  // namespace ringdb::util
