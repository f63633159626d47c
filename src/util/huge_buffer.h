// HugeBuffer: a large scratch buffer backed by 2 MiB transparent huge pages where the
// kernel allows (MADV_HUGEPAGE), so that filling it takes one page fault per 2 MiB
// instead of one per 4 KiB. WAL recovery reads whole segments (up to 64 MiB) into one;
// with 4 KiB pages its faults cost as much as the read itself.
// Thread ownership: whoever holds it.
#pragma once

#include <cstddef>

namespace ringdb::util {

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

}  // namespace ringdb::util
