#include <map>
#include <set>

#include "gtest/gtest.h"
#include "lsm/table_builder.h"
#include "lsm/table_reader.h"
#include "test_util.h"
#include "util/coding.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using Model = std::map<std::string, std::string, InternalKeyComparator>;

// Builds a table, draining ready bytes in aligned pieces as the engine would.
std::string BuildTable(const Model& model, const TableOptions& opt,
                       TableProperties* props = nullptr) {
  TableBuilder b(opt);
  std::string file;
  for (const auto& [k, v] : model) {
    EXPECT_TRUE(b.Add(k, v).ok());
    if (b.ready().size() >= 3 * kTableAlignBytes) {
      EXPECT_EQ(b.ready_offset(), file.size());
      file.append(b.ready());
      b.Consume(b.ready().size());
    }
  }
  EXPECT_TRUE(b.Finish().ok());
  EXPECT_EQ(b.ready_offset(), file.size());
  file.append(b.ready());
  b.Consume(b.ready().size());
  EXPECT_EQ(file.size(), b.FileSize());
  EXPECT_EQ(file.size() % kTableAlignBytes, 0u);
  if (props != nullptr) *props = b.properties();
  return file;
}

// BuildTable with the default options, then opened (null, after a failure, if it fails).
std::unique_ptr<TableReader> BuildAndOpen(const Model& model, std::string* file) {
  *file = BuildTable(model, TableOptions{});
  std::unique_ptr<TableReader> t;
  EXPECT_TRUE(TableReader::OpenFromFile(*file, &t).ok());
  return t;
}

std::string Lookup(const TableReader& t, BlockFetcher* f, std::string_view key,
                   SequenceNumber seq) {
  std::string v;
  LookupResult r;
  Status s = t.Get(LookupKey(key, seq), f, &r, &v);
  if (!s.ok()) return s.ToString();
  return r == LookupResult::kFound ? v : r == LookupResult::kDeleted ? "DELETED" : "ABSENT";
}

// BuildAndOpen for a model of single versions, then every key of it is looked up and
// found with its value.
std::unique_ptr<TableReader> BuildOpenAndFindAll(const Model& model, std::string* file) {
  std::unique_ptr<TableReader> t = BuildAndOpen(model, file);
  if (t == nullptr) return t;
  StringBlockFetcher f(*file);
  for (const auto& [ik, v] : model) {
    const std::string_view uk = ExtractUserKey(ik);
    EXPECT_EQ(Lookup(*t, &f, uk, kMaxSequenceNumber), v) << uk;
  }
  return t;
}

class TableRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(testing::TestSeed());
    for (int i = 0; i < 100000; i++) {
      std::string k = testing::Cat("user", rng.Uniform(1u << 30));
      if (!user_keys_.insert(k).second) continue;  // one version per user key
      model_[MakeInternalKey(k, 1 + rng.Uniform(1000000), ValueType::kValue)] =
          rng.Bytes(rng.Uniform(100));
    }
    file_ = BuildTable(model_, TableOptions{}, &props_);
    ASSERT_TRUE(TableReader::OpenFromFile(file_, &table_).ok());
  }
  Model model_;
  std::set<std::string> user_keys_;
  std::string file_;
  TableProperties props_;
  std::unique_ptr<TableReader> table_;
};

TEST_F(TableRoundTrip, PropertiesDescribeTheContents) {
  const TableProperties& p = table_->properties();
  EXPECT_EQ(p.num_entries, model_.size());
  EXPECT_EQ(p.smallest_key, model_.begin()->first);
  EXPECT_EQ(p.largest_key, model_.rbegin()->first);
  EXPECT_EQ(p.bloom_bits_per_key, 10u);
  EXPECT_GT(p.num_data_blocks, model_.size() / 100);
  EXPECT_EQ(p.num_data_blocks, props_.num_data_blocks);
}

TEST_F(TableRoundTrip, GetEveryKeyAndAbsentKeys) {
  StringBlockFetcher fetcher(file_);
  for (const auto& [ik, v] : model_) {
    ParsedInternalKey p;
    ASSERT_TRUE(ParseInternalKey(ik, &p));
    ASSERT_EQ(Lookup(*table_, &fetcher, p.user_key, kMaxSequenceNumber), v);
    ASSERT_EQ(Lookup(*table_, &fetcher, p.user_key, p.sequence), v);
    if (p.sequence > 0) {
      ASSERT_EQ(Lookup(*table_, &fetcher, p.user_key, p.sequence - 1), "ABSENT");
    }
  }
  uint64_t before = fetcher.fetches();
  int absent = 0;
  for (int i = 0; i < 10000; i++) {
    std::string k = testing::Cat("nope", i);
    ASSERT_EQ(Lookup(*table_, &fetcher, k, kMaxSequenceNumber), "ABSENT");
    absent++;
  }
  // The filter spares almost every read for absent keys.
  EXPECT_LT(fetcher.fetches() - before, 300u);
}

TEST_F(TableRoundTrip, IterateForwardAndBackward) {
  StringBlockFetcher fetcher(file_);
  auto it = table_->NewIterator(&fetcher);
  auto mi = model_.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++mi) {
    ASSERT_NE(mi, model_.end());
    ASSERT_EQ(it->key(), mi->first);
    ASSERT_EQ(it->value(), mi->second);
  }
  ASSERT_EQ(mi, model_.end());
  ASSERT_TRUE(it->status().ok());
  auto rmi = model_.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++rmi) {
    ASSERT_NE(rmi, model_.rend());
    ASSERT_EQ(it->key(), rmi->first);
  }
  ASSERT_EQ(rmi, model_.rend());
  ASSERT_TRUE(it->status().ok());
}

TEST_F(TableRoundTrip, SeekThenStepBothWays) {
  StringBlockFetcher fetcher(file_);
  auto it = table_->NewIterator(&fetcher);
  Rng rng(testing::TestSeed() + 9);
  for (int i = 0; i < 20000; i++) {
    std::string target = MakeInternalKey(testing::Cat("user", rng.Uniform(1u << 30)),
                                         rng.Uniform(1000000), ValueType::kValue);
    it->Seek(target);
    auto expect = model_.lower_bound(target);
    ASSERT_EQ(it->Valid(), expect != model_.end());
    if (expect == model_.end()) continue;
    ASSERT_EQ(it->key(), expect->first);
    if (i % 2 == 0) {
      it->Prev();
      ASSERT_EQ(it->Valid(), expect != model_.begin());
      if (it->Valid()) {
        ASSERT_EQ(it->key(), std::prev(expect)->first);
      }
    } else {
      it->Next();
      auto n = std::next(expect);
      ASSERT_EQ(it->Valid(), n != model_.end());
      if (it->Valid()) {
        ASSERT_EQ(it->key(), n->first);
      }
    }
  }
}

TEST(TableTest, VersionsOfOneKeySpanningBlocks) {
  Model model;
  for (SequenceNumber s = 1; s <= 500; s++) {
    ValueType t = s % 7 == 0 ? ValueType::kDeletion : ValueType::kValue;
    model[MakeInternalKey("hot", s, t)] = t == ValueType::kValue ? testing::Cat("v", s) : "";
  }
  model.emplace(MakeInternalKey("cold", 3, ValueType::kValue), "c");
  TableOptions opt;
  opt.block_bytes = 256;
  std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  ASSERT_GT(t->properties().num_data_blocks, 10u);
  StringBlockFetcher f(file);
  for (SequenceNumber s = 1; s <= 510; s++) {
    SequenceNumber eff = std::min<SequenceNumber>(s, 500);
    std::string expect = eff % 7 == 0 ? "DELETED" : testing::Cat("v", eff);
    ASSERT_EQ(Lookup(*t, &f, "hot", s), expect) << s;
  }
  EXPECT_EQ(Lookup(*t, &f, "hot", kMaxSequenceNumber), "v500");  // the newest, in block 0
  EXPECT_EQ(Lookup(*t, &f, "hot", 0), "ABSENT");
  EXPECT_EQ(Lookup(*t, &f, "cold", 2), "ABSENT");
  EXPECT_EQ(Lookup(*t, &f, "cold", 3), "c");
  EXPECT_EQ(t->properties().num_deletions, 71u);
}

TEST(TableTest, ExpiringValuesReturnPayloadAndDeadline) {
  Model model;
  std::string stored;
  util::PutFixed64(&stored, 1234);
  model.emplace(MakeInternalKey("exp", 2, ValueType::kValueExpiring), stored + "payload");
  model.emplace(MakeInternalKey("plain", 3, ValueType::kValue), "p");
  model.emplace(MakeInternalKey("short", 4, ValueType::kValueExpiring), "1234567");
  std::string file;
  std::unique_ptr<TableReader> t = BuildAndOpen(model, &file);
  ASSERT_NE(t, nullptr);
  StringBlockFetcher f(file);
  std::string v;
  uint64_t deadline = 99;
  LookupResult r;
  ASSERT_TRUE(t->Get(LookupKey("exp", 10), &f, &r, &v, &deadline).ok());
  EXPECT_EQ(r, LookupResult::kFound);
  EXPECT_EQ(v, "payload");  // the deadline is not part of the value; the caller judges it
  EXPECT_EQ(deadline, 1234u);
  ASSERT_TRUE(t->Get(LookupKey("plain", 10), &f, &r, &v, &deadline).ok());
  EXPECT_EQ(v, "p");
  EXPECT_EQ(deadline, 0u);
  // Too short to hold its deadline: corruption, never a value.
  Status s = t->Get(LookupKey("short", 10), &f, &r, &v, &deadline);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(TableTest, EmptyTable) {
  std::string file = BuildTable(Model{}, TableOptions{});
  EXPECT_EQ(file.size(), kTableAlignBytes);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  StringBlockFetcher f(file);
  auto it = t->NewIterator(&f);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(Lookup(*t, &f, "k", 5), "ABSENT");
}

TEST(TableTest, NoFilter) {
  Model model;
  for (int i = 0; i < 1000; i++)
    model.emplace(MakeInternalKey(testing::Cat("k", i), 1, ValueType::kValue), "v");
  TableOptions opt;
  opt.bloom_bits_per_key = 0;
  std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  EXPECT_EQ(t->footer().filter.size, 0u);
  StringBlockFetcher f(file);
  EXPECT_EQ(Lookup(*t, &f, "k5", 1), "v");
  EXPECT_EQ(Lookup(*t, &f, "k5x", 1), "ABSENT");
}

TEST(TableTest, OutOfOrderAddIsStickyError) {
  TableBuilder b(TableOptions{});
  ASSERT_TRUE(b.Add(MakeInternalKey("b", 1, ValueType::kValue), "v").ok());
  Status s = b.Add(MakeInternalKey("a", 1, ValueType::kValue), "v");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_TRUE(b.Add(MakeInternalKey("c", 1, ValueType::kValue), "v").IsInvalidArgument());
  EXPECT_TRUE(b.Finish().IsInvalidArgument());
}

TEST(TableTest, DuplicateKeyAndBadKeyRejected) {
  TableBuilder b(TableOptions{});
  ASSERT_TRUE(b.Add(MakeInternalKey("a", 1, ValueType::kValue), "v").ok());
  EXPECT_TRUE(b.Add(MakeInternalKey("a", 1, ValueType::kValue), "v").IsInvalidArgument());
  b.Abandon();
  TableBuilder b2(TableOptions{});
  EXPECT_TRUE(b2.Add("short", "v").IsInvalidArgument());
  b2.Abandon();
}

TEST(TableTest, AbandonWithoutFinish) {
  TableBuilder b(TableOptions{});
  ASSERT_TRUE(b.Add(MakeInternalKey("a", 1, ValueType::kValue), "v").ok());
  b.Abandon();
}

TEST(TableTest, BuilderDestroyedWithoutFinishDies) {
  EXPECT_DEATH({ TableBuilder b(TableOptions{}); }, "Finish");
}

TEST(TableTest, FooterRejectsTruncationAndBadMagic) {
  Model model;
  for (int i = 0; i < 100; i++)
    model.emplace(MakeInternalKey(testing::Cat("k", i), 1, ValueType::kValue), "v");
  std::string file = BuildTable(model, TableOptions{});
  std::unique_ptr<TableReader> t;
  EXPECT_TRUE(TableReader::OpenFromFile(file.substr(0, file.size() - 1), &t).IsCorruption());
  EXPECT_TRUE(TableReader::OpenFromFile(file.substr(0, 10), &t).IsCorruption());
  std::string bad = file;
  bad[bad.size() - 1] ^= 1;
  EXPECT_TRUE(TableReader::OpenFromFile(bad, &t).IsCorruption());
}

// Which block kind covers each byte of a table, for the bit-flip test.
enum class Region { kData, kFilter, kProperties, kIndex, kPadding, kFooter };

Region RegionOf(const TableReader& t, uint64_t pos) {
  const Footer& f = t.footer();
  auto in = [pos](const BlockHandle& h) {
    return pos >= h.offset && pos < h.offset + h.read_size();
  };
  if (pos >= t.file_size() - kFooterBytes) return Region::kFooter;
  if (pos < f.meta_offset()) return Region::kData;
  if (f.filter.size != 0 && in(f.filter)) return Region::kFilter;
  if (in(f.properties)) return Region::kProperties;
  if (in(f.index)) return Region::kIndex;
  return Region::kPadding;
}

// Zero-padded decimal keys (ringdb-bench's): the table's last separator is the short
// successor of its last key ("1"), yet the separators before it keep their long common
// prefix, so a lookup compares at most two separators in full; keys past the last one,
// before the first and between blocks are answered right.
// n as 16 zero-padded decimal digits, as ringdb-bench's keys.
std::string DecimalKey(uint64_t n) {
  std::string k(16, '0');
  for (int i = 15; i >= 0; i--, n /= 10) k[i] = static_cast<char>('0' + n % 10);
  return k;
}

TEST(TableTest, DecimalKeysTieOnFewSeparators) {
  Model model;
  constexpr uint64_t kFirst = 1000000000, kCount = 20000;
  for (uint64_t i = 0; i < kCount; i++) {
    model[MakeInternalKey(DecimalKey(kFirst + 3 * i), 1, ValueType::kValue)] =
        std::string(100, 'a' + i % 26);
  }
  // The last block also holds a key without the common prefix.
  model[MakeInternalKey("2", 1, ValueType::kValue)] = "two";
  std::string file;
  std::unique_ptr<TableReader> t = BuildOpenAndFindAll(model, &file);
  ASSERT_NE(t, nullptr);
  EXPECT_LE(t->max_prefix_tie(), 2u);
  StringBlockFetcher f(file);
  for (uint64_t i = 0; i < kCount; i++) {
    ASSERT_EQ(Lookup(*t, &f, DecimalKey(kFirst + 3 * i + 1), kMaxSequenceNumber), "ABSENT");
  }
  for (std::string k :
       {DecimalKey(kFirst + 3 * kCount), DecimalKey(kFirst * 2), std::string("0000002"),
        std::string("1"), std::string("10"), std::string("5"), std::string("\xff\xff"),
        std::string("0"), DecimalKey(kFirst - 1), std::string("00000010000")}) {
    EXPECT_EQ(Lookup(*t, &f, k, kMaxSequenceNumber), "ABSENT") << k;
  }
}

// Separators whose padded 8 bytes tie although the keys differ: keys that are prefixes
// of one another, trailing zero bytes included. A lookup of the latest versions orders
// them by how long they are past the common prefix (no read of the index block); every
// key is found at the latest and at an older snapshot, and the keys between are absent.
TEST(TableTest, KeysThatArePrefixesOfOneAnotherTieAndAreOrderedByLength) {
  Model model;
  std::vector<std::string> keys;
  for (int i = 0; i < 400; i++) {
    const std::string base = testing::Cat("k", 1000 + i);  // "k1000": 5 bytes
    for (int zeros = 0; zeros <= 4; zeros++) keys.push_back(base + std::string(zeros, '\0'));
    keys.push_back(base + std::string(3, '\0') + "x");
  }
  for (const std::string& k : keys) {
    model[MakeInternalKey(k, 5, ValueType::kValue)] = "v" + k;
  }
  TableOptions opt;
  opt.block_bytes = 64;  // a separator every key or two
  std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  ASSERT_GT(t->properties().num_data_blocks, 600u);
  StringBlockFetcher f(file);
  for (const auto& [ik, v] : model) {
    const std::string uk(ExtractUserKey(ik));
    ASSERT_EQ(Lookup(*t, &f, uk, kMaxSequenceNumber), v) << uk.c_str() << " +" << uk.size();
    ASSERT_EQ(Lookup(*t, &f, uk, 5), v) << uk.c_str() << " +" << uk.size();
    ASSERT_EQ(Lookup(*t, &f, uk, 4), "ABSENT") << uk.c_str() << " +" << uk.size();
  }
  for (int i = 0; i < 400; i++) {
    const std::string base = testing::Cat("k", 1000 + i);
    for (std::string k : {base + std::string(5, '\0'), base + std::string(2, '\0') + "x",
                          base + std::string(4, '\0') + "x", base + "y"}) {
      ASSERT_EQ(Lookup(*t, &f, k, kMaxSequenceNumber), "ABSENT") << k.c_str() << " +" << k.size();
    }
  }
}

// Fixed-width keys with several versions each, small blocks: most separators are real
// keys, tied with the lookups of those keys. A lookup at or above the table's largest
// sequence settles such a tie without the index block (TableReader::settle_seq_); one
// below it compares in full. Every key at every sequence agrees with the model.
TEST(TableTest, TiesWithVersionedSeparatorsAgreeWithTheModelAtEverySequence) {
  Rng rng(71);
  Model model;
  std::map<std::string, std::map<SequenceNumber, std::string>> versions;
  constexpr uint64_t kKeys = 1500;
  for (uint64_t i = 0; i < kKeys; i++) {
    const std::string k = DecimalKey(5000000 + 2 * i);
    const int n = 1 + static_cast<int>(rng.Uniform(3));
    for (int j = 0; j < n; j++) {
      const SequenceNumber seq = 1 + rng.Uniform(900);
      const bool del = rng.OneIn(6);
      const std::string v = del ? "DELETED" : testing::Cat(testing::Cat("v", i) + "@", seq);
      model[MakeInternalKey(k, seq, del ? ValueType::kDeletion : ValueType::kValue)] = del ? "" : v;
      versions[k][seq] = v;
    }
  }
  TableOptions opt;
  opt.block_bytes = 96;  // two or three entries a block
  TableProperties props;
  std::string file = BuildTable(model, opt, &props);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  ASSERT_GT(t->properties().num_data_blocks, 500u);
  const SequenceNumber top = props.largest_seq;
  StringBlockFetcher f(file);
  for (const auto& [k, by_seq] : versions) {
    for (SequenceNumber s : {SequenceNumber{0}, SequenceNumber{1}, top / 3, top / 2, top - 1, top,
                             top + 1, SequenceNumber{1} << 40, kMaxSequenceNumber}) {
      auto it = by_seq.upper_bound(s);
      const std::string expect = it == by_seq.begin() ? "ABSENT" : std::prev(it)->second;
      ASSERT_EQ(Lookup(*t, &f, k, s), expect) << k << " at " << s;
    }
    const uint64_t n = std::stoull(k);
    ASSERT_EQ(Lookup(*t, &f, DecimalKey(n + 1), top), "ABSENT") << n + 1;
    ASSERT_EQ(Lookup(*t, &f, DecimalKey(n + 1), 1), "ABSENT") << n + 1;
  }
}

// An open table holds its index once (as a block, beside the 16-byte search entries)
// and its filter once: not also the raw region they were read from.
TEST(TableTest, OpenReaderHoldsItsIndexOnce) {
  Model model;
  for (int i = 0; i < 20000; i++) {
    char k[32];
    std::snprintf(k, sizeof(k), "key%08d", i * 7);
    model[MakeInternalKey(k, 1, ValueType::kValue)] = std::string(100, 'a' + i % 26);
  }
  std::string file;
  std::unique_ptr<TableReader> t = BuildOpenAndFindAll(model, &file);
  ASSERT_NE(t, nullptr);
  const Footer& footer = t->footer();
  ASSERT_GT(footer.filter.size, 0u);
  const uint64_t blocks = t->properties().num_data_blocks;
  const uint64_t held = footer.index.size + footer.filter.size + blocks * 16 + blocks / 64 * 8 +
                        sizeof(TableReader) + 4096;
  EXPECT_LE(t->memory_usage(), held) << "index " << footer.index.size << ", filter "
                                     << footer.filter.size << ", " << blocks << " blocks";
  EXPECT_GE(t->memory_usage(), footer.index.size + footer.filter.size);
  // What it holds still answers: the filter rejects absent keys, the index finds the rest.
  StringBlockFetcher f(file);
  int passed = 0;
  for (int i = 0; i < 1000; i++) {
    char k[32];
    std::snprintf(k, sizeof(k), "key%08d", i * 7 + 3);
    passed += t->MayContain(k) ? 1 : 0;
    EXPECT_EQ(Lookup(*t, &f, k, kMaxSequenceNumber), "ABSENT");
  }
  EXPECT_LT(passed, 100);  // 10 bits per key: about 1% false positives
}

// Keys whose 8 bytes after the common prefix are the same for half the table: lookups
// fall back to comparing the tied separators in full and still find every key.
TEST(TableTest, LongPrefixTiesStillFindEveryKey) {
  Model model;
  constexpr int kCount = 20000;
  auto key = [](int i) {
    return testing::Cat(i < kCount / 2 ? "xAAAAAAAA" : "xBBBBBBBB", 100000 + 2 * i);
  };
  for (int i = 0; i < kCount; i++) {
    model[MakeInternalKey(key(i), 1, ValueType::kValue)] =
        testing::Cat("v", i) + std::string(100, 'v');
  }
  std::string file;
  std::unique_ptr<TableReader> t = BuildOpenAndFindAll(model, &file);
  ASSERT_NE(t, nullptr);
  EXPECT_GT(t->max_prefix_tie(), 100u);
  StringBlockFetcher f(file);
  EXPECT_EQ(Lookup(*t, &f, "xAAAAAAAA", kMaxSequenceNumber), "ABSENT");
  EXPECT_EQ(Lookup(*t, &f, "xAAAAAAAB", kMaxSequenceNumber), "ABSENT");
  EXPECT_EQ(Lookup(*t, &f, "xC", kMaxSequenceNumber), "ABSENT");
}

// Flips one bit at every byte of a small table. Every flip outside the padding must
// surface as Corruption (at open, on Get, or while iterating); none may crash or
// return wrong data silently.
// A data block far bigger than the others (one value over 16 MiB) among small ones:
// every key, the huge one included, is found, and keys around it are absent.
TEST(TableTest, HugeBlockAmongSmallOnesIsFound) {
  Model model;
  for (int i = 0; i < 3000; i++) {
    model[MakeInternalKey(testing::Cat("k", 10000 + i), 1, ValueType::kValue)] =
        testing::Cat("value", i);
  }
  const std::string huge_key = MakeInternalKey("k11500x", 1, ValueType::kValue);
  model[huge_key] = std::string((16 << 20) + 100, 'h');
  std::string file;
  std::unique_ptr<TableReader> t = BuildAndOpen(model, &file);
  ASSERT_NE(t, nullptr);
  StringBlockFetcher f(file);
  for (const auto& [ik, v] : model) {
    const std::string_view uk = ExtractUserKey(ik);
    const std::string got = Lookup(*t, &f, uk, kMaxSequenceNumber);
    ASSERT_EQ(got.size(), v.size()) << uk;
    ASSERT_TRUE(got == v) << uk;
  }
  EXPECT_EQ(Lookup(*t, &f, "k11500y", kMaxSequenceNumber), "ABSENT");
  EXPECT_EQ(Lookup(*t, &f, "k9", kMaxSequenceNumber), "ABSENT");
}

TEST(TableCorruptionTest, BitFlipInEveryByteOfEveryBlockKind) {
  Model model;
  Rng rng(5);
  for (int i = 0; i < 300; i++) {
    model[MakeInternalKey(testing::Cat("key", rng.Uniform(100000)), 1 + i, ValueType::kValue)] =
        rng.Bytes(20);
  }
  TableOptions opt;
  opt.block_bytes = 1024;
  std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> good;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &good).ok());
  std::map<Region, int> detected, flipped;
  for (uint64_t pos = 0; pos < file.size(); pos++) {
    Region region = RegionOf(*good, pos);
    std::string bad = file;
    bad[pos] ^= static_cast<char>(1 << (pos % 8));
    flipped[region]++;
    std::unique_ptr<TableReader> t;
    Status s = TableReader::OpenFromFile(bad, &t);
    bool corrupt = false;
    if (!s.ok()) {
      ASSERT_TRUE(s.IsCorruption() || s.IsNotSupported()) << s.ToString();
      corrupt = true;
    } else {
      StringBlockFetcher f(bad);
      auto it = t->NewIterator(&f);
      auto mi = model.begin();
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++mi) {
        ASSERT_NE(mi, model.end());
        ASSERT_EQ(it->key(), mi->first) << "silent bad key at flip " << pos;
        ASSERT_EQ(it->value(), mi->second) << "silent bad value at flip " << pos;
      }
      if (!it->status().ok()) {
        ASSERT_TRUE(it->status().IsCorruption());
        corrupt = true;
      } else {
        ASSERT_EQ(mi, model.end());
      }
      for (const auto& [ik, v] : model) {
        LookupResult r;
        std::string got;
        Status gs = t->Get(LookupKey(ExtractUserKey(ik), kMaxSequenceNumber), &f, &r, &got);
        if (!gs.ok()) {
          ASSERT_TRUE(gs.IsCorruption()) << gs.ToString();
          corrupt = true;
        } else {
          ASSERT_EQ(r, LookupResult::kFound);
          ASSERT_EQ(got, v);
        }
      }
    }
    if (corrupt) detected[region]++;
    if (region != Region::kPadding) {
      ASSERT_TRUE(corrupt) << "undetected flip at byte " << pos;
    }
    if (region == Region::kPadding) {
      ASSERT_FALSE(corrupt) << "padding flip at " << pos;
    }
  }
  for (Region r :
       {Region::kData, Region::kFilter, Region::kProperties, Region::kIndex, Region::kFooter}) {
    EXPECT_GT(flipped[r], 0);
    EXPECT_EQ(detected[r], flipped[r]);
  }
}

TEST(TableCorruptionTest, CorruptDataBlockNamesOffset) {
  Model model;
  for (int i = 0; i < 2000; i++)
    model[MakeInternalKey(testing::Cat("k", 10000 + i), 1, ValueType::kValue)] = "value";
  std::string file;
  std::unique_ptr<TableReader> t = BuildAndOpen(model, &file);
  ASSERT_NE(t, nullptr);
  auto idx = t->NewIndexIterator();
  idx->SeekToFirst();
  idx->Next();
  std::string_view v = idx->value();
  BlockHandle h;
  ASSERT_TRUE(DecodeBlockHandle(&v, &h));
  file[h.offset + 10] ^= 0x20;
  StringBlockFetcher f(file);
  auto it = t->NewIterator(&f);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
  }
  ASSERT_TRUE(it->status().IsCorruption());
  EXPECT_NE(it->status().message().find(testing::Cat("data block at offset ", h.offset)),
            std::string::npos)
      << it->status().message();
}

}  // namespace
}  // namespace ringdb::lsm
