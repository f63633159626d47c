#include "util/huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace ringdb::util {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

constexpr size_t kAlign = 64;

}  // namespace

char* MapHugePages(size_t len) {
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

HugeBuffer::HugeBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes >= kHugePage) {
    const size_t len = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    data_ = MapHugePages(len);
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

HugeArena& HugeArena::Default() {
#if defined(__SANITIZE_ADDRESS__)
  static HugeArena* arena = new HugeArena(false);
#else
  static HugeArena* arena = new HugeArena(true);
#endif
  return *arena;
}

HugeArena::~HugeArena() {
  for (const auto& [base, c] : chunks_) ::munmap(reinterpret_cast<void*>(base), c.len);
}

void HugeArena::Unmap(uintptr_t base, const Chunk& c) {
  ::munmap(reinterpret_cast<void*>(base), c.len);
  mapped_ -= c.len;
  chunks_.erase(base);
}

void* HugeArena::Allocate(size_t bytes) {
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  if (!use_chunks_ || bytes < kMinBytes) {
    return ::operator new (bytes > 0 ? bytes : kAlign, std::align_val_t{kAlign});
  }
  std::lock_guard<std::mutex> g(mu_);
  if (bytes > kChunkBytes / 2) {
    const size_t len = (bytes + kChunkBytes - 1) & ~(kChunkBytes - 1);
    char* p = MapHugePages(len);
    if (p == nullptr) throw std::bad_alloc();
    chunks_[reinterpret_cast<uintptr_t>(p)] = Chunk{len, len, 1};
    mapped_ += len;
    return p;
  }
  if (current_ == 0 || chunks_[current_].used + bytes > kChunkBytes) {
    char* p = MapHugePages(kChunkBytes);
    if (p == nullptr) throw std::bad_alloc();
    if (current_ != 0 && chunks_[current_].live == 0) Unmap(current_, chunks_[current_]);
    current_ = reinterpret_cast<uintptr_t>(p);
    chunks_[current_] = Chunk{kChunkBytes, 0, 0};
    mapped_ += kChunkBytes;
  }
  Chunk& c = chunks_[current_];
  void* p = reinterpret_cast<void*>(current_ + c.used);
  c.used += bytes;
  c.live++;
  return p;
}

void HugeArena::Free(void* p, size_t bytes) {
  if (p == nullptr) return;
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  if (!use_chunks_ || bytes < kMinBytes) {
    ::operator delete (p, std::align_val_t{kAlign});
    return;
  }
  // Every allocation lies in the first 2 MiB of its mapping (an own mapping starts there).
  const uintptr_t base = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kChunkBytes - 1);
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(base);
  if (it == chunks_.end() || it->second.live == 0) std::abort();  // not ours: a caller bug
  Chunk& c = it->second;
  if (--c.live > 0) return;
  if (base == current_) {
    c.used = 0;  // empty again: filled from the start
  } else {
    Unmap(base, c);
  }
}

size_t HugeArena::chunks() const {
  std::lock_guard<std::mutex> g(mu_);
  return chunks_.size();
}

size_t HugeArena::mapped_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return mapped_;
}

}  // namespace ringdb::util
