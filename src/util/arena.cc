#include "util/arena.h"

namespace ringdb::util {

char* Arena::AllocateSlow(size_t bytes, size_t align) {
  // Large requests get their own block so the current block's tail is not wasted.
  if (bytes + align > block_bytes_ / 4) {
    blocks_.emplace_back(new char[bytes + align]);
    memory_usage_ += bytes + align;
    uintptr_t p = reinterpret_cast<uintptr_t>(blocks_.back().get());
    return reinterpret_cast<char*>((p + align - 1) & ~(uintptr_t(align) - 1));
  }
  blocks_.emplace_back(new char[block_bytes_]);
  memory_usage_ += block_bytes_;
  ptr_ = blocks_.back().get();
  remaining_ = block_bytes_;
  return Allocate(bytes, align);
}

}  // namespace ringdb::util
