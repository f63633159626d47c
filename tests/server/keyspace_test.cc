// Keyspace (the ops of keyed commands on their shards) against a model, with a
// controllable clock for expiry; the pending table on its own.
//
// The model test applies random ops (SET with every option, GET, DEL, INCRBY, APPEND,
// PEXPIRE/PEXPIREAT with NX/XX/GT/LT, PERSIST, PTTL, PEXPIRETIME, GETDEL, GETEX) to a
// real store through the Keyspace, one at a time and as pipelined lists on one shard,
// and to a std::map with the same clock; compares every reply; moves the clock;
// reopens the store and compares every key and deadline. The store's clock is the
// engine's (Options::clock_ms): the engine stores the deadlines, hides expired values
// and drops them in compactions (small memtables make flushes and compactions happen).
// RINGDB_MODEL_SEED replays a run.
#include "server/keyspace.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/pending_table.h"
#include "server/store.h"

namespace ringdb::server {
namespace {

TEST(PendingTableTest, UpsertFindEraseAcrossGrowth) {
  PendingTable t;
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; i++) keys.push_back(std::string("k").append(std::to_string(i)));
  for (size_t i = 0; i < keys.size(); i++) {
    PendingEntry e;
    e.hash = KeyHash(keys[i]) & 0xff;  // force long probe runs
    e.key = keys[i];
    e.ticket = i + 1;
    t.Upsert(e);
  }
  EXPECT_EQ(t.size(), keys.size());
  for (size_t i = 0; i < keys.size(); i += 2) {
    EXPECT_FALSE(t.EraseIf(KeyHash(keys[i]) & 0xff, keys[i], i + 2)) << "wrong ticket kept";
    EXPECT_TRUE(t.EraseIf(KeyHash(keys[i]) & 0xff, keys[i], i + 1));
  }
  for (size_t i = 0; i < keys.size(); i++) {
    const PendingEntry* e = t.Find(KeyHash(keys[i]) & 0xff, keys[i]);
    if (i % 2 == 0) {
      EXPECT_EQ(e, nullptr) << i;
    } else {
      ASSERT_NE(e, nullptr) << i;
      EXPECT_EQ(e->ticket, i + 1);
    }
  }
}

// ---------------------------------------------------------------- the model

struct ModelValue {
  std::string v;
  uint64_t exp = 0;
};

class Model {
 public:
  explicit Model(const std::atomic<uint64_t>* now) : now_(now) {}
  std::optional<ModelValue> Get(const std::string& k) {
    auto it = m_.find(k);
    if (it == m_.end()) return std::nullopt;
    if (it->second.exp != 0 && it->second.exp <= now_->load()) {
      m_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }
  void Put(const std::string& k, std::string v, uint64_t exp) {
    if (exp != 0 && exp <= now_->load()) {
      m_.erase(k);
      return;
    }
    m_[k] = {std::move(v), exp};
  }
  void Del(const std::string& k) { m_.erase(k); }
  std::map<std::string, ModelValue> Live() {
    std::map<std::string, ModelValue> out;
    for (auto& [k, v] : m_) {
      if (v.exp == 0 || v.exp > now_->load()) out[k] = v;
    }
    return out;
  }

 private:
  const std::atomic<uint64_t>* now_;
  std::map<std::string, ModelValue> m_;
};

// The reply an op should give, as text: "OK", "nil", ":n", "$value", "-err".
std::string Describe(const Op& op) {
  switch (op.kind) {
    case ResultKind::kOk:
      return "OK";
    case ResultKind::kNull:
      return "nil";
    case ResultKind::kInt:
      return ":" + std::to_string(op.i);
    case ResultKind::kBulk:
      return "$" + op.s;
    case ResultKind::kSimple:
      return std::string("+") + op.sim;
    case ResultKind::kError:
      return std::string("-") + (op.err != nullptr ? op.err : op.s);
    default:
      return "?";
  }
}

// PEXPIRE/PEXPIREAT with their conditions, on the model.
std::string ApplyExpire(Model& m, const Op& op, const std::optional<ModelValue>& cur,
                        uint64_t now) {
  const std::string k(op.key);
  if (!cur) return ":0";
  const int64_t d = op.when == When::kAbsMs ? op.at : static_cast<int64_t>(now) + op.at;
  const uint64_t c = cur->exp;
  if ((op.flags & Op::kNx) && c != 0) return ":0";
  if ((op.flags & Op::kXx) && c == 0) return ":0";
  if ((op.flags & Op::kGt) && (c == 0 || static_cast<int64_t>(c) >= d)) return ":0";
  if ((op.flags & Op::kLt) && c != 0 && static_cast<int64_t>(c) <= d) return ":0";
  if (d <= static_cast<int64_t>(now)) {
    m.Del(k);
  } else {
    m.Put(k, cur->v, static_cast<uint64_t>(d));
  }
  return ":1";
}

// Applies op to the model; returns the expected reply in Describe's form.
std::string Apply(Model& m, const Op& op, uint64_t now) {
  const std::string k(op.key);
  auto cur = m.Get(k);
  auto deadline = [&]() -> uint64_t {
    if (op.when == When::kRelMs) return now + static_cast<uint64_t>(op.at);
    if (op.when == When::kAbsMs) return static_cast<uint64_t>(op.at);
    return 0;
  };
  switch (op.code) {
    case OpCode::kGet:
      return cur ? "$" + cur->v : "nil";
    case OpCode::kExists:
      return cur ? ":1" : ":0";
    case OpCode::kTtl: {
      if (!cur) return ":-2";
      if (cur->exp == 0) return ":-1";
      return ":" + std::to_string(cur->exp - now);
    }
    case OpCode::kExpireTime:  // PEXPIRETIME
      if (!cur) return ":-2";
      return cur->exp == 0 ? ":-1" : ":" + std::to_string(cur->exp);
    case OpCode::kSet: {
      const bool skip = ((op.flags & Op::kNx) && cur) || ((op.flags & Op::kXx) && !cur);
      std::string reply =
          (op.flags & Op::kGetOld) ? (cur ? "$" + cur->v : "nil") : (skip ? "nil" : "OK");
      if (!skip) {
        uint64_t d = deadline();
        if ((op.flags & Op::kKeepTtl) && cur) d = cur->exp;
        m.Put(k, std::string(op.val), d);
      }
      return reply;
    }
    case OpCode::kDel:
      if (!cur) return ":0";
      m.Del(k);
      return ":1";
    case OpCode::kIncrBy: {
      int64_t v = 0;
      if (cur) v = std::stoll(cur->v);
      v += op.a;
      m.Put(k, std::to_string(v), cur ? cur->exp : 0);
      return ":" + std::to_string(v);
    }
    case OpCode::kAppend: {
      std::string v = cur ? cur->v : "";
      v += op.val;
      m.Put(k, v, cur ? cur->exp : 0);
      return ":" + std::to_string(v.size());
    }
    case OpCode::kGetDel:
      if (!cur) return "nil";
      m.Del(k);
      return "$" + cur->v;
    case OpCode::kGetEx:
      if (!cur) return "nil";
      if (op.when == When::kPersist) {
        m.Put(k, cur->v, 0);
      } else if (op.when != When::kNone) {
        m.Put(k, cur->v, deadline());
      }
      return "$" + cur->v;
    case OpCode::kPersist:
      if (!cur || cur->exp == 0) return ":0";
      m.Put(k, cur->v, 0);
      return ":1";
    case OpCode::kExpire:
      return ApplyExpire(m, op, cur, now);
    default:
      return "?";
  }
}

class KeyspaceModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringdb-keyspace-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const char* env = std::getenv("RINGDB_MODEL_SEED");
    seed_ = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    now_.store(1'700'000'000'000ull);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    StoreOptions o;
    o.path = dir_;
    o.shards = 3;
    o.durability = Durability::kNone;
    o.memtable_bytes = 256 << 10;  // small: values move into tables, reads go there too
    o.clock_ms = [this] { return now_.load(); };
    ASSERT_TRUE(Store::Open(o, &store_).ok());
    spaces_.clear();
    for (uint32_t i = 0; i < store_->shard_count(); i++)
      spaces_.push_back(std::make_unique<Keyspace>(store_.get(), i));
  }
  void Close() {
    spaces_.clear();
    ASSERT_TRUE(store_->Close().ok());
    store_.reset();
  }

  // Runs the list of ops (all of one shard) on that shard, from shard 0's fiber.
  void RunList(std::vector<Op>& ops) {
    struct Arg {
      Keyspace* ks;
      std::vector<Op*> ptrs;
    } arg;
    arg.ks = spaces_[ops[0].shard].get();
    for (Op& op : ops) arg.ptrs.push_back(&op);
    ShardCall call;
    call.shard = ops[0].shard;
    call.arg = &arg;
    call.fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      a->ks->Run(a->ptrs.data(), a->ptrs.size());
    };
    store_->RunAll(&call, 1);
  }

  Op MakeOp(std::mt19937_64& rng, const std::string& key, std::string* keep) {
    Op op;
    op.key = key;
    op.shard = store_->ShardOf(key);
    op.hash = KeyHash(key);
    *keep = "v" + std::to_string(rng() % 1000);
    const uint64_t now = now_.load();
    switch (rng() % 14) {
      case 0:
      case 1: {
        op.code = OpCode::kSet;
        op.val = *keep;
        const int c = static_cast<int>(rng() % 6);
        if (c == 1) op.flags |= Op::kNx;
        if (c == 2) op.flags |= Op::kXx;
        if (c == 3) op.flags |= Op::kGetOld;
        if (c == 4) op.flags |= Op::kKeepTtl;
        if (c != 4 && rng() % 3 == 0) {
          op.when = rng() % 2 ? When::kRelMs : When::kAbsMs;
          op.at = static_cast<int64_t>(1 + rng() % 3000);
          if (op.when == When::kAbsMs) op.at += static_cast<int64_t>(now) - 500;
        }
        break;
      }
      case 2:
        op.code = OpCode::kGet;
        break;
      case 3:
        op.code = OpCode::kDel;
        break;
      case 4:
        op.code = OpCode::kExists;
        break;
      case 5:
        op.code = OpCode::kIncrBy;
        op.a = static_cast<int64_t>(rng() % 100) - 50;
        break;
      case 6:
        op.code = OpCode::kAppend;
        op.val = *keep;
        break;
      case 7:
        op.code = OpCode::kTtl;
        op.flags = Op::kMs;
        break;
      case 8:
        op.code = OpCode::kExpire;
        op.when = When::kRelMs;
        op.at = static_cast<int64_t>(rng() % 4000) - 500;
        op.flags = std::vector<uint8_t>{0, Op::kNx, Op::kXx, Op::kGt, Op::kLt}[rng() % 5];
        break;
      case 9:
        op.code = OpCode::kPersist;
        break;
      case 10:
        op.code = OpCode::kGetDel;
        break;
      case 12:
        op.code = OpCode::kExpireTime;
        op.flags = Op::kMs;
        break;
      case 13:  // PEXPIREAT, sometimes in the past
        op.code = OpCode::kExpire;
        op.when = When::kAbsMs;
        op.at = static_cast<int64_t>(now + rng() % 4000) - 500;
        op.flags = std::vector<uint8_t>{0, Op::kNx, Op::kXx, Op::kGt, Op::kLt}[rng() % 5];
        break;
      default:
        op.code = OpCode::kGetEx;
        op.when = std::vector<When>{When::kNone, When::kRelMs, When::kPersist}[rng() % 3];
        op.at = static_cast<int64_t>(1 + rng() % 3000);
        break;
    }
    return op;
  }

  // INCRBY on a key holding a non-number is an error in both; keep the model simple by
  // never appending to counters: counter keys are "n*".
  std::string KeyFor(std::mt19937_64& rng, bool counter) {
    return (counter ? "n" : "s") + std::to_string(rng() % 12);
  }

  // Reads the same ops again on shard 0 (this fiber's) without a hop, as a connection
  // there would: the same answers (every write was acknowledged before).
  void CompareInPlace(const std::vector<Op>& on_owner, const char* when) {
    std::vector<Op> here = on_owner;
    std::vector<Op*> ptrs;
    for (Op& op : here) ptrs.push_back(&op);
    std::vector<KeyRead> scratch;
    ASSERT_TRUE(
        Keyspace::ReadInPlace(store_.get(), here[0].shard, ptrs.data(), ptrs.size(), &scratch));
    for (size_t i = 0; i < here.size(); i++) {
      EXPECT_EQ(Describe(here[i]), Describe(on_owner[i])) << when << " in place " << here[i].key;
    }
  }

  void CompareAll(Model& model, const char* when) {
    std::map<std::string, ModelValue> live = model.Live();
    for (int i = 0; i < 12; i++) {
      for (const char* prefix : {"n", "s"}) {
        const std::string k = prefix + std::to_string(i);
        std::vector<Op> ops(2);
        for (Op& op : ops) {
          op.key = k;
          op.shard = store_->ShardOf(k);
          op.hash = KeyHash(k);
        }
        ops[0].code = OpCode::kGet;
        ops[1].code = OpCode::kTtl;
        ops[1].flags = Op::kMs;
        RunList(ops);
        if (ops[0].shard != 0) CompareInPlace(ops, when);
        auto it = live.find(k);
        if (it == live.end()) {
          EXPECT_EQ(Describe(ops[0]), "nil") << when << " " << k;
        } else {
          EXPECT_EQ(Describe(ops[0]), "$" + it->second.v) << when << " " << k;
          EXPECT_EQ(Describe(ops[1]), it->second.exp == 0
                                          ? ":-1"
                                          : ":" + std::to_string(it->second.exp - now_.load()))
              << when << " " << k;
        }
      }
    }
  }

  std::string dir_;
  uint64_t seed_ = 0;
  std::atomic<uint64_t> now_{0};
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Keyspace>> spaces_;
  std::map<std::string, std::vector<std::string>> history_;
  bool failed_ = false;
};

TEST_F(KeyspaceModelTest, RandomOpsMatchModelWithExpiryAndReopen) {
  SCOPED_TRACE("RINGDB_MODEL_SEED=" + std::to_string(seed_));
  std::mt19937_64 rng(seed_);
  Model model(&now_);
  Open();
  for (int round = 0; round < 3; round++) {
    Status st = store_->RunOnEveryShard([&](uint32_t shard) {
      if (shard != 0) return;
      for (int step = 0; step < 1500 && !failed_; step++) {
        if (rng() % 10 == 0) now_ += rng() % 1500;  // the clock moves
        // A pipelined list of up to 6 ops on keys of one shard (often the same key).
        const bool counter = rng() % 2 == 0;
        const std::string first = KeyFor(rng, counter);
        const uint32_t target = store_->ShardOf(first);
        std::vector<std::string> keys, keep(6);
        std::vector<Op> ops;
        const int n = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < n; i++) {
          std::string k = rng() % 2 ? first : KeyFor(rng, counter);
          if (store_->ShardOf(k) != target) k = first;
          keys.push_back(k);
        }
        for (int i = 0; i < n; i++) {
          Op op = MakeOp(rng, keys[i], &keep[i]);
          if (counter && op.code == OpCode::kAppend) op.code = OpCode::kIncrBy;
          if (counter && op.code == OpCode::kSet) {
            keep[i] = std::to_string(rng() % 100);
            op.val = keep[i];
          }
          if (!counter && op.code == OpCode::kIncrBy) op.code = OpCode::kGet;
          ops.push_back(op);
        }
        const uint64_t now = now_.load();
        std::vector<std::string> want;
        for (const Op& op : ops) want.push_back(Apply(model, op, now));
        RunList(ops);
        for (size_t i = 0; i < ops.size(); i++) {
          history_[std::string(ops[i].key)].push_back(
              "t=" + std::to_string(now) + " code=" + std::to_string(int(ops[i].code)) + " flags=" +
              std::to_string(ops[i].flags) + " when=" + std::to_string(int(ops[i].when)) +
              " at=" + std::to_string(ops[i].at) + " a=" + std::to_string(ops[i].a) +
              " val=" + std::string(ops[i].val) + " -> " + Describe(ops[i]) + " want " + want[i]);
          if (Describe(ops[i]) != want[i]) {
            for (const std::string& h : history_[std::string(ops[i].key)])
              fprintf(stderr, "  %s\n", h.c_str());
            failed_ = true;
          }
          ASSERT_EQ(Describe(ops[i]), want[i])
              << "round " << round << " step " << step << " op " << i << " key " << ops[i].key;
        }
      }
      CompareAll(model, "before reopen");
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    Close();
    now_ += 700;  // time passes while the store is closed: deadlines still count
    Open();
    st = store_->RunOnEveryShard([&](uint32_t shard) {
      if (shard == 0) CompareAll(model, "after reopen");
    });
    ASSERT_TRUE(st.ok());
  }
  Close();
}

TEST_F(KeyspaceModelTest, ManyIncrementsOnOneKeyShareWrites) {
  Open();
  Status st = store_->RunOnEveryShard([&](uint32_t shard) {
    if (shard != 0) return;
    std::vector<Op> ops(500);
    for (Op& op : ops) {
      op.key = "counter";
      op.shard = store_->ShardOf("counter");
      op.hash = KeyHash("counter");
      op.code = OpCode::kIncrBy;
      op.a = 1;
    }
    RunList(ops);
    for (size_t i = 0; i < ops.size(); i++) ASSERT_EQ(ops[i].i, static_cast<int64_t>(i + 1));
  });
  ASSERT_TRUE(st.ok());
  Close();
}

}  // namespace
}  // namespace ringdb::server
