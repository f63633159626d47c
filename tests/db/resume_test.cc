// DB::Resume (io::FaultBackend via testing::OpenWithHooks): a write that failed for lack
// of space leaves the shard read-only until Resume, which fails while space is still
// missing and succeeds once it is back; then writes work and nothing acknowledged is
// lost across a reopen. A failed fsync/fdatasync is never cleared by Resume.
// Shard count 1; both backends; kSync and kNone (waited, unposted writes, so a WAL
// failure reaches the writer).
#include <cerrno>
#include <map>
#include <string>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "testing/fault_backend.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::Printable;
using dbtest::TempDir;
using io::FaultController;
using io::FaultRule;

struct ResumeParam {
  IoBackendKind backend;
  Durability durability;
};

std::string NameOf(const ::testing::TestParamInfo<ResumeParam>& info) {
  return std::string(info.param.backend == IoBackendKind::kUring ? "Uring" : "Aio") +
         (info.param.durability == Durability::kSync ? "_Sync" : "_None");
}

class ResumeTest : public ::testing::TestWithParam<ResumeParam> {
 protected:
  Options Opts() const {
    Options opt = dbtest::SmallOptions(tmp_.Sub("db"), 1);
    opt.io_backend = GetParam().backend;
    opt.durability = GetParam().durability;
    opt.post_writes = false;       // every write waits for its WAL write
    opt.memtable_bytes = 1 << 20;  // flushes happen when the test asks
    return opt;
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

  void WriteAcked(const std::string& p, int n, bool sync = false) {
    WriteOptions wo;
    wo.sync = sync;
    for (int i = 0; i < n; ++i) {
      const std::string k = p + std::to_string(i);
      const std::string v = "value-of-" + k + std::string(i % 50, '.');
      ASSERT_OK(db_->Put(wo, k, v));
      acked_[k] = v;
    }
  }
  // Puts until one fails (the fault's first victim); returns that status.
  Status PutUntilFailure(const std::string& p, bool sync = false) {
    WriteOptions wo;
    wo.sync = sync;
    for (int i = 0; i < 100; ++i) {
      const std::string k = p + std::to_string(i);
      const std::string v = "failed-" + k;
      Status s = db_->Put(wo, k, v);
      if (s.ok()) {
        acked_[k] = v;
      } else {
        failed_[k] = v;
        return s;
      }
    }
    return Status::OK();
  }
  void CheckAcked(DB* db, const char* stage) {
    for (const auto& [k, v] : acked_) {
      std::string got;
      Status s = db->Get(k, &got);
      ASSERT_TRUE(s.ok() && got == v) << stage << ": acknowledged " << k << " want " << Printable(v)
                                      << " got " << s.ToString() << " " << Printable(got);
    }
    for (const auto& [k, v] : failed_) {
      if (acked_.count(k)) continue;
      std::string got;
      Status s = db->Get(k, &got);
      ASSERT_TRUE(s.IsNotFound() || (s.ok() && got == v))
          << stage << ": failed write " << k << " got " << s.ToString() << " " << Printable(got);
    }
  }
  // Closes, reopens without faults and checks every acknowledged key.
  void ReopenAndCheck() {
    db_->Close();
    db_.reset();
    ctl_.reset();
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(Opts(), &db));
    ASSERT_NO_FATAL_FAILURE(CheckAcked(db.get(), "after reopen"));
    ASSERT_OK(db->Put("after-reopen", "x"));
    ASSERT_OK(db->Close());
  }

  TempDir tmp_;
  std::shared_ptr<FaultController> ctl_;
  std::unique_ptr<DB> db_;
  std::map<std::string, std::string> acked_, failed_;
};

// The disk fills while writing the WAL: every write of every file fails with ENOSPC.
TEST_P(ResumeTest, WalNoSpaceResumesOnceSpaceIsBack) {
  ASSERT_NO_FATAL_FAILURE(WriteAcked("before-", 200));
  const auto rule = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps));
  Status s = PutUntilFailure("full-");
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  s = db_->Put("refused", "x");
  ASSERT_TRUE(s.IsReadOnly()) << s.ToString();
  EXPECT_TRUE(dbtest::ContainsNoCase(s.ToString(), "Resume")) << s.ToString();
  failed_["refused"] = "x";
  ASSERT_NO_FATAL_FAILURE(CheckAcked(db_.get(), "read-only"));  // reads keep working

  s = db_->Resume();  // space still missing
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  s = db_->Put("still-refused", "x");
  ASSERT_TRUE(s.IsReadOnly()) << s.ToString();
  failed_["still-refused"] = "x";

  ctl_->RemoveRule(rule);
  ASSERT_OK(db_->Resume());
  ASSERT_OK(db_->Resume());  // idempotent
  ASSERT_NO_FATAL_FAILURE(WriteAcked("after-", 200));
  ASSERT_NO_FATAL_FAILURE(CheckAcked(db_.get(), "resumed"));
  ASSERT_OK(db_->Flush());
  ASSERT_NO_FATAL_FAILURE(WriteAcked("unflushed-", 50));  // only in the WAL
  ASSERT_NO_FATAL_FAILURE(ReopenAndCheck());
}

// Only the WAL runs out of space, so Resume's own steps succeed at once: the broken
// segment is sealed at its last good group and the reopen replays it only that far.
TEST_P(ResumeTest, WalNoSpaceSealsTheBrokenSegment) {
  ASSERT_NO_FATAL_FAILURE(WriteAcked("before-", 100));
  const auto rule = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).File(".wal"));
  Status s = PutUntilFailure("full-");
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  ctl_->RemoveRule(rule);
  ASSERT_OK(db_->Resume());
  ASSERT_NO_FATAL_FAILURE(WriteAcked("after-", 100));
  ASSERT_NO_FATAL_FAILURE(ReopenAndCheck());
}

// A flush that cannot write its table: Resume retries the flush.
TEST_P(ResumeTest, FlushNoSpaceResumesOnceSpaceIsBack) {
  ASSERT_NO_FATAL_FAILURE(WriteAcked("before-", 200));
  const auto rule = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).File(".sst"));
  Status s = db_->Flush();
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  s = db_->Put("refused", "x");
  ASSERT_TRUE(s.IsReadOnly()) << s.ToString();
  failed_["refused"] = "x";
  s = db_->Resume();
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  ctl_->RemoveRule(rule);
  ASSERT_OK(db_->Resume());
  ASSERT_NO_FATAL_FAILURE(WriteAcked("after-", 200));
  ASSERT_OK(db_->Flush());
  ASSERT_NO_FATAL_FAILURE(ReopenAndCheck());
}

// A table's fdatasync fails (with ENOSPC, as on a thin-provisioned or network disk):
// the kernel may have dropped what it had accepted, so only a reopen clears it.
TEST_P(ResumeTest, FailedTableSyncIsNotCleared) {
  ASSERT_NO_FATAL_FAILURE(WriteAcked("before-", 200));
  const auto rule = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kSyncOps).File(".sst"));
  Status s = db_->Flush();
  ASSERT_FALSE(s.ok());
  ctl_->RemoveRule(rule);
  s = db_->Resume();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(dbtest::ContainsNoCase(s.ToString(), "fdatasync")) << s.ToString();
  s = db_->Put("refused", "x");
  ASSERT_TRUE(s.IsReadOnly()) << s.ToString();
  EXPECT_FALSE(dbtest::ContainsNoCase(s.ToString(), "Resume")) << s.ToString();
  failed_["refused"] = "x";
  ASSERT_NO_FATAL_FAILURE(ReopenAndCheck());
}

// kNone with WriteOptions::sync: the WAL's linked fdatasync fails.
TEST_P(ResumeTest, FailedWalSyncIsNotCleared) {
  if (GetParam().durability == Durability::kSync) {
    GTEST_SKIP() << "kSync writes the WAL with RWF_DSYNC (no separate fdatasync)";
  }
  ASSERT_NO_FATAL_FAILURE(WriteAcked("before-", 100, /*sync=*/true));
  const auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).File(".wal"));
  Status s = PutUntilFailure("lost-", /*sync=*/true);
  ASSERT_FALSE(s.ok());
  ctl_->RemoveRule(rule);
  ASSERT_FALSE(db_->Resume().ok());
  s = db_->Put("refused", "x");
  ASSERT_TRUE(s.IsReadOnly()) << s.ToString();
  failed_["refused"] = "x";
  ASSERT_NO_FATAL_FAILURE(ReopenAndCheck());
}

std::vector<ResumeParam> Params() {
  std::vector<ResumeParam> out;
  for (IoBackendKind b : {IoBackendKind::kUring, IoBackendKind::kAio}) {
    for (Durability d : {Durability::kSync, Durability::kNone}) out.push_back({b, d});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, ResumeTest, ::testing::ValuesIn(Params()), NameOf);

}  // namespace
}  // namespace ringdb
