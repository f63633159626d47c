// Expiring values through the public API (WriteOptions::expire_at_unix_ms,
// WriteBatch::Put with a deadline, Options::clock_ms): what reads show before and at
// the deadline (Get, MultiGet, iterators both ways, snapshots, async and shard-local
// reads), that deadlines survive the WAL, posted writes, flushes and reopens, that
// compaction removes expired values for good, and the errors for misuse. Both I/O
// backends.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "db_test_util.h"
#include "ringdb/db.h"

namespace ringdb {
namespace {

using dbtest::TempDir;

constexpr uint64_t kT0 = 1'700'000'000'000;  // the test clock's start, Unix ms

class ExpiryTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options MakeOptions(uint32_t shards = 2) {
    Options opt = dbtest::SmallOptions(dir_.Sub("db"), shards);
    opt.io_backend = GetParam();
    opt.clock_ms = [this] { return now_.load(); };
    return opt;
  }
  // Opens (or reopens) db_; skips when the backend is unusable here.
  void Open(const Options& opt) {
    db_.reset();
    Status s = DB::Open(opt, &db_);
    if (s.IsNotSupported()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Status PutUntil(std::string_view k, std::string_view v, uint64_t deadline) {
    WriteOptions wo;
    wo.expire_at_unix_ms = deadline;
    return db_->Put(wo, k, v);
  }
  // "value@deadline", or the status text when the read fails.
  std::string Read(std::string_view k, const ReadOptions& ro = ReadOptions()) {
    std::string v;
    uint64_t deadline = 12345;  // must be overwritten
    Status s = db_->Get(ro, k, &v, &deadline);
    if (!s.ok()) return s.IsNotFound() ? "NotFound" : s.ToString();
    return v + "@" + std::to_string(deadline);
  }
  // key=value@deadline for every key an iterator shows, forward, then checked against
  // the same walk backward.
  std::string Scan(const ReadOptions& ro = ReadOptions()) {
    std::unique_ptr<Iterator> it = db_->NewIterator(ro);
    std::vector<std::string> fwd, back;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      fwd.push_back(std::string(it->key()) + "=" + std::string(it->value()) + "@" +
                    std::to_string(it->expire_at_unix_ms()));
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      back.insert(back.begin(), std::string(it->key()) + "=" + std::string(it->value()) + "@" +
                                    std::to_string(it->expire_at_unix_ms()));
    }
    EXPECT_EQ(fwd, back) << "forward and backward scans differ";
    std::string out;
    for (const std::string& e : fwd) out += (out.empty() ? "" : " ") + e;
    return out;
  }

  TempDir dir_;
  std::atomic<uint64_t> now_{kT0};
  std::unique_ptr<DB> db_;
};

TEST_P(ExpiryTest, ValueIsVisibleUntilItsDeadlineThenReadsAsDeleted) {
  Open(MakeOptions());
  ASSERT_OK(db_->Put("plain", "p"));
  ASSERT_OK(db_->Put("shadowed", "old"));
  ASSERT_OK(PutUntil("shadowed", "new", kT0 + 100));
  ASSERT_OK(PutUntil("ttl", "t", kT0 + 100));
  ASSERT_OK(PutUntil("later", "l", kT0 + 1000));

  EXPECT_EQ(Read("plain"), "p@0");
  EXPECT_EQ(Read("ttl"), "t@" + std::to_string(kT0 + 100));
  EXPECT_EQ(Scan(), "later=l@" + std::to_string(kT0 + 1000) + " plain=p@0 shadowed=new@" +
                        std::to_string(kT0 + 100) + " ttl=t@" + std::to_string(kT0 + 100));
  std::unique_ptr<Iterator> before = db_->NewIterator(ReadOptions());

  now_ = kT0 + 99;
  EXPECT_EQ(Read("ttl"), "t@" + std::to_string(kT0 + 100));
  now_ = kT0 + 100;  // the deadline itself is past
  EXPECT_EQ(Read("ttl"), "NotFound");
  EXPECT_EQ(Read("shadowed"), "NotFound") << "an expired value must hide the older one";
  EXPECT_EQ(Read("later"), "l@" + std::to_string(kT0 + 1000));
  EXPECT_EQ(Scan(), "later=l@" + std::to_string(kT0 + 1000) + " plain=p@0");
  const std::vector<std::string_view> keys = {"ttl", "plain", "shadowed", "later"};
  std::vector<std::string> values;
  std::vector<Status> st = db_->MultiGet(ReadOptions(), keys, &values);
  EXPECT_TRUE(st[0].IsNotFound());
  EXPECT_TRUE(st[1].ok() && values[1] == "p");
  EXPECT_TRUE(st[2].IsNotFound());
  EXPECT_TRUE(st[3].ok() && values[3] == "l");

  // An iterator judges deadlines as of its creation, like its sequence number.
  int n = 0;
  for (before->SeekToFirst(); before->Valid(); before->Next()) n++;
  EXPECT_EQ(n, 4);

  // An overwrite without a deadline brings the key back for good.
  ASSERT_OK(db_->Put("ttl", "again"));
  EXPECT_EQ(Read("ttl"), "again@0");
  // A deadline already past stores a value nobody reads, like a Delete.
  ASSERT_OK(PutUntil("plain", "gone", kT0 - 1));
  EXPECT_EQ(Read("plain"), "NotFound");
}

TEST_P(ExpiryTest, SnapshotsAsyncAndShardLocalReadsJudgeDeadlinesNow) {
  Open(MakeOptions());
  ASSERT_OK(PutUntil("k", "v", kT0 + 10));
  const Snapshot* snap = db_->GetSnapshot();
  ReadOptions at;
  at.snapshot = snap;
  EXPECT_EQ(Read("k", at), "v@" + std::to_string(kT0 + 10));
  now_ = kT0 + 10;
  EXPECT_EQ(Read("k", at), "NotFound") << "a snapshot does not freeze the clock";
  EXPECT_EQ(Scan(at), "");
  db_->ReleaseSnapshot(snap);

  std::promise<Status> got;
  db_->GetAsync("k", [&got](Status s, std::string_view) { got.set_value(s); });
  EXPECT_TRUE(got.get_future().get().IsNotFound());

  // ShardContext: a put with a deadline and a get that reports it, on the owning shard.
  ASSERT_OK(db_->RunOnShards(1, [&](ShardContext& ctx, uint32_t) {
    if (!ctx.Owns("local")) return;
    WriteOptions wo;
    wo.expire_at_unix_ms = kT0 + 50;
    EXPECT_OK(ctx.Put(wo, "local", "x"));
    std::string v;
    uint64_t deadline = 0;
    EXPECT_OK(ctx.Get(ReadOptions(), "local", &v, &deadline));
    EXPECT_EQ(deadline, kT0 + 50);
  }));
  now_ = kT0 + 50;
  EXPECT_EQ(Read("local"), "NotFound");
}

TEST_P(ExpiryTest, BatchesCarryDeadlinesPerPutAndHandlersSeeThem) {
  Open(MakeOptions());
  WriteBatch b;
  b.Put("a", "1", kT0 + 5);
  b.Put("b", "2");
  b.Put("c", "3", kT0 + 500);
  b.Delete("d");
  ASSERT_OK(db_->Write(b));
  EXPECT_EQ(Read("a"), "1@" + std::to_string(kT0 + 5));
  EXPECT_EQ(Read("c"), "3@" + std::to_string(kT0 + 500));
  now_ = kT0 + 5;
  EXPECT_EQ(Scan(), "b=2@0 c=3@" + std::to_string(kT0 + 500));

  struct Recorder : WriteBatch::Handler {
    std::string seen;
    void Put(std::string_view k, std::string_view v) override {
      seen += "put " + std::string(k) + "=" + std::string(v) + ";";
    }
    void PutWithExpiry(std::string_view k, std::string_view v, uint64_t at) override {
      seen += "put " + std::string(k) + "=" + std::string(v) + "@" + std::to_string(at) + ";";
    }
    void Delete(std::string_view k) override { seen += "del " + std::string(k) + ";"; }
  } r;
  ASSERT_OK(b.Iterate(&r));
  EXPECT_EQ(r.seen, "put a=1@" + std::to_string(kT0 + 5) + ";put b=2;put c=3@" +
                        std::to_string(kT0 + 500) + ";del d;");
  // A handler that knows nothing of deadlines gets plain puts.
  struct Plain : WriteBatch::Handler {
    int puts = 0;
    void Put(std::string_view, std::string_view) override { puts++; }
    void Delete(std::string_view) override {}
  } plain;
  ASSERT_OK(b.Iterate(&plain));
  EXPECT_EQ(plain.puts, 3);
}

TEST_P(ExpiryTest, DeadlineOnDeleteOrWriteIsInvalidArgument) {
  Open(MakeOptions());
  WriteOptions wo;
  wo.expire_at_unix_ms = kT0 + 1;
  EXPECT_TRUE(db_->Delete(wo, "k").IsInvalidArgument());
  WriteBatch b;
  b.Put("k", "v");
  EXPECT_TRUE(db_->Write(wo, b).IsInvalidArgument());
  EXPECT_EQ(Read("k"), "NotFound");
}

// Every durability mode (kNone and kPeriodic post their writes): deadlines come back
// from the WAL, the post logs and the tables.
TEST_P(ExpiryTest, DeadlinesSurviveReopenFromWalAndTables) {
  for (Durability d : {Durability::kSync, Durability::kPeriodic, Durability::kNone}) {
    SCOPED_TRACE(static_cast<int>(d));
    Options opt = MakeOptions();
    opt.path = dir_.Sub("db" + std::to_string(static_cast<int>(d)));
    opt.durability = d;
    Open(opt);
    now_ = kT0;
    ASSERT_OK(PutUntil("wal", "w", kT0 + 100));
    ASSERT_OK(PutUntil("gone", "g", kT0 + 1));
    ASSERT_OK(db_->Close());
    Open(opt);
    EXPECT_EQ(Read("wal"), "w@" + std::to_string(kT0 + 100)) << "from the WAL";
    ASSERT_OK(db_->Flush());
    ASSERT_OK(db_->Close());
    Open(opt);
    EXPECT_EQ(Read("wal"), "w@" + std::to_string(kT0 + 100)) << "from a table";
    now_ = kT0 + 1;
    EXPECT_EQ(Read("gone"), "NotFound");
    EXPECT_EQ(Scan(), "wal=w@" + std::to_string(kT0 + 100));
    ASSERT_OK(db_->Close());
  }
}

// Stats of the whole store, once `done` holds or after 20 s.
Stats WaitForStats(DB* db, const std::function<bool(const Stats&)>& done) {
  Stats st;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    EXPECT_OK(db->GetStats(&st));
    if (done(st)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < until);
  return st;
}

// Until a compaction rewrote it, an expired value is still on disk: a clock set back
// shows it again. Compaction turns it into a tombstone, dropped at the bottommost
// level, and then no clock brings it back.
TEST_P(ExpiryTest, CompactionRemovesExpiredValuesForGood) {
  Open(MakeOptions(1));
  constexpr int kKeys = 200;
  auto key = [](const char* prefix, int i) { return dbtest::KeyN(prefix, 1000 + i); };
  for (int round = 0; round < 4; round++) {  // four L0 tables: the compaction trigger
    for (int i = 0; i < kKeys; i++) {
      ASSERT_OK(PutUntil(key("ttl", i), "value" + std::to_string(round), kT0 + 10));
      ASSERT_OK(db_->Put(key("keep", i), "value" + std::to_string(round)));
    }
    if (round == 3) {
      now_ = kT0 + 10;
      EXPECT_EQ(Read(key("ttl", 0)), "NotFound");
      now_ = kT0;  // not compacted yet: a clock set back shows it again
      EXPECT_EQ(Read(key("ttl", 0)), "value3@" + std::to_string(kT0 + 10));
      now_ = kT0 + 10;  // what the compaction will see
    }
    ASSERT_OK(db_->Flush());
  }
  Stats st = WaitForStats(db_.get(), [](const Stats& s) { return s.total.compactions >= 1; });
  ASSERT_GE(st.total.compactions, 1u);
  EXPECT_EQ(st.total.compaction_expired, static_cast<uint64_t>(kKeys))
      << "the newest version of each expiring key (older ones are shadowed)";
  now_ = kT0;
  int visible = 0;
  for (int i = 0; i < kKeys; i++) {
    EXPECT_EQ(Read(key("keep", i)), "value3@0");
    visible += Read(key("ttl", i)) != "NotFound";
  }
  EXPECT_EQ(visible, 0) << "compaction left expired values behind";
  ASSERT_OK(db_->Close());
  Open(MakeOptions(1));
  EXPECT_EQ(Read(key("ttl", 7)), "NotFound");
  EXPECT_EQ(Read(key("keep", 7)), "value3@0");
}

INSTANTIATE_TEST_SUITE_P(Backends, ExpiryTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const ::testing::TestParamInfo<IoBackendKind>& info) {
                           return info.param == IoBackendKind::kUring ? std::string("Uring")
                                                                      : std::string("Aio");
                         });

}  // namespace
}  // namespace ringdb
