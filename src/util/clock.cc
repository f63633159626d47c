#include "util/clock.h"

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

namespace ringdb::util {

namespace {

// Whether the time-stamp counter ticks at one rate on every CPU, in every power state.
bool TscIsInvariant() {
#if defined(__x86_64__)
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    bool constant = false, nonstop = false;
    for (std::string w; words >> w;) {
      constant |= w == "constant_tsc";
      nonstop |= w == "nonstop_tsc";
    }
    return constant && nonstop;
  }
#endif
  return false;
}

constexpr uint64_t kCalibrationNs = 10'000'000;

struct Calibration {
  std::atomic<bool> unusable{false};  // no invariant TSC: NowNanos for good, no lock
  std::mutex mu;
  bool started = false;  // guarded by mu, as the rest
  uint64_t tsc0 = 0;
  uint64_t ns0 = 0;
  TscScale scale{};
};

Calibration& TheCalibration() {
  static Calibration c;
  return c;
}

}  // namespace

uint64_t FastNanosSlow() {
  const uint64_t now = NowNanos();
#if defined(__x86_64__)
  if (g_clock_override.load(std::memory_order_relaxed) != nullptr) return now;
  Calibration& c = TheCalibration();
  if (c.unusable.load(std::memory_order_relaxed)) return now;
  // Readers on many threads meet here during the calibration: whoever finds it busy
  // just takes the monotonic reading instead of waiting.
  std::unique_lock<std::mutex> l(c.mu, std::try_to_lock);
  if (!l.owns_lock()) return now;
  if (g_tsc_scale.load(std::memory_order_relaxed) != nullptr) return now;  // just switched
  const uint64_t tsc = __builtin_ia32_rdtsc();
  if (!c.started) {
    c.started = true;
    if (!TscIsInvariant()) c.unusable.store(true, std::memory_order_relaxed);
    c.tsc0 = tsc;
    c.ns0 = now;
    return now;
  }
  if (now - c.ns0 < kCalibrationNs || tsc <= c.tsc0) return now;
  // The scale's origin is this reading: a duration that starts before the switch and
  // ends after it is off by no more than the two clocks' jitter.
  c.scale.base_tsc = tsc;
  c.scale.base_ns = now;
  c.scale.mult =
      static_cast<uint64_t>((static_cast<unsigned __int128>(now - c.ns0) << 32) / (tsc - c.tsc0));
  g_tsc_scale.store(&c.scale, std::memory_order_release);
#endif
  return now;
}

}  // namespace ringdb::util
