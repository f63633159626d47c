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

}  // namespace
}  // namespace ringdb::fuzz
