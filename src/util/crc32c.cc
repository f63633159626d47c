#include "util/crc32c.h"

#include <array>
#include <cstring>

namespace ringdb::util::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

// Slicing-by-8 tables for the portable path.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
      for (int s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};
constexpr Tables kTables;

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles and issues one a cycle, so one stream runs at a
// third of what the unit can do. Long buffers are cut into three streams of kLong or
// kShort bytes each, run together, then joined: the register after A|B|C from r is
// Z(Z(a) ^ b) ^ c, where a, b, c are the registers after A from r, B from 0 and C from
// 0, and Z advances a register over one stream length of zero bytes (CRC registers are
// linear in the register and the data). Z is a GF(2) 32x32 matrix, applied here as
// four 256-entry tables, one per byte of the register.
constexpr size_t kLong = 2048, kShort = 256;

struct ZeroShift {
  uint32_t t[4][256];
  explicit ZeroShift(size_t len) {
    uint32_t col[32];  // the operator's image of each register bit
    for (int i = 0; i < 32; i++) {
      uint32_t r = uint32_t{1} << i;
      for (size_t j = 0; j < 8 * len; j++) r = (r >> 1) ^ (kPoly & (0u - (r & 1)));
      col[i] = r;
    }
    for (int k = 0; k < 4; k++) {
      for (uint32_t b = 0; b < 256; b++) {
        uint32_t v = 0;
        for (int i = 0; i < 8; i++) {
          if ((b >> i) & 1) v ^= col[8 * k + i];
        }
        t[k][b] = v;
      }
    }
  }
  uint32_t operator()(uint32_t r) const {
    return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
  }
};

template <size_t kLen>
__attribute__((target("sse4.2"))) uint64_t ThreeWay(uint64_t c, const uint8_t** pp, size_t* n,
                                                    const ZeroShift& z) {
  const uint8_t* p = *pp;
  while (*n >= 3 * kLen) {
    uint64_t b = 0, d = 0;
    for (size_t i = 0; i < kLen; i += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, p + i, 8);
      std::memcpy(&w1, p + kLen + i, 8);
      std::memcpy(&w2, p + 2 * kLen + i, 8);
      c = __builtin_ia32_crc32di(c, w0);
      b = __builtin_ia32_crc32di(b, w1);
      d = __builtin_ia32_crc32di(d, w2);
    }
    c = z(z(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
    p += 3 * kLen;
    *n -= 3 * kLen;
  }
  *pp = p;
  return c;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHw(uint32_t crc, const uint8_t* p, size_t n) {
  static const ZeroShift kLongShift(kLong), kShortShift(kShort);
  uint64_t c = crc;
  c = ThreeWay<kLong>(c, &p, &n, kLongShift);
  c = ThreeWay<kShort>(c, &p, &n, kShortShift);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
bool DetectHw() {
  return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t ExtendHw(uint32_t crc, const uint8_t* p, size_t n) {
  return ExtendPortable(crc, p, n);
}
bool DetectHw() {
  return false;
}
#endif

const bool kHw = DetectHw();

}  // namespace

uint32_t Extend(uint32_t init_crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = ~init_crc;
  crc = kHw ? ExtendHw(crc, p, n) : ExtendPortable(crc, p, n);
  return ~crc;
}

bool IsHardwareAccelerated() {
  return kHw;
}

}  // namespace ringdb::util::crc32c
