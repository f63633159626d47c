// Model-based random test: random Put/Delete/Write(batch)/Get (blocking and async),
// MultiGet, iterators (every seek kind, random walks both ways, random bounds and chunk
// sizes) and snapshots (reads and iterators at a snapshot compared with a copy of the
// model taken with it), applied to ringdb and to a std::map, with periodic Flush
// (memtable -> SSTable; the small memtables make compactions run too) and Close +
// reopen; the whole key universe is compared after every reopen. Both I/O backends.
// Some puts carry a deadline (WriteOptions::expire_at_unix_ms, WriteBatch::Put) and a
// controllable clock (Options::clock_ms) moves forward: the model hides a key from its
// deadline on, as the store must, through memtables, flushes, compactions and reopens.
// The store, the model and the comparisons are model_test_fixture.h; the operations,
// one method per kind, are here.
//
// Replay: RINGDB_SEED=<seed> (printed at the start). Length: RINGDB_MODEL_OPS (default
// 4000; the 'soak' suite runs far more).
#include "tests/db/model_test_fixture.h"

namespace ringdb::modeltest {
namespace {

class ModelTest : public ModelTestBase {
 protected:
  struct Counts {
    uint64_t put = 0, del = 0, batch = 0, get = 0, async = 0, flush = 0, reopen = 0;
    uint64_t iter = 0, multiget = 0, snap = 0;
  };

  // Reads of everything added later: iterators, MultiGet, snapshots (taken, read at,
  // released). Drawn first so the original op mix (RandomOp) keeps its seed stream.
  void RandomRead() {
    const uint64_t extra = rng_() % 1000;
    if (extra < 60) {
      Log("Iterator");
      ASSERT_TRUE(CheckIterator(LiveModel(model_), ReadOptions(), "latest"));
      ++n_.iter;
    } else if (extra < 100) {
      Log("MultiGet");
      ASSERT_TRUE(CheckMultiGet(LiveModel(model_), ReadOptions(), "latest"));
      ++n_.multiget;
    } else if (extra < 110 && snaps_.size() < 3) {
      Log("GetSnapshot");
      const Snapshot* snap = db_->GetSnapshot();
      ASSERT_TRUE(snap != nullptr) << Context();
      snaps_.push_back(LiveSnapshot{snap, model_});
      ++n_.snap;
    } else if (extra < 150 && !snaps_.empty()) {
      ReadAtSnapshot();
    }
  }

  // A Get, an iterator or a MultiGet at a random live snapshot, or its release.
  void ReadAtSnapshot() {
    LiveSnapshot& ls = snaps_[rng_() % snaps_.size()];
    ReadOptions ro;
    ro.snapshot = ls.snap;
    const uint64_t what = rng_() % 4;
    if (what == 0) {
      const std::string& k = RandomKey();
      Log("Get at snapshot " + Printable(k));
      std::string got;
      Status s = db_->Get(ro, k, &got);
      auto m = ls.model.find(k);
      if (m == ls.model.end() || !Live(m->second)) {
        ASSERT_TRUE(s.IsNotFound()) << "snapshot Get(" << Printable(k) << ") want NotFound, got "
                                    << s.ToString() << " " << Printable(got) << Context();
      } else {
        ASSERT_TRUE(s.ok() && got == m->second.value)
            << "snapshot Get(" << Printable(k) << ") want " << Printable(m->second.value)
            << ", got " << s.ToString() << " " << Printable(got) << Context();
      }
    } else if (what == 1) {
      Log("Iterator at snapshot");
      ASSERT_TRUE(CheckIterator(LiveModel(ls.model), ro, "snapshot"));
    } else if (what == 2) {
      Log("MultiGet at snapshot");
      ASSERT_TRUE(CheckMultiGet(LiveModel(ls.model), ro, "snapshot"));
    } else {
      Log("ReleaseSnapshot");
      db_->ReleaseSnapshot(ls.snap);
      std::swap(ls, snaps_.back());
      snaps_.pop_back();
    }
  }

  // The op mix: Put 33%, Delete 10%, Write(batch) 10%, Get 35%, async 11%, Flush 0.7%,
  // Close + reopen 0.3%.
  void RandomOp() {
    const uint64_t r = rng_() % 1000;
    if (r < 330) {
      const std::string& k = RandomKey();
      std::string v = RandomValue();
      WriteOptions wo;
      wo.expire_at_unix_ms = RandomDeadline();
      Log("Put " + Printable(k) + " len " + std::to_string(v.size()) + " expiring at " +
          std::to_string(wo.expire_at_unix_ms));
      Status s = db_->Put(wo, k, v);
      ASSERT_TRUE(s.ok()) << "Put: " << s.ToString() << Context();
      model_[k] = Entry{std::move(v), wo.expire_at_unix_ms};
      ++n_.put;
    } else if (r < 430) {
      const std::string& k = RandomKey();
      Log("Delete " + Printable(k));
      Status s = db_->Delete(k);
      ASSERT_TRUE(s.ok()) << "Delete: " << s.ToString() << Context();
      model_.erase(k);
      ++n_.del;
    } else if (r < 530) {
      WriteRandomBatch();
    } else if (r < 880) {
      const std::string& k = RandomKey();
      Log("Get " + Printable(k));
      ASSERT_TRUE(Check(k, "random"));
      ++n_.get;
    } else if (r < 990) {
      AsyncOp();
    } else if (r < 997) {
      Log("Flush");
      Status s = db_->Flush();
      ASSERT_TRUE(s.ok()) << "Flush: " << s.ToString() << Context();
      ++n_.flush;
    } else {
      Reopen();
    }
  }

  // Write(batch), possibly several updates of one key.
  void WriteRandomBatch() {
    WriteBatch b;
    std::vector<std::pair<std::string, std::optional<Entry>>> ups;
    const int n = 1 + static_cast<int>(rng_() % 20);
    for (int i = 0; i < n; ++i) {
      const std::string& k = RandomKey();
      if (rng_() % 4 == 0) {
        b.Delete(k);
        ups.emplace_back(k, std::nullopt);
      } else {
        std::string v = RandomValue();
        const uint64_t deadline = RandomDeadline();
        b.Put(k, v, deadline);
        ups.emplace_back(k, Entry{std::move(v), deadline});
      }
    }
    Log("Write batch of " + std::to_string(n));
    Status s = db_->Write(b);
    ASSERT_TRUE(s.ok()) << "Write: " << s.ToString() << Context();
    for (auto& [k, v] : ups) {
      if (v.has_value()) {
        model_[k] = std::move(*v);
      } else {
        model_.erase(k);
      }
    }
    ++n_.batch;
  }

  // PutAsync, DeleteAsync or GetAsync, waited for.
  void AsyncOp() {
    const std::string& k = RandomKey();
    OneShot done;
    Status s;
    std::string got;
    const uint64_t which = rng_() % 3;
    if (which == 0) {
      std::string v = RandomValue();
      Log("PutAsync " + Printable(k));
      db_->PutAsync(k, v, [&done](Status st) { done.Set(std::move(st), {}); });
      ASSERT_TRUE(done.Wait(&s, nullptr)) << "PutAsync callback missing or repeated" << Context();
      ASSERT_TRUE(s.ok()) << "PutAsync: " << s.ToString() << Context();
      model_[k] = Entry{std::move(v), 0};
    } else if (which == 1) {
      Log("DeleteAsync " + Printable(k));
      db_->DeleteAsync(k, [&done](Status st) { done.Set(std::move(st), {}); });
      ASSERT_TRUE(done.Wait(&s, nullptr))
          << "DeleteAsync callback missing or repeated" << Context();
      ASSERT_TRUE(s.ok()) << "DeleteAsync: " << s.ToString() << Context();
      model_.erase(k);
    } else {
      Log("GetAsync " + Printable(k));
      db_->GetAsync(k, [&done](Status st, std::string_view v) { done.Set(std::move(st), v); });
      ASSERT_TRUE(done.Wait(&s, &got)) << "GetAsync callback missing or repeated" << Context();
      auto it = model_.find(k);
      if (it == model_.end() || !Live(it->second)) {
        ASSERT_TRUE(s.IsNotFound()) << "GetAsync(" << Printable(k) << ") want NotFound, got "
                                    << s.ToString() << " " << Printable(got) << Context();
      } else {
        ASSERT_TRUE(s.ok() && got == it->second.value)
            << "GetAsync(" << Printable(k) << ") want " << Printable(it->second.value) << ", got "
            << s.ToString() << " " << Printable(got) << Context();
      }
    }
    ++n_.async;
  }

  // Close + reopen, then compare everything.
  void Reopen() {
    Log("Close+reopen");
    // Every other time, compare first (a mismatch after the reopen then comes from
    // it); the other times Close right after the last write, while a flush may run.
    if (n_.reopen % 2 == 1) {
      ASSERT_TRUE(CheckAll("before close"));
      for (const LiveSnapshot& ls : snaps_) {
        ReadOptions ro;
        ro.snapshot = ls.snap;
        ASSERT_TRUE(CheckScan(LiveModel(ls.model), ro, "snapshot before close"));
      }
    }
    ReleaseSnapshots();
    Status s = db_->Close();
    ASSERT_TRUE(s.ok()) << "Close: " << s.ToString() << Context();
    ASSERT_TRUE(OpenDb());
    ASSERT_TRUE(CheckAll("after reopen"));
    ASSERT_TRUE(CheckScan(LiveModel(model_), ReadOptions(), "after reopen"));
    ++n_.reopen;
  }

  // The last comparisons: before a final Close, after the reopen, after a Flush.
  void FinalCheck(Stats* stats) {
    Log("final Close+reopen");
    ASSERT_TRUE(CheckAll("before final close"));
    ASSERT_TRUE(CheckScan(LiveModel(model_), ReadOptions(), "before final close"));
    for (const LiveSnapshot& ls : snaps_) {
      ReadOptions ro;
      ro.snapshot = ls.snap;
      ASSERT_TRUE(CheckScan(LiveModel(ls.model), ro, "snapshot at the end"));
    }
    ReleaseSnapshots();
    ASSERT_OK(db_->GetStats(stats));
    ASSERT_OK(db_->Close());
    ASSERT_TRUE(OpenDb());
    ASSERT_TRUE(CheckAll("after final reopen"));
    ASSERT_OK(db_->Flush());
    ASSERT_TRUE(CheckAll("after final flush"));
    ASSERT_TRUE(CheckScan(LiveModel(model_), ReadOptions(), "after final flush"));
  }

  Counts n_;
};

TEST_P(ModelTest, RandomOpsMatchStdMap) {
  seed_ = dbtest::TestSeed(::testing::UnitTest::GetInstance()->current_test_info()->name());
  rng_.seed(seed_ * 2 + static_cast<uint64_t>(GetParam()));
  const uint64_t ops = dbtest::EnvU64("RINGDB_MODEL_OPS", 4000);
  opt_ = dbtest::SmallOptions(tmp_.Sub("db"), 1 + static_cast<uint32_t>(rng_() % 3));
  opt_.io_backend = GetParam();
  const Durability modes[] = {Durability::kSync, Durability::kPeriodic, Durability::kNone};
  opt_.durability = modes[rng_() % 3];
  opt_.periodic_sync_ms = 5;
  opt_.clock_ms = [this] { return now_ms_.load(); };
  MakeKeys();
  if (!OpenDb()) {
    if (skipped_) GTEST_SKIP() << "backend not supported by DB::Open (see log)";
    return;
  }
  for (op_ = 0; op_ < ops; ++op_) {
    ASSERT_NO_FATAL_FAILURE(RandomRead());
    if (rng_() % 20 == 0) {  // time passes
      now_ms_ += rng_() % 400;
      Log("clock now " + std::to_string(now_ms_.load()));
    }
    ASSERT_NO_FATAL_FAILURE(RandomOp());
  }
  Stats stats;
  ASSERT_NO_FATAL_FAILURE(FinalCheck(&stats));
  std::fprintf(stderr,
               "[ model] seed=%llu backend=%s shards=%u durability=%s ops=%llu: put=%llu "
               "delete=%llu batch=%llu get=%llu async=%llu flush=%llu reopen=%llu "
               "iterators=%llu multiget=%llu snapshots=%llu compactions=%llu live=%zu "
               "sst_bytes=%llu\n",
               static_cast<unsigned long long>(seed_), KindName(GetParam()), opt_.shards,
               DurabilityName(opt_.durability), static_cast<unsigned long long>(ops),
               static_cast<unsigned long long>(n_.put), static_cast<unsigned long long>(n_.del),
               static_cast<unsigned long long>(n_.batch), static_cast<unsigned long long>(n_.get),
               static_cast<unsigned long long>(n_.async), static_cast<unsigned long long>(n_.flush),
               static_cast<unsigned long long>(n_.reopen), static_cast<unsigned long long>(n_.iter),
               static_cast<unsigned long long>(n_.multiget),
               static_cast<unsigned long long>(n_.snap),
               static_cast<unsigned long long>(stats.total.compactions), LiveModel(model_).size(),
               static_cast<unsigned long long>(dbtest::TotalBytesWithSuffix(opt_.path, ".sst")));
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const ::testing::TestParamInfo<IoBackendKind>& info) {
                           return info.param == IoBackendKind::kUring ? std::string("Uring")
                                                                      : std::string("Aio");
                         });

}  // namespace
}  // namespace ringdb::modeltest
