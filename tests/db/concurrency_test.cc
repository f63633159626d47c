// Many application threads at once on a 2-shard store: owners do Put/Get/Delete/
// Write/async on their own keys and check every read against their own model; a
// single writer bumps versioned counters that readers must never see go backwards; a
// flusher forces memtable -> SSTable switches underneath. Meant to run under TSan too
// (-Db_sanitize=thread): the test itself shares nothing without synchronization.
//
// Replay: RINGDB_SEED=<seed>. Length: RINGDB_CONC_OPS per owner thread (default 1500).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::Printable;
using dbtest::TempDir;

constexpr int kOwners = 6;
constexpr int kOwnerKeys = 64;
constexpr int kCounters = 8;

// Counts down outstanding async operations of one thread.
class Pending {
 public:
  void Add(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    n_ += n;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool WaitZero() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

std::string OwnerKey(int owner, int k) {
  return "own" + std::to_string(owner) + "-" + std::to_string(k);
}
std::string CounterKey(int c) {
  return dbtest::KeyN("counter-", c);
}
std::string CounterValue(uint64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(version));
  return buf;
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = dbtest::TestSeed(::testing::UnitTest::GetInstance()->current_test_info()->name());
    opt_ = dbtest::SmallOptions(tmp_.Sub("db"), 2);
    ASSERT_OK(DB::Open(opt_, &db_));
  }

  void Fail(const std::string& msg) {
    if (!failed_.exchange(true)) {
      ADD_FAILURE() << msg << " [RINGDB_SEED=" << seed_ << "]";
    }
  }

  // One owner thread: random ops on its own keys, model kept locally.
  void Owner(int id, uint64_t ops, std::map<std::string, std::string>* model) {
    std::mt19937_64 rng(seed_ + static_cast<uint64_t>(id) * 7919);
    for (uint64_t i = 0; i < ops && !failed_.load(); ++i) {
      const uint64_t r = rng() % 100;
      const std::string key = OwnerKey(id, static_cast<int>(rng() % kOwnerKeys));
      if (r < 30) {
        std::string v = key + "=" + std::to_string(i) + std::string(rng() % 200, 'v');
        Status s = db_->Put(key, v);
        if (!s.ok()) return Fail("Put: " + s.ToString());
        (*model)[key] = v;
      } else if (r < 40) {
        Status s = db_->Delete(key);
        if (!s.ok()) return Fail("Delete: " + s.ToString());
        model->erase(key);
      } else if (r < 50) {
        WriteBatch b;
        std::vector<std::pair<std::string, std::optional<std::string>>> ups;
        for (int j = 0; j < 5; ++j) {
          std::string k = OwnerKey(id, static_cast<int>(rng() % kOwnerKeys));
          if (rng() % 3 == 0) {
            b.Delete(k);
            ups.emplace_back(k, std::nullopt);
          } else {
            std::string v = k + "~" + std::to_string(i) + "." + std::to_string(j);
            b.Put(k, v);
            ups.emplace_back(k, v);
          }
        }
        Status s = db_->Write(b);
        if (!s.ok()) return Fail("Write: " + s.ToString());
        for (auto& [k, v] : ups) {
          if (v) {
            (*model)[k] = *v;
          } else {
            model->erase(k);
          }
        }
      } else if (r < 85) {
        std::string got;
        Status s = db_->Get(key, &got);
        if (!Matches(*model, key, s, got, "Get")) return;
      } else if (r < 95) {
        // Async burst on distinct keys; wait for all, then update the model.
        Pending pending;
        std::vector<std::pair<std::string, std::string>> puts;
        std::atomic<int> errors{0};
        const int first = static_cast<int>(rng() % kOwnerKeys);
        const int n = 1 + static_cast<int>(rng() % 16);
        pending.Add(n);
        for (int j = 0; j < n; ++j) {
          std::string k = OwnerKey(id, (first + j) % kOwnerKeys);
          std::string v = k + "#" + std::to_string(i);
          puts.emplace_back(k, v);
          db_->PutAsync(k, v, [&pending, &errors](Status s) {
            if (!s.ok()) errors.fetch_add(1);
            pending.Done();
          });
        }
        if (!pending.WaitZero()) return Fail("PutAsync callbacks missing after 60 s");
        if (errors.load() != 0) return Fail("PutAsync failed");
        for (auto& [k, v] : puts) (*model)[k] = v;
      } else {
        Pending pending;
        pending.Add(1);
        Status st;
        std::string got;
        db_->GetAsync(key, [&](Status s, std::string_view v) {
          st = std::move(s);
          got.assign(v.data(), v.size());
          pending.Done();
        });
        if (!pending.WaitZero()) return Fail("GetAsync callback missing after 60 s");
        if (!Matches(*model, key, st, got, "GetAsync")) return;
      }
    }
  }

  bool Matches(const std::map<std::string, std::string>& model, const std::string& key,
               const Status& s, const std::string& got, const char* how) {
    auto it = model.find(key);
    if (it == model.end()) {
      if (s.IsNotFound()) return true;
      Fail(std::string(how) + "(" + key + ") want NotFound, got " + s.ToString() + " " +
           Printable(got));
      return false;
    }
    if (s.ok() && got == it->second) return true;
    Fail(std::string(how) + "(" + key + ") want " + Printable(it->second) + ", got " +
         s.ToString() + " " + Printable(got));
    return false;
  }

  void VerifyModels(const std::vector<std::map<std::string, std::string>>& models,
                    const char* stage) {
    for (int id = 0; id < kOwners; ++id) {
      for (int k = 0; k < kOwnerKeys; ++k) {
        const std::string key = OwnerKey(id, k);
        std::string got;
        Status s = db_->Get(key, &got);
        if (!Matches(models[id], key, s, got, stage)) return;
      }
    }
  }

  TempDir tmp_;
  Options opt_;
  std::unique_ptr<DB> db_;
  uint64_t seed_ = 0;
  std::atomic<bool> failed_{false};
};

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
}  // namespace ringdb
