// The block-cache warm-up after Open (Options::warm_cache_on_open, docs/engine.md
// "Warming the cache after Open"), end to end on both I/O backends: a reopened store
// serves reads from the cache once it is done, it stops when the cache is full without
// evicting, Close stops it, and faults in its reads cache nothing damaged and lose
// nothing.
#include <chrono>
#include <iterator>
#include <map>
#include <string>
#include <thread>

#include "io/io_backend.h"
#include "ringdb/db.h"
#include "tests/db/db_test_util.h"
#include "tests/db/fault_test_fixture.h"

namespace ringdb {
namespace {

using dbtest::KeyN;
using dbtest::TempDir;

// Waits until no shard is warming; the totals then.
ShardStats WaitWarmDone(DB* db) {
  Stats st;
  for (int i = 0; i < 4000; i++) {
    EXPECT_OK(db->GetStats(&st));
    if (st.total.cache_warming == 0) return st.total;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "the cache warm-up still runs after 20 s";
  return st.total;
}

uint64_t TableReads(DB* db) {
  Stats st;
  EXPECT_OK(db->GetStats(&st));
  return st.total.table_reads;
}

class WarmCacheTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == IoBackendKind::kUring ? io::ProbeUring() : io::ProbeAio();
    if (!probe.ok()) GTEST_SKIP() << "backend unavailable here: " << probe.ToString();
    opt_ = dbtest::SmallOptions(tmp_.Sub("db"), 2);
    opt_.io_backend = GetParam();
    opt_.durability = Durability::kNone;
    opt_.memtable_bytes = 4 << 20;  // tables only where the test flushes
    opt_.block_cache_bytes = 16 << 20;
  }
  static std::string Key(const char* prefix, int i) { return KeyN(prefix, i); }
  static std::string Value(const std::string& k) { return "v-" + k + std::string(100, 'x'); }
  // Writes n keys "<prefix>N" and flushes them into one table per shard.
  void FillAndFlush(DB* db, const char* prefix, int n) {
    for (int i = 0; i < n; i++) {
      const std::string k = Key(prefix, i);
      ASSERT_OK(db->Put(k, Value(k)));
      model_[k] = Value(k);
    }
    ASSERT_OK(db->Flush());
  }
  void CheckAll(DB* db) {
    for (const auto& [k, v] : model_) {
      std::string got;
      ASSERT_OK(db->Get(k, &got)) << k;
      ASSERT_EQ(got, v) << k;
    }
  }
  // A closed store with `n` keys in one table per shard.
  void MakeStore(int n) {
    Options o = opt_;
    o.warm_cache_on_open = false;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(o, &db));
    FillAndFlush(db.get(), "key", n);
    ASSERT_OK(db->Close());
  }

  TempDir tmp_;
  Options opt_;
  std::map<std::string, std::string> model_;
};

TEST_P(WarmCacheTest, ReopenedStoreServesReadsFromTheCache) {
  MakeStore(20000);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(opt_, &db));
  const ShardStats warm = WaitWarmDone(db.get());
  EXPECT_GT(warm.cache_warm_blocks, 0u);
  EXPECT_GT(warm.io.of(IoClass::kCacheWarm).read_bytes, 0u);
  EXPECT_EQ(warm.io.of(IoClass::kCacheWarm).errors, 0u);
  const uint64_t before = TableReads(db.get());
  CheckAll(db.get());
  EXPECT_EQ(TableReads(db.get()) - before, 0u) << "every block should have been cached";
  ASSERT_OK(db->Close());
  db.reset();

  // Without the warm-up, the same reads go to the disk (so the check above can fail).
  opt_.warm_cache_on_open = false;
  ASSERT_OK(DB::Open(opt_, &db));
  Stats st;
  ASSERT_OK(db->GetStats(&st));
  EXPECT_EQ(st.total.cache_warm_blocks, 0u);
  EXPECT_EQ(st.total.cache_warming, 0u);
  CheckAll(db.get());
  EXPECT_GT(TableReads(db.get()), 0u);
  ASSERT_OK(db->Close());
}

TEST_P(WarmCacheTest, StopsWhenTheCacheIsFullNewestTablesFirst) {
  {
    Options o = opt_;
    o.warm_cache_on_open = false;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(o, &db));
    FillAndFlush(db.get(), "old", 8000);   // ~1 MiB of blocks per shard
    FillAndFlush(db.get(), "new", 16000);  // the newest table of each shard: ~2 MiB
    ASSERT_OK(db->Close());
  }
  opt_.block_cache_bytes = 1 << 20;  // 512 KiB per shard: a part of the newest table only
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(opt_, &db));
  const ShardStats warm = WaitWarmDone(db.get());
  EXPECT_GT(warm.cache_warm_blocks, 0u);
  Stats st;
  ASSERT_OK(db->GetStats(&st));
  for (const ShardStats& s : st.shards) {
    EXPECT_LE(s.cache_bytes, 512u << 10) << "shard " << s.shard;
    EXPECT_GT(s.cache_bytes, 256u << 10) << "shard " << s.shard << ": the warm-up stopped early";
  }
  // The first keys of the newest tables (in key order) were cached; the last key of the
  // older ones was not.
  uint64_t before = TableReads(db.get());
  auto it = model_.begin();  // "new..." sorts before "old..."
  for (int i = 0; i < 20; i++, ++it) {
    std::string got;
    ASSERT_OK(db->Get(it->first, &got));
    EXPECT_EQ(got, it->second);
  }
  ASSERT_EQ(it->first.substr(0, 3), "new");
  EXPECT_EQ(TableReads(db.get()) - before, 0u);
  before = TableReads(db.get());
  const auto last_old = std::prev(model_.end());
  std::string got;
  ASSERT_OK(db->Get(last_old->first, &got));
  EXPECT_EQ(got, last_old->second);
  EXPECT_EQ(TableReads(db.get()) - before, 1u);
  CheckAll(db.get());
  ASSERT_OK(db->Close());
}

TEST_P(WarmCacheTest, CloseStopsTheWarmUp) {
  MakeStore(40000);
  for (int round = 0; round < 3; round++) {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(opt_, &db));
    ASSERT_OK(db->Close());  // whatever the warm-up had done by now
  }
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(opt_, &db));
  CheckAll(db.get());
  ASSERT_OK(db->Close());
}

TEST_P(WarmCacheTest, WritesAndCompactionsWhileItRuns) {
  MakeStore(20000);
  opt_.memtable_bytes = 256 << 10;  // flushes and compactions while the warm-up runs
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(opt_, &db));
  for (int i = 0; i < 40000; i++) {
    const std::string k = Key("key", (i * 7) % 20000);
    const std::string v = "w-" + std::to_string(i) + std::string(100, 'y');
    ASSERT_OK(db->Put(k, v));
    model_[k] = v;
  }
  CheckAll(db.get());
  const ShardStats done = WaitWarmDone(db.get());
  EXPECT_GT(done.flushes, 0u);
  CheckAll(db.get());
  ASSERT_OK(db->Close());
  db.reset();
  ASSERT_OK(DB::Open(opt_, &db));
  CheckAll(db.get());
  ASSERT_OK(db->Close());
}

INSTANTIATE_TEST_SUITE_P(Backends, WarmCacheTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const ::testing::TestParamInfo<IoBackendKind>& info) {
                           return info.param == IoBackendKind::kUring ? std::string("Uring")
                                                                      : std::string("Aio");
                         });

}  // namespace

// ---- faults in the warm-up's reads (one shard over io::FaultBackend) -----------------------

namespace faulttest {
namespace {

class WarmCacheFaultTest : public FaultTest {
 protected:
  // A closed store of two tables; then opened with `rule` on every .sst read after the
  // four that open the two tables (footer and meta region each): the warm-up's reads.
  void Run(FaultRule rule) {
    {
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(Opts(), &db));
      db_ = std::move(db);
      WriteAcked("first-", 3000);
      ASSERT_OK(db_->Flush());
      WriteAcked("second-", 3000);
      ASSERT_OK(db_->Flush());
      ASSERT_OK(db_->Close());
      db_.reset();
    }
    warm_cache_ = true;
    ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
    auto r = ctl_->AddRule(rule.File(".sst").On(IoOp::kRead).AfterN(4));
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
    ASSERT_OK(ringdb::testing::OpenWithHooks(Opts(), hooks, &db_));
    const ShardStats warm = WaitWarmDone(db_.get());
    EXPECT_GT(ctl_->RuleFires(r), 0u) << "the warm-up read nothing";
    std::fprintf(stderr, "[ fault] warm-up under faults: fired=%llu, cached %llu blocks\n",
                 static_cast<unsigned long long>(ctl_->RuleFires(r)),
                 static_cast<unsigned long long>(warm.cache_warm_blocks));
    // Every key reads right once the faults stop: nothing damaged was cached.
    ctl_->ClearRules();
    CheckAcked(db_.get(), "after a warm-up under faults");
    ReopenCleanAndCheck();
  }
};

TEST_F(WarmCacheFaultTest, BitFlipsCacheNothingDamaged) {
  Run(FaultRule::BitFlip());
}

TEST_F(WarmCacheFaultTest, ReadErrorsLoseNothing) {
  Run(FaultRule::Error(EIO));
}

}  // namespace
}  // namespace faulttest
}  // namespace ringdb
