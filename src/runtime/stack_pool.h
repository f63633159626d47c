// StackPool: mmap'd fiber stacks with a PROT_NONE guard page below each, recycled
// through a free list so spawning a fiber costs no system call in steady state.
//
// Thread ownership: one per reactor; used only by its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringdb::rt {

struct Stack {
  char* base = nullptr;  // lowest usable address (just above the guard page)
  size_t size = 0;       // usable bytes; the stack grows down from base + size
  char* top() const { return base + size; }
};

class StackPool {
 public:
  // stack_bytes is rounded up to whole pages; max_cached stacks are kept for reuse.
  explicit StackPool(size_t stack_bytes, size_t max_cached = 256);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // A stack from the free list, or a fresh mapping. Aborts if mmap fails: a reactor
  // that cannot get stack memory cannot make progress.
  Stack Get();
  // REQUIRES: s came from Get() on this pool and no fiber runs on it any more.
  void Put(Stack s);

  size_t stack_bytes() const { return stack_bytes_; }
  size_t cached() const { return free_.size(); }
  uint64_t mappings() const { return mappings_; }  // mmap calls made so far

 private:
  size_t stack_bytes_;
  size_t page_;
  size_t max_cached_;
  uint64_t mappings_ = 0;
  std::vector<Stack> free_;
};

}  // namespace ringdb::rt
