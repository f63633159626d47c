// AlignedBuffer: an owned, heap-allocated byte buffer aligned for O_DIRECT I/O.
//
// O_DIRECT requires the buffer address, the file offset and the length to be
// multiples of the logical block size (512 or 4096 bytes); 4096 covers every device
// ringdb targets. capacity() is rounded up to the alignment so that a read of a whole
// number of blocks always fits.
//
// Memory: buffers of kMmapBytes and more are mmap'ed, smaller ones come from
// posix_memalign. The big ones (read-ahead chunks, write-behind slots, table builder
// output) are allocated and freed all the time between long-lived small allocations;
// from the heap they fragment glibc's arenas until the process holds several times the
// configured budgets (measured by tests/db/bigdata_test.cc), while munmap returns them.
//
// Thread ownership: none (plain value type); the owner decides.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace ringdb::io {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;

  AlignedBuffer() = default;
  // Allocates ceil(capacity / kAlignment) * kAlignment bytes; size() starts at 0.
  // Aborts (std::bad_alloc) if memory is exhausted, like operator new.
  explicit AlignedBuffer(size_t capacity) { Reset(capacity); }
  ~AlignedBuffer() { Free(); }

  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      Free();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }

  // Drops the old contents and allocates a new buffer of at least `capacity` bytes.
  void Reset(size_t capacity) {
    Free();
    size_ = 0;
    capacity_ = RoundUp(capacity);
    if (capacity_ == 0) return;
    if (capacity_ >= kMmapBytes) {
      void* p =
          ::mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data_ = static_cast<char*>(p);
      return;
    }
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, capacity_) != 0) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
  }
  static constexpr size_t kMmapBytes = 128 << 10;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }

  // REQUIRES: n <= capacity().
  void set_size(size_t n) {
    if (n > capacity_) std::abort();
    size_ = n;
  }
  void Zero() {
    if (data_ != nullptr) std::memset(data_, 0, capacity_);
  }

  static constexpr size_t RoundUp(size_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }
  static constexpr bool IsAligned(size_t n) { return (n & (kAlignment - 1)) == 0; }

 private:
  void Free() {
    if (data_ == nullptr) return;
    if (capacity_ >= kMmapBytes) {
      ::munmap(data_, capacity_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
  }

  char* data_ = nullptr;  // owned; mmap'ed when capacity_ >= kMmapBytes, else posix_memalign
  size_t size_ = 0;       // Invariant: size_ <= capacity_
  size_t capacity_ = 0;   // Invariant: multiple of kAlignment
};

// v rounded down / up to a multiple of a (a power of two): O_DIRECT offsets and lengths.
inline constexpr uint64_t AlignDown(uint64_t v, uint64_t a) {
  return v & ~(a - 1);
}
inline constexpr uint64_t AlignUp(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

}  // namespace ringdb::io
