// I/O faults under the engine that read data back (the fixture is fault_test_fixture.h):
//   - a bit flipped in data read from an SSTable gives Corruption, never wrong data, and
//     the damaged block is not cached;
//   - EIO and short reads of SSTable blocks are IOError or Corruption, never wrong data;
//   - both on the calling thread's own ring and through the DB's submission thread;
//   - a seeded storm of random faults never loses an acknowledged write.
// Shard count 1 so that every key is on the faulty shard. Replay: RINGDB_SEED=<seed>.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/fault_test_fixture.h"

namespace ringdb {
namespace faulttest {
namespace {

// ---- bit flips on SSTable reads ------------------------------------------------------------

// Bit flips on every .sst read: each Get is Corruption or the right value, the flips are
// detected, and no damaged block stays cached.
class SstBitFlipTest : public FaultTest {
 protected:
  void Run() {
    WriteCleanStore("flushed-", 400, /*flush=*/true);
    OpenFaultyOrDie();
    auto rule = ctl_->AddRule(FaultRule::BitFlip().File(".sst"));
    int corrupt = 0, right = 0;
    ReadOptions ro;
    for (const auto& [k, v] : acked_) {
      std::string got;
      Status s = db_->Get(ro, k, &got);
      if (s.IsCorruption()) {
        ++corrupt;
        EXPECT_FALSE(s.message().empty());
        continue;
      }
      ASSERT_TRUE(s.ok() && got == v)
          << "with bit flips on .sst reads, Get(" << k << ") must be Corruption or right; got "
          << s.ToString() << " " << Printable(got);
      ++right;
    }
    std::fprintf(stderr, "[ fault] bit flips fired=%llu: corruption=%d right=%d\n",
                 static_cast<unsigned long long>(ctl_->RuleFires(rule)), corrupt, right);
    if (ctl_->RuleFires(rule) > 0) {
      EXPECT_GT(corrupt, 0) << "bit flips on every .sst read were never detected";
    } else {
      ADD_FAILURE() << "no .sst read went through the backend (all served from a cache "
                       "filled at Open?)";
    }
    // Without the fault every key reads right again: no damaged block was cached.
    ctl_->ClearRules();
    CheckAcked(db_.get(), "after bit flips stop");
    ReopenCleanAndCheck();
  }
};

TEST_F(SstBitFlipTest, ReadOnTheCallingThreadIsCorruptionNeverWrongData) {
  Run();
}

TEST_F(SstBitFlipTest, ReadThroughTheSubmissionThreadIsCorruptionNeverWrongData) {
  caller_sqpoll_ = SqpollReads::kAlways;
  Run();
}

// EIO and short reads of .sst blocks an application thread reads, on its own ring and
// through the DB's submission thread: each Get is IOError or Corruption, never wrong
// data, and every key reads right once the faults stop. (512-byte short reads: O_DIRECT
// refuses a shorter transfer that is not a multiple of the logical block size.)
TEST_F(FaultTest, SstReadErrorsOnTheCallingThreadAreReportedAndPass) {
  WriteCleanStore("flushed-", 400, /*flush=*/true);
  for (SqpollReads mode : {SqpollReads::kNever, SqpollReads::kAlways}) {
    caller_sqpoll_ = mode;
    for (FaultRule rule : {FaultRule::Error(EIO), FaultRule::ShortTransfer(512)}) {
      OpenFaultyOrDie();
      const auto id = ctl_->AddRule(rule.On(io::kReadOps).File(".sst"));
      int failed = 0;
      for (const auto& [k, v] : acked_) {
        std::string got;
        Status s = db_->Get(k, &got);
        if (s.IsIOError() || s.IsCorruption()) {
          ++failed;
          EXPECT_FALSE(s.message().empty());
          continue;
        }
        ASSERT_TRUE(s.ok() && got == v) << "Get(" << k << ") must fail or be right; got "
                                        << s.ToString() << " " << Printable(got);
      }
      EXPECT_GT(ctl_->RuleFires(id), 0u);
      EXPECT_GT(failed, 0);
      ctl_->ClearRules();
      CheckAcked(db_.get(), "after the read faults stop");
      ASSERT_OK(db_->Close());
      db_.reset();
    }
  }
  ReopenCleanAndCheck();
}

TEST_F(SstBitFlipTest, ReadHandedToTheShardIsCorruptionNeverWrongData) {
  caller_block_reads_ = false;
  Run();
}

// ---- a seeded storm ----------------------------------------------------------------------------

using Attempts = std::map<std::string, std::vector<std::string>>;

// One epoch's faults: rare write, sync and directory errors, short writes, delays.
std::shared_ptr<FaultController> StormFaults(std::mt19937_64& rng) {
  auto ctl = std::make_shared<FaultController>(io::FaultControllerOptions{false, ""});
  ctl->AddRule(FaultRule::Error(EIO).On(io::kWriteOps).WithProbability(0.004, rng()));
  ctl->AddRule(FaultRule::Error(ENOSPC).On(io::kWriteOps).WithProbability(0.004, rng()));
  ctl->AddRule(FaultRule::ShortTransfer().On(io::kWriteOps).WithProbability(0.004, rng()));
  ctl->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).WithProbability(0.004, rng()));
  ctl->AddRule(FaultRule::Error(EIO).On(io::kDirOps).WithProbability(0.01, rng()));
  ctl->AddRule(FaultRule::Delay(200000).WithProbability(0.05, rng()));
  return ctl;
}

// One random operation of the storm: a Flush, a batch of 4 Puts or one Put. Records
// every value it tries in *attempted and each acknowledged one in *acked.
Status StormOp(DB* db, std::mt19937_64& rng, int epoch, int i, Attempts* attempted,
               std::map<std::string, std::string>* acked) {
  const uint64_t r = rng() % 100;
  Status s;
  if (r < 3) {
    s = db->Flush();
  } else if (r < 15) {
    WriteBatch b;
    std::vector<std::pair<std::string, std::string>> puts;
    for (int j = 0; j < 4; ++j) {
      std::string k = dbtest::KeyN("storm-", rng() % 200);
      std::string v =
          k + "#" + std::to_string(epoch) + "." + std::to_string(i) + "." + std::to_string(j);
      b.Put(k, v);
      (*attempted)[k].push_back(v);
      puts.emplace_back(k, v);
    }
    s = db->Write(b);
    if (s.ok()) {
      for (auto& [k, v] : puts) (*acked)[k] = v;
    }
  } else {
    std::string k = dbtest::KeyN("storm-", rng() % 200);
    std::string v =
        k + "#" + std::to_string(epoch) + "." + std::to_string(i) + std::string(rng() % 2000, 's');
    (*attempted)[k].push_back(v);
    s = db->Put(k, v);
    if (s.ok()) (*acked)[k] = v;
  }
  return s;
}

// A reopen without faults holds every acknowledged write (or a later attempted one) and
// nothing never attempted.
void VerifyStormOutcome(DB* db, const Attempts& attempted,
                        const std::map<std::string, std::string>& acked, uint64_t seed) {
  for (const auto& [k, vals] : attempted) {
    std::string got;
    Status s = db->Get(k, &got);
    ASSERT_TRUE(s.ok() || s.IsNotFound()) << k << ": " << s.ToString();
    auto a = acked.find(k);
    if (a == acked.end()) {
      // Never acknowledged: absent or one of the attempted values.
      if (s.ok()) {
        EXPECT_NE(std::find(vals.begin(), vals.end(), got), vals.end())
            << "PHANTOM " << k << " = " << Printable(got) << " [RINGDB_SEED=" << seed << "]";
      }
      continue;
    }
    // Acknowledged: the acknowledged value or a later attempted one.
    auto pos = std::find(vals.begin(), vals.end(), a->second);
    EXPECT_TRUE(s.ok() && std::find(pos, vals.end(), got) != vals.end())
        << "LOST acknowledged " << k << " = " << Printable(a->second) << ", got " << s.ToString()
        << " " << Printable(got) << " [RINGDB_SEED=" << seed << "]";
  }
}

// Epochs of random operations under random faults; an epoch ends when the shard has
// gone read-only (a few failures in a row) or after 250 ops, then the store is reopened
// with new faults. In the end, a reopen without faults must hold every acknowledged
// write (or a later attempted one) and nothing never attempted.
TEST_F(FaultTest, RandomFaultStormNeverLosesAcknowledgedWrites) {
  const uint64_t seed = dbtest::TestSeed("FaultTest.RandomFaultStorm");
  std::mt19937_64 rng(seed);
  // key -> every value ever attempted (acknowledged or not), in order.
  Attempts attempted;
  int ok = 0, failed = 0, epochs_readonly = 0, open_failures = 0;
  uint64_t injected = 0;
  for (int epoch = 0; epoch < 8; ++epoch) {
    std::shared_ptr<FaultController> ctl = StormFaults(rng);
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(ctl);
    std::unique_ptr<DB> db;
    Status os = ringdb::testing::OpenWithHooks(Opts(), hooks, &db);
    if (!os.ok()) {
      // A fault during recovery: a clean error is fine, the next epoch retries.
      EXPECT_TRUE(IsIoFailure(os)) << "Open: " << os.ToString() << " [RINGDB_SEED=" << seed << "]";
      ++open_failures;
      injected += ctl->counters().injected();
      continue;
    }
    int fails_in_row = 0;
    for (int i = 0; i < 250 && fails_in_row < 3; ++i) {
      Status s = StormOp(db.get(), rng, epoch, i, &attempted, &acked_);
      if (s.ok()) {
        ++ok;
        fails_in_row = 0;
      } else {
        ++failed;
        ++fails_in_row;
        EXPECT_TRUE(IsIoFailure(s)) << "epoch " << epoch << " op " << i << ": " << s.ToString()
                                    << " [RINGDB_SEED=" << seed << "]";
      }
    }
    if (fails_in_row >= 3) ++epochs_readonly;
    db->Close();
    db.reset();
    injected += ctl->counters().injected();
  }
  std::fprintf(stderr,
               "[ fault] storm seed=%llu ok=%d failed=%d injected=%llu epochs_readonly=%d "
               "open_failures=%d\n",
               static_cast<unsigned long long>(seed), ok, failed,
               static_cast<unsigned long long>(injected), epochs_readonly, open_failures);
  EXPECT_GT(injected, 0u);
  EXPECT_GT(ok, 0);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(Opts(), &db));
  VerifyStormOutcome(db.get(), attempted, acked_, seed);
  ASSERT_OK(db->Close());
}

}  // namespace
}  // namespace faulttest
}  // namespace ringdb
