// Read-after-acknowledge across threads with posted writes (docs/engine.md "Posted
// writes"): a Get or MultiGet on any thread that begins after a Put returned sees that
// Put, while writers keep the shards' queues deep and memtables switch. Durability kNone
// and kPeriodic post; kSync waits for the disk, and acknowledges a durable group just
// before inserting it; all three must hold the same promise. Both ways of reading cache
// misses.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "db_test_util.h"
#include "ringdb/db.h"

namespace ringdb {
namespace {

constexpr int kKeys = 64;

struct Case {
  Durability durability;
  bool caller_block_reads;
  int writers = 1;  // kSync with several: synced rounds, each group acknowledged before
                    // its insert (docs/engine.md "Synced rounds")
};

class VisibilityTest : public ::testing::TestWithParam<Case> {};

std::string KeyOf(int k) {
  return "vis-" + std::to_string(k);
}

TEST_P(VisibilityTest, ReadsOnOtherThreadsSeeEveryAcknowledgedWrite) {
  dbtest::TempDir dir;
  Options opt = dbtest::SmallOptions(dir.Sub("db"), 2);
  opt.durability = GetParam().durability;
  opt.caller_block_reads = GetParam().caller_block_reads;
  opt.memtable_bytes = 256 << 10;  // switches and flushes all along
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  // last[k]: the newest value of key k whose Put returned OK (values only grow).
  std::vector<std::atomic<int64_t>> last(kKeys);
  for (auto& l : last) l.store(-1);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> violations{0}, reads{0};
  // Writer w owns the keys k with k % writers == w.
  const int writers = GetParam().writers;
  auto write = [&](int w) {
    const std::string pad(200, 'p');
    for (int64_t v = w; !stop.load(std::memory_order_relaxed); v += writers) {
      const int k = static_cast<int>(v % kKeys);
      if (!db->Put(KeyOf(k), std::to_string(v) + "/" + pad).ok()) break;
      last[k].store(v, std::memory_order_release);
    }
  };
  std::vector<std::thread> writer_threads;
  for (int w = 0; w < writers; w++) writer_threads.emplace_back(write, w);
  auto reader = [&](bool multiget) {
    for (int i = 0; !stop.load(std::memory_order_relaxed); i++) {
      const int k = i * 7 % kKeys;
      const int64_t floor = last[k].load(std::memory_order_acquire);  // acknowledged before
      std::string got;
      Status s;
      if (multiget) {
        std::vector<std::string> values;
        const std::string key = KeyOf(k);
        std::vector<std::string_view> keys = {key};
        s = db->MultiGet(ReadOptions(), keys, &values)[0];
        got = values[0];
      } else {
        s = db->Get(KeyOf(k), &got);
      }
      reads++;
      if (floor < 0) continue;
      if (!s.ok() || std::stoll(got) < floor) {
        if (violations++ < 5) {
          ADD_FAILURE() << "key " << k << ": acknowledged value " << floor << ", read "
                        << s.ToString() << " " << got.substr(0, 20);
        }
      }
    }
  };
  std::thread r1(reader, false), r2(reader, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  for (auto& t : writer_threads) t.join();
  r1.join();
  r2.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(reads.load(), 1000);
  ASSERT_TRUE(db->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(
    Modes, VisibilityTest,
    ::testing::Values(Case{Durability::kNone, true}, Case{Durability::kNone, false},
                      Case{Durability::kPeriodic, true}, Case{Durability::kSync, true},
                      Case{Durability::kSync, true, 8}, Case{Durability::kSync, false, 8}),
    [](const ::testing::TestParamInfo<Case>& info) {
      const char* d = info.param.durability == Durability::kNone       ? "None"
                      : info.param.durability == Durability::kPeriodic ? "Periodic"
                                                                       : "Sync";
      return std::string(d) + (info.param.caller_block_reads ? "CallerReads" : "ShardReads") +
             (info.param.writers > 1 ? std::to_string(info.param.writers) + "Writers" : "");
    });

// One shard in kNone (writes posted).
void OpenPosting(dbtest::TempDir& dir, std::unique_ptr<DB>* db) {
  Options opt = dbtest::SmallOptions(dir.Sub("db"), 1);
  opt.durability = Durability::kNone;
  ASSERT_TRUE(DB::Open(opt, db).ok());
}

// Program order across write kinds (finding F1 of the simulator, docs/testing.md): a
// posted Put issued after an async Put of the same key by the same thread wins, although
// the async one takes its sequence number later, on the shard.
TEST(PostedAfterAsync, LaterPostedWriteWins) {
  dbtest::TempDir dir;
  std::unique_ptr<DB> db;
  ASSERT_NO_FATAL_FAILURE(OpenPosting(dir, &db));
  constexpr int kRounds = 200;
  std::atomic<int> answered{0}, failed{0};
  for (int i = 0; i < kRounds; i++) {
    const std::string key = "order-" + std::to_string(i % 16);
    db->PutAsync(key, "async-" + std::to_string(i), [&](Status s) {
      if (!s.ok()) failed++;
      answered++;
    });
    ASSERT_TRUE(db->Put(key, "posted-" + std::to_string(i)).ok());
    while (answered.load() <= i) std::this_thread::yield();
    std::string got;
    ASSERT_TRUE(db->Get(key, &got).ok());
    ASSERT_EQ(got, "posted-" + std::to_string(i)) << "round " << i;
  }
  EXPECT_EQ(failed.load(), 0);
  ASSERT_TRUE(db->Close().ok());
}

// A write that waits for its shard (async, or WriteOptions::sync) takes its sequence
// number on the shard, after posted writes that took theirs on their writers' threads
// and may still be on their way. Applied, it is behind them in the published prefix; its
// writer is acknowledged all the same, so a read that begins then must wait for it as
// for a posted write (the stale reads that ConcurrencyCompactionTest caught now and
// then). Posted writers on many threads keep such holes open; one thread alternates
// async and synced writes of its own key with reads of it.
TEST(WaitedBehindPosted, ReadsSeeAWaitedWriteAckedBeforeThePostedOnesAheadOfIt) {
  dbtest::TempDir dir;
  std::unique_ptr<DB> db;
  ASSERT_NO_FATAL_FAILURE(OpenPosting(dir, &db));
  std::atomic<bool> stop{false};
  std::vector<std::thread> posters;
  for (int t = 0; t < 6; t++) {
    posters.emplace_back([&, t] {
      const std::string pad(100, 'p');
      for (int i = 0; !stop.load(std::memory_order_relaxed); i++) {
        if (!db->Put("post-" + std::to_string(t) + "-" + std::to_string(i % 100), pad).ok()) break;
      }
    });
  }
  int stale = 0, rounds = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  // At least 30 rounds (one in four synced), then until 1.5 s have passed.
  for (int i = 0; i < 30 || (i < 400 && std::chrono::steady_clock::now() < until); i++, rounds++) {
    const std::string want = "waited-" + std::to_string(i);
    if (i % 4 != 3) {
      std::atomic<bool> done{false};
      db->PutAsync("waited", want, [&](Status s) {
        EXPECT_TRUE(s.ok()) << s.ToString();
        done.store(true, std::memory_order_release);
      });
      while (!done.load(std::memory_order_acquire)) std::this_thread::yield();
    } else {
      WriteOptions wo;
      wo.sync = true;
      Status s = db->Put(wo, "waited", want);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) break;
    }
    std::string got;
    Status s = db->Get("waited", &got);
    if (!s.ok()) got = s.ToString();
    if (got != want && stale++ < 3) ADD_FAILURE() << "read " << got << " after " << want;
  }
  stop = true;
  for (auto& t : posters) t.join();
  EXPECT_EQ(stale, 0) << "of " << rounds << " rounds";
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace ringdb
