// AlignedBuffer: an owned, heap-allocated byte buffer aligned for O_DIRECT I/O.
//
// O_DIRECT requires the buffer address, the file offset and the length to be
// multiples of the logical block size (512 or 4096 bytes); 4096 covers every device
// ringdb targets. capacity() is rounded up to the alignment so that a read of a whole
// number of blocks always fits.
//
// Thread ownership: none (plain value type); the owner decides.
#pragma once

#include <cstddef>
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
  ~AlignedBuffer() { std::free(data_); }

  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }

  // Drops the old contents and allocates a new buffer of at least `capacity` bytes.
  void Reset(size_t capacity) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    capacity_ = RoundUp(capacity);
    if (capacity_ == 0) return;
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, capacity_) != 0) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
  }

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
  char* data_ = nullptr;  // owned; from posix_memalign
  size_t size_ = 0;       // Invariant: size_ <= capacity_
  size_t capacity_ = 0;   // Invariant: multiple of kAlignment
};

}  // namespace ringdb::io
