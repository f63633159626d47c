// One test per decoder bug the fuzz targets found (docs/testing.md "Fuzzing": the list
// of findings). The inputs that found them are in tests/fuzz/regressions/; these tests
// pin the rule each fix added, on inputs built for the purpose.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "db/store_files.h"
#include "io/io_trace.h"
#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/filenames.h"
#include "lsm/table_builder.h"
#include "lsm/table_reader.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/tool_store.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::fuzz {
namespace {

std::string Hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

std::string CurrentFor(const std::string& name, const std::string& crc_text) {
  std::string s = name;
  s.append(" crc32c=").append(crc_text).append("\n");
  return s;
}

// ---- CURRENT and file names: one spelling per number

TEST(FuzzFindings, CurrentWithAnExtraLeadingZeroIsRejected) {
  const std::string name = "MANIFEST-0617283";  // the engine writes MANIFEST-617283
  uint64_t n = 0;
  Status s = lsm::DecodeCurrent(
      CurrentFor(name, Hex8(util::crc32c::Value(name.data(), name.size()))), "CURRENT", &n);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  ASSERT_TRUE(lsm::DecodeCurrent(lsm::EncodeCurrent(617283), "CURRENT", &n).ok());
  EXPECT_EQ(n, 617283u);
}

TEST(FuzzFindings, FileNamesParseOnlyInTheEngineSpelling) {
  uint64_t n = 0;
  EXPECT_EQ(lsm::ParseFileName("000005.sst", &n), lsm::FileKind::kTable);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(lsm::ParseFileName("1234567.wal", &n), lsm::FileKind::kWal);
  EXPECT_EQ(n, 1234567u);
  EXPECT_EQ(lsm::ParseFileName("5.sst", &n), lsm::FileKind::kUnknown);
  EXPECT_EQ(lsm::ParseFileName("0000005.sst", &n), lsm::FileKind::kUnknown);
  EXPECT_EQ(lsm::ParseFileName("MANIFEST-5", &n), lsm::FileKind::kUnknown);
  EXPECT_EQ(lsm::ParseFileName("01234567.wal", &n), lsm::FileKind::kUnknown);
}

TEST(FuzzFindings, CurrentChecksumIsEightLowercaseHexDigits) {
  const std::string name = lsm::ManifestFileName(14);
  const std::string hex = Hex8(util::crc32c::Value(name.data(), name.size()));
  uint64_t n = 0;
  ASSERT_TRUE(lsm::DecodeCurrent(CurrentFor(name, hex), "CURRENT", &n).ok());
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_NE(upper, hex);  // this checksum has letters
  EXPECT_TRUE(lsm::DecodeCurrent(CurrentFor(name, upper), "CURRENT", &n).IsCorruption());
}

// ---- OPTIONS: the same checksum rule

TEST(FuzzFindings, OptionsChecksumIsEightLowercaseHexDigits) {
  db::StoreOptions so;
  so.shards = 1;
  const std::string good = db::EncodeStoreOptions(so);
  ASSERT_TRUE(db::DecodeStoreOptions(good, "OPTIONS", &so).ok());
  std::string upper = good;
  const size_t pos = upper.rfind("crc32c=") + 7;
  for (size_t i = pos; i < pos + 8; i++) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  ASSERT_NE(upper, good);
  EXPECT_TRUE(db::DecodeStoreOptions(upper, "OPTIONS", &so).IsCorruption());
  // "0x" and 6 digits: sscanf's %8x read the same number.
  std::string body = "ringdb-options\nformat_version=1\nshards=334\n";
  const uint32_t crc = util::crc32c::Value(body.data(), body.size());
  ASSERT_LT(crc, 1u << 24);
  char line[32];
  std::snprintf(line, sizeof(line), "crc32c=0x%06x\n", crc);
  EXPECT_TRUE(db::DecodeStoreOptions(body + line, "OPTIONS", &so).IsCorruption());
}

// ---- I/O trace: a bad block trailer ends the trace for good

TEST(FuzzFindings, IoTraceReaderStaysFinishedAfterABadTrailer) {
  std::string file(2 * io::kIoTraceBlockBytes, '\0');
  io::IoTraceHeader h;
  h.flags = io::kIoTraceClosed;
  io::EncodeIoTraceHeader(h, file.data());
  char* block = file.data() + io::kIoTraceBlockBytes;
  block[0] = static_cast<char>(io::IoTraceRecordType::kIo);
  char* trailer = block + io::kIoTraceRecordsPerBlock * io::kIoTraceRecordBytes;
  util::EncodeFixed32(trailer, io::kIoTraceBlockMagic);
  util::EncodeFixed32(trailer + 4, 100000);  // more records than a block has slots
  ResealIoTrace(&file);
  MemFile mem(file);
  std::unique_ptr<io::IoTraceReader> r;
  ASSERT_TRUE(io::IoTraceReader::Open(mem.path(), &r).ok());
  io::IoTraceEntry e;
  EXPECT_FALSE(r->Next(&e));
  EXPECT_TRUE(r->status().IsCorruption()) << r->status().ToString();
  // It used to take the bad count as its record count here, and read past the block.
  EXPECT_FALSE(r->Next(&e));
  EXPECT_FALSE(r->Next(&e));
}

// ---- Blocks: restart points are entry starts that share nothing

std::string Ikey(const std::string& user) {
  return lsm::MakeInternalKey(user, 7, lsm::ValueType::kValue);
}

// Two entries, the second sharing 3 bytes ("key") with the first, and a restart array
// of {0, restart1} (0: the second entry).
std::string TwoEntryBlock(uint32_t restart1, uint32_t* second_entry) {
  const std::string k0 = Ikey("keyA"), k1 = Ikey("keyB");
  std::string c;
  util::PutVarint32(&c, 0);
  util::PutVarint32(&c, static_cast<uint32_t>(k0.size()));
  util::PutVarint32(&c, 1);
  c += k0 + "v";
  *second_entry = static_cast<uint32_t>(c.size());
  util::PutVarint32(&c, 3);
  util::PutVarint32(&c, static_cast<uint32_t>(k1.size() - 3));
  util::PutVarint32(&c, 1);
  c += k1.substr(3) + "w";
  util::PutFixed32(&c, 0);
  util::PutFixed32(&c, restart1 == 0 ? *second_entry : restart1);
  util::PutFixed32(&c, 2);
  return c;
}

Status ForwardScan(const std::string& contents, size_t* n) {
  lsm::BlockPtr b;
  Status s = lsm::Block::FromContents(contents, 0, lsm::BlockKind::kIndex, &b);
  if (!s.ok()) return s;
  auto it = lsm::Block::NewIterator(b);
  *n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++*n;
  return it->status();
}

TEST(FuzzFindings, ARestartEntryWithASharedPrefixFailsTheForwardScan) {
  uint32_t second;
  TwoEntryBlock(0, &second);
  size_t n = 0;
  // Restart 1 at the second entry, which shares 3 bytes: Prev and Seek parse it with no
  // previous key, so it used to read forward but not backward.
  Status s = ForwardScan(TwoEntryBlock(0, &second), &n);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(FuzzFindings, ARestartPointInsideAnEntryFailsTheForwardScan) {
  uint32_t second;
  TwoEntryBlock(0, &second);
  size_t n = 0;
  Status s = ForwardScan(TwoEntryBlock(second - 2, &second), &n);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(FuzzFindings, BuiltBlocksStillReadBothWays) {
  for (int interval : {1, 2, 16}) {
    lsm::BlockBuilder bb(interval);
    for (int i = 0; i < 40; i++) bb.Add(Ikey("key" + std::to_string(100 + i)), "v");
    size_t n = 0;
    ASSERT_TRUE(ForwardScan(std::string(bb.Finish()), &n).ok());
    EXPECT_EQ(n, 40u);
  }
}

// ---- Tables: block handles near 2^64, and what verify must catch

std::string SmallTable(int bloom_bits) {
  lsm::TableOptions opt;
  opt.block_bytes = 256;
  opt.bloom_bits_per_key = bloom_bits;
  lsm::TableBuilder b(opt);
  for (int i = 0; i < 60; i++) {
    EXPECT_TRUE(b.Add(Ikey("user" + std::to_string(1000 + i)), std::string(20, 'v')).ok());
  }
  EXPECT_TRUE(b.Finish().ok());
  return std::string(b.ready());
}

// Rewrites the index block (in place, into the padding before the footer when it grows)
// with `edit` applied to its entries, and reseals the table.
std::string RewriteIndex(std::string file,
                         void (*edit)(std::vector<std::pair<std::string, std::string>>*)) {
  lsm::Footer footer;
  EXPECT_TRUE(
      lsm::Footer::DecodeFrom(file.substr(file.size() - lsm::kFooterBytes), file.size(), &footer)
          .ok());
  lsm::BlockPtr index;
  EXPECT_TRUE(lsm::Block::FromContents(file.substr(footer.index.offset, footer.index.size),
                                       footer.index.offset, lsm::BlockKind::kIndex, &index)
                  .ok());
  std::vector<std::pair<std::string, std::string>> entries;
  auto it = lsm::Block::NewIterator(index);
  for (it->SeekToFirst(); it->Valid(); it->Next()) entries.emplace_back(it->key(), it->value());
  edit(&entries);
  lsm::BlockBuilder bb(1);
  for (const auto& [k, v] : entries) bb.Add(k, v);
  const std::string contents(bb.Finish());
  file.replace(footer.index.offset, contents.size(), contents);
  file[footer.index.offset + contents.size()] = static_cast<char>(lsm::BlockKind::kIndex);
  footer.index.size = contents.size();
  std::string enc;
  footer.EncodeTo(&enc);
  file.replace(file.size() - lsm::kFooterBytes, lsm::kFooterBytes, enc);
  ResealTable(&file);
  return file;
}

TEST(FuzzFindings, ABlockHandleWhoseReadSizeWrapsIsRejected) {
  lsm::BlockHandle h;
  h.offset = 100;
  h.size = ~uint64_t{0} - 2;  // read_size() wraps to 2
  const std::string two(2, 'x');
  std::string_view contents;
  // Rejected for its size, before the trailer is looked for 2^64 - 3 bytes further on
  // (it used to be read from 3 bytes before the buffer: "checksum mismatch").
  Status s = lsm::VerifyBlock(two, h, lsm::BlockKind::kData, &contents);
  EXPECT_TRUE(s.IsCorruption() && s.message().find("read 2 bytes") != std::string::npos)
      << s.ToString();
  const std::string file = SmallTable(10);
  lsm::StringBlockFetcher fetcher(file);
  lsm::BlockPtr block;
  s = fetcher.Fetch(h, lsm::BlockKind::kData, &block);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();  // past the end of the file
}

TEST(FuzzFindings, VerifyRejectsAFilterThatRulesOutAKey) {
  std::string file = SmallTable(10);
  tools::TableCheck tc;
  uint64_t bad = 0;
  ASSERT_TRUE(tools::CheckTable(file, nullptr, &tc, &bad).ok());
  lsm::Footer footer;
  ASSERT_TRUE(
      lsm::Footer::DecodeFrom(file.substr(file.size() - lsm::kFooterBytes), file.size(), &footer)
          .ok());
  ASSERT_GT(footer.filter.size, 2u);
  // Clear every bit (the probe count and kind bytes stay), then reseal.
  std::fill_n(file.begin() + static_cast<std::ptrdiff_t>(footer.filter.offset),
              footer.filter.size - 2, '\0');
  ResealTable(&file);
  Status s = tools::CheckTable(file, nullptr, &tc, &bad);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(bad, footer.filter.offset);
}

TEST(FuzzFindings, VerifyRejectsAnIndexKeyAboveTheNextBlock) {
  const std::string good = SmallTable(0);
  auto check = [](const std::string& file) {
    tools::TableCheck tc;
    uint64_t bad = 0;
    return tools::CheckTable(file, nullptr, &tc, &bad);
  };
  ASSERT_TRUE(check(good).ok());
  Status same = check(RewriteIndex(good, [](auto*) {}));
  ASSERT_TRUE(same.ok()) << same.ToString();
  // Block 0's separator raised to block 1's separator's user key at the newest
  // sequence: still below that separator, still above block 0's keys, but above block
  // 1's first key, so a lookup of that key is sent to block 0 and misses.
  const std::string raised = RewriteIndex(good, [](auto* e) {
    ASSERT_GE(e->size(), 3u);
    lsm::ParsedInternalKey next;
    ASSERT_TRUE(lsm::ParseInternalKey((*e)[1].first, &next));
    (*e)[0].first =
        lsm::MakeInternalKey(next.user_key, lsm::kMaxSequenceNumber, lsm::kValueTypeForSeek);
  });
  Status s = check(raised);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

// 20 user keys with 8 versions each, 10 sequence numbers apart: most block boundaries
// fall between two versions of one user key.
std::string VersionedTable() {
  lsm::TableOptions opt;
  opt.block_bytes = 256;
  opt.bloom_bits_per_key = 0;
  lsm::TableBuilder b(opt);
  for (int i = 0; i < 20; i++) {
    for (int v = 0; v < 8; v++) {
      const std::string key =
          lsm::MakeInternalKey("user" + std::to_string(1000 + i),
                               static_cast<uint64_t>(1000 - 10 * v), lsm::ValueType::kValue);
      EXPECT_TRUE(b.Add(key, std::string(15, 'v')).ok());
    }
  }
  EXPECT_TRUE(b.Finish().ok());
  return std::string(b.ready());
}

TEST(FuzzFindings, VerifyRejectsASeparatorAboveTheLastKeyWithTheNextUserKey) {
  const std::string good = VersionedTable();
  auto check = [](const std::string& file) {
    tools::TableCheck tc;
    uint64_t bad = 0;
    return tools::CheckTable(file, nullptr, &tc, &bad);
  };
  ASSERT_TRUE(check(good).ok());
  // Each separator lowered by 5 sequence numbers: still above its block's last key and
  // below the next block's first, but where one user key spans the boundary, a lookup
  // of it at a sequence in between is sent to the earlier block and misses.
  const std::string lowered = RewriteIndex(good, [](auto* e) {
    for (size_t i = 0; i + 1 < e->size(); i++) {
      lsm::ParsedInternalKey k;
      ASSERT_TRUE(lsm::ParseInternalKey((*e)[i].first, &k));
      ASSERT_GT(k.sequence, 5u);
      (*e)[i].first = lsm::MakeInternalKey(k.user_key, k.sequence - 5, k.type);
    }
  });
  Status s = check(lowered);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("with the user key of the next block's first key"), std::string::npos)
      << s.ToString();
}

}  // namespace
}  // namespace ringdb::fuzz
