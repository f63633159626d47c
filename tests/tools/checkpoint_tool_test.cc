// ringdb-tool checkpoint: an openable copy of a closed store that `verify` accepts and
// that holds exactly the store's contents; the usage and error cases.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>

#include "ringdb/db.h"
#include "tests/tools/tool_test_util.h"

namespace ringdb::tooltest {
namespace {

class CheckpointToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ToolPath().empty()) GTEST_SKIP() << "RINGDB_TOOL is not set (run through meson test)";
    Options opt = dbtest::SmallOptions(dir_.Sub("db"), 2);
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(opt, &db).ok());
    for (int i = 0; i < 300; i++) {
      const std::string k = dbtest::KeyN("key", i), v = dbtest::KeyN("value", i * 7);
      ASSERT_TRUE(db->Put(k, v).ok());
      model_[k] = v;
      if (i == 150) {
        ASSERT_TRUE(db->Flush().ok());  // some in tables, the rest in the WAL
      }
    }
    for (int i = 0; i < 300; i += 10) {
      ASSERT_TRUE(db->Delete(dbtest::KeyN("key", i)).ok());
      model_.erase(dbtest::KeyN("key", i));
    }
    ASSERT_TRUE(db->Close().ok());
  }

  TempDir dir_;
  std::map<std::string, std::string> model_;
};

TEST_F(CheckpointToolTest, CopyVerifiesAndHoldsTheStore) {
  const std::string to = dir_.Sub("copy");
  ToolResult r = RunTool({"--db=" + dir_.Sub("db"), "checkpoint", "--to=" + to});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = RunTool({"verify", to});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_NE(r.out.find("OK: 2 shards"), std::string::npos) << r.out;
  struct stat st {};
  EXPECT_NE(::stat((to + "/LOCK").c_str(), &st), 0) << "a checkpoint holds no LOCK";
  EXPECT_EQ(dbtest::ReadStore(to), model_);
  EXPECT_EQ(dbtest::ReadStore(dir_.Sub("db")), model_) << "the source changed";
}

TEST_F(CheckpointToolTest, ExistingTargetIsAnErrorAndUntouched) {
  const std::string to = dir_.Sub("copy");
  ASSERT_EQ(::mkdir(to.c_str(), 0755), 0);
  ToolResult r = RunTool({"--db=" + dir_.Sub("db"), "checkpoint", "--to=" + to});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_TRUE(FilesWithSuffix(to, "").empty()) << "the existing directory was written to";
}

TEST_F(CheckpointToolTest, UsageErrors) {
  ToolResult r = RunTool({"--db=" + dir_.Sub("db"), "checkpoint"});  // no --to
  EXPECT_EQ(r.code, 2) << r.Describe();
  r = RunTool({"checkpoint", "--to=" + dir_.Sub("copy")});  // no --db
  EXPECT_EQ(r.code, 2) << r.Describe();
  r = RunTool({"--db=" + dir_.Sub("missing"), "checkpoint", "--to=" + dir_.Sub("copy")});
  EXPECT_EQ(r.code, 1) << r.Describe();
  struct stat st {};
  EXPECT_NE(::stat(dir_.Sub("copy").c_str(), &st), 0) << "a failed checkpoint left its target";
}

}  // namespace
}  // namespace ringdb::tooltest
