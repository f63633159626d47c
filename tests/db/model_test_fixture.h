// The fixture of the model test (model_test.cc): a store with a controllable clock, a
// std::map model of what it must hold, and the comparisons of the two (Get, MultiGet,
// iterators with random bounds and walks, full scans).
#pragma once

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

// Not in an anonymous namespace: a header (model_test.cc derives the test from it).
namespace ringdb::modeltest {

using dbtest::Printable;
using dbtest::TempDir;

inline const char* KindName(IoBackendKind k) {
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

inline const char* DurabilityName(Durability d) {
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

// The store, the model and their comparisons; ModelTest (model_test.cc) adds the
// random operations.
class ModelTestBase : public ::testing::TestWithParam<IoBackendKind> {
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

  static bool InBounds(const ReadOptions& ro, const std::string& k) {
    return (!ro.lower_bound || k >= *ro.lower_bound) && (!ro.upper_bound || k < *ro.upper_bound);
  }
  // p if it is in bounds, else end() (= not valid).
  static Model::const_iterator FirstFrom(const Model& model, const ReadOptions& ro,
                                         Model::const_iterator p) {
    return p != model.end() && InBounds(ro, p->first) ? p : model.end();
  }
  // The entry before p, if in bounds, else end().
  static Model::const_iterator LastBefore(const Model& model, const ReadOptions& ro,
                                          Model::const_iterator p) {
    if (p == model.begin()) return model.end();
    --p;
    return InBounds(ro, p->first) ? p : model.end();
  }

  // A random seek of `it` (SeekToFirst, SeekToLast, Seek, SeekForPrev), said in *desc;
  // returns the entry of `model` it must be at.
  Model::const_iterator RandomSeek(Iterator* it, const Model& model, const ReadOptions& ro,
                                   std::string* desc) {
    switch (rng_() % 4) {
      case 0:
        it->SeekToFirst();
        *desc += "SeekToFirst";
        return FirstFrom(model, ro,
                         ro.lower_bound ? model.lower_bound(*ro.lower_bound) : model.begin());
      case 1:
        it->SeekToLast();
        *desc += "SeekToLast";
        return LastBefore(model, ro,
                          ro.upper_bound ? model.lower_bound(*ro.upper_bound) : model.end());
      case 2: {
        std::string t = RandomProbe();
        it->Seek(t);
        std::string from = ro.lower_bound && *ro.lower_bound > t ? *ro.lower_bound : t;
        *desc += "Seek(" + Printable(t) + ")";
        return FirstFrom(model, ro, model.lower_bound(from));
      }
      default: {
        std::string t = RandomProbe();
        it->SeekForPrev(t);
        auto after = model.upper_bound(t);  // the entries before it are <= t
        if (ro.upper_bound && (after == model.end() || after->first > *ro.upper_bound)) {
          after = model.lower_bound(*ro.upper_bound);
        }
        *desc += "SeekForPrev(" + Printable(t) + ")";
        return LastBefore(model, ro, after);
      }
    }
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
    std::unique_ptr<Iterator> it = db_->NewIterator(ro);
    EXPECT_TRUE(it != nullptr);
    if (it == nullptr) return false;
    std::string desc = "[" + (ro.lower_bound ? Printable(*ro.lower_bound) : std::string("-")) +
                       ", " + (ro.upper_bound ? Printable(*ro.upper_bound) : std::string("-")) +
                       ") chunk " + std::to_string(ro.iterator_chunk_bytes) + ": ";
    Model::const_iterator pos = RandomSeek(it.get(), model, ro, &desc);
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
        pos = FirstFrom(model, ro, std::next(pos));
        desc += " Next";
      } else {
        it->Prev();
        pos = LastBefore(model, ro, pos);
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

}  // namespace ringdb::modeltest
