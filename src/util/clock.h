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

// ---- FastNanos: durations for latency statistics --------------------------------------
//
// Nanoseconds for timing an operation: only the difference of two readings means
// anything (the origin is not NowNanos's). Where the CPU's time-stamp counter ticks at
// one rate on every CPU (x86-64 with constant_tsc and nonstop_tsc), a reading is the
// counter scaled by a factor measured against CLOCK_MONOTONIC, under half of what
// clock_gettime costs in a VM (11 against 28 ns a call here, kvm-clock). Until that factor is
// known (the first 10 ms after the first call), elsewhere, and under a clock override,
// it is NowNanos. Two readings on different CPUs, or across the switch, may differ from
// the monotonic clock's by tens of nanoseconds: take FastElapsed(start), which never
// goes below zero.
struct TscScale {
  uint64_t base_tsc;
  uint64_t base_ns;
  uint64_t mult;  // nanoseconds per tick, 32.32 fixed point
};
inline std::atomic<const TscScale*> g_tsc_scale{nullptr};

uint64_t FastNanosSlow();  // clock.cc: NowNanos, and the calibration

inline uint64_t FastNanos() {
#if defined(__x86_64__)
  const TscScale* s = g_tsc_scale.load(std::memory_order_acquire);
  if (s != nullptr && g_clock_override.load(std::memory_order_relaxed) == nullptr) [[likely]] {
    const auto ticks = static_cast<int64_t>(__builtin_ia32_rdtsc() - s->base_tsc);
    const __int128 ns = (static_cast<__int128>(ticks) * static_cast<__int128>(s->mult)) >> 32;
    return s->base_ns + static_cast<uint64_t>(static_cast<int64_t>(ns));
  }
#endif
  return FastNanosSlow();
}

inline uint64_t FastElapsed(uint64_t start) {
  const uint64_t now = FastNanos();
  return now > start ? now - start : 0;
}

}  // namespace ringdb::util
