#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace ringdb::util::crc32c {
namespace {

// Known answers from RFC 3720 (iSCSI), section B.4.
TEST(Crc32c, StandardResults) {
  char buf[32];
  std::memset(buf, 0, sizeof(buf));
  EXPECT_EQ(0x8a9136aau, Value(buf, sizeof(buf)));
  std::memset(buf, 0xff, sizeof(buf));
  EXPECT_EQ(0x62a8ab43u, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; i++) buf[i] = static_cast<char>(i);
  EXPECT_EQ(0x46dd794eu, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; i++) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(0x113fdb5cu, Value(buf, sizeof(buf)));
  EXPECT_EQ(0xe3069283u, Value("123456789", 9));
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello world, this spans more than eight bytes";
  for (size_t cut = 0; cut <= s.size(); cut++) {
    EXPECT_EQ(Value(s.data(), s.size()),
              Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut));
  }
}

// One bit at a time, the definition itself: what the sliced and the interleaved
// (three streams, joined by shifting) paths must equal, at every length around the
// stream sizes and at unaligned starts.
uint32_t Reference(uint32_t crc, const char* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= static_cast<unsigned char>(p[i]);
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
  }
  return ~crc;
}

TEST(Crc32c, LongBuffersEqualTheBitwiseDefinition) {
  std::string s(3 * 2048 * 2 + 3 * 256 * 2 + 100, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : s) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  for (size_t len : {size_t{0}, size_t{7}, size_t{767}, size_t{768}, size_t{769}, size_t{1536},
                     size_t{4091}, size_t{4096}, size_t{6143}, size_t{6144}, size_t{6145},
                     size_t{6144 + 768 + 9}, size_t{12288}, s.size() - 3}) {
    for (size_t start : {size_t{0}, size_t{1}, size_t{3}}) {
      ASSERT_EQ(Value(s.data() + start, len), Reference(0, s.data() + start, len))
          << len << " at " << start;
      ASSERT_EQ(Extend(0x12345678u, s.data() + start, len),
                Reference(0x12345678u, s.data() + start, len))
          << len << " at " << start;
    }
  }
}

TEST(Crc32c, MaskRoundTripAndDiffers) {
  uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

TEST(Crc32c, SingleBitFlipChangesValue) {
  std::string s(4096, 'x');
  uint32_t base = Value(s.data(), s.size());
  for (size_t byte = 0; byte < s.size(); byte += 97) {
    for (int bit = 0; bit < 8; bit++) {
      s[byte] ^= static_cast<char>(1 << bit);
      EXPECT_NE(base, Value(s.data(), s.size()));
      s[byte] ^= static_cast<char>(1 << bit);
    }
  }
}

}  // namespace
}  // namespace ringdb::util::crc32c
