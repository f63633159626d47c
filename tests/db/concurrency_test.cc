// Many application threads at once on a 2-shard store: owners do Put/Get/Delete/
// Write/async on their own keys and check every read against their own model; a
// single writer bumps versioned counters that readers must never see go backwards; a
// flusher forces memtable -> SSTable switches underneath. Meant to run under TSan too
// (-Db_sanitize=thread): the test itself shares nothing without synchronization.
//
// The tests while compacting: concurrency_compaction_test.cc. The fixture:
// concurrency_test_fixture.h.
//
// Replay: RINGDB_SEED=<seed>. Length: RINGDB_CONC_OPS per owner thread (default 1500;
// the compacting writers do twice as many).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/concurrency_test_fixture.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace conctest {
namespace {

TEST_F(ConcurrencyTest, OwnersCountersAndFlushesAtOnce) {
  const uint64_t ops = dbtest::EnvU64("RINGDB_CONC_OPS", 1500);
  std::vector<std::map<std::string, std::string>> models(kOwners);
  std::atomic<bool> owners_done{false};
  std::atomic<uint64_t> counter_writes{0}, counter_reads{0}, flushes{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < kOwners; ++id) {
    threads.emplace_back([&, id] { Owner(id, ops, &models[id]); });
  }
  // Single writer of versioned counters.
  threads.emplace_back([&] {
    uint64_t version = 0;
    while (!owners_done.load() && !failed_.load()) {
      ++version;
      Status s = db_->Put(CounterKey(static_cast<int>(version % kCounters)), CounterValue(version));
      if (!s.ok()) return Fail("counter Put: " + s.ToString());
      counter_writes.fetch_add(1);
    }
  });
  // Reader: a counter never goes backwards.
  threads.emplace_back([&] {
    std::vector<std::string> last(kCounters);
    std::mt19937_64 rng(seed_ ^ 0xabcdef);
    int since_flush = 0;
    while (!owners_done.load() && !failed_.load()) {
      const int c = static_cast<int>(rng() % kCounters);
      std::string got;
      Status s = db_->Get(CounterKey(c), &got);
      if (s.IsNotFound()) {
        if (!last[c].empty()) return Fail("counter " + std::to_string(c) + " vanished");
        continue;
      }
      if (!s.ok()) return Fail("counter Get: " + s.ToString());
      if (got.size() != 16) return Fail("counter value malformed: " + Printable(got));
      if (got < last[c])
        return Fail("counter " + std::to_string(c) + " went back from " + last[c] + " to " + got);
      last[c] = got;
      counter_reads.fetch_add(1);
      if (++since_flush == 2000) {  // flushes under load
        since_flush = 0;
        Status f = db_->Flush();
        if (!f.ok()) return Fail("Flush: " + f.ToString());
        flushes.fetch_add(1);
      }
    }
  });
  for (int id = 0; id < kOwners; ++id) threads[id].join();
  owners_done.store(true);
  for (size_t i = kOwners; i < threads.size(); ++i) threads[i].join();
  ASSERT_FALSE(failed_.load());

  VerifyModels(models, "after join");
  ASSERT_OK(db_->Close());
  db_.reset();
  ASSERT_OK(DB::Open(opt_, &db_));
  VerifyModels(models, "after reopen");
  std::fprintf(stderr,
               "[ conc ] seed=%llu owners=%d ops/owner=%llu counter_writes=%llu "
               "counter_reads=%llu flushes=%llu\n",
               static_cast<unsigned long long>(seed_), kOwners,
               static_cast<unsigned long long>(ops),
               static_cast<unsigned long long>(counter_writes.load()),
               static_cast<unsigned long long>(counter_reads.load()),
               static_cast<unsigned long long>(flushes.load()));
  EXPECT_FALSE(failed_.load());
  EXPECT_GT(counter_reads.load(), 0u);
}

// 8 threads each fire async writes without waiting; every callback runs exactly once.
TEST_F(ConcurrencyTest, AsyncStormFromManyThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::atomic<int>> calls(kThreads * kPerThread);
  std::atomic<int> errors{0};
  Pending pending;
  pending.Add(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int idx = t * kPerThread + i;
        auto cb = [&, idx](Status s) {
          if (!s.ok()) errors.fetch_add(1);
          calls[idx].fetch_add(1);
          pending.Done();
        };
        if (i % 10 == 9) {
          WriteBatch b;
          b.Put(dbtest::KeyN("storm-", idx), dbtest::KeyN("sv", idx));
          b.Put(dbtest::KeyN("storm-extra-", idx), "x");
          db_->WriteAsync(b, cb);
        } else {
          db_->PutAsync(dbtest::KeyN("storm-", idx), dbtest::KeyN("sv", idx), cb);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(pending.WaitZero()) << "callbacks missing after 60 s";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    ASSERT_EQ(calls[i].load(), 1) << "callback count for op " << i;
  }
  // Readers from many threads at once.
  std::atomic<int> bad{0};
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kThreads * kPerThread; i += kThreads) {
        std::string got;
        Status s = db_->Get(dbtest::KeyN("storm-", i), &got);
        if (!s.ok() || got != dbtest::KeyN("sv", i)) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// Close while other threads are still calling in: every call returns (OK before the
// close, an error after), nothing hangs or crashes, and everything acknowledged is
// there after reopen.
TEST_F(ConcurrencyTest, CloseWhileThreadsAreCalling) {
  constexpr int kThreads = 4;
  std::vector<std::vector<int>> acked(kThreads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        Status s = db_->Put("close-" + std::to_string(t) + "-" + std::to_string(i), "v");
        if (s.ok()) {
          acked[t].push_back(i);
        } else if (i > 100000) {
          break;
        }
        if (!s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_OK(db_->Close());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop.store(true);
  for (auto& th : threads) th.join();
  db_.reset();
  ASSERT_OK(DB::Open(opt_, &db_));
  size_t total = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i : acked[t]) {
      std::string got;
      Status s = db_->Get("close-" + std::to_string(t) + "-" + std::to_string(i), &got);
      ASSERT_TRUE(s.ok()) << "acknowledged write lost across Close: thread " << t << " #" << i
                          << ": " << s.ToString();
    }
    total += acked[t].size();
  }
  EXPECT_GT(total, 0u);
}

}  // namespace
}  // namespace conctest
}  // namespace ringdb
