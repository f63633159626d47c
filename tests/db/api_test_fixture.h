// What the public-API tests (api_test.cc, api_lifecycle_test.cc) share: the fixture, a
// store under a temporary directory opened, reopened and read through the public API
// only, and AsyncProbe, which checks that an async callback runs exactly once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "ringdb/db.h"
#include "tests/db/db_test_util.h"

// Not in an anonymous namespace: both files' TEST_Fs must share one fixture type.
namespace ringdb::apitest {

// Collects the results of one async call; checks the callback runs exactly once.
class AsyncProbe {
 public:
  DB::WriteCallback WriteCb() {
    return [this](Status s) { Record(std::move(s), {}); };
  }
  DB::GetCallback GetCb() {
    return [this](Status s, std::string_view v) { Record(std::move(s), v); };
  }
  // Waits for the first call, then a little longer to catch a second one.
  ::testing::AssertionResult WaitOnce() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_ > 0; })) {
      return ::testing::AssertionFailure() << "callback never ran (30 s)";
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
    if (calls_ != 1) return ::testing::AssertionFailure() << "callback ran " << calls_ << " times";
    return ::testing::AssertionSuccess();
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::string value() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }

 private:
  void Record(Status s, std::string_view v) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    status_ = std::move(s);
    value_.assign(v.data(), v.size());
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  Status status_;
  std::string value_;
};

class ApiTest : public ::testing::Test {
 protected:
  Options Opts(uint32_t shards = 2) { return dbtest::SmallOptions(path_, shards); }
  Status Open(const Options& opt) {
    db_.reset();
    return DB::Open(opt, &db_);
  }
  Status Reopen(uint32_t shards = 2) {
    if (db_ != nullptr) {
      Status s = db_->Close();
      if (!s.ok()) return s;
    }
    return Open(Opts(shards));
  }
  // The value, "NOT_FOUND", or "ERROR: <status>".
  std::string Get(std::string_view key) {
    std::string v;
    Status s = db_->Get(key, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return v;
  }

  dbtest::TempDir tmp_;  // declared first: destroyed after db_
  std::string path_ = tmp_.Sub("db");
  std::unique_ptr<DB> db_;
};

}  // namespace ringdb::apitest
