// End-to-end tests of the public API, continued (the fixture: api_test_fixture.h):
// async calls, Close/Flush semantics, the three durability modes, many keys across
// shards, cold reads at every poll batch.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/api_test_fixture.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace apitest {
namespace {

// ---- async --------------------------------------------------------------------------------

TEST_F(ApiTest, AsyncCallbacksRunOnceWithTheRightResult) {
  ASSERT_OK(Open(Opts()));
  {
    AsyncProbe p;
    db_->PutAsync("ak", "av", p.WriteCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
  }
  {
    AsyncProbe p;
    db_->GetAsync("ak", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(p.value(), "av");
  }
  EXPECT_EQ(Get("ak"), "av") << "an acknowledged PutAsync must be visible to Get";
  {
    AsyncProbe p;
    db_->DeleteAsync("ak", p.WriteCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
  }
  {
    AsyncProbe p;
    db_->GetAsync("ak", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_TRUE(p.status().IsNotFound()) << p.status().ToString();
  }
  {
    WriteBatch b;
    b.Put("wa1", "x");
    b.Put("wa2", "y");
    b.Delete("wa1");
    AsyncProbe p;
    db_->WriteAsync(b, p.WriteCb());
    b.Clear();  // the batch must have been copied or consumed by the call
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(Get("wa1"), "NOT_FOUND");
    EXPECT_EQ(Get("wa2"), "y");
  }
  {
    // The key and value buffers may die as soon as PutAsync returns.
    AsyncProbe p;
    {
      std::string k = "temp-key", v = "temp-value";
      db_->PutAsync(k, v, p.WriteCb());
      k.assign(k.size(), 'X');
      v.assign(v.size(), 'Y');
    }
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(Get("temp-key"), "temp-value");
  }
  ASSERT_OK(db_->Flush());
  {
    AsyncProbe p;
    db_->GetAsync("wa2", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(p.value(), "y") << "GetAsync served from an SSTable";
  }
}

TEST_F(ApiTest, ManyAsyncWritesInFlight) {
  ASSERT_OK(Open(Opts(2)));
  constexpr int kN = 2000;
  std::atomic<int> calls{0}, failures{0};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::atomic<int>> per_key(kN);
  for (int i = 0; i < kN; ++i) {
    db_->PutAsync(dbtest::KeyN("async", i), dbtest::KeyN("val", i), [&, i](Status s) {
      if (!s.ok()) failures.fetch_add(1);
      per_key[i].fetch_add(1);
      if (calls.fetch_add(1) + 1 == kN) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return calls.load() == kN; }))
        << calls.load() << " of " << kN << " callbacks ran";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), kN);
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < kN; ++i) ASSERT_EQ(per_key[i].load(), 1) << "callback count of key " << i;
  ASSERT_OK(Reopen(2));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(Get(dbtest::KeyN("async", i)), dbtest::KeyN("val", i));
  }
}

// ---- Close / Flush --------------------------------------------------------------------

TEST_F(ApiTest, CloseIsIdempotent) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_OK(db_->Close());
  EXPECT_OK(db_->Close());
  db_.reset();
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, CallsAfterCloseFailCleanly) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  std::string v;
  EXPECT_FALSE(db_->Put("k2", "v").ok());
  EXPECT_FALSE(db_->Get("k", &v).ok());
  EXPECT_FALSE(db_->Delete("k").ok());
  EXPECT_FALSE(db_->Flush().ok());
  AsyncProbe p;
  db_->PutAsync("k3", "v", p.WriteCb());
  ASSERT_TRUE(p.WaitOnce());
  EXPECT_FALSE(p.status().ok());
  AsyncProbe g;
  db_->GetAsync("k", g.GetCb());
  ASSERT_TRUE(g.WaitOnce());
  EXPECT_FALSE(g.status().ok());
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(Get("k2"), "NOT_FOUND");
  EXPECT_EQ(Get("k3"), "NOT_FOUND");
}

TEST_F(ApiTest, ReleasingASnapshotTwiceIsAnError) {
  ASSERT_OK(Open(Opts(2)));
  const Snapshot* snap = db_->GetSnapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_OK(db_->ReleaseSnapshot(snap));
  EXPECT_TRUE(db_->ReleaseSnapshot(snap).IsInvalidArgument());
  EXPECT_TRUE(db_->ReleaseSnapshot(nullptr).IsInvalidArgument());
}

// Issue 11: an iterator that outlives Close, or its DB, answers Shutdown; it never
// aborts, and destroying it afterwards is safe.
TEST_F(ApiTest, IteratorUsedAfterCloseGetsShutdown) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 100; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("it", i), "v"));
  ASSERT_OK(db_->Flush());
  ASSERT_OK(db_->Put("mem", "v"));
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  ASSERT_OK(db_->Close());
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it->SeekToLast();
  it->Seek("it");
  it->Prev();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it.reset();
}

TEST_F(ApiTest, IteratorUsedAfterTheDBIsDestroyedGetsShutdown) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 100; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("it", i), "v"));
  ASSERT_OK(db_->Flush());
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  it->Seek("it");
  ASSERT_TRUE(it->Valid());
  db_.reset();
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it->SeekToFirst();
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it.reset();
}

TEST_F(ApiTest, FlushMovesDataIntoSstablesAndReopenReadsThem) {
  ASSERT_OK(Open(Opts(2)));
  std::mt19937_64 rng(7);
  constexpr int kN = 1000;
  std::vector<std::string> vals;
  for (int i = 0; i < kN; ++i) {
    vals.push_back(dbtest::RandomBytes(rng, 1024));
    ASSERT_OK(db_->Put(dbtest::KeyN("fk", i), vals.back()));
  }
  ASSERT_OK(db_->Flush());
  // Random values do not compress: the SSTables must hold at least the value bytes.
  EXPECT_GE(dbtest::TotalBytesWithSuffix(path_, ".sst"), uint64_t{kN} * 1024);
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(Get(dbtest::KeyN("fk", i)) == vals[i]) << i;
  ASSERT_OK(Reopen(2));
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(Get(dbtest::KeyN("fk", i)) == vals[i]) << i;
}

TEST_F(ApiTest, NewerWritesShadowFlushedOnes) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 50; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("s", i), "old"));
  ASSERT_OK(db_->Flush());
  for (int i = 0; i < 50; i += 2) ASSERT_OK(db_->Put(dbtest::KeyN("s", i), "new"));
  for (int i = 1; i < 50; i += 4) ASSERT_OK(db_->Delete(dbtest::KeyN("s", i)));
  auto want = [](int i) -> std::string {
    if (i % 2 == 0) return "new";
    if (i % 4 == 1) return "NOT_FOUND";
    return "old";
  };
  auto check = [&](const char* stage) {
    for (int i = 0; i < 50; ++i) ASSERT_EQ(Get(dbtest::KeyN("s", i)), want(i)) << stage << " " << i;
  };
  check("memtable over sst");
  ASSERT_OK(Reopen(2));
  check("after reopen (WAL over sst)");
  ASSERT_OK(db_->Flush());
  check("sst over sst");
  ASSERT_OK(Reopen(2));
  check("sst over sst after reopen");
}

// ---- durability modes -----------------------------------------------------------------------

class ApiDurabilityTest : public ApiTest, public ::testing::WithParamInterface<Durability> {};

TEST_P(ApiDurabilityTest, WritesSurviveCloseAndReopen) {
  Options opt = Opts(2);
  opt.durability = GetParam();
  opt.periodic_sync_ms = 10;
  ASSERT_OK(Open(opt));
  for (int i = 0; i < 300; ++i) {
    WriteOptions wo;
    wo.sync = (i % 50 == 0);
    ASSERT_OK(db_->Put(wo, dbtest::KeyN("d", i), dbtest::KeyN("v", i)));
  }
  WriteBatch b;
  for (int i = 0; i < 300; i += 3) b.Delete(dbtest::KeyN("d", i));
  ASSERT_OK(db_->Write(b));
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK(db_->Close());
    ASSERT_OK(Open(opt));
    for (int i = 0; i < 300; ++i) {
      std::string want = i % 3 == 0 ? "NOT_FOUND" : dbtest::KeyN("v", i);
      ASSERT_EQ(Get(dbtest::KeyN("d", i)), want) << "round " << round;
    }
  }
  // Periodic mode must actually sync on its own: wait for a few periods with no writes.
  if (GetParam() == Durability::kPeriodic) {
    ASSERT_OK(db_->Put("late", "x"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(Get("late"), "x");
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ApiDurabilityTest,
                         ::testing::Values(Durability::kSync, Durability::kPeriodic,
                                           Durability::kNone),
                         [](const ::testing::TestParamInfo<Durability>& info) {
                           switch (info.param) {
                             case Durability::kSync:
                               return std::string("Sync");
                             case Durability::kPeriodic:
                               return std::string("Periodic");
                             case Durability::kNone:
                               return std::string("None");
                           }
                           return std::string("Unknown");
                         });

// ---- many keys across shards -----------------------------------------------------------------

class ApiShardsTest : public ApiTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ApiShardsTest, ManyKeysLandOnEveryShardAndSurvive) {
  const uint32_t shards = GetParam();
  ASSERT_OK(Open(Opts(shards)));
  EXPECT_EQ(db_->shard_count(), shards);
  constexpr int kN = 5000;
  auto key = [](int i) { return dbtest::KeyN("many-", i * 7919); };
  auto val = [](int i) { return dbtest::KeyN("value-", i) + std::string(i % 97, 'p'); };
  for (int i = 0; i < kN; ++i) ASSERT_OK(db_->Put(key(i), val(i)));
  for (int i = 0; i < kN; i += 5) ASSERT_OK(db_->Delete(key(i)));
  auto want = [&](int i) { return i % 5 == 0 ? std::string("NOT_FOUND") : val(i); };
  for (int i = 0; i < kN; ++i) ASSERT_EQ(Get(key(i)), want(i)) << i;
  ASSERT_OK(db_->Flush());
  auto dirs = dbtest::ShardDirs(path_);
  ASSERT_EQ(dirs.size(), shards);
  for (const auto& d : dirs) {
    auto ssts =
        dbtest::ListFiles(d, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); });
    EXPECT_FALSE(ssts.empty()) << d << " got no keys out of " << kN << " (routing skew?)";
  }
  ASSERT_OK(Reopen(shards));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(Get(key(i)), want(i)) << i;
}

INSTANTIATE_TEST_SUITE_P(Shards, ApiShardsTest, ::testing::Values(1u, 2u, 4u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return dbtest::KeyN("x", info.param);
                         });

// Options::io_poll_batch only changes how many completions a shard reaps per loop pass:
// cold MultiGets (many reads in flight per shard) and a full scan return the same data
// whatever it is.
class ApiPollBatchTest : public ApiTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ApiPollBatchTest, ColdReadsAreRightAtAnyPollBatch) {
  Options opt = Opts(2);
  opt.io_poll_batch = GetParam();
  opt.block_cache_bytes = 64 << 10;  // far smaller than the data: reads go to disk
  ASSERT_OK(Open(opt));
  constexpr int kN = 3000;
  auto key = [](int i) { return dbtest::KeyN("pb-", i); };
  auto val = [](int i) { return dbtest::KeyN("v", i) + std::string(200 + i % 61, 'a' + i % 26); };
  for (int i = 0; i < kN; ++i) ASSERT_OK(db_->Put(key(i), val(i)));
  ASSERT_OK(db_->Flush());
  ASSERT_OK(db_->Close());
  ASSERT_OK(Open(opt));  // cold cache
  std::vector<std::string> keys;
  for (int i = 0; i < kN; ++i) keys.push_back(key((i * 7) % kN));
  for (int at = 0; at < kN; at += 100) {
    std::vector<std::string_view> batch(keys.begin() + at, keys.begin() + at + 100);
    std::vector<std::string> values;
    std::vector<Status> st = db_->MultiGet(ReadOptions(), batch, &values);
    ASSERT_EQ(st.size(), batch.size());
    for (size_t j = 0; j < batch.size(); ++j) {
      const int i = ((at + static_cast<int>(j)) * 7) % kN;
      ASSERT_TRUE(st[j].ok()) << batch[j] << ": " << st[j].ToString();
      ASSERT_EQ(values[j], val(i)) << batch[j];
    }
  }
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  ASSERT_OK(it->status());
  EXPECT_EQ(n, kN);
  it.reset();
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_GT(stats.total.io.of(IoClass::kUserRead).reads, uint64_t{kN / 10})
      << "the reads were meant to miss the cache";
}

INSTANTIATE_TEST_SUITE_P(PollBatch, ApiPollBatchTest, ::testing::Values(0u, 1u, 4u, 64u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return dbtest::KeyN("batch", info.param);
                         });

}  // namespace
}  // namespace apitest
}  // namespace ringdb
