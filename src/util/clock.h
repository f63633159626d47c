#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace ringdb::util {

// A replacement for the monotonic clock (a simulator's virtual time). Null: the real
// clock. Process-wide; set it before starting anything that reads the clock and reset
// it after everything stopped.
using ClockFn = uint64_t (*)();
inline std::atomic<ClockFn> g_clock_override{nullptr};

// Monotonic nanoseconds (CLOCK_MONOTONIC; vDSO, ~20 ns), or the replacement's.
inline uint64_t NowNanos() {
  if (ClockFn f = g_clock_override.load(std::memory_order_relaxed)) [[unlikely]] {
    return f();
  }
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline void SetClockOverride(ClockFn f) {
  g_clock_override.store(f, std::memory_order_relaxed);
}

}  // namespace ringdb::util
