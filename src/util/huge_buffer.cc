#include "util/huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <utility>

namespace ringdb::util {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// A 2 MiB-aligned anonymous mapping of `len` (a multiple of 2 MiB) advised
// MADV_HUGEPAGE, or nullptr.
char* MapHuge(size_t len) {
  // Over-map by one huge page, then trim both ends to an aligned range.
  void* raw = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  const uintptr_t end = start + len + kHugePage;
  if (aligned > start) ::munmap(raw, aligned - start);
  if (end > aligned + len) ::munmap(reinterpret_cast<void*>(aligned + len), end - aligned - len);
  char* p = reinterpret_cast<char*>(aligned);
#ifdef MADV_HUGEPAGE
  (void)::madvise(p, len, MADV_HUGEPAGE);  // advice: without THP, ordinary pages
#endif
  return p;
}

}  // namespace

HugeBuffer::HugeBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes >= kHugePage) {
    const size_t len = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    data_ = MapHuge(len);
    if (data_ != nullptr) mapped_bytes_ = len;
  }
  if (data_ == nullptr) data_ = new char[bytes > 0 ? bytes : 1];
}

HugeBuffer::~HugeBuffer() {
  Release();
}

void HugeBuffer::Release() {
  if (mapped_bytes_ > 0) {
    ::munmap(data_, mapped_bytes_);
  } else {
    delete[] data_;
  }
  data_ = nullptr;
  bytes_ = mapped_bytes_ = 0;
}

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      bytes_(std::exchange(o.bytes_, 0)),
      mapped_bytes_(std::exchange(o.mapped_bytes_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    Release();
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    mapped_bytes_ = std::exchange(o.mapped_bytes_, 0);
  }
  return *this;
}

}  // namespace ringdb::util
