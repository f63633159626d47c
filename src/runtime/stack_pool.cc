#include "runtime/stack_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/sanitizer.h"
#include "util/assert.h"
#include "util/log.h"

namespace ringdb::rt {

StackPool::StackPool(size_t stack_bytes, size_t max_cached)
    : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))), max_cached_(max_cached) {
  if (stack_bytes < 4 * page_) stack_bytes = 4 * page_;
  stack_bytes_ = (stack_bytes + page_ - 1) / page_ * page_;
}

StackPool::~StackPool() {
  for (const Stack& s : free_) munmap(s.base - page_, s.size + page_);
}

Stack StackPool::Get() {
  if (!free_.empty()) {
    Stack s = free_.back();
    free_.pop_back();
    return s;
  }
  const size_t total = stack_bytes_ + page_;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    RINGDB_LOG_ERROR("fiber stack mmap(%zu) failed: %s", total, strerror(errno));
    RINGDB_ASSERT_MSG(false, "out of memory for fiber stacks");
  }
  // Guard page at the low end: a stack overflow faults instead of corrupting memory.
  if (mprotect(p, page_, PROT_NONE) != 0) {
    // Usually ENOMEM from vm.max_map_count: every stack costs two mappings.
    RINGDB_LOG_ERROR("fiber stack guard mprotect failed after %llu stacks: %s",
                     static_cast<unsigned long long>(mappings_), strerror(errno));
    RINGDB_ASSERT_MSG(false, "cannot create fiber stack guard page");
  }
  mappings_++;
  return Stack{static_cast<char*>(p) + page_, stack_bytes_};
}

void StackPool::Put(Stack s) {
  // A fiber that finished left its frames' redzones poisoned; the next fiber on this
  // stack must not trip over them.
  RINGDB_ASAN_UNPOISON(s.base, s.size);
  if (free_.size() < max_cached_) {
    free_.push_back(s);
    return;
  }
  munmap(s.base - page_, s.size + page_);
}

}  // namespace ringdb::rt
