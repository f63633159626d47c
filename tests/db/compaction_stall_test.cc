// A compaction that keeps failing with an I/O error (finding F4 of the simulator:
// the disk gone, every read of an input EIO) must not stall writers for ever. Once L0
// stops writes, a writer gets the compaction's error after a bounded stall (about 1 s
// after the third failure in a row); the backoff is real; testing::Crash returns;
// when the disk comes back a compaction succeeds and writes work again, and nothing
// acknowledged is lost (docs/engine.md "When a compaction keeps failing").
// How the fault lands on compactions only: the reads of two existing L0 tables fail.
// Every L0->L1 compaction reads them; flushes write other tables and read back only
// those. Shard count 1; both backends.
#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <string>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "testing/fault_backend.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using Clock = std::chrono::steady_clock;
using dbtest::Printable;
using dbtest::TempDir;
using io::FaultController;
using io::FaultRule;

class CompactionStallTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options Opts() const {
    Options opt = dbtest::SmallOptions(tmp_.Sub("db"), 1);
    opt.io_backend = GetParam();
    opt.durability = Durability::kNone;  // fast writes; compaction does not depend on it
    opt.post_writes = false;
    return opt;  // 64 KiB memtables: L0 fills after a few hundred KiB
  }
  void SetUp() override {
    ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
    ASSERT_OK(ringdb::testing::OpenWithHooks(Opts(), hooks, &db_));
  }
  void TearDown() override {
    if (db_ != nullptr) db_->Close();
  }
  static std::string Value(int i) {
    std::string v = dbtest::KeyN("v", static_cast<uint64_t>(i));
    v.append(200, 'x');
    return v;
  }

  // Two L0 tables, then every read of them fails with EIO.
  void BreakTwoTables() {
    for (int t = 0; t < 2; t++) {
      for (int i = 0; i < 100; i++, n_++) ASSERT_OK(db_->Put(dbtest::KeyN("k", n_), Value(n_)));
      ASSERT_OK(db_->Flush());
    }
    const auto tables = dbtest::ListFiles(dbtest::ShardDirs(tmp_.Sub("db"))[0], [](const auto& n) {
      return dbtest::EndsWith(n, ".sst");
    });
    ASSERT_EQ(tables.size(), 2u);
    for (const std::string& t : tables) {
      rules_.push_back(
          ctl_->AddRule(FaultRule::Error(EIO).On(io::kReadOps).File(t.substr(t.rfind('/')))));
    }
  }
  // Puts until one fails; that Put must not take long. Returns its status.
  Status PutUntilStopped() {
    const auto start = Clock::now();
    for (;;) {
      const auto t0 = Clock::now();
      Status s = db_->Put(dbtest::KeyN("k", n_), Value(n_));
      const double took = std::chrono::duration<double>(Clock::now() - t0).count();
      EXPECT_LT(took, 10.0) << "a write stalled " << took << " s";
      if (!s.ok()) return s;
      acked_[n_++] = true;
      if (Clock::now() - start > std::chrono::seconds(60)) return Status::OK();
    }
  }
  uint64_t CompactionErrors() {
    Stats st;
    EXPECT_OK(db_->GetStats(&st));
    return st.shards[0].compaction_errors;
  }

  TempDir tmp_;
  std::shared_ptr<FaultController> ctl_;
  std::unique_ptr<DB> db_;
  std::vector<FaultController::RuleId> rules_;
  std::map<int, bool> acked_;
  int n_ = 0;
};

TEST_P(CompactionStallTest, PersistentEioSurfacesToStalledWritersAndHeals) {
  ASSERT_NO_FATAL_FAILURE(BreakTwoTables());
  const auto start = Clock::now();
  Status s = PutUntilStopped();
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find(".sst"), std::string::npos) << s.ToString();
  // Every later writer gets it too, after the same bounded stall.
  s = db_->Put("another", "x");
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t errors = CompactionErrors();
  EXPECT_GE(errors, 3u);
  EXPECT_LE(static_cast<double>(errors), secs * 10 + 2) << "the backoff is not real";
  // The newest writes still read back (memtable and new L0 tables).
  std::string v;
  ASSERT_OK(db_->Get(dbtest::KeyN("k", n_ - 1), &v));
  EXPECT_EQ(v, Value(n_ - 1));

  // The disk comes back: a retried compaction succeeds and writes go on.
  for (auto id : rules_) ctl_->RemoveRule(id);
  const auto healed = Clock::now();
  for (;;) {
    s = db_->Put(dbtest::KeyN("k", n_), Value(n_));
    if (s.ok()) break;
    ASSERT_TRUE(s.IsIOError()) << s.ToString();
    ASSERT_LT(Clock::now() - healed, std::chrono::seconds(30)) << "never healed: " << s.ToString();
  }
  acked_[n_++] = true;
  for (int i = 0; i < 200; i++, n_++) {
    ASSERT_OK(db_->Put(dbtest::KeyN("k", n_), Value(n_)));
    acked_[n_] = true;
  }
  ASSERT_OK(db_->Close());
  db_.reset();
  ctl_.reset();
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(Opts(), &db));
  for (const auto& [i, _] : acked_) {
    ASSERT_OK(db->Get(dbtest::KeyN("k", i), &v)) << i;
    ASSERT_EQ(v, Value(i)) << i;
  }
  ASSERT_OK(db->Close());
}

// A crash while writers stall behind the failing compaction returns (and so do they).
TEST_P(CompactionStallTest, CrashWhileStalledReturns) {
  ASSERT_NO_FATAL_FAILURE(BreakTwoTables());
  Status s = PutUntilStopped();
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  std::promise<Status> answered;
  db_->PutAsync("stalled", "x", [&answered](Status st) { answered.set_value(st); });
  const auto t0 = Clock::now();
  ringdb::testing::Crash(std::move(db_));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  auto fut = answered.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Status st = fut.get();
  EXPECT_TRUE(st.IsIOError() || st.IsAborted()) << st.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, CompactionStallTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const auto& info) {
                           return std::string(info.param == IoBackendKind::kUring ? "Uring"
                                                                                  : "Aio");
                         });

}  // namespace
}  // namespace ringdb
