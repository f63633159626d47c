// Hooks that tell AddressSanitizer and ThreadSanitizer about fiber stack switches.
// Without them ASan reports false stack-buffer-overflows after a switch and TSan
// mixes up the happens-before state of fibers sharing one thread. All of them compile
// to nothing in normal builds.
#pragma once

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define RINGDB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGDB_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define RINGDB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGDB_TSAN 1
#endif
#endif

#ifdef RINGDB_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define RINGDB_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RINGDB_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifdef RINGDB_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace ringdb::rt::san {

// Before switching stacks. `fake_stack_save` is nullptr when the current fiber is
// leaving for good (ASan then frees its fake stack).
inline void StartSwitch(void** fake_stack_save, const void* bottom, size_t size) {
#ifdef RINGDB_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}
// First thing after arriving on a stack; reports the stack we came from.
inline void FinishSwitch(void* fake_stack_save, const void** old_bottom, size_t* old_size) {
#ifdef RINGDB_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, old_bottom, old_size);
#else
  (void)fake_stack_save, (void)old_bottom, (void)old_size;
#endif
}

inline void* TsanCurrent() {
#ifdef RINGDB_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* TsanCreate() {
#ifdef RINGDB_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void TsanSwitch(void* fiber) {
#ifdef RINGDB_TSAN
  __tsan_switch_to_fiber(fiber, 0);
#else
  (void)fiber;
#endif
}
inline void TsanDestroy(void* fiber) {
#ifdef RINGDB_TSAN
  __tsan_destroy_fiber(fiber);
#else
  (void)fiber;
#endif
}

// A sequentially consistent fence for the sleep/wake (Dekker) protocol. TSan does not
// model std::atomic_thread_fence (GCC warns under -Wtsan), so there a seq_cst RMW on a
// shared dummy stands in; on x86 both are one locked instruction.
inline void FullFence() {
#ifdef RINGDB_TSAN
  static std::atomic<int> dummy{0};
  dummy.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace ringdb::rt::san
