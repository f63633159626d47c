#pragma once

#include <cstdint>
#include <ctime>

namespace ringdb::util {

// Monotonic nanoseconds (CLOCK_MONOTONIC; vDSO, ~20 ns).
inline uint64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace ringdb::util
