// Reads of another shard's keys without a hop (Store::ReadInPlace through
// Keyspace::ReadInPlace), and what the connections rely on when they use them
// (store.h):
//   - read-your-writes: a write whose reply came back is seen by an in-place read on
//     any shard right after it, in every durability mode, with writers on every shard;
//     the engine publishes each write before the adapter acknowledges it (nothing is
//     held back);
//   - blocks missing from the owner's cache are read by the owner (its table_reads
//     count them) and the values come back right;
//   - deadlines hide values in place as on the owner;
//   - compactions remove expired values (the engine judges the server's deadlines);
//   - values and deadlines are the engine's own: what the server writes, an embedder
//     reads through the public API byte for byte (and the other way round).
#include "server/store.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringdb/db.h"
#include "runtime/reactor.h"
#include "server/keyspace.h"

namespace ringdb::server {
namespace {

Op MakeOp(Store* store, OpCode code, std::string_view key, std::string_view val = {}) {
  Op op;
  op.code = code;
  op.key = key;
  op.val = val;
  op.shard = store->ShardOf(key);
  op.hash = KeyHash(key);
  return op;
}

class StoreTest : public ::testing::TestWithParam<Durability> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringdb-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    spaces_.clear();
    if (store_ != nullptr) {
      EXPECT_TRUE(store_->Close().ok());
    }
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(StoreOptions o) {
    o.path = dir_;
    ASSERT_TRUE(Store::Open(o, &store_).ok());
    for (uint32_t i = 0; i < store_->shard_count(); i++)
      spaces_.push_back(std::make_unique<Keyspace>(store_.get(), i));
  }

  // From a fiber: runs every list (ops of one shard each) on its shard, all at once.
  void RunOnOwners(std::vector<std::vector<Op*>>& lists) {
    struct Arg {
      Keyspace* ks;
      std::vector<Op*>* ops;
    };
    std::vector<Arg> args;
    std::vector<ShardCall> calls;
    args.reserve(lists.size());
    for (uint32_t sh = 0; sh < lists.size(); sh++) {
      if (lists[sh].empty()) continue;
      args.push_back({spaces_[sh].get(), &lists[sh]});
      calls.emplace_back();
      calls.back().shard = sh;
      calls.back().arg = &args.back();
      calls.back().fn = [](void* p) {
        auto* a = static_cast<Arg*>(p);
        a->ks->Run(a->ops->data(), a->ops->size());
      };
    }
    store_->RunAll(calls.data(), calls.size());
  }
  void RunOnOwner(Op* op) {
    std::vector<std::vector<Op*>> lists(store_->shard_count());
    lists[op->shard].push_back(op);
    RunOnOwners(lists);
  }
  // From a fiber: reads in place, or on the owner when ReadInPlace declines.
  bool ReadHere(Op* op) {
    std::vector<KeyRead> scratch;
    if (Keyspace::ReadInPlace(store_.get(), op->shard, &op, 1, &scratch)) return true;
    RunOnOwner(op);
    return false;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Keyspace>> spaces_;
};

TEST_P(StoreTest, AcknowledgedWriteIsSeenInPlaceFromEveryShard) {
  StoreOptions o;
  o.shards = 3;
  o.durability = GetParam();
  o.memtable_bytes = 128 << 10;  // memtable switches and flushes while reads run
  Open(o);
  std::atomic<uint64_t> declined{0}, mismatches{0};
  Status st = store_->RunOnEveryShard([&](uint32_t me) {
    for (int i = 0; i < 400; i++) {
      const std::string key = "k" + std::to_string(i % 50) + "-" + std::to_string(me);
      const std::string val = "v" + std::to_string(i) + std::string(64, 'x');
      Op set = MakeOp(store_.get(), OpCode::kSet, key, val);
      RunOnOwner(&set);
      ASSERT_EQ(set.kind, ResultKind::kOk) << set.s;
      // Right after the reply: every shard, this one included, must see it.
      Op get = MakeOp(store_.get(), OpCode::kGet, key);
      if (!ReadHere(&get)) declined.fetch_add(1);
      if (get.kind != ResultKind::kBulk || get.s != val) mismatches.fetch_add(1);
    }
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(store_->completions_held_back(), 0u)
      << "the engine acknowledged writes before publishing them (the adapter held them back)";
  // Everything published is durable in sync mode: reads never need the owner there.
  if (GetParam() == Durability::kSync) {
    EXPECT_EQ(declined.load(), 0u);
  }
}

TEST_P(StoreTest, BlocksMissingFromTheOwnersCacheAreReadByTheOwner) {
  StoreOptions o;
  o.shards = 3;
  o.durability = GetParam();
  o.memtable_bytes = 64 << 10;      // the values end up in tables
  o.block_cache_bytes = 192 << 10;  // smaller than the data: reads miss
  Open(o);
  constexpr int kKeys = 6000;
  std::vector<std::string> keys, vals;
  for (int i = 0; i < kKeys; i++) {
    keys.push_back("key" + std::to_string(i));
    vals.push_back(std::to_string(i) + std::string(100, 'a' + i % 26));
  }
  uint64_t wrong = 0, reads_before = 0, reads_after = 0, in_place = 0;
  Status st = store_->RunOnEveryShard([&](uint32_t me) {
    if (me != 0) return;
    for (int b = 0; b < kKeys; b += 300) {  // MSET-like lists, every shard at once
      std::vector<Op> ops;
      ops.reserve(300);
      std::vector<std::vector<Op*>> lists(store_->shard_count());
      for (int i = b; i < b + 300; i++) {
        ops.push_back(MakeOp(store_.get(), OpCode::kSet, keys[i], vals[i]));
        lists[ops.back().shard].push_back(&ops.back());
      }
      RunOnOwners(lists);
    }
    Stats s0;
    store_->GetStats(&s0);
    reads_before = s0.total.table_reads;
    // Lists of 16 keys of one other shard, read here as a pipelined burst would be.
    for (uint32_t owner = 1; owner < store_->shard_count(); owner++) {
      std::vector<Op> ops;
      std::vector<Op*> ptrs;
      std::vector<KeyRead> scratch;
      auto flush = [&] {
        if (ptrs.empty()) return;
        if (Keyspace::ReadInPlace(store_.get(), owner, ptrs.data(), ptrs.size(), &scratch)) {
          in_place += ptrs.size();
        } else {
          std::vector<std::vector<Op*>> lists(store_->shard_count());
          lists[owner] = ptrs;
          RunOnOwners(lists);
        }
        for (Op* op : ptrs) wrong += op->kind != ResultKind::kBulk || op->s != vals[op->a];
        ops.clear();
        ptrs.clear();
      };
      ops.reserve(16);
      for (int i = 0; i < kKeys; i++) {
        if (store_->ShardOf(keys[i]) != owner) continue;
        ops.push_back(MakeOp(store_.get(), OpCode::kGet, keys[i]));
        ops.back().a = i;
        ptrs.push_back(&ops.back());
        if (ptrs.size() == 16) flush();
      }
      flush();
    }
    Stats s1;
    store_->GetStats(&s1);
    reads_after = s1.total.table_reads;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(in_place, uint64_t{kKeys / 2});
  EXPECT_GT(reads_after, reads_before) << "no block was read from disk: the test proves nothing";
}

TEST_P(StoreTest, DeadlinesHideValuesInPlace) {
  std::atomic<uint64_t> now{1'700'000'000'000ull};
  StoreOptions o;
  o.shards = 2;
  o.durability = GetParam();
  o.clock_ms = [&now] { return now.load(); };
  Open(o);
  Status st = store_->RunOnEveryShard([&](uint32_t me) {
    if (me != 0) return;
    std::string key = "a";
    while (store_->ShardOf(key) != 1) key += "a";
    Op set = MakeOp(store_.get(), OpCode::kSet, key, "v");
    set.when = When::kRelMs;
    set.at = 1000;
    RunOnOwner(&set);
    Op ttl = MakeOp(store_.get(), OpCode::kTtl, key);
    ttl.flags = Op::kMs;
    ReadHere(&ttl);
    EXPECT_EQ(ttl.i, 1000);
    now += 1000;
    Op get = MakeOp(store_.get(), OpCode::kGet, key);
    ReadHere(&get);
    EXPECT_EQ(get.kind, ResultKind::kNull);
    ttl.ResetResult();
    ReadHere(&ttl);
    EXPECT_EQ(ttl.i, -2);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST_P(StoreTest, ValuesAndDeadlinesAreTheEnginesOwn) {
  std::atomic<uint64_t> now{1'700'000'000'000ull};
  StoreOptions o;
  o.shards = 2;
  o.durability = GetParam();
  o.clock_ms = [&now] { return now.load(); };
  Open(o);
  Status st = store_->RunOnEveryShard([&](uint32_t me) {
    if (me != 0) return;
    Op set = MakeOp(store_.get(), OpCode::kSet, "ttl", std::string_view("v\0x", 3));
    set.when = When::kRelMs;
    set.at = 1000;
    RunOnOwner(&set);
    Op plain = MakeOp(store_.get(), OpCode::kSet, "plain", "w");
    RunOnOwner(&plain);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  spaces_.clear();
  ASSERT_TRUE(store_->Close().ok());
  store_.reset();

  // An embedder opens the same store: the client's bytes and the deadline, no header.
  Options eo;
  eo.path = dir_;
  eo.clock_ms = o.clock_ms;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(eo, &db).ok());
  std::string v;
  uint64_t deadline = 1;
  ASSERT_TRUE(db->Get(ReadOptions(), "ttl", &v, &deadline).ok());
  EXPECT_EQ(v, std::string("v\0x", 3));
  EXPECT_EQ(deadline, now.load() + 1000);
  ASSERT_TRUE(db->Get(ReadOptions(), "plain", &v, &deadline).ok());
  EXPECT_EQ(v, "w");
  EXPECT_EQ(deadline, 0u);
  WriteOptions wo;
  wo.expire_at_unix_ms = now.load() + 5000;
  ASSERT_TRUE(db->Put(wo, "embedded", "e").ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();

  // ...and the server sees the embedder's deadline.
  Open(o);
  st = store_->RunOnEveryShard([&](uint32_t me) {
    if (me != 0) return;
    Op ttl = MakeOp(store_.get(), OpCode::kTtl, "embedded");
    ttl.flags = Op::kMs;
    RunOnOwner(&ttl);
    EXPECT_EQ(ttl.i, 5000);
    now += 1000;
    Op get = MakeOp(store_.get(), OpCode::kGet, "ttl");
    RunOnOwner(&get);
    EXPECT_EQ(get.kind, ResultKind::kNull) << "expired at its deadline";
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST_P(StoreTest, CompactionsDropWhatExpired) {
  std::atomic<uint64_t> now{1'700'000'000'000ull};
  StoreOptions o;
  o.shards = 1;
  o.durability = GetParam();
  o.memtable_bytes = 64 << 10;  // many flushes: L0 fills and compactions run
  o.clock_ms = [&now] { return now.load(); };
  Open(o);
  const std::string value(200, 'x');
  uint64_t expired = 0, live = 0;
  Status st = store_->RunOnEveryShard([&](uint32_t) {
    for (int round = 0; round < 8; round++) {
      std::vector<std::string> keys;
      std::vector<Op> ops;
      // Every round spans the same key range, so compactions rewrite (no file moves).
      for (int i = 0; i < 400; i++) {
        std::string k(1, 'k');  // (not "k" + ...: GCC 12 warns falsely, -Wrestrict)
        k += std::to_string(i) + "-" + std::to_string(round);
        keys.push_back(std::move(k));
      }
      for (const std::string& k : keys) {
        ops.push_back(MakeOp(store_.get(), OpCode::kSet, k, value));
        ops.back().when = When::kRelMs;
        ops.back().at = 10;
      }
      std::vector<std::vector<Op*>> lists(1);
      for (Op& op : ops) lists[0].push_back(&op);
      RunOnOwners(lists);
      now += 10;  // every key written so far has expired
    }
    ringdb::Stats stats;
    for (int i = 0; i < 200 && stats.total.compaction_expired == 0; i++) {
      rt::SleepFor(10 * 1000 * 1000);  // compactions run in the background
      store_->GetStats(&stats);
    }
    expired = stats.total.compaction_expired;
    uint64_t with_deadline = 0, ttl_sum = 0;
    EXPECT_TRUE(store_->CountLocal(&live, &with_deadline, &ttl_sum).ok());
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(expired, 0u) << "no compaction removed an expired value";
  EXPECT_EQ(live, 0u);
}

INSTANTIATE_TEST_SUITE_P(Durability, StoreTest,
                         ::testing::Values(Durability::kSync, Durability::kPeriodic,
                                           Durability::kNone),
                         [](const ::testing::TestParamInfo<Durability>& i) {
                           return i.param == Durability::kSync       ? std::string("sync")
                                  : i.param == Durability::kPeriodic ? std::string("periodic")
                                                                     : std::string("none");
                         });

// A new store gets one shard per CPU but one (at least 1); an existing store keeps its
// count whatever the CPUs; an explicit count is used as given.
TEST(StoreShards, DefaultLeavesOneCpuAndAStoreKeepsItsCount) {
  char tmpl[] = "/tmp/ringdb-store-shards-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/db";
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(Store::ShardsFor(dir, 0), static_cast<uint32_t>(ncpu > 1 ? ncpu - 1 : 1));
  EXPECT_EQ(Store::ShardsFor(dir, 3), 3u);
  StoreOptions o;
  o.path = dir;
  o.shards = 3;
  std::unique_ptr<Store> st;
  ASSERT_TRUE(Store::Open(o, &st).ok());
  EXPECT_EQ(st->shard_count(), 3u);
  ASSERT_TRUE(st->Close().ok());
  st.reset();
  EXPECT_EQ(Store::ShardsFor(dir, 0), 3u);
  o.shards = 0;
  ASSERT_TRUE(Store::Open(o, &st).ok());
  EXPECT_EQ(st->shard_count(), 3u);
  ASSERT_TRUE(st->Close().ok());
  st.reset();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ringdb::server
