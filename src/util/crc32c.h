// CRC-32C (Castagnoli), hardware-accelerated with SSE4.2 where the CPU has it.
//
// Stored checksums are masked (as in LevelDB) so that a CRC over data that itself
// contains CRCs does not degenerate.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringdb::util::crc32c {

// CRC of concat(A, data[0,n)) where init_crc is the CRC of A.
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) {
  return Extend(0, data, n);
}

constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// True when the hardware path is in use (for stats/diagnostics).
bool IsHardwareAccelerated();

}  // namespace ringdb::util::crc32c
