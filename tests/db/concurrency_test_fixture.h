// The fixture of the concurrency tests (concurrency_test.cc, concurrency_compaction_test.cc):
// a 2-shard store, the owner/counter/flusher threads and their checks, the seed.
#pragma once

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
#include "tests/db/db_test_util.h"

// Not in an anonymous namespace: both files' TEST_Fs must share one fixture type.
namespace ringdb::conctest {

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

inline std::string OwnerKey(int owner, int k) {
  return "own" + std::to_string(owner) + "-" + std::to_string(k);
}
inline std::string CounterKey(int c) {
  return dbtest::KeyN("counter-", c);
}
inline std::string CounterValue(uint64_t version) {
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

}  // namespace ringdb::conctest
