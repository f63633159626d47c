// DB::Checkpoint (docs/engine.md "Checkpoints"): a checkpoint of a quiet store holds
// exactly its contents; one taken under load holds every write acknowledged before the
// call (sync, and posted writes in periodic mode); the source keeps working and its
// later compactions leave the checkpoint intact (hard links); the copy fallback; the
// errors, and that a failed checkpoint leaves nothing behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::TempDir;
using Model = std::map<std::string, std::string>;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The .sst files of every shard of a store, by shard folder and name.
std::vector<std::string> Tables(const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& shard : dbtest::ShardDirs(path)) {
    for (const std::string& f : dbtest::ListFiles(
             shard, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); })) {
      out.push_back(f);
    }
  }
  return out;
}

class CheckpointTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options MakeOptions(uint32_t shards = 4) const {
    Options opt = dbtest::SmallOptions(dir_.Sub("db"), shards);
    opt.io_backend = GetParam();
    opt.durability = Durability::kNone;  // fast fills (posted writes); load test: both
    return opt;
  }
  // Opens the source; skips the test when the backend is unavailable.
  void Open(const testing::OpenHooks* hooks = nullptr, uint32_t shards = 4) {
    Status s = hooks != nullptr ? testing::OpenWithHooks(MakeOptions(shards), *hooks, &db_)
                                : DB::Open(MakeOptions(shards), &db_);
    if (s.IsNotSupported() || (s.IsIOError() && GetParam() != IoBackendKind::kAuto)) {
      GTEST_SKIP() << "backend unavailable: " << s.ToString();
    }
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Puts, overwrites and deletes about `bytes` of data; the model follows.
  void Fill(size_t bytes, uint64_t seed) {
    std::mt19937_64 rng(seed);
    size_t written = 0;
    for (int i = 0; written < bytes; i++) {
      const std::string key = dbtest::KeyN("key", rng() % 4000);
      if (rng() % 8 == 0) {
        ASSERT_TRUE(db_->Delete(key).ok());
        model_.erase(key);
        continue;
      }
      std::string v = dbtest::KeyN("v", i);
      v.append(50 + rng() % 150, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(db_->Put(key, v).ok());
      model_[key] = v;
      written += key.size() + v.size();
    }
  }
  // Waits (up to 20 s) until some shard has a table below L0.
  void WaitForDeeperLevels() {
    for (int i = 0; i < 2000; i++) {
      Stats st;
      ASSERT_TRUE(db_->GetStats(&st).ok());
      for (int l = 1; l < 7; l++) {
        if (st.total.level_files[l] > 0) return;
      }
      ::usleep(10000);
    }
    ADD_FAILURE() << "no table below L0 within 20 s";
  }

  TempDir dir_;
  std::unique_ptr<DB> db_;
  Model model_;
};

TEST_P(CheckpointTest, QuietStoreHoldsExactlyItsContents) {
  Open();
  if (IsSkipped()) return;
  Fill(2 << 20, 1);
  WaitForDeeperLevels();
  Fill(64 << 10, 2);                          // and some in the memtables
  const Snapshot* snap = db_->GetSnapshot();  // pins old versions in the source only
  Fill(16 << 10, 3);
  const std::string cp = dir_.Sub("cp");
  ASSERT_TRUE(db_->Checkpoint(cp).ok());
  ASSERT_TRUE(db_->ReleaseSnapshot(snap).ok());
  EXPECT_EQ(dbtest::ShardDirs(cp).size(), 4u);
  EXPECT_TRUE(Exists(cp + "/OPTIONS"));
  EXPECT_FALSE(Exists(cp + "/LOCK"));
  for (const std::string& shard : dbtest::ShardDirs(cp)) {
    EXPECT_TRUE(
        dbtest::ListFiles(shard, [](const std::string& n) { return dbtest::EndsWith(n, ".wal"); })
            .empty())
        << shard << " holds a WAL segment";
  }
  // Hard links: a checkpoint table shares its inode with the source's table.
  size_t linked = 0;
  for (const std::string& t : Tables(cp)) {
    struct stat st {};
    ASSERT_EQ(::stat(t.c_str(), &st), 0);
    if (st.st_nlink >= 2) linked++;
  }
  EXPECT_GT(linked, 0u);
  EXPECT_EQ(dbtest::ReadStore(cp), model_);
  // The source is unchanged and keeps working.
  ASSERT_TRUE(db_->Put("after", "x").ok());
  ASSERT_TRUE(db_->Close().ok());
  model_["after"] = "x";
  EXPECT_EQ(dbtest::ReadStore(dir_.Sub("db")), model_);
}

TEST_P(CheckpointTest, LaterCompactionsInTheSourceLeaveItIntact) {
  Open();
  if (IsSkipped()) return;
  Fill(512 << 10, 4);
  const Model at_checkpoint = model_;
  const std::string cp = dir_.Sub("cp");
  ASSERT_TRUE(db_->Checkpoint(cp).ok());
  // Rewrite and delete everything, so that compactions drop every old table.
  for (const auto& [k, v] : at_checkpoint) ASSERT_TRUE(db_->Delete(k).ok());
  model_.clear();
  Fill(1 << 20, 5);
  ASSERT_TRUE(db_->Flush().ok());
  WaitForDeeperLevels();
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  EXPECT_EQ(dbtest::ReadStore(cp), at_checkpoint);
  EXPECT_EQ(dbtest::ReadStore(dir_.Sub("db")), model_);
  // The checkpoint is a store of its own: it takes writes, the source does not see them.
  Options opt = dbtest::SmallOptions(cp, 0);
  ASSERT_TRUE(DB::Open(opt, &db_).ok());
  ASSERT_TRUE(db_->Put("only-in-cp", "1").ok());
  ASSERT_TRUE(db_->Close().ok());
  EXPECT_EQ(dbtest::ReadStore(dir_.Sub("db")).count("only-in-cp"), 0u);
}

TEST_P(CheckpointTest, CopiesTablesWhereLinksFail) {
  testing::OpenHooks hooks;
  hooks.checkpoint_copy_tables = true;
  Open(&hooks);
  if (IsSkipped()) return;
  Fill(512 << 10, 6);
  const std::string cp = dir_.Sub("cp");
  ASSERT_TRUE(db_->Checkpoint(cp).ok());
  const std::vector<std::string> tables = Tables(cp);
  ASSERT_FALSE(tables.empty());
  for (const std::string& t : tables) {
    struct stat st {};
    ASSERT_EQ(::stat(t.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << t << " is a link, not a copy";
  }
  EXPECT_EQ(dbtest::ReadStore(cp), model_);
}

TEST_P(CheckpointTest, TableDeletedAfterTheCaptureIsCopiedFromItsDescriptor) {
  // What a compaction finishing between the capture and the link does: the source's
  // name is gone, the open descriptor still reads it.
  testing::OpenHooks hooks;
  const std::string src = dir_.Sub("db");
  int deleted = 0;
  hooks.checkpoint_before_file = [&](const std::string& path) {
    if (dbtest::EndsWith(path, ".sst") && deleted++ % 2 == 0) {
      const std::filesystem::path p(path);
      std::filesystem::remove(src + "/" + p.parent_path().filename().string() + "/" +
                              p.filename().string());
    }
    return Status::OK();
  };
  Open(&hooks);
  if (IsSkipped()) return;
  Fill(512 << 10, 7);
  const std::string cp = dir_.Sub("cp");
  ASSERT_TRUE(db_->Checkpoint(cp).ok());
  EXPECT_GT(deleted, 1);
  testing::Crash(std::move(db_));  // the source lost tables: never reopened
  EXPECT_EQ(dbtest::ReadStore(cp), model_);
}

TEST_P(CheckpointTest, ExistingDirectoryIsInvalidArgumentAndUntouched) {
  Open();
  if (IsSkipped()) return;
  ASSERT_TRUE(db_->Put("k", "v").ok());
  const std::string cp = dir_.Sub("cp");
  ASSERT_EQ(::mkdir(cp.c_str(), 0755), 0);
  Status s = db_->Checkpoint(cp);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_TRUE(Exists(cp));
  EXPECT_TRUE(std::filesystem::is_empty(cp));
  s = db_->Checkpoint("");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = db_->Checkpoint(dir_.Sub("no/such/parent"));
  EXPECT_FALSE(s.ok());
}

TEST_P(CheckpointTest, AfterCloseIsShutdown) {
  Open();
  if (IsSkipped()) return;
  ASSERT_TRUE(db_->Close().ok());
  Status s = db_->Checkpoint(dir_.Sub("cp"));
  EXPECT_TRUE(s.IsShutdown()) << s.ToString();
  EXPECT_FALSE(Exists(dir_.Sub("cp")));
}

TEST_P(CheckpointTest, FailureInTheMiddleLeavesNothing) {
  for (const char* where : {"shard-001/MANIFEST", "shard-002/0", "/OPTIONS"}) {
    SCOPED_TRACE(where);
    testing::OpenHooks hooks;
    hooks.checkpoint_before_file = [where](const std::string& path) {
      if (path.find(where) != std::string::npos) return Status::IOError(path + ": injected");
      return Status::OK();
    };
    Open(&hooks);
    if (IsSkipped()) return;
    Fill(256 << 10, 8);
    const std::string cp = dir_.Sub("cp");
    Status s = db_->Checkpoint(cp);
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_FALSE(Exists(cp)) << "a partial checkpoint was left behind";
    ASSERT_TRUE(db_->Put("still", "writable").ok());
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
    model_["still"] = "writable";
    EXPECT_EQ(dbtest::ReadStore(dir_.Sub("db")), model_);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CheckpointTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const auto& info) {
                           return info.param == IoBackendKind::kUring ? "io_uring" : "libaio";
                         });

}  // namespace
}  // namespace ringdb
