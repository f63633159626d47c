// I/O faults under the engine, one kind at a time (io::FaultBackend via
// testing::OpenWithHooks; the fixture is fault_test_fixture.h):
//   - EIO / ENOSPC / short write / failed fsync on WAL writes, SSTable (flush) writes
//     and MANIFEST/CURRENT writes: the call returns a clear non-OK Status (IOError,
//     NoSpace), never OK;
//   - after a failed fsync the shard is read-only: later writes fail (ReadOnly or
//     IOError) even once the fault is gone, reads still work;
//   - nothing acknowledged before the fault is lost after a reopen without faults, and a
//     write that failed is either absent or exactly what was written;
// Bit flips on reads and a random storm of faults: fault_read_test.cc.
// Shard count 1 so that every key is on the faulty shard.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/io_trace.h"
#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/fault_test_fixture.h"

namespace ringdb {
namespace faulttest {
namespace {

// ---- WAL -------------------------------------------------------------------------------------

TEST_F(FaultTest, WalWriteEioFailsTheWrite) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 50);
  auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kWriteOps).File(".wal"));
  Status s = FailingPut("during");
  EXPECT_TRUE(s.IsIOError()) << "WAL write EIO must surface as IOError, got " << s.ToString();
  EXPECT_FALSE(s.message().empty());
  EXPECT_GT(ctl_->RuleFires(rule), 0u) << "the engine never wrote a .wal through the backend";
  // Reads still work.
  CheckAcked(db_.get(), "after WAL EIO");
  std::string got;
  Status g = db_->Get("during", &got);
  EXPECT_TRUE(g.IsNotFound() || (g.ok() && got == "failed-during")) << g.ToString();
  ctl_->ClearRules();
  // Later writes may fail (read-only shard) but must not be acknowledged falsely.
  for (int i = 0; i < 5; ++i) {
    Status after = FailingPut("after-" + std::to_string(i));
    EXPECT_TRUE(after.ok() || IsIoFailure(after)) << after.ToString();
  }
  ReopenCleanAndCheck();
}

TEST_F(FaultTest, WalWriteEnospcIsNoSpace) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 50);
  auto rule = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).File(".wal"));
  Status s = FailingPut("during");
  EXPECT_TRUE(s.IsNoSpace()) << "ENOSPC on the WAL must surface as NoSpace, got " << s.ToString();
  EXPECT_GT(ctl_->RuleFires(rule), 0u);
  WriteBatch b;
  b.Put("batch-during", "x");
  Status bs = db_->Write(b);
  EXPECT_FALSE(bs.ok());
  if (!bs.ok()) failed_["batch-during"] = "x";
  CheckAcked(db_.get(), "after WAL ENOSPC");
  ReopenCleanAndCheck();
}

TEST_F(FaultTest, WalShortWriteFailsTheWrite) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 50);
  auto rule = ctl_->AddRule(FaultRule::ShortTransfer().On(io::kWriteOps).File(".wal").Times(1));
  Status s = FailingPut("during");
  EXPECT_GT(ctl_->RuleFires(rule), 0u);
  EXPECT_FALSE(s.ok()) << "a short WAL write was acknowledged";
  EXPECT_TRUE(s.ok() || IsIoFailure(s)) << s.ToString();
  CheckAcked(db_.get(), "after short WAL write");
  ReopenCleanAndCheck();
}

TEST_F(FaultTest, WalFsyncFailureMakesShardReadOnly) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 50);
  auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).File(".wal").Times(1));
  Status s = FailingPut("during");
  EXPECT_TRUE(s.IsIOError()) << "a failed WAL fdatasync must fail the write, got " << s.ToString();
  EXPECT_EQ(ctl_->RuleFires(rule), 1u) << "no WAL fsync went through the backend in sync mode";
  // The fault is gone, but the shard must not pretend nothing happened.
  for (int i = 0; i < 5; ++i) {
    Status after = FailingPut("after-" + std::to_string(i));
    EXPECT_TRUE(after.IsReadOnly() || after.IsIOError())
        << "write #" << i << " after a failed fsync: " << after.ToString()
        << " (the shard must be read-only)";
  }
  WriteBatch b;
  b.Put("batch-after", "x");
  Status bs = db_->Write(b);
  EXPECT_TRUE(bs.IsReadOnly() || bs.IsIOError()) << bs.ToString();
  if (!bs.ok()) failed_["batch-after"] = "x";
  Status ds = db_->Delete("pre-1");
  EXPECT_TRUE(ds.IsReadOnly() || ds.IsIOError()) << ds.ToString();
  if (ds.ok()) acked_.erase("pre-1");
  CheckAcked(db_.get(), "reads on a read-only shard");
  ReopenCleanAndCheck();
}

// kSync: the WAL zero-fill's fdatasync counts as in flight like its writes, so a memtable
// switch waits for it before it swaps the segment out and closes it. Before, a switch
// could close the segment under it: an fdatasync of a closed descriptor, and an error
// message built from the segment's freed path (TSan, db-powerloss). With the zero-fill
// syncs held 100 ms, the I/O trace must show each of them complete before its segment's
// descriptor is closed.
TEST_F(FaultTest, WalZeroFillSyncCompletesBeforeItsSegmentIsClosed) {
  Options opt = Opts();
  ASSERT_EQ(opt.durability, Durability::kSync);
  opt.io_trace = true;
  opt.memtable_bytes = 256 << 10;  // a switch every ~80 writes of 3 KB
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  auto rule = ctl_->AddRule(FaultRule::Delay(100'000'000)
                                .On(OpBit(io::IoOp::kFdatasync))
                                .File(".wal")
                                .Class(io::IoClass::kOther));
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  ASSERT_OK(ringdb::testing::OpenWithHooks(opt, hooks, &db_));
  // Write (and switch memtables every few milliseconds) until ten zero-fill syncs
  // were held: each is in flight for 100 ms, during which the writers go on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; t++) {
    writers.emplace_back([&, t] {
      for (int i = 0; ctl_->RuleFires(rule) < 10 && std::chrono::steady_clock::now() < deadline;
           i++) {
        const std::string k = "zf" + std::to_string(t) + "-" + std::to_string(i);
        if (!db_->Put(k, std::string(3000, static_cast<char>('a' + t))).ok()) return;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_OK(db_->Close());
  db_.reset();
  EXPECT_GE(ctl_->RuleFires(rule), 10u) << "fewer than 10 zero-fill fdatasyncs were held in 20 s";

  std::unique_ptr<io::IoTraceReader> r;
  ASSERT_OK(io::IoTraceReader::Open(tmp_.Sub("db") + "/shard-000/IOTRACE", &r));
  std::vector<io::IoTraceEntry> syncs, closes;
  io::IoTraceEntry e;
  while (r->Next(&e)) {
    if (e.type != io::IoTraceRecordType::kIo) continue;
    if (e.op == io::IoOp::kFdatasync && e.io_class == io::IoClass::kOther) syncs.push_back(e);
    if (e.op == io::IoOp::kClose) closes.push_back(e);
  }
  ASSERT_OK(r->status());
  ASSERT_FALSE(syncs.empty());
  size_t checked = 0;
  for (const io::IoTraceEntry& s : syncs) {
    EXPECT_GE(s.result, 0) << "zero-fill fdatasync of fd " << s.fd << " failed";
    // The first close of that descriptor after the sync was submitted.
    for (const io::IoTraceEntry& c : closes) {
      if (c.fd != s.fd || c.submit_ns < s.submit_ns) continue;
      EXPECT_LE(s.complete_ns, c.submit_ns)
          << "fd " << s.fd << " was closed " << (s.complete_ns - c.submit_ns) / 1000
          << " us before its zero-fill fdatasync completed";
      checked++;
      break;
    }
  }
  EXPECT_GT(checked, 0u) << "no segment with a zero-fill sync was closed";
}

// ---- SSTables (flush) ------------------------------------------------------------------------

class FaultSstTest : public FaultTest, public ::testing::WithParamInterface<int> {};

TEST_P(FaultSstTest, FlushWriteErrorIsReportedAndLosesNothing) {
  const int err = GetParam();
  OpenFaultyOrDie();
  WriteAcked("pre-", 300);
  auto rule = ctl_->AddRule(FaultRule::Error(err).On(io::kWriteOps).File(".sst"));
  Status s = db_->Flush();
  EXPECT_GT(ctl_->RuleFires(rule), 0u) << "Flush wrote no .sst through the backend";
  if (err == ENOSPC) {
    EXPECT_TRUE(s.IsNoSpace()) << "Flush with ENOSPC on .sst: " << s.ToString();
  } else {
    EXPECT_TRUE(s.IsIOError()) << "Flush with EIO on .sst: " << s.ToString();
  }
  CheckAcked(db_.get(), "after failed flush");
  ctl_->ClearRules();
  // More writes: accepted or refused cleanly, never lost once acknowledged.
  for (int i = 0; i < 20; ++i) {
    Status w = FailingPut("post-" + std::to_string(i));
    EXPECT_TRUE(w.ok() || IsIoFailure(w)) << w.ToString();
  }
  Status again = db_->Flush();
  EXPECT_TRUE(again.ok() || IsIoFailure(again)) << again.ToString();
  CheckAcked(db_.get(), "after second flush");
  ReopenCleanAndCheck();
}

INSTANTIATE_TEST_SUITE_P(Errors, FaultSstTest, ::testing::Values(EIO, ENOSPC),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == EIO ? "Eio" : "Enospc");
                         });

TEST_F(FaultTest, FlushShortWriteIsReported) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 300);
  auto rule = ctl_->AddRule(FaultRule::ShortTransfer().On(io::kWriteOps).File(".sst").Times(1));
  Status s = db_->Flush();
  EXPECT_GT(ctl_->RuleFires(rule), 0u);
  EXPECT_FALSE(s.ok()) << "Flush acknowledged an SSTable with a short write";
  CheckAcked(db_.get(), "after short sst write");
  ReopenCleanAndCheck();
}

TEST_F(FaultTest, FlushFsyncFailureIsReportedAndShardReadOnly) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 300);
  auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).File(".sst").Times(1));
  Status s = db_->Flush();
  EXPECT_EQ(ctl_->RuleFires(rule), 1u) << "Flush never fsynced its .sst";
  EXPECT_TRUE(s.IsIOError()) << "Flush with a failed .sst fsync: " << s.ToString();
  Status w = FailingPut("after");
  EXPECT_TRUE(w.IsReadOnly() || w.IsIOError())
      << "write after a failed fsync: " << w.ToString() << " (the shard must be read-only)";
  CheckAcked(db_.get(), "after failed sst fsync");
  ReopenCleanAndCheck();
}

// ---- MANIFEST / CURRENT -------------------------------------------------------------------------

TEST_F(FaultTest, ManifestWriteErrorFailsFlushAndLosesNothing) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 300);
  auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kWriteOps).File("MANIFEST"));
  Status s = db_->Flush();
  EXPECT_GT(ctl_->RuleFires(rule), 0u) << "Flush recorded no version edit in a MANIFEST";
  EXPECT_TRUE(s.IsIOError()) << "Flush with a failing MANIFEST: " << s.ToString();
  CheckAcked(db_.get(), "after MANIFEST error");
  ctl_->ClearRules();
  for (int i = 0; i < 5; ++i) {
    Status w = FailingPut("post-" + std::to_string(i));
    EXPECT_TRUE(w.ok() || IsIoFailure(w)) << w.ToString();
  }
  ReopenCleanAndCheck();
}

TEST_F(FaultTest, ManifestFsyncFailureFailsFlush) {
  OpenFaultyOrDie();
  WriteAcked("pre-", 300);
  auto rule = ctl_->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).File("MANIFEST").Times(1));
  Status s = db_->Flush();
  EXPECT_EQ(ctl_->RuleFires(rule), 1u);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  Status w = FailingPut("after");
  EXPECT_TRUE(w.IsReadOnly() || w.IsIOError()) << w.ToString();
  CheckAcked(db_.get(), "after MANIFEST fsync failure");
  ReopenCleanAndCheck();
}

// Faults while Open creates or rotates its files: Open fails cleanly (no crash, no
// half-open DB), and the store opens fine afterwards with nothing lost.
class FaultOpenTest : public FaultTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(FaultOpenTest, FaultDuringOpenFailsCleanly) {
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(Opts(), &db));
    db_ = std::move(db);
    WriteAcked("pre-", 100);
    ASSERT_OK(db_->Flush());
    WriteAcked("wal-", 50);
    ASSERT_OK(db_->Close());
    db_.reset();
  }
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  auto rule = ctl_->AddRule(
      FaultRule::Error(EIO).On(io::kWriteOps | io::kSyncOps | io::kDirOps).File(GetParam()));
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  std::unique_ptr<DB> db;
  Status s = ringdb::testing::OpenWithHooks(Opts(), hooks, &db);
  if (ctl_->RuleFires(rule) > 0) {
    // Either the failure surfaced, or the engine worked around a failed optional step
    // (then the DB must be fully usable).
    if (!s.ok()) {
      EXPECT_TRUE(IsIoFailure(s)) << "Open with " << GetParam() << " faults: " << s.ToString();
      EXPECT_EQ(db, nullptr);
    }
  } else {
    std::fprintf(stderr, "[ fault] Open did no I/O on '%s' through the backend (%s)\n", GetParam(),
                 s.ToString().c_str());
  }
  if (s.ok()) {
    CheckAcked(db.get(), "opened despite faults");
    ctl_->ClearRules();
    db->Close();
  }
  db.reset();
  ReopenCleanAndCheck();
}

INSTANTIATE_TEST_SUITE_P(Files, FaultOpenTest, ::testing::Values(".wal", "MANIFEST", "CURRENT"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string n = info.param;
                           return n == ".wal" ? std::string("Wal") : n;
                         });

// Issue 11: a disk too full for the WAL's preallocation still has room to work: Open
// preallocates less (a warning) instead of failing.
TEST_F(FaultTest, WalPreallocationDegradesWhenTheDiskIsNearlyFull) {
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  auto rule =
      ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::IoOp::kFallocate).File(".wal").Times(3));
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  Options o = Opts();
  o.durability = Durability::kNone;
  o.wal_preallocate_bytes = 16 << 20;
  std::unique_ptr<DB> db;
  ASSERT_OK(ringdb::testing::OpenWithHooks(o, hooks, &db));
  EXPECT_EQ(ctl_->RuleFires(rule), 3u);
  db_ = std::move(db);
  WriteAcked("k-", 200);
  ASSERT_OK(db_->Close());
  db_.reset();
  ReopenCleanAndCheck();
}

// Issue 11: an Open that fails (here: no space for the new MANIFEST, after the new WAL
// segment was created) removes the files it created, so a full disk is not kept full.
TEST_F(FaultTest, FailedOpenRemovesTheFilesItCreated) {
  WriteCleanStore("wal-", 100, /*flush=*/false);
  const std::string shard = tmp_.Sub("db") + "/shard-000";
  auto all = [](const std::string&) { return true; };
  const auto before = dbtest::ListFiles(shard, all);
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).File("MANIFEST"));
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  std::unique_ptr<DB> db;
  Status s = ringdb::testing::OpenWithHooks(Opts(), hooks, &db);
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(dbtest::ListFiles(shard, all), before);
  ReopenCleanAndCheck();
}

// Issue 11 (reopen in milliseconds): after a clean replay Open keeps the replayed
// memtable in memory and its WAL segments live instead of writing a table first. What
// that Open served must then survive a power loss before the background flush: here
// the first process never synced (durability none), the second cannot write its table
// (ENOSPC on every .sst), and the machine loses power with both processes gone.
TEST_F(FaultTest, ReplayedWritesSurvivePowerLossBeforeTheirFlush) {
  ctl_ = std::make_shared<FaultController>(io::FaultControllerOptions{true, ""});
  ringdb::testing::OpenHooks hooks;
  hooks.wrap_backend = io::MakeFaultWrapper(ctl_);
  Options o = Opts();
  o.durability = Durability::kNone;
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(ringdb::testing::OpenWithHooks(o, hooks, &db));
    db_ = std::move(db);
    WriteAcked("replayed-", 300);
    ringdb::testing::Crash(std::move(db_));  // a process crash: the page cache survives
  }
  auto no_tables = ctl_->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).File(".sst"));
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(ringdb::testing::OpenWithHooks(o, hooks, &db));
    CheckAcked(db.get(), "after the replay");
    Status f = db->Flush();
    EXPECT_TRUE(f.IsNoSpace()) << f.ToString();  // the kept memtable could not be written
    ringdb::testing::Crash(std::move(db));
  }
  EXPECT_GT(ctl_->RuleFires(no_tables), 0u);
  ctl_->RemoveRule(no_tables);
  ASSERT_OK(ctl_->SimulatePowerLoss(io::PowerLossMode::kDropUnsynced, 1));
  ReopenCleanAndCheck();
}

}  // namespace
}  // namespace faulttest
}  // namespace ringdb
