// ringdb-tool on a store written with Options::block_align (docs/sst.md "Aligned data
// blocks"): verify and dump-sst accept the zero padding before page-aligned data
// blocks, and verify reports padding that is not zero.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "lsm/filenames.h"
#include "ringdb/db.h"
#include "ringdb/stats.h"
#include "tool_test_util.h"

namespace ringdb::tooltest {
namespace {

class BlockAlignToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ToolPath().empty()) GTEST_SKIP() << "RINGDB_TOOL is not set (run through meson test)";
    Options o;
    o.path = dir_.Sub("db");
    o.shards = 1;
    o.memtable_bytes = 64 << 10;
    o.wal_preallocate_bytes = 256 << 10;
    o.block_cache_bytes = 1 << 20;
    o.block_align = true;
    std::unique_ptr<DB> db;
    Status s = DB::Open(o, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Four flushes of ~100 KB start a compaction into L1; a few values span pages.
    for (int i = 0; i < 1200; i++) {
      char key[32];
      std::snprintf(key, sizeof(key), "key%05d", i % 600);
      const size_t len = i % 97 == 0 ? 6000 : 150 + (i * 37) % 200;
      ASSERT_TRUE(db->Put(key, std::string(len, static_cast<char>('a' + i % 26))).ok());
      if (i % 300 == 299) {
        ASSERT_TRUE(db->Flush().ok());
      }
    }
    for (int i = 0; i < 2000; i++) {
      Stats st;
      ASSERT_TRUE(db->GetStats(&st).ok());
      if (st.shards[0].level_files[1] > 0 && st.shards[0].level_files[0] < 4) break;
      ::usleep(10000);
    }
    ASSERT_TRUE(db->Close().ok());
    shard_ = dir_.Sub("db") + "/shard-000";
  }

  TempDir dir_;
  std::string shard_;
};

TEST_F(BlockAlignToolTest, VerifyAndDumpPassAndCatchDirtyPadding) {
  ToolResult r = RunTool({"verify", dir_.Sub("db")});
  ASSERT_EQ(r.code, 0) << r.Describe();
  std::string path;
  uint64_t gap_at = 0;
  for (const auto& [level, f] : LiveTables(shard_)) {
    const std::string p = shard_ + "/" + lsm::TableFileName(f.number);
    const auto blocks = DataBlocks(p);
    for (const auto& [offset, size] : blocks) EXPECT_EQ(offset % 4096, 0u) << p;
    r = RunTool({"dump-sst", p});
    EXPECT_EQ(r.code, 0) << r.Describe();
    if (path.empty() && blocks.size() >= 2 && blocks[1].first > blocks[0].second + 5) {
      path = p;
      gap_at = blocks[1].first - 1;  // the last padding byte before block 1
    }
  }
  ASSERT_FALSE(path.empty()) << "no table with padding between its first two blocks";
  FlipByte(path, gap_at);
  r = RunTool({"verify", dir_.Sub("db")});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.out.find("does not follow the previous block"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ringdb::tooltest
