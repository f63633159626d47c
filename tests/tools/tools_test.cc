// ringdb-tool end to end: a small store is built once through the public API (2 shards,
// small memtables, so there are SSTs on more than one level, a MANIFEST with several
// edits and WAL records after the last flush); every test works on its own copy and runs
// the built binary ($RINGDB_TOOL) on it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lsm/filenames.h"
#include "ringdb/db.h"
#include "ringdb/stats.h"
#include "ringdb/write_batch.h"
#include "tool_test_util.h"

namespace ringdb::tooltest {
namespace {

constexpr int kBulkKeys = 2000;
constexpr int kDeleted = 10;  // key00010 .. key00019 are deleted before the flush
constexpr int kWalKeys = 20;  // written one by one after the flush: they stay in WALs
constexpr int kExitBusy = 3;  // tools/tool_common.h ExitCode
constexpr int kExitNotFound = 4;

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%05d", i);
  return buf;
}
std::string Value(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "value%05d-", i);
  return std::string(buf) + std::string(80, static_cast<char>('a' + i % 26));
}
std::string WalKey(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "wal%02d", i);
  return buf;
}
std::string WalValue(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "walvalue%02d", i);
  return buf;
}
// "'key' @ ", how dumps start an entry of `key`.
std::string KeyAt(const std::string& key) {
  std::string s = "'";
  s += key;
  s += "' @ ";
  return s;
}
const std::string kBinKey("bin\x00\xff", 5);
const std::string kBinValue("\x01\x02z", 3);

Options StoreOptions(const std::string& path) {
  Options o;
  o.path = path;
  o.shards = 2;
  o.memtable_bytes = 64 << 10;
  o.wal_preallocate_bytes = 256 << 10;
  o.block_cache_bytes = 1 << 20;
  return o;
}

class ToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new TempDir();
    model_ = new std::map<std::string, std::string>();
    std::unique_ptr<DB> db;
    Status s = DB::Open(StoreOptions(golden_->Sub("db")), &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Four flushed rounds: four L0 tables per shard start a compaction into L1.
    for (int b = 0; b < kBulkKeys; b += 100) {
      WriteBatch batch;
      for (int i = b; i < b + 100; i++) {
        batch.Put(Key(i), Value(i));
        (*model_)[Key(i)] = Value(i);
      }
      ASSERT_TRUE(db->Write(batch).ok());
      if ((b + 100) % (kBulkKeys / 4) == 0) {
        ASSERT_TRUE(db->Flush().ok());
      }
    }
    WaitForL1(db.get());
    WriteBatch dels;
    for (int i = kDeleted; i < 2 * kDeleted; i++) {
      dels.Delete(Key(i));
      model_->erase(Key(i));
    }
    ASSERT_TRUE(db->Write(dels).ok());
    ASSERT_TRUE(db->Put(kBinKey, kBinValue).ok());
    (*model_)[kBinKey] = kBinValue;
    s = db->Flush();
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < kWalKeys; i++) {
      ASSERT_TRUE(db->Put(WalKey(i), WalValue(i)).ok());
      (*model_)[WalKey(i)] = WalValue(i);
    }
    ASSERT_TRUE(db->Close().ok());
  }
  // Waits (up to 20 s) until every shard has compacted L0 into L1.
  static void WaitForL1(DB* db) {
    for (int i = 0; i < 2000; i++) {
      Stats st;
      ASSERT_TRUE(db->GetStats(&st).ok());
      bool done = true;
      for (const ShardStats& sh : st.shards) done = done && sh.level_files[1] > 0;
      if (done) return;
      ::usleep(10000);
    }
    ADD_FAILURE() << "no compaction into L1 within 20 s";
  }
  static void TearDownTestSuite() {
    delete golden_;
    delete model_;
    golden_ = nullptr;
    model_ = nullptr;
  }

  void SetUp() override {
    if (ToolPath().empty()) GTEST_SKIP() << "RINGDB_TOOL is not set (run through meson test)";
    ASSERT_NE(golden_, nullptr);
    db_ = dir_.Sub("db");
    CopyTree(golden_->Sub("db"), db_);
  }

  std::string Shard(int i) const {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "/shard-%03d", i);
    return db_ + buf;
  }
  // Every line of `out`.
  static std::vector<std::string> Lines(const std::string& out) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < out.size()) {
      size_t nl = out.find('\n', start);
      if (nl == std::string::npos) nl = out.size();
      lines.push_back(out.substr(start, nl - start));
      start = nl + 1;
    }
    return lines;
  }
  // The WAL segment of a shard holding the most records, with its record offsets.
  std::pair<std::string, std::vector<RecordSpan>> BusiestWal() {
    std::pair<std::string, std::vector<RecordSpan>> best;
    for (int s = 0; s < 2; s++) {
      for (const std::string& f : FilesWithSuffix(Shard(s), ".wal")) {
        uint64_t n = 0;
        lsm::ParseFileName(std::filesystem::path(f).filename().string(), &n);
        std::vector<RecordSpan> offs = Records(f, n);
        if (offs.size() > best.second.size()) best = {f, offs};
      }
    }
    return best;
  }
  // Scan through the tool; skips the test while the engine has no iterators.
  ToolResult Scan(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--db=" + db_, "scan"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTool(args);
  }

  static TempDir* golden_;
  static std::map<std::string, std::string>* model_;
  TempDir dir_;
  std::string db_;
};

TempDir* ToolTest::golden_ = nullptr;
std::map<std::string, std::string>* ToolTest::model_ = nullptr;

#define SKIP_IF_NO_ITERATOR(r)                                                           \
  if ((r).code != 0 && (r).err.find("NewIterator") != std::string::npos) {               \
    GTEST_SKIP() << "DB::NewIterator returns nullptr in this build; scan is untestable"; \
  }

TEST_F(ToolTest, PutGetDeleteRoundTrip) {
  ToolResult r = RunTool({"--db=" + db_, "get", Key(5)});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, Value(5) + "\n");

  r = RunTool({"--db=" + db_, "get", WalKey(3)});  // only in a WAL: recovery replays it
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, WalValue(3) + "\n");

  r = RunTool({"--db=" + db_, "put", "new key", "new value"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = RunTool({"get", "--db=" + db_, "new key"});  // --db may follow the subcommand
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "new value\n");

  r = RunTool({"--db=" + db_, "delete", "new key"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = RunTool({"--db=" + db_, "get", "new key"});
  EXPECT_EQ(r.code, kExitNotFound) << r.Describe();
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  r = RunTool({"--db=" + db_, "get", Key(kDeleted)});  // deleted before the flush
  EXPECT_EQ(r.code, kExitNotFound) << r.Describe();
}

TEST_F(ToolTest, BinaryKeysAreEscapedOrHex) {
  ToolResult r = RunTool({"--db=" + db_, "--hex", "get", "0x62696e00ff"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "0x01027a\n");

  r = RunTool({"--db=" + db_, "--hex", "put", "0x00ff", "0x5c41"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = RunTool({"--db=" + db_, "--hex", "get", "00ff"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "0x5c41\n");

  r = RunTool({"--db=" + db_, "--hex", "get", "0xzz"});
  EXPECT_EQ(r.code, 1) << r.Describe();
}

TEST_F(ToolTest, GetOnMissingStoreIsAnErrorAndCreatesNothing) {
  const std::string missing = dir_.Sub("nothing-here");
  ToolResult r = RunTool({"--db=" + missing, "get", "k"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(missing));

  std::filesystem::create_directory(missing);
  r = RunTool({"--db=" + missing, "scan"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.err.find("not a ringdb store"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(missing));
}

TEST_F(ToolTest, ScanPrintsEverythingInOrder) {
  ToolResult r = Scan({});
  SKIP_IF_NO_ITERATOR(r);
  ASSERT_EQ(r.code, 0) << r.Describe();
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), model_->size());
  size_t i = 0;
  for (const auto& [k, v] : *model_) {
    if (k == kBinKey) {
      EXPECT_EQ(lines[i], "bin\\x00\\xff ==> \\x01\\x02z");
    } else {
      EXPECT_EQ(lines[i], k + " ==> " + v);
    }
    i++;
  }
}

TEST_F(ToolTest, ScanHonoursBoundsPrefixLimitAndReverse) {
  ToolResult r = Scan({"--from=" + Key(100), "--to=" + Key(105), "--keys-only"});
  SKIP_IF_NO_ITERATOR(r);
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, Key(100) + "\n" + Key(101) + "\n" + Key(102) + "\n" + Key(103) + "\n" +
                       Key(104) + "\n");

  r = Scan({"--prefix=wal", "--keys-only"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(Lines(r.out).size(), static_cast<size_t>(kWalKeys));
  EXPECT_EQ(Lines(r.out).front(), WalKey(0));

  r = Scan({"--prefix=key000", "--limit=3", "--keys-only"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, Key(0) + "\n" + Key(1) + "\n" + Key(2) + "\n");

  r = Scan({"--reverse", "--limit=2", "--keys-only"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, WalKey(kWalKeys - 1) + "\n" + WalKey(kWalKeys - 2) + "\n");

  r = Scan({"--from=" + Key(kDeleted - 1), "--to=" + Key(2 * kDeleted + 1), "--keys-only"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, Key(kDeleted - 1) + "\n" + Key(2 * kDeleted) + "\n") << "deleted keys shown";
}

TEST_F(ToolTest, DumpSstShowsEveryFlushedKey) {
  std::string all;
  size_t tables = 0;
  for (int s = 0; s < 2; s++) {
    for (const auto& [level, f] : LiveTables(Shard(s))) {
      const std::string path = Shard(s) + "/" + lsm::TableFileName(f.number);
      ToolResult r = RunTool({"dump-sst", path});
      ASSERT_EQ(r.code, 0) << path << ": " << r.Describe();
      EXPECT_NE(r.out.find("num_entries"), std::string::npos);
      EXPECT_NE(r.out.find("index:"), std::string::npos);
      all += r.out;
      tables++;
    }
  }
  ASSERT_GT(tables, 2u);
  for (int i = 0; i < kBulkKeys; i++) {
    std::string want = KeyAt(Key(i));
    ASSERT_NE(all.find(want), std::string::npos) << Key(i);
  }
  EXPECT_NE(all.find(KeyAt(Key(7))), std::string::npos);
  EXPECT_NE(all.find(" : put => '" + Value(7) + "'"), std::string::npos);
  EXPECT_NE(all.find("'bin\\x00\\xff' @ "), std::string::npos);

  const std::string first =
      Shard(0) + "/" + lsm::TableFileName(LiveTables(Shard(0))[0].second.number);
  ToolResult r = RunTool({"dump-sst", "--no-values", first});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out.find("=>"), std::string::npos);
}

TEST_F(ToolTest, DumpWalShowsTheUnflushedWrites) {
  std::string all;
  for (int s = 0; s < 2; s++) {
    for (const std::string& f : FilesWithSuffix(Shard(s), ".wal")) {
      ToolResult r = RunTool({"dump-wal", f});
      ASSERT_EQ(r.code, 0) << f << ": " << r.Describe();
      EXPECT_NE(r.out.find("end: clean"), std::string::npos) << r.out;
      all += r.out;
    }
  }
  for (int i = 0; i < kWalKeys; i++) {
    EXPECT_NE(all.find(KeyAt(WalKey(i))), std::string::npos) << WalKey(i);
    EXPECT_NE(all.find(" : put => '" + WalValue(i) + "'"), std::string::npos) << WalKey(i);
  }
  EXPECT_NE(all.find("batch, first_seq "), std::string::npos);
}

TEST_F(ToolTest, DumpManifestShowsTheLiveTables) {
  for (int s = 0; s < 2; s++) {
    const std::string m = CurrentManifest(Shard(s));
    ToolResult r = RunTool({"dump-manifest", m});
    ASSERT_EQ(r.code, 0) << r.Describe();
    EXPECT_NE(r.out.find("version edit"), std::string::npos);
    EXPECT_NE(r.out.find("log_number"), std::string::npos);
    for (const auto& [level, f] : LiveTables(Shard(s))) {
      std::string add = "add L" + std::to_string(level) + " " + lsm::TableFileName(f.number);
      EXPECT_NE(r.out.find(add), std::string::npos) << add << "\n" << r.out;
    }
    EXPECT_NE(r.out.find("keys ['key"), std::string::npos);
  }
}

TEST_F(ToolTest, VerifyPassesOnACleanStore) {
  ToolResult r = RunTool({"verify", db_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_NE(r.out.find("OK: 2 shards"), std::string::npos) << r.out;
  r = RunTool({"--db=" + db_, "verify", "--verbose"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_NE(r.out.find("ok   " + db_ + "/shard-001/CURRENT"), std::string::npos) << r.out;
}

TEST_F(ToolTest, VerifyReportsAFlippedByteInAnSstDataBlock) {
  std::string path;
  uint64_t block_offset = 0;
  for (int s = 0; s < 2 && path.empty(); s++) {
    for (const auto& [level, f] : LiveTables(Shard(s))) {
      std::string p = Shard(s) + "/" + lsm::TableFileName(f.number);
      auto blocks = DataBlocks(p);
      if (blocks.size() >= 2) {
        path = p;
        block_offset = blocks[1].first;
        break;
      }
    }
  }
  ASSERT_FALSE(path.empty()) << "no table with two data blocks";
  FlipByte(path, block_offset + 7);
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + path + " offset " + std::to_string(block_offset) + ":"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("data block"), std::string::npos) << r.out;

  r = RunTool({"dump-sst", path});  // still dumps what it can, and fails
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT"), std::string::npos);
}

TEST_F(ToolTest, VerifyReportsAFlippedByteInTheManifest) {
  const std::string m = CurrentManifest(Shard(1));
  uint64_t n = 0;
  lsm::ParseFileName(std::filesystem::path(m).filename().string(), &n);
  std::vector<RecordSpan> records = Records(m, n);
  ASSERT_GE(records.size(), 2u);
  FlipByte(m, records[1].middle());  // inside the second edit
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + m + " offset " + std::to_string(records[1].offset) + ":"),
            std::string::npos)
      << r.out;
}

TEST_F(ToolTest, VerifyReportsAFlippedByteInAWalRecord) {
  auto [wal, records] = BusiestWal();
  ASSERT_GE(records.size(), 2u) << "need a WAL with two records";
  FlipByte(wal, records[0].middle());  // later records prove it had been synced
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + wal + " offset " + std::to_string(records[0].offset) + ":"),
            std::string::npos)
      << r.out;

  r = RunTool({"dump-wal", wal});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT"), std::string::npos) << r.out;
}

// The store was closed cleanly: its newest write was synced and the MANIFEST sealed the
// segment's length, so a bad last record is lost acknowledged data, not a torn tail
// (issue 11); verify says so as Open does.
TEST_F(ToolTest, VerifyReportsAFlippedLastWalRecordOfAClosedStore) {
  auto [wal, records] = BusiestWal();
  ASSERT_GE(records.size(), 1u);
  FlipByte(wal, records.back().middle());
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + wal + " offset " + std::to_string(records.back().offset)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("MANIFEST-"), std::string::npos) << r.out;
}

TEST_F(ToolTest, VerifyReportsMissingAndTruncatedTables) {
  auto tables = LiveTables(Shard(0));
  ASSERT_GE(tables.size(), 2u);
  const std::string a = Shard(0) + "/" + lsm::TableFileName(tables[0].second.number);
  const std::string b = Shard(0) + "/" + lsm::TableFileName(tables[1].second.number);
  std::filesystem::resize_file(b, FileSizeOf(b) - 4096);
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + b + " offset " + std::to_string(FileSizeOf(b)) + ": size"),
            std::string::npos)
      << r.out;
  std::filesystem::remove(a);
  r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + a + ": missing"), std::string::npos) << r.out;
}

TEST_F(ToolTest, VerifyReportsABadOptionsFile) {
  FlipByte(db_ + "/OPTIONS", 20);
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT " + db_ + "/OPTIONS offset 0:"), std::string::npos) << r.out;
}

TEST_F(ToolTest, StatsShowsTheLevelsOfEveryShard) {
  ToolResult r = RunTool({"stats", "--json", db_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["shards"].size(), 2u);
  uint64_t total_entries = 0, wal_entries = 0;
  for (int s = 0; s < 2; s++) {
    std::vector<uint64_t> files(lsm::kNumLevels), bytes(lsm::kNumLevels);
    for (const auto& [level, f] : LiveTables(Shard(s))) {
      files[level]++;
      bytes[level] += f.file_size;
    }
    const nlohmann::json& js = j["shards"][s];
    for (int level = 0; level < lsm::kNumLevels; level++) {
      EXPECT_EQ(js["levels"][level]["files"].get<uint64_t>(), files[level]) << s << " L" << level;
      EXPECT_EQ(js["levels"][level]["bytes"].get<uint64_t>(), bytes[level]) << s << " L" << level;
      total_entries += js["levels"][level]["entries"].get<uint64_t>();
    }
    wal_entries += js["wal"]["entries"].get<uint64_t>();
  }
  // Every bulk key, the deletions and the binary key are in tables (compaction may have
  // dropped shadowed versions, never live ones); the WAL keys are pending.
  EXPECT_GE(total_entries, static_cast<uint64_t>(kBulkKeys - kDeleted + 1));
  EXPECT_EQ(wal_entries, static_cast<uint64_t>(kWalKeys));

  r = RunTool({"stats", db_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_NE(r.out.find("shard-000:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total (2 shards):"), std::string::npos) << r.out;
  bool level_row = false;  // "  L<n>  files bytes entries deletions"
  for (const std::string& line : Lines(r.out)) {
    level_row = level_row ||
                (line.size() > 4 && line.starts_with("  L") && line[3] >= '0' && line[3] <= '6');
  }
  EXPECT_TRUE(level_row) << r.out;
  EXPECT_NE(r.out.find("wal: "), std::string::npos) << r.out;
}

TEST_F(ToolTest, EveryStoreCommandIsBusyWhileADbHoldsTheStore) {
  const std::string sst =
      Shard(0) + "/" + lsm::TableFileName(LiveTables(Shard(0))[0].second.number);
  const std::string wal = FilesWithSuffix(Shard(0), ".wal").front();
  const std::string manifest = CurrentManifest(Shard(0));
  std::unique_ptr<DB> db;
  Options o = StoreOptions(db_);
  o.shards = 0;
  Status s = DB::Open(o, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string pid = "pid " + std::to_string(::getpid());
  std::vector<std::vector<std::string>> commands = {
      {"verify", db_},
      {"stats", db_},
      {"--db=" + db_, "get", "k"},
      {"--db=" + db_, "put", "k", "v"},
      {"--db=" + db_, "delete", "k"},
      {"--db=" + db_, "scan"},
      {"dump-sst", sst},
      {"dump-wal", wal},
      {"dump-manifest", manifest},
  };
  for (const auto& args : commands) {
    ToolResult r = RunTool(args);
    EXPECT_EQ(r.code, kExitBusy) << args[0] << " " << args[1] << ": " << r.Describe();
    EXPECT_NE(r.err.find("Busy"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(pid), std::string::npos) << "holder not named: " << r.err;
  }
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 0) << r.Describe();
}

TEST_F(ToolTest, GarbageFilesAreErrorsNotCrashes) {
  std::string garbage;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    garbage.push_back(static_cast<char>(x));
  }
  const std::string sst = dir_.Sub("000123.sst"), wal = dir_.Sub("000124.wal"),
                    manifest = dir_.Sub("MANIFEST-000125"), empty = dir_.Sub("000126.sst");
  WriteFile(sst, garbage);
  WriteFile(wal, garbage);
  WriteFile(manifest, garbage);
  WriteFile(empty, "");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"dump-sst", sst},
           {"dump-sst", empty},
           {"dump-sst", wal},
           {"dump-wal", wal},
           {"dump-wal", sst},  // name carries no segment number
           {"dump-wal", "--number=7", sst},
           {"dump-manifest", manifest},
           {"dump-manifest", dir_.Sub("MANIFEST-000999")},  // missing
           {"dump-sst", dir_.path()},                       // a directory
           {"verify", dir_.path()},                         // not a store
           {"stats", sst},                                  // a file, not a store
           {"verify", dir_.Sub("missing")},
       }) {
    ToolResult r = RunTool(args);
    EXPECT_TRUE(r.exited) << args[0] << " " << args[1] << ": " << r.Describe();
    EXPECT_EQ(r.code, 1) << args[0] << " " << args[1] << ": " << r.Describe();
    EXPECT_NE(r.err.find("ringdb-tool " + args[0]), std::string::npos) << r.Describe();
  }
  // A corrupt table inside a store: dump-sst of garbage named like a live table.
  WriteFile(Shard(0) + "/" + lsm::TableFileName(LiveTables(Shard(0))[0].second.number), garbage);
  ToolResult r = RunTool({"verify", db_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("CORRUPT"), std::string::npos) << r.out;
}

TEST_F(ToolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunTool({}).code, 2);
  EXPECT_EQ(RunTool({"no-such-command"}).code, 2);
  EXPECT_EQ(RunTool({"get", "k"}).code, 2);  // no --db
  EXPECT_EQ(RunTool({"verify"}).code, 2);    // no path
  ToolResult r = RunTool({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("dump-manifest"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ringdb::tooltest
