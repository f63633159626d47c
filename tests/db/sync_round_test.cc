// Synced rounds (docs/engine.md "Synced rounds", Options::sync_round_hold_us): with
// Durability::kSync the shards hold queued writes until every synced writer in the DB
// has arrived (or the hold runs out) and then all issue together. Checked through the
// public API and Stats on both backends: every acknowledged write is there, concurrent
// writers share groups, a lone writer is never held, a round whose writers left is
// released by its hold and the next ones are not held, Close releases what is held.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "db_test_util.h"
#include "ringdb/db.h"
#include "ringdb/stats.h"

namespace ringdb {
namespace {

std::string KeyOf(int thread, int i) {
  std::string prefix = dbtest::KeyN("t", static_cast<uint64_t>(thread));
  prefix += '-';
  return dbtest::KeyN(prefix, static_cast<uint64_t>(i));
}
std::string ValueOf(int thread, int i) {
  std::string v = KeyOf(thread, i);
  v.append(40, 'x');
  return v;
}

class SyncRoundTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options Opts(uint32_t hold_us) const {
    Options opt = dbtest::SmallOptions(dir_.Sub("db"), 2);
    opt.io_backend = GetParam();
    opt.durability = Durability::kSync;
    opt.sync_round_hold_us = hold_us;
    return opt;
  }
  static Stats StatsOf(DB* db) {
    Stats st;
    EXPECT_TRUE(db->GetStats(&st).ok());
    return st;
  }
  // `threads` writers, `per_thread` Puts each; every Put must succeed.
  static void WriteConcurrently(DB* db, int threads, int per_thread, int first_thread = 0) {
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = first_thread; t < first_thread + threads; t++) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < per_thread; i++) {
          if (!db->Put(KeyOf(t, i), ValueOf(t, i)).ok()) failures++;
        }
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(failures.load(), 0);
  }
  static void ExpectAll(DB* db, int first_thread, int threads, int per_thread) {
    for (int t = first_thread; t < first_thread + threads; t++) {
      for (int i = 0; i < per_thread; i++) {
        std::string v;
        ASSERT_TRUE(db->Get(KeyOf(t, i), &v).ok()) << KeyOf(t, i);
        ASSERT_EQ(v, ValueOf(t, i));
      }
    }
  }

  dbtest::TempDir dir_;
};

TEST_P(SyncRoundTest, ConcurrentWritersShareRoundsAndLoseNothing) {
  // The longest hold: a round goes out only when every writer is back (or has left).
  const Options opt = Opts(100'000);
  constexpr int kThreads = 8, kPerThread = 150;
  {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(opt, &db).ok());
    WriteConcurrently(db.get(), kThreads, kPerThread);
    ExpectAll(db.get(), 0, kThreads, kPerThread);
    const Stats st = StatsOf(db.get());
    EXPECT_EQ(st.total.writes, uint64_t{kThreads * kPerThread});
    EXPECT_GT(st.sync_rounds, 0u);
    // Eight writers on two shards: a round holds about four writes per shard. Without
    // rounds the shards issue each returning writer's request on its own.
    EXPECT_LE(st.total.write_groups * 2, st.total.writes)
        << st.total.write_groups << " groups for " << st.total.writes << " writes, "
        << st.sync_rounds << " rounds";
  }
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  ExpectAll(db.get(), 0, kThreads, kPerThread);
}

TEST_P(SyncRoundTest, LoneWriterIsNeverHeld) {
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(Opts(100'000), &db).ok());
  constexpr int kWrites = 200;
  WriteConcurrently(db.get(), 1, kWrites);
  const Stats st = StatsOf(db.get());
  // Each write completes its own round on arrival; none waits for the hold.
  EXPECT_EQ(st.sync_rounds, uint64_t{kWrites});
  EXPECT_EQ(st.sync_round_timeouts, 0u);
  EXPECT_EQ(st.total.write_groups, uint64_t{kWrites});
  ExpectAll(db.get(), 0, 1, kWrites);
}

TEST_P(SyncRoundTest, RoundsShrinkWhenWritersLeave) {
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(Opts(20'000), &db).ok());
  WriteConcurrently(db.get(), 8, 100);
  const Stats before = StatsOf(db.get());
  // Seven writers left: the first round of the one that stays waits for them until its
  // hold runs out; from then on its rounds are complete on arrival.
  constexpr int kWrites = 50;
  WriteConcurrently(db.get(), 1, kWrites, /*first_thread=*/8);
  const Stats after = StatsOf(db.get());
  EXPECT_LE(after.sync_round_timeouts - before.sync_round_timeouts, 2u);
  EXPECT_GE(after.sync_rounds - before.sync_rounds, uint64_t{kWrites - 2});
  ExpectAll(db.get(), 0, 8, 100);
  ExpectAll(db.get(), 8, 1, kWrites);
}

TEST_P(SyncRoundTest, CloseReleasesHeldWrites) {
  const Options opt = Opts(100'000);
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::vector<std::vector<int>> acked(kThreads);
  std::atomic<int> other_errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; !stop.load(); i++) {
        Status s = db->Put(KeyOf(t, i), ValueOf(t, i));
        if (s.ok()) {
          acked[t].push_back(i);
        } else {
          if (!s.IsShutdown()) other_errors++;
          return;
        }
      }
    });
  }
  // Let rounds form, then close under the writers: whatever is held is written and
  // acknowledged, later calls get Shutdown, and nobody waits out a 100 ms hold forever.
  while (StatsOf(db.get()).total.writes < 200) std::this_thread::yield();
  ASSERT_TRUE(db->Close().ok());
  stop = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(other_errors.load(), 0);
  db.reset();
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  for (int t = 0; t < kThreads; t++) {
    for (int i : acked[t]) {
      std::string v;
      ASSERT_TRUE(db->Get(KeyOf(t, i), &v).ok()) << KeyOf(t, i);
      EXPECT_EQ(v, ValueOf(t, i));
    }
  }
}

TEST_P(SyncRoundTest, ZeroHoldTurnsRoundsOff) {
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(Opts(0), &db).ok());
  WriteConcurrently(db.get(), 4, 50);
  const Stats st = StatsOf(db.get());
  EXPECT_EQ(st.sync_rounds, 0u);
  EXPECT_EQ(st.total.writes, 200u);
  ExpectAll(db.get(), 0, 4, 50);
}

TEST_P(SyncRoundTest, HoldOverTheLimitIsRefused) {
  std::unique_ptr<DB> db;
  Status s = DB::Open(Opts(100'001), &db);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.ToString().find("sync_round_hold_us"), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, SyncRoundTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const ::testing::TestParamInfo<IoBackendKind>& info) {
                           return std::string(info.param == IoBackendKind::kUring ? "Uring"
                                                                                  : "Aio");
                         });

}  // namespace
}  // namespace ringdb
