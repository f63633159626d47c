// Compaction through the public API: a data set many times the memtable budget, with
// overwrites and deletes, read back correct while compactions run, after a flush, and
// after reopening; the tree gets levels below L0 and L0 stays bounded.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "db_test_util.h"
#include "ringdb/db.h"

namespace ringdb {
namespace {

using dbtest::TempDir;

class CompactionE2ETest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options MakeOptions() const {
    Options opt;
    opt.path = dir_.Sub("db");
    opt.shards = 2;
    opt.memtable_bytes = 64 << 10;
    opt.durability = Durability::kNone;
    opt.io_backend = GetParam();
    opt.block_cache_bytes = 256 << 10;
    return opt;
  }
  void CheckAll(DB* db, const std::map<std::string, std::string>& model, const char* when) {
    size_t wrong = 0;
    for (const auto& [k, v] : model) {
      std::string got;
      Status s = db->Get(k, &got);
      if (!s.ok() || got != v) {
        if (++wrong <= 3) ADD_FAILURE() << when << ": Get(" << k << ") " << s.ToString();
      }
    }
    for (const std::string& k : deleted_) {
      if (model.count(k)) continue;
      std::string got;
      Status s = db->Get(k, &got);
      if (!s.IsNotFound() && ++wrong <= 6) {
        ADD_FAILURE() << when << ": deleted " << k << " reads " << s.ToString();
      }
    }
    EXPECT_EQ(wrong, 0u) << when << " [RINGDB_SEED=" << seed_ << "]";
  }

  TempDir dir_;
  uint64_t seed_ = 0;
  std::vector<std::string> deleted_;
};

TEST_P(CompactionE2ETest, ManyTimesTheMemtableReadsBackAndBuildsLevels) {
  seed_ = dbtest::TestSeed("CompactionE2E");
  std::mt19937_64 rng(seed_);
  Options opt = MakeOptions();
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  if (s.IsNotSupported() || s.IsIOError()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::map<std::string, std::string> model;
  const int kKeys = 6000, kOps = 30000;  // ~5 MB written: ~40 memtables per shard
  for (int i = 0; i < kOps; i++) {
    char key[32];
    std::snprintf(key, sizeof(key), "key%08d", static_cast<int>(rng() % kKeys));
    if (rng() % 10 == 0) {
      ASSERT_TRUE(db->Delete(key).ok());
      model.erase(key);
      deleted_.push_back(key);
    } else {
      std::string v = std::to_string(i);  // appends: GCC 12 false -Wrestrict on "v" + str
      v.append(100 + rng() % 200, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(db->Put(key, v).ok());
      model[key] = v;
    }
    if (i % 7500 == 7499) CheckAll(db.get(), model, "while compacting");
  }
  ASSERT_TRUE(db->Flush().ok());
  CheckAll(db.get(), model, "after flush");
  Stats st;
  ASSERT_TRUE(db->GetStats(&st).ok());
  EXPECT_GT(st.total.compactions, 0u) << "no compaction ran";
  uint64_t deeper = 0;
  for (int l = 1; l < 7; l++) deeper += st.total.level_files[l];
  EXPECT_GT(deeper, 0u) << "no table below L0";
  EXPECT_EQ(st.total.compaction_errors, 0u);
  for (const ShardStats& sh : st.shards) {
    EXPECT_LE(sh.l0_files, 12u) << "L0 grew past the stop trigger on shard " << sh.shard;
  }
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  CheckAll(db.get(), model, "after reopen");
}

// A compaction of tables whose blocks are cached caches its outputs' blocks: a working
// set that fits the cache stays cached through compactions (the outputs were written
// with O_DIRECT, so without this every read of them would go to the disk).
TEST_P(CompactionE2ETest, CompactionsOfACachedWorkingSetKeepItCached) {
  Options opt = MakeOptions();
  opt.shards = 1;
  opt.block_cache_bytes = 32 << 20;  // far more than the data
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  if (s.IsNotSupported() || s.IsIOError()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();
  const int kKeys = 8000;
  auto write_all = [&](char fill) {
    for (int i = 0; i < kKeys; i++) {
      char key[32];
      std::snprintf(key, sizeof(key), "key%08d", i);
      ASSERT_TRUE(db->Put(key, std::string(120, fill)).ok());
    }
    ASSERT_TRUE(db->Flush().ok());
  };
  // Reads every key; returns the cache misses they caused.
  auto read_all = [&](char fill) -> uint64_t {
    Stats before, after;
    EXPECT_TRUE(db->GetStats(&before).ok());
    for (int i = 0; i < kKeys; i++) {
      char key[32];
      std::snprintf(key, sizeof(key), "key%08d", i);
      std::string v;
      EXPECT_TRUE(db->Get(key, &v).ok() && v == std::string(120, fill)) << key;
    }
    EXPECT_TRUE(db->GetStats(&after).ok());
    return after.total.cache_misses - before.total.cache_misses;
  };
  auto settle = [&] { dbtest::WaitForCompactionsToSettle(db.get()); };
  write_all('a');
  settle();
  read_all('a');  // whatever is not cached yet is now
  Stats before;
  ASSERT_TRUE(db->GetStats(&before).ok());
  write_all('b');  // every key again: flushes, and compactions of cached tables
  settle();
  Stats after;
  ASSERT_TRUE(db->GetStats(&after).ok());
  ASSERT_GT(after.total.compactions, before.total.compactions) << "no compaction ran";
  const uint64_t misses = read_all('b');
  EXPECT_LE(misses, kKeys / 50u) << "compaction outputs were not cached";
  ASSERT_TRUE(db->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, CompactionE2ETest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const auto& info) {
                           return info.param == IoBackendKind::kUring ? "Uring" : "Aio";
                         });

}  // namespace
}  // namespace ringdb
