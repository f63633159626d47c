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
