// Power loss: the store runs on FaultBackends (testing::OpenWithHooks) that journal
// every write not yet covered by an fsync. At a random moment, with async writes in
// flight and background flushes running, the test abandons the DB (testing::Crash),
// rolls the disk back to what a machine could hold after losing power
// (FaultController::SimulatePowerLoss: drop unsynced writes, keep a random prefix, or
// tear them per 4 KiB page; un-fsynced creates/renames/unlinks undone), reopens without
// faults and checks:
//   - the store opens (a power loss never corrupts it);
//   - every key holds a value from its own history no older than the last write that
//     had to be durable: in sync mode every acknowledged write, in none/periodic mode
//     everything acknowledged before the last successful Flush();
//   - nothing never written appears.
// Cycles repeat on the same store, sometimes crashing again during recovery.
// The *Compaction variants write ~3.5 KB values and more ops per cycle into 64 KiB
// memtables, so that flushes and compactions are running (and get cut off) when power
// is lost; they fail if no compaction ever ran before a crash.
//
// Replay: RINGDB_SEED=<seed>. Cycles: RINGDB_POWERLOSS_CYCLES (default 10 per mode).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "testing/fault_backend.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::Printable;
using dbtest::TempDir;
using io::FaultController;
using io::PowerLossMode;

constexpr int kKeys = 300;
constexpr size_t kMaxInFlight = 24;

const char* ModeName(PowerLossMode m) {
  switch (m) {
    case PowerLossMode::kDropUnsynced:
      return "drop";
    case PowerLossMode::kKeepPrefix:
      return "prefix";
    case PowerLossMode::kTearPages:
      return "tear";
  }
  return "?";
}

std::string PlKey(int i) {
  return dbtest::KeyN("pl-", static_cast<uint64_t>(i) * 104729 % 1000003);
}

// Everything a key may legitimately hold: history[floor..] (nullopt = absent).
struct KeyHistory {
  std::vector<std::optional<std::string>> history{std::nullopt};
  size_t floor = 0;  // oldest entry that may survive
  size_t acked = 0;  // newest acknowledged entry
  bool in_flight = false;
};

// Completions of async ops arrive on shard threads.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, Status>> done;  // (op id, status)
  bool crashed = false;
  uint64_t after_crash = 0;
};

struct PendingOp {
  std::vector<std::pair<int, size_t>> entries;  // (key index, history index)
};

struct PowerLossParam {
  PowerLossMode mode;
  Durability durability;
  bool compaction = false;  // enough data per cycle that compactions run
};

void PrintTo(const PowerLossParam& p, std::ostream* os) {
  *os << ModeName(p.mode) << "/";
  ringdb::PrintTo(p.durability, os);
  if (p.compaction) *os << "/compaction";
}

class PowerLossTest : public ::testing::TestWithParam<PowerLossParam> {
 protected:
  Options Opts() {
    Options opt = dbtest::SmallOptions(tmp_.Sub("db"), 2);
    opt.durability = GetParam().durability;
    opt.periodic_sync_ms = 10;
    return opt;
  }

  std::string Context() const {
    std::ostringstream os;
    os << " [mode=" << ModeName(GetParam().mode)
       << " durability=" << static_cast<int>(GetParam().durability)
       << (GetParam().compaction ? " compaction" : "") << " cycle=" << cycle_
       << " replay: RINGDB_SEED=" << seed_ << "]";
    return os.str();
  }

  Status OpenFaulty(std::shared_ptr<FaultController> ctl, std::unique_ptr<DB>* db) {
    ringdb::testing::OpenHooks hooks;
    hooks.wrap_backend = io::MakeFaultWrapper(std::move(ctl));
    return ringdb::testing::OpenWithHooks(Opts(), hooks, db);
  }

  // Applies a successful completion to the model.
  void Ack(const PendingOp& op) {
    for (auto [k, h] : op.entries) {
      keys_[k].acked = std::max(keys_[k].acked, h);
      keys_[k].in_flight = false;
      if (GetParam().durability == Durability::kSync) keys_[k].floor = keys_[k].acked;
    }
  }

  // Runs random async writes until `ops_before_crash` were issued, then Crash()es with
  // whatever is still in flight. Returns false on a hard failure.
  bool RunAndCrash(DB* raw, std::unique_ptr<DB> db, uint64_t ops_before_crash) {
    auto comp = std::make_shared<Completions>();
    std::map<uint64_t, PendingOp> pending;
    uint64_t next_id = 0;
    for (uint64_t issued = 0; issued < ops_before_crash;) {
      // Reap completions.
      std::vector<std::pair<uint64_t, Status>> done;
      {
        std::unique_lock<std::mutex> lock(comp->mu);
        if (pending.size() >= kMaxInFlight) {
          comp->cv.wait_for(lock, std::chrono::seconds(30), [&] { return !comp->done.empty(); });
        }
        done.swap(comp->done);
      }
      for (auto& [id, s] : done) {
        auto it = pending.find(id);
        if (it == pending.end()) continue;
        if (!s.ok()) {
          ADD_FAILURE() << "async write failed without faults: " << s.ToString() << Context();
          ringdb::testing::Crash(std::move(db));
          return false;
        }
        Ack(it->second);
        pending.erase(it);
      }
      if (pending.size() >= kMaxInFlight) {
        if (done.empty()) {
          ADD_FAILURE() << "no completion in 30 s with " << pending.size() << " in flight"
                        << Context();
          ringdb::testing::Crash(std::move(db));
          return false;
        }
        continue;
      }
      const uint64_t r = rng_() % 100;
      if (r < 3) {
        // A Flush makes everything acknowledged so far durable in every mode.
        Status s = raw->Flush();
        if (!s.ok()) {
          ADD_FAILURE() << "Flush: " << s.ToString() << Context();
          ringdb::testing::Crash(std::move(db));
          return false;
        }
        for (auto& kh : keys_) kh.floor = std::max(kh.floor, kh.acked);
        continue;
      }
      if (!IssueWrite(raw, r, issued, comp, &pending, &next_id)) continue;
      ++issued;
    }
    CrashInFlight(raw, std::move(db), comp, pending);
    return true;
  }

  // Issues one async write of 1 key, or of 2 to 6 keys when r < 20, none of them in
  // flight (a Put, a Delete or a batch); false when every key tried was in flight.
  bool IssueWrite(DB* raw, uint64_t r, uint64_t issued, const std::shared_ptr<Completions>& comp,
                  std::map<uint64_t, PendingOp>* pending, uint64_t* next_id) {
    // Pick keys not in flight.
    const int n = r < 20 ? 2 + static_cast<int>(rng_() % 5) : 1;
    PendingOp op;
    std::set<int> chosen;
    for (int tries = 0; tries < 40 && static_cast<int>(chosen.size()) < n; ++tries) {
      int k = static_cast<int>(rng_() % kKeys);
      if (!keys_[k].in_flight) chosen.insert(k);
    }
    if (chosen.empty()) return false;
    WriteBatch b;
    for (int k : chosen) {
      std::optional<std::string> v;
      if (rng_() % 5 != 0) {
        v = PlKey(k) + "=c" + std::to_string(cycle_) + "." + std::to_string(issued) + ":" +
            std::string(rng_() % 3000 + (GetParam().compaction ? 2000 : 0),
                        static_cast<char>('a' + rng_() % 26));
      }
      keys_[k].history.push_back(v);
      keys_[k].in_flight = true;
      op.entries.emplace_back(k, keys_[k].history.size() - 1);
      if (v) {
        b.Put(PlKey(k), *v);
      } else {
        b.Delete(PlKey(k));
      }
    }
    const uint64_t id = (*next_id)++;
    pending->emplace(id, op);
    auto cb = [comp, id](Status s) {
      std::lock_guard<std::mutex> lock(comp->mu);
      if (comp->crashed) {
        ++comp->after_crash;
        return;
      }
      comp->done.emplace_back(id, std::move(s));
      comp->cv.notify_all();
    };
    if (op.entries.size() == 1 && rng_() % 2 == 0) {
      const auto& v = keys_[op.entries[0].first].history.back();
      if (v) {
        raw->PutAsync(PlKey(op.entries[0].first), *v, cb);
      } else {
        raw->DeleteAsync(PlKey(op.entries[0].first), cb);
      }
    } else {
      raw->WriteAsync(b, cb);
    }
    return true;
  }

  // Crashes `db` with `pending` writes in flight; completions that arrived before the
  // crash count as acks.
  void CrashInFlight(DB* raw, std::unique_ptr<DB> db, const std::shared_ptr<Completions>& comp,
                     const std::map<uint64_t, PendingOp>& pending) {
    // Compactions so far in this cycle (GetStats answers from every shard's thread).
    Stats st;
    if (raw->GetStats(&st).ok()) {
      compactions_ += st.total.compactions;
      if (st.total.compactions > 0) ++cycles_compacted_;
    }
    // Crash with writes in flight, after a random pause so that the crash lands in any
    // stage of the commit (queued, written, being synced) or of a background flush or
    // compaction. Completions that arrived before it count as acks.
    std::this_thread::sleep_for(std::chrono::microseconds(rng_() % 4000));
    ringdb::testing::Crash(std::move(db));
    std::vector<std::pair<uint64_t, Status>> done;
    {
      std::lock_guard<std::mutex> lock(comp->mu);
      comp->crashed = true;
      done.swap(comp->done);
    }
    for (auto& [id, s] : done) {
      auto it = pending.find(id);
      if (it != pending.end() && s.ok()) Ack(it->second);
    }
    in_flight_at_crash_ += pending.size();
    for (auto& kh : keys_) kh.in_flight = false;
  }

  // Reopens without faults and checks every key; settles the model on what is there.
  void VerifyAndSettle(const char* stage) {
    std::unique_ptr<DB> db;
    Status s = DB::Open(Opts(), &db);
    ASSERT_TRUE(s.ok()) << stage << ": reopen after power loss failed: " << s.ToString()
                        << Context();
    for (int k = 0; k < kKeys; ++k) {
      KeyHistory& kh = keys_[k];
      std::string got;
      Status g = db->Get(PlKey(k), &got);
      ASSERT_TRUE(g.ok() || g.IsNotFound())
          << stage << ": Get(" << PlKey(k) << "): " << g.ToString() << Context();
      std::optional<std::string> have;
      if (g.ok()) have = got;
      size_t match = kh.history.size();
      for (size_t h = kh.history.size(); h-- > 0;) {
        if (kh.history[h] == have) {
          match = h;
          break;
        }
      }
      if (match == kh.history.size()) {
        ++phantoms_;
        ADD_FAILURE() << stage << ": PHANTOM " << PlKey(k) << " = "
                      << (have ? Printable(*have) : "<absent>") << " was never written"
                      << Context();
      } else if (match < kh.floor) {
        // An older entry equal to a newer one would have matched above: this is a loss.
        ++lost_;
        ADD_FAILURE() << stage << ": LOST durable write to " << PlKey(k) << ": want history #"
                      << kh.floor << " "
                      << (kh.history[kh.floor] ? Printable(*kh.history[kh.floor]) : "<absent>")
                      << " or newer, got #" << match << " "
                      << (have ? Printable(*have) : "<absent>") << Context();
      }
      kh.history.assign(1, have);
      kh.floor = kh.acked = 0;
    }
    ASSERT_OK(db->Close());
  }

  TempDir tmp_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  uint64_t cycle_ = 0;
  std::vector<KeyHistory> keys_ = std::vector<KeyHistory>(kKeys);
  uint64_t lost_ = 0, phantoms_ = 0, in_flight_at_crash_ = 0;
  uint64_t compactions_ = 0, cycles_compacted_ = 0;  // before the crashes
};

TEST_P(PowerLossTest, AcknowledgedWritesSurvivePowerLoss) {
  seed_ = dbtest::TestSeed(::testing::UnitTest::GetInstance()->current_test_info()->name());
  rng_.seed(seed_);
  const uint64_t cycles = dbtest::EnvU64("RINGDB_POWERLOSS_CYCLES", 10);
  io::PowerLossReport total;
  uint64_t double_crashes = 0;
  for (cycle_ = 0; cycle_ < cycles; ++cycle_) {
    auto ctl = std::make_shared<FaultController>();
    // Slow some I/O down (completion delays of up to 3 ms) so that a crash finds writes
    // done but not yet fsynced, and fsyncs in flight.
    ctl->AddRule(io::FaultRule::Delay(1000000 + rng_() % 2000000)
                     .On(io::kWriteOps | io::kSyncOps)
                     .WithProbability(0.3, rng_()));
    std::unique_ptr<DB> db;
    Status s = OpenFaulty(ctl, &db);
    ASSERT_TRUE(s.ok()) << "OpenWithHooks: " << s.ToString() << Context();
    DB* raw = db.get();
    const uint64_t ops = GetParam().compaction ? 200 + rng_() % 600 : 20 + rng_() % 400;
    ASSERT_TRUE(RunAndCrash(raw, std::move(db), ops));
    io::PowerLossReport rep;
    ASSERT_OK(ctl->SimulatePowerLoss(GetParam().mode, rng_(), &rep));
    total.files += rep.files;
    total.writes_kept += rep.writes_kept;
    total.writes_reverted += rep.writes_reverted;
    total.dir_ops_undone += rep.dir_ops_undone;
    if (rng_() % 3 == 0) {
      // Lose power again right after recovery starts writing (new WAL, manifest).
      ++double_crashes;
      auto ctl2 = std::make_shared<FaultController>();
      std::unique_ptr<DB> db2;
      s = OpenFaulty(ctl2, &db2);
      ASSERT_TRUE(s.ok()) << "recovery after power loss failed: " << s.ToString() << Context();
      ringdb::testing::Crash(std::move(db2));
      ASSERT_OK(ctl2->SimulatePowerLoss(GetParam().mode, rng_(), &rep));
      total.files += rep.files;
      total.writes_kept += rep.writes_kept;
      total.writes_reverted += rep.writes_reverted;
      total.dir_ops_undone += rep.dir_ops_undone;
    }
    ASSERT_NO_FATAL_FAILURE(VerifyAndSettle("after power loss"));
    if (HasFailure()) break;
  }
  std::fprintf(stderr,
               "[ power] mode=%s durability=%d seed=%llu cycles=%llu double_crashes=%llu "
               "in_flight_at_crash=%llu files=%llu writes_kept=%llu writes_reverted=%llu "
               "dir_ops_undone=%llu lost=%llu phantoms=%llu compactions=%llu "
               "cycles_compacted=%llu\n",
               ModeName(GetParam().mode), static_cast<int>(GetParam().durability),
               static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(cycles),
               static_cast<unsigned long long>(double_crashes),
               static_cast<unsigned long long>(in_flight_at_crash_),
               static_cast<unsigned long long>(total.files),
               static_cast<unsigned long long>(total.writes_kept),
               static_cast<unsigned long long>(total.writes_reverted),
               static_cast<unsigned long long>(total.dir_ops_undone),
               static_cast<unsigned long long>(lost_), static_cast<unsigned long long>(phantoms_),
               static_cast<unsigned long long>(compactions_),
               static_cast<unsigned long long>(cycles_compacted_));
  EXPECT_EQ(lost_, 0u);
  EXPECT_EQ(phantoms_, 0u);
  // Not vacuous: something unsynced must have existed at some crash.
  EXPECT_GT(total.files + total.dir_ops_undone, 0u)
      << "no crash ever found unsynced data: the test exercised nothing";
  if (GetParam().compaction) {
    EXPECT_GT(cycles_compacted_, 0u) << "no compaction ran before any crash: the compaction "
                                        "variant exercised nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, PowerLossTest,
    ::testing::Values(PowerLossParam{PowerLossMode::kDropUnsynced, Durability::kSync},
                      PowerLossParam{PowerLossMode::kKeepPrefix, Durability::kSync},
                      PowerLossParam{PowerLossMode::kTearPages, Durability::kSync},
                      PowerLossParam{PowerLossMode::kTearPages, Durability::kNone},
                      PowerLossParam{PowerLossMode::kKeepPrefix, Durability::kPeriodic},
                      PowerLossParam{PowerLossMode::kTearPages, Durability::kSync, true},
                      PowerLossParam{PowerLossMode::kKeepPrefix, Durability::kSync, true},
                      PowerLossParam{PowerLossMode::kDropUnsynced, Durability::kNone, true}),
    [](const ::testing::TestParamInfo<PowerLossParam>& info) {
      std::string d = info.param.durability == Durability::kSync       ? "Sync"
                      : info.param.durability == Durability::kPeriodic ? "Periodic"
                                                                       : "None";
      return std::string(ModeName(info.param.mode)) + d +
             (info.param.compaction ? "Compaction" : "");
    });

}  // namespace
}  // namespace ringdb
