// End-to-end tests of the public API (include/ringdb/db.h): open/create/reopen,
// blocking and async reads and writes, limits, the directory lock, shard count rules,
// Close/Flush semantics and the three durability modes.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

namespace fs = std::filesystem;
using dbtest::TempDir;

constexpr int kLockBusyExit = 10;
constexpr int kLockOpenedExit = 11;
constexpr int kLockOtherErrorExit = 12;

// Child mode: try to open the store at args[0]; exit code says what happened.
int LockProbeChild(const std::vector<std::string>& args) {
  ::alarm(60);  // never hang the parent
  if (args.empty()) return 100;
  Options opt;
  opt.path = args[0];
  opt.create_if_missing = false;
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  std::fprintf(stderr, "[child] Open(%s): %s\n", args[0].c_str(), s.ToString().c_str());
  if (s.IsBusy()) return kLockBusyExit;
  if (!s.ok()) return kLockOtherErrorExit;
  s = db->Close();
  return s.ok() ? kLockOpenedExit : kLockOtherErrorExit;
}
const dbtest::ChildModeRegistrar kLockProbe("lock-probe", LockProbeChild);

// Collects the results of one async call; checks the callback runs exactly once.
class AsyncProbe {
 public:
  DB::WriteCallback WriteCb() {
    return [this](Status s) { Record(std::move(s), {}); };
  }
  DB::GetCallback GetCb() {
    return [this](Status s, std::string_view v) { Record(std::move(s), v); };
  }
  // Waits for the first call, then a little longer to catch a second one.
  ::testing::AssertionResult WaitOnce() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_ > 0; })) {
      return ::testing::AssertionFailure() << "callback never ran (30 s)";
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
    if (calls_ != 1) return ::testing::AssertionFailure() << "callback ran " << calls_ << " times";
    return ::testing::AssertionSuccess();
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::string value() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }

 private:
  void Record(Status s, std::string_view v) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    status_ = std::move(s);
    value_.assign(v.data(), v.size());
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  Status status_;
  std::string value_;
};

class ApiTest : public ::testing::Test {
 protected:
  Options Opts(uint32_t shards = 2) { return dbtest::SmallOptions(path_, shards); }
  Status Open(const Options& opt) {
    db_.reset();
    return DB::Open(opt, &db_);
  }
  Status Reopen(uint32_t shards = 2) {
    if (db_ != nullptr) {
      Status s = db_->Close();
      if (!s.ok()) return s;
    }
    return Open(Opts(shards));
  }
  // The value, "NOT_FOUND", or "ERROR: <status>".
  std::string Get(std::string_view key) {
    std::string v;
    Status s = db_->Get(key, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return v;
  }

  TempDir tmp_;  // declared first: destroyed after db_
  std::string path_ = tmp_.Sub("db");
  std::unique_ptr<DB> db_;
};

// ---- open / create / reopen ---------------------------------------------------------

TEST_F(ApiTest, CreateLaysOutLockOptionsAndShardDirs) {
  ASSERT_OK(Open(Opts(2)));
  EXPECT_EQ(db_->shard_count(), 2u);
  EXPECT_FALSE(db_->io_backend().empty());
  EXPECT_TRUE(fs::is_regular_file(path_ + "/LOCK"));
  EXPECT_TRUE(fs::is_regular_file(path_ + "/OPTIONS"));
  EXPECT_TRUE(fs::is_directory(path_ + "/shard-000"));
  EXPECT_TRUE(fs::is_directory(path_ + "/shard-001"));
  EXPECT_FALSE(fs::exists(path_ + "/shard-002"));
  ASSERT_OK(db_->Close());
  EXPECT_TRUE(fs::is_regular_file(path_ + "/shard-000/CURRENT"));
  EXPECT_TRUE(fs::is_regular_file(path_ + "/shard-001/CURRENT"));
}

TEST_F(ApiTest, CreateMakesMissingParents) {
  path_ = tmp_.Sub("a/b/c/db");
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, CreateIfMissingFalseFailsOnMissingPath) {
  Options opt = Opts();
  opt.create_if_missing = false;
  Status s = Open(opt);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument() || s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  EXPECT_FALSE(fs::exists(path_)) << "a failed open must not create the store";
  EXPECT_EQ(db_, nullptr);
}

TEST_F(ApiTest, CreateIfMissingFalseOpensExistingStore) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  Options opt = Opts();
  opt.create_if_missing = false;
  ASSERT_OK(Open(opt));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, ErrorIfExistsRejectsExistingStoreAndLeavesItIntact) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  Options opt = Opts();
  opt.error_if_exists = true;
  Status s = Open(opt);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, ErrorIfExistsAcceptsNewPath) {
  Options opt = Opts();
  opt.error_if_exists = true;
  ASSERT_OK(Open(opt));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, ReopenKeepsData) {
  ASSERT_OK(Open(Opts()));
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(db_->Put(dbtest::KeyN("key", i), dbtest::KeyN("value", i)));
  }
  ASSERT_OK(db_->Delete("key7"));
  for (int round = 0; round < 3; ++round) {
    ASSERT_OK(Reopen());
    for (int i = 0; i < 100; ++i) {
      std::string want = i == 7 ? "NOT_FOUND" : dbtest::KeyN("value", i);
      ASSERT_EQ(Get(dbtest::KeyN("key", i)), want) << "round " << round << " key" << i;
    }
  }
}

TEST_F(ApiTest, DestructorWithoutCloseKeepsDataAndReleasesLock) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  db_.reset();  // no Close()
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, PathThatIsARegularFileFailsClearly) {
  {
    std::ofstream f(path_);
    f << "not a store";
  }
  Status s = Open(Opts());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty()) << s.ToString();
  EXPECT_EQ(db_, nullptr);
  std::ifstream f(path_);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "not a store") << "the file must be left alone";
}

TEST_F(ApiTest, EmptyPathIsInvalidArgument) {
  path_.clear();
  Status s = Open(Opts());
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

// ---- shard count ----------------------------------------------------------------------

TEST_F(ApiTest, ReopenWithDifferentShardCountIsInvalidArgument) {
  ASSERT_OK(Open(Opts(2)));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  for (uint32_t shards : {1u, 3u, 4u}) {
    Status s = Open(Opts(shards));
    EXPECT_TRUE(s.IsInvalidArgument()) << "shards=" << shards << ": " << s.ToString();
    EXPECT_FALSE(s.message().empty());
  }
  ASSERT_OK(Open(Opts(2)));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, ReopenWithZeroShardsUsesRecordedCount) {
  ASSERT_OK(Open(Opts(3)));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  ASSERT_OK(Open(Opts(0)));
  EXPECT_EQ(db_->shard_count(), 3u);
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, ZeroShardsOnNewStoreUsesOnlineCpus) {
  ASSERT_OK(Open(Opts(0)));
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(db_->shard_count(), static_cast<uint32_t>(cpus));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_EQ(Get("k"), "v");
  ASSERT_OK(Reopen(static_cast<uint32_t>(cpus)));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, TooManyShardsIsInvalidArgument) {
  Status s = Open(Opts(kMaxShards + 1));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

// ---- the directory lock ---------------------------------------------------------------

TEST_F(ApiTest, SecondOpenInSameProcessIsBusy) {
  ASSERT_OK(Open(Opts()));
  std::unique_ptr<DB> second;
  Status s = DB::Open(Opts(), &second);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_TRUE(dbtest::ContainsNoCase(s.message(), "lock") ||
              s.message().find(path_) != std::string::npos)
      << "message should name the lock or the path: " << s.ToString();
  EXPECT_EQ(second, nullptr);
  // The failed open must not have disturbed the holder.
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_EQ(Get("k"), "v");
  ASSERT_OK(db_->Close());
  ASSERT_OK(DB::Open(Opts(), &second));
  std::string v;
  ASSERT_OK(second->Get("k", &v));
  EXPECT_EQ(v, "v");
}

TEST_F(ApiTest, SecondProcessOpenIsBusyUntilClose) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  auto child = dbtest::SpawnChild("lock-probe", {path_}, false);
  ASSERT_GT(child.pid, 0);
  auto ex = dbtest::WaitChild(child.pid, 60000);
  EXPECT_TRUE(ex.exited && ex.exit_code == kLockBusyExit)
      << "child open while held: " << ex.Describe() << " (want exit " << kLockBusyExit
      << " = Busy; " << kLockOpenedExit << " = it opened)";
  ASSERT_OK(db_->Close());
  child = dbtest::SpawnChild("lock-probe", {path_}, false);
  ASSERT_GT(child.pid, 0);
  ex = dbtest::WaitChild(child.pid, 60000);
  EXPECT_TRUE(ex.exited && ex.exit_code == kLockOpenedExit)
      << "child open after Close: " << ex.Describe();
}

// ---- reads and writes -----------------------------------------------------------------

TEST_F(ApiTest, PutGetDeleteOverwrite) {
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("a"), "NOT_FOUND");
  ASSERT_OK(db_->Put("a", "1"));
  EXPECT_EQ(Get("a"), "1");
  ASSERT_OK(db_->Put("a", "22"));
  EXPECT_EQ(Get("a"), "22");
  ASSERT_OK(db_->Delete("a"));
  EXPECT_EQ(Get("a"), "NOT_FOUND");
  ASSERT_OK(db_->Delete("never-written")) << "deleting an absent key is not an error";
  EXPECT_EQ(Get("never-written"), "NOT_FOUND");
  ASSERT_OK(db_->Put("a", "333"));
  EXPECT_EQ(Get("a"), "333");
}

TEST_F(ApiTest, NotFoundIsNotAnErrorAndEmptyValueIsNotNotFound) {
  ASSERT_OK(Open(Opts()));
  std::string v = "untouched?";
  Status s = db_->Get("missing", &v);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  ASSERT_OK(db_->Put("empty", ""));
  v = "garbage";
  ASSERT_OK(db_->Get("empty", &v));
  EXPECT_EQ(v, "");
  ASSERT_OK(db_->Flush());
  v = "garbage";
  ASSERT_OK(db_->Get("empty", &v));
  EXPECT_EQ(v, "");
  ASSERT_OK(Reopen());
  v = "garbage";
  ASSERT_OK(db_->Get("empty", &v));
  EXPECT_EQ(v, "");
}

TEST_F(ApiTest, WriteBatchAppliesInOrder) {
  ASSERT_OK(Open(Opts()));
  WriteBatch b;
  b.Put("a", "1");
  b.Put("b", "2");
  b.Delete("a");
  b.Put("c", "3");
  b.Put("b", "22");
  b.Delete("d");
  b.Put("d", "4");
  EXPECT_EQ(b.Count(), 7u);
  EXPECT_GT(b.ApproximateSize(), 0u);
  ASSERT_OK(db_->Put("a", "old"));
  ASSERT_OK(db_->Put("d", "old"));
  ASSERT_OK(db_->Write(b));
  EXPECT_EQ(Get("a"), "NOT_FOUND");
  EXPECT_EQ(Get("b"), "22");
  EXPECT_EQ(Get("c"), "3");
  EXPECT_EQ(Get("d"), "4");
  ASSERT_OK(Reopen());
  EXPECT_EQ(Get("a"), "NOT_FOUND");
  EXPECT_EQ(Get("b"), "22");
  EXPECT_EQ(Get("c"), "3");
  EXPECT_EQ(Get("d"), "4");
}

TEST_F(ApiTest, WriteBatchIterateAndClear) {
  WriteBatch b;
  b.Put("k1", std::string("v\0x", 3));
  b.Delete("k2");
  b.Put("", "");
  struct Rec : WriteBatch::Handler {
    std::vector<std::string> seen;
    void Put(std::string_view k, std::string_view v) override {
      seen.push_back("P:" + std::string(k) + "=" + std::string(v));
    }
    void Delete(std::string_view k) override { seen.push_back("D:" + std::string(k)); }
  } rec;
  ASSERT_OK(b.Iterate(&rec));
  std::vector<std::string> want = {"P:k1=" + std::string("v\0x", 3), "D:k2", "P:="};
  EXPECT_EQ(rec.seen, want);
  b.Clear();
  EXPECT_EQ(b.Count(), 0u);
  rec.seen.clear();
  ASSERT_OK(b.Iterate(&rec));
  EXPECT_TRUE(rec.seen.empty());
}

TEST_F(ApiTest, EmptyBatchIsOk) {
  ASSERT_OK(Open(Opts()));
  WriteBatch b;
  ASSERT_OK(db_->Write(b));
  AsyncProbe p;
  db_->WriteAsync(b, p.WriteCb());
  ASSERT_TRUE(p.WaitOnce());
  EXPECT_OK(p.status());
}

TEST_F(ApiTest, BatchSpanningAllShardsIsFullyApplied) {
  ASSERT_OK(Open(Opts(4)));
  WriteBatch b;
  for (int i = 0; i < 400; ++i) b.Put(dbtest::KeyN("bk", i), dbtest::KeyN("bv", i));
  ASSERT_OK(db_->Write(b));
  for (int i = 0; i < 400; ++i) ASSERT_EQ(Get(dbtest::KeyN("bk", i)), dbtest::KeyN("bv", i));
  ASSERT_OK(db_->Flush());
  for (const auto& d : dbtest::ShardDirs(path_)) {
    auto ssts =
        dbtest::ListFiles(d, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); });
    EXPECT_FALSE(ssts.empty()) << d << " has no .sst after Flush: the batch missed a shard?";
  }
  ASSERT_OK(Reopen(4));
  for (int i = 0; i < 400; ++i) ASSERT_EQ(Get(dbtest::KeyN("bk", i)), dbtest::KeyN("bv", i));
}

TEST_F(ApiTest, WriteOptionsSyncIsAccepted) {
  ASSERT_OK(Open(Opts()));
  WriteOptions wo;
  wo.sync = true;
  ASSERT_OK(db_->Put(wo, "k", "v"));
  ASSERT_OK(db_->Delete(wo, "k"));
  WriteBatch b;
  b.Put("k2", "v2");
  ASSERT_OK(db_->Write(wo, b));
  EXPECT_EQ(Get("k"), "NOT_FOUND");
  EXPECT_EQ(Get("k2"), "v2");
}

TEST_F(ApiTest, BinaryKeysAndValuesRoundTrip) {
  ASSERT_OK(Open(Opts()));
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  std::vector<std::pair<std::string, std::string>> kvs = {
      {std::string("\0", 1), std::string("\0\0\0", 3)},
      {std::string("a\0b", 3), all_bytes},
      {std::string("a\0c", 3), std::string("x\0y\xff", 4)},
      {all_bytes, std::string(1000, '\0')},
      {std::string("\xff\xfe\x80", 3), std::string("\n\r\t", 3)},
  };
  for (auto& [k, v] : kvs) ASSERT_OK(db_->Put(k, v));
  EXPECT_EQ(Get(std::string("a", 1)), "NOT_FOUND") << "prefix before a NUL must not match";
  auto check = [&](const char* stage) {
    for (auto& [k, v] : kvs) {
      EXPECT_EQ(Get(k), v) << stage << " key " << dbtest::Printable(k);
    }
  };
  check("memtable");
  ASSERT_OK(db_->Flush());
  check("after Flush");
  ASSERT_OK(Reopen());
  check("after reopen");
}

TEST_F(ApiTest, LargeValuesAcrossBlocksRoundTrip) {
  ASSERT_OK(Open(Opts()));
  std::mt19937_64 rng(42);
  std::vector<std::string> vals;
  for (size_t len : {4095u, 4096u, 4097u, 100000u, 1u << 20}) {
    vals.push_back(dbtest::RandomBytes(rng, len));
    ASSERT_OK(db_->Put(dbtest::KeyN("big", len), vals.back()));
  }
  auto check = [&](const char* stage) {
    size_t i = 0;
    for (size_t len : {4095u, 4096u, 4097u, 100000u, 1u << 20}) {
      std::string got = Get(dbtest::KeyN("big", len));
      EXPECT_TRUE(got == vals[i]) << stage << " len " << len << " got " << dbtest::Printable(got);
      ++i;
    }
  };
  check("memtable");
  ASSERT_OK(db_->Flush());
  check("after Flush");
  ASSERT_OK(Reopen());
  check("after reopen");
}

// ---- limits -----------------------------------------------------------------------------

TEST_F(ApiTest, KeyAtLimitIsAcceptedAndOverLimitRejected) {
  ASSERT_OK(Open(Opts()));
  std::string max_key(kMaxKeyBytes, 'k');
  std::string big_key(kMaxKeyBytes + 1, 'k');
  ASSERT_OK(db_->Put(max_key, "v"));
  EXPECT_EQ(Get(max_key), "v");

  Status s = db_->Put(big_key, "v");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = db_->Delete(big_key);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  std::string v;
  s = db_->Get(big_key, &v);
  EXPECT_FALSE(s.ok()) << "Get of an oversized key cannot succeed";

  WriteBatch b;
  b.Put("good-in-bad-batch", "v");
  b.Put(big_key, "v");
  s = db_->Write(b);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Get("good-in-bad-batch"), "NOT_FOUND") << "a rejected batch must write nothing";

  AsyncProbe p;
  db_->PutAsync(big_key, "v", p.WriteCb());
  ASSERT_TRUE(p.WaitOnce());
  EXPECT_TRUE(p.status().IsInvalidArgument()) << p.status().ToString();

  ASSERT_OK(db_->Flush());
  ASSERT_OK(Reopen());
  EXPECT_EQ(Get(max_key), "v");
  EXPECT_EQ(Get("good-in-bad-batch"), "NOT_FOUND");
  // The prefix of the oversized key must not have been stored either.
  EXPECT_EQ(Get(big_key.substr(0, kMaxKeyBytes - 1)), "NOT_FOUND");
}

TEST_F(ApiTest, ValueAtLimitIsAcceptedAndOverLimitRejected) {
  Options opt = Opts();
  ASSERT_OK(Open(opt));
  std::string big_val(kMaxValueBytes + 1, 'v');
  Status s = db_->Put("over", big_val);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  WriteBatch b;
  b.Put("good-in-bad-batch", "v");
  b.Put("over2", big_val);
  s = db_->Write(b);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  AsyncProbe p;
  db_->PutAsync("over3", big_val, p.WriteCb());
  ASSERT_TRUE(p.WaitOnce());
  EXPECT_TRUE(p.status().IsInvalidArgument()) << p.status().ToString();
  big_val.clear();
  big_val.shrink_to_fit();

  std::string max_val(kMaxValueBytes, 'm');
  max_val[0] = 'A';
  max_val.back() = 'Z';
  ASSERT_OK(db_->Put("max", max_val));
  EXPECT_TRUE(Get("max") == max_val);
  EXPECT_EQ(Get("over"), "NOT_FOUND");
  EXPECT_EQ(Get("over2"), "NOT_FOUND");
  EXPECT_EQ(Get("over3"), "NOT_FOUND");
  EXPECT_EQ(Get("good-in-bad-batch"), "NOT_FOUND");
  ASSERT_OK(Reopen());
  EXPECT_TRUE(Get("max") == max_val) << "32 MiB value lost or changed across reopen";
  EXPECT_EQ(Get("over"), "NOT_FOUND");
}

// Empty keys are not documented either way: they must either work everywhere or be
// rejected everywhere with InvalidArgument.
TEST_F(ApiTest, EmptyKeyIsConsistent) {
  ASSERT_OK(Open(Opts()));
  Status put = db_->Put("", "empty-key-value");
  if (put.ok()) {
    EXPECT_EQ(Get(""), "empty-key-value");
    ASSERT_OK(db_->Flush());
    EXPECT_EQ(Get(""), "empty-key-value");
    ASSERT_OK(Reopen());
    EXPECT_EQ(Get(""), "empty-key-value");
    ASSERT_OK(db_->Delete(""));
    EXPECT_EQ(Get(""), "NOT_FOUND");
    WriteBatch b;
    b.Put("", "via-batch");
    ASSERT_OK(db_->Write(b));
    EXPECT_EQ(Get(""), "via-batch");
  } else {
    EXPECT_TRUE(put.IsInvalidArgument()) << put.ToString();
    std::string v;
    Status g = db_->Get("", &v);
    EXPECT_TRUE(g.IsInvalidArgument() || g.IsNotFound()) << g.ToString();
    EXPECT_TRUE(db_->Delete("").IsInvalidArgument());
    WriteBatch b;
    b.Put("", "via-batch");
    EXPECT_TRUE(db_->Write(b).IsInvalidArgument());
    AsyncProbe p;
    db_->PutAsync("", "v", p.WriteCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_TRUE(p.status().IsInvalidArgument()) << p.status().ToString();
  }
  // The empty key must never alias a one-byte NUL key.
  ASSERT_OK(db_->Put(std::string("\0", 1), "nul"));
  if (put.ok()) {
    EXPECT_EQ(Get(""), "via-batch");
  }
  EXPECT_EQ(Get(std::string("\0", 1)), "nul");
}

// ---- async --------------------------------------------------------------------------------

TEST_F(ApiTest, AsyncCallbacksRunOnceWithTheRightResult) {
  ASSERT_OK(Open(Opts()));
  {
    AsyncProbe p;
    db_->PutAsync("ak", "av", p.WriteCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
  }
  {
    AsyncProbe p;
    db_->GetAsync("ak", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(p.value(), "av");
  }
  EXPECT_EQ(Get("ak"), "av") << "an acknowledged PutAsync must be visible to Get";
  {
    AsyncProbe p;
    db_->DeleteAsync("ak", p.WriteCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
  }
  {
    AsyncProbe p;
    db_->GetAsync("ak", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_TRUE(p.status().IsNotFound()) << p.status().ToString();
  }
  {
    WriteBatch b;
    b.Put("wa1", "x");
    b.Put("wa2", "y");
    b.Delete("wa1");
    AsyncProbe p;
    db_->WriteAsync(b, p.WriteCb());
    b.Clear();  // the batch must have been copied or consumed by the call
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(Get("wa1"), "NOT_FOUND");
    EXPECT_EQ(Get("wa2"), "y");
  }
  {
    // The key and value buffers may die as soon as PutAsync returns.
    AsyncProbe p;
    {
      std::string k = "temp-key", v = "temp-value";
      db_->PutAsync(k, v, p.WriteCb());
      k.assign(k.size(), 'X');
      v.assign(v.size(), 'Y');
    }
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(Get("temp-key"), "temp-value");
  }
  ASSERT_OK(db_->Flush());
  {
    AsyncProbe p;
    db_->GetAsync("wa2", p.GetCb());
    ASSERT_TRUE(p.WaitOnce());
    EXPECT_OK(p.status());
    EXPECT_EQ(p.value(), "y") << "GetAsync served from an SSTable";
  }
}

TEST_F(ApiTest, ManyAsyncWritesInFlight) {
  ASSERT_OK(Open(Opts(2)));
  constexpr int kN = 2000;
  std::atomic<int> calls{0}, failures{0};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::atomic<int>> per_key(kN);
  for (int i = 0; i < kN; ++i) {
    db_->PutAsync(dbtest::KeyN("async", i), dbtest::KeyN("val", i), [&, i](Status s) {
      if (!s.ok()) failures.fetch_add(1);
      per_key[i].fetch_add(1);
      if (calls.fetch_add(1) + 1 == kN) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return calls.load() == kN; }))
        << calls.load() << " of " << kN << " callbacks ran";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), kN);
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < kN; ++i) ASSERT_EQ(per_key[i].load(), 1) << "callback count of key " << i;
  ASSERT_OK(Reopen(2));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(Get(dbtest::KeyN("async", i)), dbtest::KeyN("val", i));
  }
}

// ---- Close / Flush --------------------------------------------------------------------

TEST_F(ApiTest, CloseIsIdempotent) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  EXPECT_OK(db_->Close());
  EXPECT_OK(db_->Close());
  db_.reset();
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(ApiTest, CallsAfterCloseFailCleanly) {
  ASSERT_OK(Open(Opts()));
  ASSERT_OK(db_->Put("k", "v"));
  ASSERT_OK(db_->Close());
  std::string v;
  EXPECT_FALSE(db_->Put("k2", "v").ok());
  EXPECT_FALSE(db_->Get("k", &v).ok());
  EXPECT_FALSE(db_->Delete("k").ok());
  EXPECT_FALSE(db_->Flush().ok());
  AsyncProbe p;
  db_->PutAsync("k3", "v", p.WriteCb());
  ASSERT_TRUE(p.WaitOnce());
  EXPECT_FALSE(p.status().ok());
  AsyncProbe g;
  db_->GetAsync("k", g.GetCb());
  ASSERT_TRUE(g.WaitOnce());
  EXPECT_FALSE(g.status().ok());
  ASSERT_OK(Open(Opts()));
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(Get("k2"), "NOT_FOUND");
  EXPECT_EQ(Get("k3"), "NOT_FOUND");
}

TEST_F(ApiTest, ReleasingASnapshotTwiceIsAnError) {
  ASSERT_OK(Open(Opts(2)));
  const Snapshot* snap = db_->GetSnapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_OK(db_->ReleaseSnapshot(snap));
  EXPECT_TRUE(db_->ReleaseSnapshot(snap).IsInvalidArgument());
  EXPECT_TRUE(db_->ReleaseSnapshot(nullptr).IsInvalidArgument());
}

// Issue 11: an iterator that outlives Close, or its DB, answers Shutdown; it never
// aborts, and destroying it afterwards is safe.
TEST_F(ApiTest, IteratorUsedAfterCloseGetsShutdown) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 100; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("it", i), "v"));
  ASSERT_OK(db_->Flush());
  ASSERT_OK(db_->Put("mem", "v"));
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  ASSERT_OK(db_->Close());
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it->SeekToLast();
  it->Seek("it");
  it->Prev();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it.reset();
}

TEST_F(ApiTest, IteratorUsedAfterTheDBIsDestroyedGetsShutdown) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 100; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("it", i), "v"));
  ASSERT_OK(db_->Flush());
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  it->Seek("it");
  ASSERT_TRUE(it->Valid());
  db_.reset();
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it->SeekToFirst();
  EXPECT_TRUE(it->status().IsShutdown()) << it->status().ToString();
  it.reset();
}

TEST_F(ApiTest, FlushMovesDataIntoSstablesAndReopenReadsThem) {
  ASSERT_OK(Open(Opts(2)));
  std::mt19937_64 rng(7);
  constexpr int kN = 1000;
  std::vector<std::string> vals;
  for (int i = 0; i < kN; ++i) {
    vals.push_back(dbtest::RandomBytes(rng, 1024));
    ASSERT_OK(db_->Put(dbtest::KeyN("fk", i), vals.back()));
  }
  ASSERT_OK(db_->Flush());
  // Random values do not compress: the SSTables must hold at least the value bytes.
  EXPECT_GE(dbtest::TotalBytesWithSuffix(path_, ".sst"), uint64_t{kN} * 1024);
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(Get(dbtest::KeyN("fk", i)) == vals[i]) << i;
  ASSERT_OK(Reopen(2));
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(Get(dbtest::KeyN("fk", i)) == vals[i]) << i;
}

TEST_F(ApiTest, NewerWritesShadowFlushedOnes) {
  ASSERT_OK(Open(Opts(2)));
  for (int i = 0; i < 50; ++i) ASSERT_OK(db_->Put(dbtest::KeyN("s", i), "old"));
  ASSERT_OK(db_->Flush());
  for (int i = 0; i < 50; i += 2) ASSERT_OK(db_->Put(dbtest::KeyN("s", i), "new"));
  for (int i = 1; i < 50; i += 4) ASSERT_OK(db_->Delete(dbtest::KeyN("s", i)));
  auto want = [](int i) -> std::string {
    if (i % 2 == 0) return "new";
    if (i % 4 == 1) return "NOT_FOUND";
    return "old";
  };
  auto check = [&](const char* stage) {
    for (int i = 0; i < 50; ++i) ASSERT_EQ(Get(dbtest::KeyN("s", i)), want(i)) << stage << " " << i;
  };
  check("memtable over sst");
  ASSERT_OK(Reopen(2));
  check("after reopen (WAL over sst)");
  ASSERT_OK(db_->Flush());
  check("sst over sst");
  ASSERT_OK(Reopen(2));
  check("sst over sst after reopen");
}

// ---- durability modes -----------------------------------------------------------------------

class ApiDurabilityTest : public ApiTest, public ::testing::WithParamInterface<Durability> {};

TEST_P(ApiDurabilityTest, WritesSurviveCloseAndReopen) {
  Options opt = Opts(2);
  opt.durability = GetParam();
  opt.periodic_sync_ms = 10;
  ASSERT_OK(Open(opt));
  for (int i = 0; i < 300; ++i) {
    WriteOptions wo;
    wo.sync = (i % 50 == 0);
    ASSERT_OK(db_->Put(wo, dbtest::KeyN("d", i), dbtest::KeyN("v", i)));
  }
  WriteBatch b;
  for (int i = 0; i < 300; i += 3) b.Delete(dbtest::KeyN("d", i));
  ASSERT_OK(db_->Write(b));
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK(db_->Close());
    ASSERT_OK(Open(opt));
    for (int i = 0; i < 300; ++i) {
      std::string want = i % 3 == 0 ? "NOT_FOUND" : dbtest::KeyN("v", i);
      ASSERT_EQ(Get(dbtest::KeyN("d", i)), want) << "round " << round;
    }
  }
  // Periodic mode must actually sync on its own: wait for a few periods with no writes.
  if (GetParam() == Durability::kPeriodic) {
    ASSERT_OK(db_->Put("late", "x"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(Get("late"), "x");
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ApiDurabilityTest,
                         ::testing::Values(Durability::kSync, Durability::kPeriodic,
                                           Durability::kNone),
                         [](const ::testing::TestParamInfo<Durability>& info) {
                           switch (info.param) {
                             case Durability::kSync:
                               return std::string("Sync");
                             case Durability::kPeriodic:
                               return std::string("Periodic");
                             case Durability::kNone:
                               return std::string("None");
                           }
                           return std::string("Unknown");
                         });

// ---- many keys across shards -----------------------------------------------------------------

class ApiShardsTest : public ApiTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ApiShardsTest, ManyKeysLandOnEveryShardAndSurvive) {
  const uint32_t shards = GetParam();
  ASSERT_OK(Open(Opts(shards)));
  EXPECT_EQ(db_->shard_count(), shards);
  constexpr int kN = 5000;
  auto key = [](int i) { return dbtest::KeyN("many-", i * 7919); };
  auto val = [](int i) { return dbtest::KeyN("value-", i) + std::string(i % 97, 'p'); };
  for (int i = 0; i < kN; ++i) ASSERT_OK(db_->Put(key(i), val(i)));
  for (int i = 0; i < kN; i += 5) ASSERT_OK(db_->Delete(key(i)));
  auto want = [&](int i) { return i % 5 == 0 ? std::string("NOT_FOUND") : val(i); };
  for (int i = 0; i < kN; ++i) ASSERT_EQ(Get(key(i)), want(i)) << i;
  ASSERT_OK(db_->Flush());
  auto dirs = dbtest::ShardDirs(path_);
  ASSERT_EQ(dirs.size(), shards);
  for (const auto& d : dirs) {
    auto ssts =
        dbtest::ListFiles(d, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); });
    EXPECT_FALSE(ssts.empty()) << d << " got no keys out of " << kN << " (routing skew?)";
  }
  ASSERT_OK(Reopen(shards));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(Get(key(i)), want(i)) << i;
}

INSTANTIATE_TEST_SUITE_P(Shards, ApiShardsTest, ::testing::Values(1u, 2u, 4u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return dbtest::KeyN("x", info.param);
                         });

// Options::io_poll_batch only changes how many completions a shard reaps per loop pass:
// cold MultiGets (many reads in flight per shard) and a full scan return the same data
// whatever it is.
class ApiPollBatchTest : public ApiTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ApiPollBatchTest, ColdReadsAreRightAtAnyPollBatch) {
  Options opt = Opts(2);
  opt.io_poll_batch = GetParam();
  opt.block_cache_bytes = 64 << 10;  // far smaller than the data: reads go to disk
  ASSERT_OK(Open(opt));
  constexpr int kN = 3000;
  auto key = [](int i) { return dbtest::KeyN("pb-", i); };
  auto val = [](int i) { return dbtest::KeyN("v", i) + std::string(200 + i % 61, 'a' + i % 26); };
  for (int i = 0; i < kN; ++i) ASSERT_OK(db_->Put(key(i), val(i)));
  ASSERT_OK(db_->Flush());
  ASSERT_OK(db_->Close());
  ASSERT_OK(Open(opt));  // cold cache
  std::vector<std::string> keys;
  for (int i = 0; i < kN; ++i) keys.push_back(key((i * 7) % kN));
  for (int at = 0; at < kN; at += 100) {
    std::vector<std::string_view> batch(keys.begin() + at, keys.begin() + at + 100);
    std::vector<std::string> values;
    std::vector<Status> st = db_->MultiGet(ReadOptions(), batch, &values);
    ASSERT_EQ(st.size(), batch.size());
    for (size_t j = 0; j < batch.size(); ++j) {
      const int i = ((at + static_cast<int>(j)) * 7) % kN;
      ASSERT_TRUE(st[j].ok()) << batch[j] << ": " << st[j].ToString();
      ASSERT_EQ(values[j], val(i)) << batch[j];
    }
  }
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  ASSERT_OK(it->status());
  EXPECT_EQ(n, kN);
  it.reset();
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_GT(stats.total.io.of(IoClass::kUserRead).reads, uint64_t{kN / 10})
      << "the reads were meant to miss the cache";
}

INSTANTIATE_TEST_SUITE_P(PollBatch, ApiPollBatchTest, ::testing::Values(0u, 1u, 4u, 64u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return dbtest::KeyN("batch", info.param);
                         });

}  // namespace
}  // namespace ringdb
