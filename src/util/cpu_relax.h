// CpuRelax: the pause hint for spin-wait loops (it frees the sibling hyper-thread and
// saves power while a spinner re-checks a flag another core will write).
#pragma once

namespace ringdb::util {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace ringdb::util
