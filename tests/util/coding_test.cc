#include "util/coding.h"

#include <gtest/gtest.h>

#include <random>

namespace ringdb::util {
namespace {

TEST(Coding, Fixed32And64RoundTrip) {
  std::string s;
  PutFixed32(&s, 0xdeadbeef);
  PutFixed64(&s, 0x0123456789abcdefull);
  ASSERT_EQ(s.size(), 12u);
  std::string_view in(s);
  uint32_t a;
  uint64_t b;
  ASSERT_TRUE(GetFixed32(&in, &a));
  ASSERT_TRUE(GetFixed64(&in, &b));
  EXPECT_EQ(a, 0xdeadbeefu);
  EXPECT_EQ(b, 0x0123456789abcdefull);
  EXPECT_FALSE(GetFixed32(&in, &a));
}

TEST(Coding, VarintRoundTripAtEveryBoundary) {
  std::string s;
  std::vector<uint64_t> values;
  for (int shift = 0; shift < 64; shift++) {
    uint64_t v = uint64_t{1} << shift;
    values.push_back(v - 1);
    values.push_back(v);
    values.push_back(v + 1);
  }
  values.push_back(~0ull);
  for (uint64_t v : values) PutVarint64(&s, v);
  std::string_view in(s);
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
}

TEST(Coding, VarintLengthMatchesEncoding) {
  for (uint64_t v : {0ull, 127ull, 128ull, 16383ull, 16384ull, ~0ull}) {
    std::string s;
    PutVarint64(&s, v);
    EXPECT_EQ(static_cast<int>(s.size()), VarintLength(v));
  }
}

TEST(Coding, Varint32RejectsOverflowAndTruncation) {
  std::string over("\xff\xff\xff\xff\x1f", 5);  // > 32 bits
  std::string_view in(over);
  uint32_t v;
  EXPECT_FALSE(GetVarint32(&in, &v));
  std::string trunc("\xff\xff", 2);
  in = trunc;
  EXPECT_FALSE(GetVarint32(&in, &v));
}

TEST(Coding, Varint64RejectsOverlongInput) {
  std::string s(11, '\xff');
  std::string_view in(s);
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));
}

TEST(Coding, LengthPrefixedRoundTripAndTruncation) {
  std::string s;
  PutLengthPrefixed(&s, "hello");
  PutLengthPrefixed(&s, "");
  std::string_view in(s), v;
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "hello");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "");
  std::string bad;
  PutVarint32(&bad, 10);
  bad += "abc";
  in = bad;
  EXPECT_FALSE(GetLengthPrefixed(&in, &v));
}

}  // namespace
}  // namespace ringdb::util
