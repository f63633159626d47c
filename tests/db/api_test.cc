// End-to-end tests of the public API (include/ringdb/db.h): open/create/reopen, shard
// count rules, the directory lock, blocking reads and writes, limits. Async calls,
// Close/Flush and the durability modes: api_lifecycle_test.cc.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ringdb/db.h"
#include "ringdb/shard_context.h"
#include "ringdb/write_batch.h"
#include "tests/db/api_test_fixture.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace apitest {
namespace {

namespace fs = std::filesystem;

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
  const std::string content = dbtest::ReadWholeFile(path_);
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

// ---- shard thread priority ---------------------------------------------------------------

// Options::shard_nice: the shard threads run that many nice steps below the opener.
TEST_F(ApiTest, ShardThreadsRunShardNiceStepsBelowTheOpener) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  ASSERT_EQ(errno, 0);
  for (int nice : {0, 7}) {
    Options o = Opts(2);
    o.shard_nice = nice;
    ASSERT_OK(Open(o));
    std::atomic<int> seen[2] = {-100, -100};
    ASSERT_OK(db_->RunOnShards(1, [&](ShardContext& ctx, uint32_t) {
      errno = 0;
      seen[ctx.shard()] = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    }));
    for (uint32_t shard = 0; shard < 2; shard++) {
      EXPECT_EQ(seen[shard].load(), std::min(base + nice, 19))
          << "shard " << shard << ", shard_nice " << nice;
    }
    ASSERT_OK(db_->Close());
    db_.reset();
  }
}

TEST_F(ApiTest, ShardNiceOutOfRangeIsInvalidArgument) {
  for (int nice : {-1, 20}) {
    Options o = Opts();
    o.shard_nice = nice;
    Status s = Open(o);
    EXPECT_TRUE(s.IsInvalidArgument()) << nice << ": " << s.ToString();
  }
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

}  // namespace
}  // namespace apitest
}  // namespace ringdb
