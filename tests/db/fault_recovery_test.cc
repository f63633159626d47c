// Faults while Open reads what it recovers from: a read that fails or returns bad
// bytes is read again, never kept with a table (finding F3 of the simulator) nor taken
// for a torn tail or corruption of a WAL segment (finding F6; docs/testing.md
// "Simulator"). Shard count 1 so that every key is on the faulty shard.
#include <string>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "testing/fault_backend.h"
#include "tests/db/db_test_util.h"
#include "tests/db/fault_test_fixture.h"

namespace ringdb {
namespace faulttest {
namespace {

using io::FaultController;
using io::FaultRule;

// A fault of a table read while Open opens the tables (footer or meta region) is not
// kept with the table: the read is tried again (or Open fails), and once the disk reads
// again every table reads (finding F3 of the simulator, docs/testing.md "Simulator").
class FaultOpenTableTest : public FaultTest {
 protected:
  void ReopenWithOneSstReadFault(FaultRule fault) {
    OpenFaultyOrDie();
    WriteAcked("pre-", 300);
    ASSERT_OK(db_->Flush());
    ASSERT_OK(db_->Close());
    db_.reset();
    ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
    auto rule = ctl_->AddRule(fault.On(io::kReadOps).File(".sst").Times(1));
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
    Status s = ringdb::testing::OpenWithHooks(Opts(), hooks, &db_);
    ASSERT_EQ(ctl_->RuleFires(rule), 1u) << "Open read no .sst through the backend";
    if (!s.ok()) {
      EXPECT_TRUE(s.IsIOError()) << "Open with one failed .sst read: " << s.ToString();
      db_.reset();
      ASSERT_OK(ringdb::testing::OpenWithHooks(Opts(), hooks, &db_));  // the fault is spent
    }
    CheckAcked(db_.get(), "after a table read fault during Open");
    ReopenCleanAndCheck();
  }
};

TEST_F(FaultOpenTableTest, ReadErrorIsNotRemembered) {
  ReopenWithOneSstReadFault(FaultRule::Error(EIO));
}

// ---- WAL reads during recovery -------------------------------------------------------------

// A bit flipped in a read of a WAL segment while Open replays it is read again: taken
// as it came, it looks like a torn tail (the acknowledged writes after it dropped) or,
// when a later record proves the bytes synced, like Corruption (the store refused).
// Finding F6 of the simulator (docs/testing.md "Simulator"). The parameter seeds where
// the bit lands; even seeds sync every write (so later records prove earlier ones).
class FaultWalReplayTest : public FaultTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(FaultWalReplayTest, FlippedReadIsReadAgain) {
  Options o = Opts();
  // Buffered, not preallocated: the segment is its records back to back, so the bit
  // lands in one of them.
  o.durability = Durability::kNone;
  o.wal_preallocate_bytes = 0;
  WriteOptions wo;
  wo.sync = GetParam() % 2 == 0;
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(o, &db));
    db_ = std::move(db);
    for (int i = 0; i < 40; ++i) {
      std::string k = "k";  // appended: GCC 12 warns (-Wrestrict) on "k" + to_string
      k += std::to_string(i);
      const std::string v(4000, static_cast<char>('a' + i % 26));
      ASSERT_OK(db_->Put(wo, k, v));
      acked_[k] = v;
    }
    // A process crash (the page cache keeps every write): the segment is not sealed,
    // so Open reads and judges all of it.
    ringdb::testing::Crash(std::move(db_));
  }
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  auto rule =
      ctl_->AddRule(FaultRule::BitFlip().File(".wal").WithProbability(1.0, GetParam()).Times(1));
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  std::unique_ptr<DB> db;
  Status s = ringdb::testing::OpenWithHooks(o, hooks, &db);
  ASSERT_EQ(ctl_->RuleFires(rule), 1u) << "Open read no .wal through the backend";
  ASSERT_TRUE(s.ok()) << "Open with one flipped WAL read: " << s.ToString();
  CheckAcked(db.get(), "after a flipped WAL read during Open");
  db_ = std::move(db);
  ReopenCleanAndCheck();
}

INSTANTIATE_TEST_SUITE_P(Seeds, FaultWalReplayTest, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace faulttest
}  // namespace ringdb
