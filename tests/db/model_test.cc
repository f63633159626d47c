// Model-based random test: random Put/Delete/Write(batch)/Get (blocking and async),
// MultiGet, iterators (every seek kind, random walks both ways, random bounds and chunk
// sizes) and snapshots (reads and iterators at a snapshot compared with a copy of the
// model taken with it), applied to ringdb and to a std::map, with periodic Flush
// (memtable -> SSTable; the small memtables make compactions run too) and Close +
// reopen; the whole key universe is compared after every reopen. Both I/O backends.
// Some puts carry a deadline (WriteOptions::expire_at_unix_ms, WriteBatch::Put) and a
// controllable clock (Options::clock_ms) moves forward: the model hides a key from its
// deadline on, as the store must, through memtables, flushes, compactions and reopens.
//
// Replay: RINGDB_SEED=<seed> (printed at the start). Length: RINGDB_MODEL_OPS (default
// 4000; the 'soak' suite runs far more).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "io/io_backend.h"
#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::Printable;
using dbtest::TempDir;

const char* KindName(IoBackendKind k) {
  switch (k) {
    case IoBackendKind::kUring:
      return "io_uring";
    case IoBackendKind::kAio:
      return "libaio";
    case IoBackendKind::kAuto:
      return "auto";
  }
  return "?";
}

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kSync:
      return "sync";
    case Durability::kPeriodic:
      return "periodic";
    case Durability::kNone:
      return "none";
  }
  return "?";
}

// Waits for one async callback (the test issues one async op at a time so that the
// model's order of operations is the store's).
class OneShot {
 public:
  void Set(Status s, std::string_view v) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    status_ = std::move(s);
    value_.assign(v.data(), v.size());
    cv_.notify_all();
  }
  bool Wait(Status* s, std::string* v) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_ > 0; })) return false;
    *s = status_;
    if (v != nullptr) *v = value_;
    return calls_ == 1;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  Status status_;
  std::string value_;
};

class ModelTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == IoBackendKind::kUring ? io::ProbeUring() : io::ProbeAio();
    if (!probe.ok()) {
      GTEST_SKIP() << KindName(GetParam()) << " backend unavailable here: " << probe.ToString();
    }
  }

  // Opens the store; false (with a skip or failure recorded) when it cannot.
  bool OpenDb() {
    db_.reset();
    Status s = DB::Open(opt_, &db_);
    if (s.IsNotSupported()) {
      skipped_ = true;
      std::fprintf(stderr, "[ skip ] DB::Open with %s: %s\n", KindName(GetParam()),
                   s.ToString().c_str());
      return false;
    }
    EXPECT_TRUE(s.ok()) << "Open: " << s.ToString() << Context();
    if (!s.ok()) return false;
    const std::string backend = db_->io_backend();
    EXPECT_TRUE(dbtest::StartsWith(backend, KindName(GetParam())))
        << "asked for " << KindName(GetParam()) << ", store reports '" << backend << "'";
    return true;
  }

  std::string Context() const {
    std::ostringstream os;
    os << "\n  seed=" << seed_ << " op#" << op_ << " backend=" << KindName(GetParam())
       << " shards=" << opt_.shards << " durability=" << DurabilityName(opt_.durability)
       << "\n  replay: RINGDB_SEED=" << seed_ << " db_test --gtest_filter='"
       << ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() << "."
       << ::testing::UnitTest::GetInstance()->current_test_info()->name() << "'"
       << "\n  last ops:";
    for (const auto& l : recent_) os << "\n    " << l;
    return os.str();
  }
  void Log(std::string line) {
    recent_.push_back(std::move(line));
    if (recent_.size() > 24) recent_.pop_front();
  }

  // Compares one key with the model; returns false on mismatch (failure recorded).
  bool Check(const std::string& key, const char* how) {
    std::string got;
    uint64_t deadline = 0;
    Status s = db_->Get(ReadOptions(), key, &got, &deadline);
    auto it = model_.find(key);
    if (it == model_.end() || !Live(it->second)) {
      EXPECT_TRUE(s.IsNotFound()) << how << " Get(" << Printable(key) << ") want NotFound, got "
                                  << s.ToString() << " " << Printable(got) << Context();
      return s.IsNotFound();
    }
    const bool good = s.ok() && got == it->second.value && deadline == it->second.expire_at;
    EXPECT_TRUE(good) << how << " Get(" << Printable(key) << ") want "
                      << Printable(it->second.value) << " expiring at " << it->second.expire_at
                      << ", got " << s.ToString() << " " << Printable(got) << " expiring at "
                      << deadline << Context();
    return good;
  }
  bool CheckAll(const char* how) {
    for (const auto& k : keys_) {
      if (!Check(k, how)) return false;
    }
    return true;
  }

  std::string RandomValue() {
    uint64_t r = rng_() % 1000;
    size_t len;
    if (r < 5) {
      len = 64 * 1024 + rng_() % (256 * 1024);  // bigger than a memtable
    } else if (r < 60) {
      len = 1024 + rng_() % (20 * 1024);
    } else {
      len = rng_() % 300;
    }
    // Mostly compressible, sometimes random bytes.
    if (rng_() % 4 == 0) return dbtest::RandomBytes(rng_, len);
    std::string v = dbtest::KeyN("v", op_) + ":";
    while (v.size() < len) v += v;
    v.resize(len);
    return v;
  }
  const std::string& RandomKey() { return keys_[rng_() % keys_.size()]; }
  // A key from the universe or, sometimes, bytes that are probably not in it.
  std::string RandomProbe() {
    if (rng_() % 4 == 0) return dbtest::RandomBytes(rng_, rng_() % 6);
    std::string k = RandomKey();
    if (rng_() % 3 == 0) k.push_back(static_cast<char>(rng_() % 256));
    return k;
  }

  using Model = std::map<std::string, std::string>;
  // What was written: values with their deadlines (0: none).
  struct Entry {
    std::string value;
    uint64_t expire_at = 0;
  };
  using FullModel = std::map<std::string, Entry>;
  bool Live(const Entry& e) const { return e.expire_at == 0 || e.expire_at > now_ms_.load(); }
  // The keys a reader sees now.
  Model LiveModel(const FullModel& full) const {
    Model m;
    for (const auto& [k, e] : full) {
      if (Live(e)) m.emplace(k, e.value);
    }
    return m;
  }
  // No deadline most of the time; else one from the recent past to a while ahead.
  uint64_t RandomDeadline() {
    if (rng_() % 5 != 0) return 0;
    return now_ms_.load() - 50 + rng_() % 2000;
  }

  // One iterator over `model` (the store's state at ro.snapshot, or now): a random
  // seek, then a random walk of Next/Prev, every position compared.
  bool CheckIterator(const Model& model, ReadOptions ro, const char* how) {
    if (rng_() % 2 == 0) ro.lower_bound = RandomProbe();
    if (rng_() % 2 == 0) ro.upper_bound = RandomProbe();
    if (ro.lower_bound && ro.upper_bound && *ro.upper_bound < *ro.lower_bound) {
      std::swap(ro.lower_bound, ro.upper_bound);
    }
    const size_t chunks[] = {1, 100, 4096, 64 * 1024};
    ro.iterator_chunk_bytes = chunks[rng_() % 4];
    auto in = [&](const std::string& k) {
      return (!ro.lower_bound || k >= *ro.lower_bound) && (!ro.upper_bound || k < *ro.upper_bound);
    };
    std::unique_ptr<Iterator> it = db_->NewIterator(ro);
    EXPECT_TRUE(it != nullptr);
    if (it == nullptr) return false;
    Model::const_iterator pos = model.end();  // end() = not valid
    auto first_from = [&](Model::const_iterator p) {
      return p != model.end() && in(p->first) ? p : model.end();
    };
    auto last_before = [&](Model::const_iterator p) {  // the entry before p, if in bounds
      if (p == model.begin()) return model.end();
      --p;
      return in(p->first) ? p : model.end();
    };
    std::string desc = "[" + (ro.lower_bound ? Printable(*ro.lower_bound) : std::string("-")) +
                       ", " + (ro.upper_bound ? Printable(*ro.upper_bound) : std::string("-")) +
                       ") chunk " + std::to_string(ro.iterator_chunk_bytes) + ": ";
    switch (rng_() % 4) {
      case 0:
        it->SeekToFirst();
        pos = first_from(ro.lower_bound ? model.lower_bound(*ro.lower_bound) : model.begin());
        desc += "SeekToFirst";
        break;
      case 1:
        it->SeekToLast();
        pos = last_before(ro.upper_bound ? model.lower_bound(*ro.upper_bound) : model.end());
        desc += "SeekToLast";
        break;
      case 2: {
        std::string t = RandomProbe();
        it->Seek(t);
        std::string from = ro.lower_bound && *ro.lower_bound > t ? *ro.lower_bound : t;
        pos = first_from(model.lower_bound(from));
        desc += "Seek(" + Printable(t) + ")";
        break;
      }
      default: {
        std::string t = RandomProbe();
        it->SeekForPrev(t);
        auto after = model.upper_bound(t);  // the entries before it are <= t
        if (ro.upper_bound && (after == model.end() || after->first > *ro.upper_bound)) {
          after = model.lower_bound(*ro.upper_bound);
        }
        pos = last_before(after);
        desc += "SeekForPrev(" + Printable(t) + ")";
        break;
      }
    }
    const int steps = static_cast<int>(rng_() % 40);
    for (int step = 0;; step++) {
      const bool want_valid = pos != model.end();
      EXPECT_EQ(it->Valid(), want_valid)
          << how << " iterator after " << desc << ": status " << it->status().ToString()
          << (want_valid ? " want key " + Printable(pos->first) : std::string(" want end"))
          << Context();
      if (it->Valid() != want_valid) return false;
      if (!want_valid) break;
      EXPECT_TRUE(it->key() == pos->first && it->value() == pos->second)
          << how << " iterator after " << desc << ": want " << Printable(pos->first) << "="
          << Printable(pos->second) << ", got " << Printable(it->key()) << "="
          << Printable(it->value()) << Context();
      if (it->key() != pos->first || it->value() != pos->second) return false;
      if (step == steps) break;
      if (rng_() % 3 != 0) {
        it->Next();
        pos = first_from(std::next(pos));
        desc += " Next";
      } else {
        it->Prev();
        pos = last_before(pos);
        desc += " Prev";
      }
    }
    EXPECT_TRUE(it->status().ok())
        << how << " iterator status " << it->status().ToString() << Context();
    return it->status().ok();
  }

  // A full scan forward and backward equals the model.
  bool CheckScan(const Model& model, const ReadOptions& ro, const char* how) {
    std::unique_ptr<Iterator> it = db_->NewIterator(ro);
    auto m = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      EXPECT_TRUE(m != model.end() && it->key() == m->first && it->value() == m->second)
          << how << " forward scan at " << Printable(it->key()) << Context();
      if (m == model.end() || it->key() != m->first || it->value() != m->second) return false;
    }
    EXPECT_TRUE(it->status().ok() && m == model.end())
        << how << " forward scan ended early: " << it->status().ToString() << Context();
    if (!it->status().ok() || m != model.end()) return false;
    auto r = model.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      EXPECT_TRUE(r != model.rend() && it->key() == r->first && it->value() == r->second)
          << how << " backward scan at " << Printable(it->key()) << Context();
      if (r == model.rend() || it->key() != r->first || it->value() != r->second) return false;
    }
    EXPECT_TRUE(it->status().ok() && r == model.rend())
        << how << " backward scan ended early: " << it->status().ToString() << Context();
    return it->status().ok() && r == model.rend();
  }

  bool CheckMultiGet(const Model& model, const ReadOptions& ro, const char* how) {
    std::vector<std::string> ks;
    const size_t n = 1 + rng_() % 40;
    for (size_t i = 0; i < n; i++) ks.push_back(rng_() % 5 == 0 ? RandomProbe() : RandomKey());
    std::vector<std::string_view> views(ks.begin(), ks.end());
    std::vector<std::string> values;
    std::vector<Status> st = db_->MultiGet(ro, views, &values);
    EXPECT_EQ(st.size(), n);
    EXPECT_EQ(values.size(), n);
    if (st.size() != n || values.size() != n) return false;
    for (size_t i = 0; i < n; i++) {
      auto m = model.find(ks[i]);
      const bool good =
          m == model.end() ? st[i].IsNotFound() : st[i].ok() && values[i] == m->second;
      EXPECT_TRUE(good) << how << " MultiGet[" << i << "] " << Printable(ks[i]) << ": want "
                        << (m == model.end() ? std::string("NotFound") : Printable(m->second))
                        << ", got " << st[i].ToString() << " " << Printable(values[i]) << Context();
      if (!good) return false;
    }
    return true;
  }

  struct LiveSnapshot {
    const Snapshot* snap;
    FullModel model;  // deadlines are judged when the snapshot is read
  };
  void ReleaseSnapshots() {
    for (LiveSnapshot& ls : snaps_) db_->ReleaseSnapshot(ls.snap);
    snaps_.clear();
  }

  void MakeKeys() {
    // Printable keys with shared prefixes, plus binary ones and edge lengths.
    for (int i = 0; i < 300; ++i) keys_.push_back(dbtest::KeyN("user:", i * 37 % 1000));
    for (int i = 0; i < 100; ++i) {
      keys_.push_back(dbtest::RandomBytes(rng_, 1 + rng_() % 24));
    }
    keys_.push_back(std::string("\0", 1));
    keys_.push_back(std::string(200, 'L'));
    keys_.push_back(std::string(2000, 'M'));
    std::sort(keys_.begin(), keys_.end());
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  }

  TempDir tmp_;
  std::unique_ptr<DB> db_;
  Options opt_;
  FullModel model_;
  std::atomic<uint64_t> now_ms_{1'700'000'000'000};
  std::vector<std::string> keys_;
  std::mt19937_64 rng_;
  uint64_t seed_ = 0;
  uint64_t op_ = 0;
  bool skipped_ = false;
  std::deque<std::string> recent_;
  std::vector<LiveSnapshot> snaps_;
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
  uint64_t n_put = 0, n_del = 0, n_batch = 0, n_get = 0, n_async = 0, n_flush = 0, n_reopen = 0;
  uint64_t n_iter = 0, n_multiget = 0, n_snap = 0;
  for (op_ = 0; op_ < ops; ++op_) {
    // Reads of everything added later: iterators, MultiGet, snapshots (taken, read at,
    // released). Drawn first so the original op mix below keeps its seed stream.
    const uint64_t extra = rng_() % 1000;
    if (extra < 60) {
      Log("Iterator");
      ASSERT_TRUE(CheckIterator(LiveModel(model_), ReadOptions(), "latest"));
      ++n_iter;
    } else if (extra < 100) {
      Log("MultiGet");
      ASSERT_TRUE(CheckMultiGet(LiveModel(model_), ReadOptions(), "latest"));
      ++n_multiget;
    } else if (extra < 110 && snaps_.size() < 3) {
      Log("GetSnapshot");
      const Snapshot* snap = db_->GetSnapshot();
      ASSERT_TRUE(snap != nullptr) << Context();
      snaps_.push_back(LiveSnapshot{snap, model_});
      ++n_snap;
    } else if (extra < 150 && !snaps_.empty()) {
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
    if (rng_() % 20 == 0) {  // time passes
      now_ms_ += rng_() % 400;
      Log("clock now " + std::to_string(now_ms_.load()));
    }
    const uint64_t r = rng_() % 1000;
    if (r < 330) {  // Put
      const std::string& k = RandomKey();
      std::string v = RandomValue();
      WriteOptions wo;
      wo.expire_at_unix_ms = RandomDeadline();
      Log("Put " + Printable(k) + " len " + std::to_string(v.size()) + " expiring at " +
          std::to_string(wo.expire_at_unix_ms));
      Status s = db_->Put(wo, k, v);
      ASSERT_TRUE(s.ok()) << "Put: " << s.ToString() << Context();
      model_[k] = Entry{std::move(v), wo.expire_at_unix_ms};
      ++n_put;
    } else if (r < 430) {  // Delete
      const std::string& k = RandomKey();
      Log("Delete " + Printable(k));
      Status s = db_->Delete(k);
      ASSERT_TRUE(s.ok()) << "Delete: " << s.ToString() << Context();
      model_.erase(k);
      ++n_del;
    } else if (r < 530) {  // Write(batch), possibly several updates of one key
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
      ++n_batch;
    } else if (r < 880) {  // Get
      const std::string& k = RandomKey();
      Log("Get " + Printable(k));
      ASSERT_TRUE(Check(k, "random"));
      ++n_get;
    } else if (r < 990) {  // async put / delete / get
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
      ++n_async;
    } else if (r < 997) {  // Flush
      Log("Flush");
      Status s = db_->Flush();
      ASSERT_TRUE(s.ok()) << "Flush: " << s.ToString() << Context();
      ++n_flush;
    } else {  // Close + reopen, then compare everything
      Log("Close+reopen");
      // Every other time, compare first (a mismatch after the reopen then comes from
      // it); the other times Close right after the last write, while a flush may run.
      if (n_reopen % 2 == 1) {
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
      ++n_reopen;
    }
  }
  Log("final Close+reopen");
  ASSERT_TRUE(CheckAll("before final close"));
  ASSERT_TRUE(CheckScan(LiveModel(model_), ReadOptions(), "before final close"));
  for (const LiveSnapshot& ls : snaps_) {
    ReadOptions ro;
    ro.snapshot = ls.snap;
    ASSERT_TRUE(CheckScan(LiveModel(ls.model), ro, "snapshot at the end"));
  }
  ReleaseSnapshots();
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  ASSERT_OK(db_->Close());
  ASSERT_TRUE(OpenDb());
  ASSERT_TRUE(CheckAll("after final reopen"));
  ASSERT_OK(db_->Flush());
  ASSERT_TRUE(CheckAll("after final flush"));
  ASSERT_TRUE(CheckScan(LiveModel(model_), ReadOptions(), "after final flush"));
  std::fprintf(stderr,
               "[ model] seed=%llu backend=%s shards=%u durability=%s ops=%llu: put=%llu "
               "delete=%llu batch=%llu get=%llu async=%llu flush=%llu reopen=%llu "
               "iterators=%llu multiget=%llu snapshots=%llu compactions=%llu live=%zu "
               "sst_bytes=%llu\n",
               static_cast<unsigned long long>(seed_), KindName(GetParam()), opt_.shards,
               DurabilityName(opt_.durability), static_cast<unsigned long long>(ops),
               static_cast<unsigned long long>(n_put), static_cast<unsigned long long>(n_del),
               static_cast<unsigned long long>(n_batch), static_cast<unsigned long long>(n_get),
               static_cast<unsigned long long>(n_async), static_cast<unsigned long long>(n_flush),
               static_cast<unsigned long long>(n_reopen), static_cast<unsigned long long>(n_iter),
               static_cast<unsigned long long>(n_multiget), static_cast<unsigned long long>(n_snap),
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
}  // namespace ringdb
