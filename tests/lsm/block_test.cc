#include "lsm/block.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "gtest/gtest.h"
#include "lsm/block_builder.h"
#include "lsm/bloom.h"
#include "test_util.h"
#include "util/slab.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using Model = std::map<std::string, std::string, InternalKeyComparator>;

BlockPtr BuildBlock(const Model& model, int restart_interval) {
  BlockBuilder b(restart_interval);
  for (const auto& [k, v] : model) b.Add(k, v);
  BlockPtr block;
  EXPECT_TRUE(Block::FromContents(std::string(b.Finish()), 0, BlockKind::kData, &block).ok());
  return block;
}

// The block of `model` as read from disk at `offset`: contents and trailer.
std::string RawBlock(const Model& model, uint64_t offset, BlockHandle* h) {
  BlockBuilder b(16);
  for (const auto& [k, v] : model) b.Add(k, v);
  std::string raw(b.Finish());
  *h = BlockHandle{offset, raw.size()};
  AppendBlockTrailer(h->offset, BlockKind::kData, raw, &raw);
  return raw;
}

Model RandomModel(Rng* rng, int n) {
  Model m;
  for (int i = 0; i < n; i++) {
    m[MakeInternalKey(rng->Key(10), rng->Uniform(50), ValueType::kValue)] =
        rng->Bytes(rng->Uniform(30));
  }
  return m;
}

TEST(BlockTest, EmptyBlock) {
  BlockBuilder b(16);
  EXPECT_TRUE(b.empty());
  BlockPtr block;
  ASSERT_TRUE(Block::FromContents(std::string(b.Finish()), 0, BlockKind::kData, &block).ok());
  auto it = Block::NewIterator(block);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek(MakeInternalKey("a", 1, ValueType::kValue));
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

class BlockModelTest : public ::testing::TestWithParam<int> {};

TEST_P(BlockModelTest, IterateBothWaysAndSeekMatchModel) {
  Rng rng(testing::TestSeed() + GetParam());
  Model model = RandomModel(&rng, 2000);
  BlockPtr block = BuildBlock(model, GetParam());
  auto it = Block::NewIterator(block);
  auto mi = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++mi) {
    ASSERT_NE(mi, model.end());
    ASSERT_EQ(it->key(), mi->first);
    ASSERT_EQ(it->value(), mi->second);
  }
  ASSERT_EQ(mi, model.end());
  auto rmi = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++rmi) {
    ASSERT_NE(rmi, model.rend());
    ASSERT_EQ(it->key(), rmi->first);
    ASSERT_EQ(it->value(), rmi->second);
  }
  ASSERT_EQ(rmi, model.rend());
  for (int i = 0; i < 5000; i++) {
    std::string target = MakeInternalKey(rng.Key(10), rng.Uniform(60), ValueType::kValue);
    it->Seek(target);
    auto expect = model.lower_bound(target);
    // The point lookups' search finds the same entry.
    InlineBytes point_key;
    std::string_view point_value;
    Status point_status;
    const bool point_found = block->SeekPoint(target, &point_key, &point_value, &point_status);
    ASSERT_TRUE(point_status.ok());
    ASSERT_EQ(point_found, expect != model.end());
    if (point_found) {
      ASSERT_EQ(point_key.view(), expect->first);
      ASSERT_EQ(point_value, expect->second);
    }
    if (expect == model.end()) {
      ASSERT_FALSE(it->Valid());
      continue;
    }
    ASSERT_TRUE(it->Valid());
    ASSERT_EQ(it->key(), expect->first);
    // Mixed direction after a seek.
    if (rng.OneIn(2)) {
      it->Prev();
      if (expect == model.begin()) {
        ASSERT_FALSE(it->Valid());
      } else {
        ASSERT_TRUE(it->Valid());
        ASSERT_EQ(it->key(), std::prev(expect)->first);
      }
    } else {
      it->Next();
      auto n = std::next(expect);
      ASSERT_EQ(it->Valid(), n != model.end());
      if (n != model.end()) {
        ASSERT_EQ(it->key(), n->first);
      }
    }
  }
  EXPECT_TRUE(it->status().ok());
}

INSTANTIATE_TEST_SUITE_P(RestartIntervals, BlockModelTest, ::testing::Values(1, 2, 16, 1000));

TEST(BlockTest, PrefixCompressionShrinksSharedKeys) {
  Model model;
  for (int i = 0; i < 100; i++) {
    model.emplace(
        MakeInternalKey(testing::Cat("a-long-common-prefix-", 1000 + i), 1, ValueType::kValue),
        "v");
  }
  BlockPtr compressed = BuildBlock(model, 16);
  BlockPtr plain = BuildBlock(model, 1);
  EXPECT_LT(compressed->contents().size(), plain->contents().size() * 6 / 10);
  EXPECT_EQ(compressed->num_restarts(), 7u);
}

TEST(BlockTest, VerifiedRoundTripThroughTrailer) {
  Rng rng(3);
  Model model = RandomModel(&rng, 100);
  BlockHandle h;
  std::string raw = RawBlock(model, 8192, &h);
  BlockPtr block;
  ASSERT_TRUE(Block::FromRaw(raw, h, BlockKind::kData, &block).ok());
  // Wrong kind, wrong offset, short read: all corruption.
  EXPECT_TRUE(Block::FromRaw(raw, h, BlockKind::kIndex, &block).IsCorruption());
  EXPECT_TRUE(
      Block::FromRaw(raw, BlockHandle{4096, h.size}, BlockKind::kData, &block).IsCorruption());
  EXPECT_TRUE(
      Block::FromRaw(raw.substr(0, raw.size() - 1), h, BlockKind::kData, &block).IsCorruption());

  // BorrowRaw parses the same bytes where they lie (no copy, no charge) and refuses the
  // same damage, and a flipped bit.
  Block b;
  ASSERT_TRUE(Block::BorrowRaw(raw, h, BlockKind::kData, &b).ok());
  EXPECT_EQ(b.contents().data(), raw.data());
  EXPECT_EQ(b.contents(), block->contents());
  EXPECT_EQ(b.offset(), 8192u);
  EXPECT_EQ(b.charge(), 0u);
  Block::Iter it(&b);
  auto want = model.begin();
  for (it.SeekToFirst(); it.Valid(); it.Next(), ++want) {
    ASSERT_NE(want, model.end());
    EXPECT_EQ(it.key(), want->first);
    EXPECT_EQ(it.value(), want->second);
  }
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(want, model.end());
  Block bad;
  EXPECT_TRUE(Block::BorrowRaw(raw, h, BlockKind::kIndex, &bad).IsCorruption());
  EXPECT_TRUE(Block::BorrowRaw(raw, BlockHandle{0, h.size}, BlockKind::kData, &bad).IsCorruption());
  EXPECT_TRUE(
      Block::BorrowRaw(raw.substr(0, raw.size() - 1), h, BlockKind::kData, &bad).IsCorruption());
  raw[raw.size() / 2] ^= 0x10;
  EXPECT_TRUE(Block::BorrowRaw(raw, h, BlockKind::kData, &bad).IsCorruption());
}

// A block owns a copy of its contents, in the allocation it is charged for: the read
// buffer it came from may be reused at once, and the charge is the contents plus a
// small fixed overhead, not the pages the read spanned.
TEST(BlockTest, FromRawCopiesTheContentsAndChargesTheirSize) {
  Rng rng(5);
  Model model = RandomModel(&rng, 200);
  BlockHandle h;
  std::string raw = RawBlock(model, 4096, &h);
  const std::string contents = raw.substr(0, h.size);
  BlockPtr block;
  ASSERT_TRUE(Block::FromRaw(raw, h, BlockKind::kData, &block).ok());
  std::fill(raw.begin(), raw.end(), '\xff');  // the caller reuses its buffer

  EXPECT_EQ(block->contents(), contents);
  EXPECT_EQ(block->offset(), 4096u);
  EXPECT_GE(block->charge(), contents.size() + sizeof(Block));
  // Its reference counts, alignment, and util::Slabs' header and rounding to a slot.
  EXPECT_LE(block->charge(), contents.size() + sizeof(Block) + 128 + util::Slabs::kStepBytes);
  auto it = Block::NewIterator(block);
  block.reset();  // the iterator's reference keeps the one allocation alive
  size_t n = 0;
  auto want = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++want, n++) {
    ASSERT_NE(want, model.end());
    EXPECT_EQ(it->key(), want->first);
    EXPECT_EQ(it->value(), want->second);
  }
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(n, model.size());
}

TEST(BlockTest, GarbageContentsNeverCrashIterators) {
  Rng rng(testing::TestSeed());
  Model model = RandomModel(&rng, 300);
  BlockBuilder b(4);
  for (const auto& [k, v] : model) b.Add(k, v);
  std::string good(b.Finish());
  int corrupt_seen = 0;
  for (int iter = 0; iter < 3000; iter++) {
    std::string bad = good;
    for (int f = 0; f < 3; f++)
      bad[rng.Uniform(bad.size())] ^= static_cast<char>(1 + rng.Uniform(255));
    BlockPtr block;
    Status s = Block::FromContents(bad, 0, BlockKind::kData, &block);
    if (!s.ok()) {
      ASSERT_TRUE(s.IsCorruption());
      corrupt_seen++;
      continue;
    }
    auto it = Block::NewIterator(block);
    size_t n = 0;
    for (it->SeekToFirst(); it->Valid() && n < 10000; it->Next()) n++;
    for (it->SeekToLast(); it->Valid() && n < 20000; it->Prev()) n++;
    const std::string target = MakeInternalKey(rng.Key(10), 5, ValueType::kValue);
    it->Seek(target);
    if (!it->status().ok()) corrupt_seen++;
    // The point search agrees with the iterator's Seek: the same entry, or a
    // Corruption where the iterator ends with one.
    auto fresh = Block::NewIterator(block);
    fresh->Seek(target);
    InlineBytes key;
    std::string_view value;
    Status ps;
    const bool found = block->SeekPoint(target, &key, &value, &ps);
    ASSERT_EQ(found, fresh->Valid());
    ASSERT_EQ(ps.ok(), fresh->status().ok())
        << ps.ToString() << " / " << fresh->status().ToString();
    if (!ps.ok()) {
      ASSERT_TRUE(ps.IsCorruption());
    }
    if (found) {
      ASSERT_EQ(key.view(), fresh->key());
      ASSERT_EQ(value, fresh->value());
    }
  }
  EXPECT_GT(corrupt_seen, 0);
}

TEST(BloomTest, NoFalseNegatives) {
  BloomFilterBuilder b(10);
  for (int i = 0; i < 10000; i++) b.AddKey(testing::Cat("key", i));
  std::string f = b.Finish();
  BloomFilter bloom;
  ASSERT_TRUE(bloom.Parse(f));
  for (int i = 0; i < 10000; i++) ASSERT_TRUE(bloom.MayContain(testing::Cat("key", i)));
}

TEST(BloomTest, EmptyFilterRejectsEverything) {
  BloomFilterBuilder b(10);
  std::string f = b.Finish();
  BloomFilter bloom;
  ASSERT_TRUE(bloom.Parse(f));
  EXPECT_EQ(bloom.num_bits(), 512u);  // one cache-line block
  EXPECT_FALSE(bloom.MayContain("anything"));
}

// Theory for a cache-line blocked bloom filter (kind 3): a standard filter's rate
// (1 - e^{-k / c})^k for a block holding c bits per key, averaged over the Poisson
// spread of keys per 512-bit block (mean 512 / bits_per_key keys).
double TheoreticalFp(double bits_per_key, int k) {
  const double mean = 512.0 / bits_per_key;
  double fp = 0, p = std::exp(-mean);  // P(j keys in the block), j = 0
  for (int j = 0; j < 400; j++) {
    fp += p * std::pow(1.0 - std::exp(-static_cast<double>(k) * j / 512.0), k);
    p *= mean / (j + 1);
  }
  return fp;
}

class BloomRateTest : public ::testing::TestWithParam<int> {};

TEST_P(BloomRateTest, FalsePositiveRateNearTheory) {
  const int bits = GetParam();
  const int n = 100000;
  BloomFilterBuilder b(bits);
  for (int i = 0; i < n; i++) b.AddKey(testing::Cat("present-", i));
  std::string f = b.Finish();
  BloomFilter bloom;
  ASSERT_TRUE(bloom.Parse(f));
  const int probes = 1000000;
  int fp = 0;
  for (int i = 0; i < probes; i++) fp += bloom.MayContain(testing::Cat("absent-", i));
  double rate = static_cast<double>(fp) / probes;
  double theory = TheoreticalFp(bits, bloom.num_probes());
  std::printf("bloom bits/key=%d probes=%d fp=%.4f%% theory=%.4f%%\n", bits, bloom.num_probes(),
              100 * rate, 100 * theory);
  EXPECT_LT(rate, theory * 1.25);
  EXPECT_GT(rate, theory * 0.75);
}

INSTANTIATE_TEST_SUITE_P(BitsPerKey, BloomRateTest, ::testing::Values(6, 10, 16));

TEST(BloomTest, MalformedAndUnknownFilters) {
  BloomFilter bloom;
  EXPECT_FALSE(bloom.Parse("x"));
  std::string f(10, '\0');
  f.push_back(7);   // probes
  f.push_back(99);  // unknown kind: parses as "may contain"
  EXPECT_TRUE(bloom.Parse(f));
  EXPECT_TRUE(bloom.MayContain("k"));
  std::string zero_probes(10, '\0');
  zero_probes.push_back(0);
  zero_probes.push_back(1);
  EXPECT_FALSE(bloom.Parse(zero_probes));
}

}  // namespace
}  // namespace ringdb::lsm
