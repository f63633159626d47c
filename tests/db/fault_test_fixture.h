// The fixture of the fault suites (fault_test.cc, fault_read_test.cc,
// fault_recovery_test.cc): a one-shard store opened over io::FaultBackend
// (testing::OpenWithHooks), the keys it acknowledged and the writes that failed, and a
// clean reopen that checks both.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "testing/fault_backend.h"
#include "tests/db/db_test_util.h"

// Not in an anonymous namespace: both files' TEST_Fs must share one fixture type.
namespace ringdb::faulttest {

using dbtest::Printable;
using dbtest::TempDir;
using io::FaultController;
using io::FaultRule;
using io::IoOp;

class FaultTest : public ::testing::Test {
 protected:
  Options Opts() {
    Options opt = dbtest::SmallOptions(tmp_.Sub("db"), 1);
    opt.memtable_bytes = 1 << 20;  // flushes happen when the test asks
    opt.caller_block_reads = caller_block_reads_;
    opt.caller_read_sqpoll = caller_sqpoll_;
    opt.warm_cache_on_open = warm_cache_;
    return opt;
  }
  // Where cache misses of reads on this thread are read (both ways see every fault).
  bool caller_block_reads_ = true;
  // ... and whether through the DB's submission thread (Options::caller_read_sqpoll).
  SqpollReads caller_sqpoll_ = SqpollReads::kAuto;
  // Off unless a test asks: the faults these tests inject are meant for the reads they
  // make, not for a warm-up racing them (warm_cache_test.cc tests that).
  bool warm_cache_ = false;

  Status OpenFaulty(std::unique_ptr<DB>* db) {
    ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
    return ringdb::testing::OpenWithHooks(Opts(), hooks, db);
  }
  void OpenFaultyOrDie() { ASSERT_OK(OpenFaulty(&db_)); }

  // Opens the store without faults, writes `n` acknowledged keys with prefix `p`
  // (flushed to a table when `flush`), and closes it.
  void WriteCleanStore(const std::string& p, int n, bool flush) {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(Opts(), &db));
    db_ = std::move(db);
    WriteAcked(p, n);
    if (flush) {
      ASSERT_OK(db_->Flush());
    }
    ASSERT_OK(db_->Close());
    db_.reset();
  }

  // Writes `n` acknowledged keys with prefix `p`, recording them.
  void WriteAcked(const std::string& p, int n) {
    for (int i = 0; i < n; ++i) {
      std::string k = p + std::to_string(i);
      std::string v = "value-of-" + k + std::string(i % 100, '.');
      ASSERT_OK(db_->Put(k, v));
      acked_[k] = v;
    }
  }

  // Every acknowledged key reads back right through `db`.
  void CheckAcked(DB* db, const char* stage) {
    for (const auto& [k, v] : acked_) {
      std::string got;
      Status s = db->Get(k, &got);
      ASSERT_TRUE(s.ok() && got == v) << stage << ": acknowledged " << k << " want " << Printable(v)
                                      << " got " << s.ToString() << " " << Printable(got);
    }
  }

  // Closes the faulty DB (whatever Close says), reopens without faults, checks every
  // acknowledged key and that each failed write is absent or exactly as written.
  void ReopenCleanAndCheck() {
    if (db_ != nullptr) {
      Status s = db_->Close();
      if (!s.ok()) std::fprintf(stderr, "[ fault] Close after fault: %s\n", s.ToString().c_str());
      db_.reset();
    }
    ctl_.reset();
    std::unique_ptr<DB> db;
    Status s = DB::Open(Opts(), &db);
    ASSERT_TRUE(s.ok()) << "reopen without faults failed: " << s.ToString();
    CheckAcked(db.get(), "after clean reopen");
    for (const auto& [k, v] : failed_) {
      std::string got;
      Status g = db->Get(k, &got);
      EXPECT_TRUE(g.IsNotFound() || (g.ok() && got == v))
          << "failed write " << k << " came back as " << g.ToString() << " " << Printable(got);
    }
    // The store is writable again.
    ASSERT_OK(db->Put("after-reopen", "ok"));
    std::string got;
    ASSERT_OK(db->Get("after-reopen", &got));
    ASSERT_OK(db->Close());
  }

  // A write under the fault: must not be OK; remembered as failed.
  Status FailingPut(const std::string& k) {
    std::string v = "failed-" + k;
    Status s = db_->Put(k, v);
    if (s.ok()) {
      acked_[k] = v;
    } else {
      failed_[k] = v;
    }
    return s;
  }

  TempDir tmp_;
  std::shared_ptr<FaultController> ctl_;
  std::unique_ptr<DB> db_;
  std::map<std::string, std::string> acked_;
  std::map<std::string, std::string> failed_;
};

inline bool IsIoFailure(const Status& s) {
  return s.IsIOError() || s.IsNoSpace() || s.IsReadOnly();
}

}  // namespace ringdb::faulttest
