// Process-crash test: a child process (this binary, re-executed in the "crash-writer"
// mode, so it shares no gtest state) opens the store and writes from several threads;
// after each acknowledged operation it reports "A <thread> <seq>" on a pipe. The parent
// SIGKILLs it at a random moment, reopens the store and checks that
//   - every acknowledged write is present with its value, every acknowledged delete
//     is absent (in every durability mode: a process crash loses nothing the kernel got),
//   - nothing that was never written appears (values are derived from key and sequence
//     number, so any other value is a phantom), and the one operation per thread that
//     may have been in flight is either fully visible or not (per shard for batches).
// Each round writes fresh keys into the same store, so later rounds also recover stores
// that were themselves recovered; keys of earlier rounds must keep their settled values.
// The *_compaction modes write ~3 KB values into 64 KiB memtables (the minimum) and kill
// later, so that flushes and compactions run (and are killed) in the children: a child
// reports its compaction count ("C <n>") and the test fails if no child ever compacted.
//
// Replay: RINGDB_SEED=<seed>. Kill count: RINGDB_CRASH_KILLS (default per mode below).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "runtime/sanitizer.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::Printable;
using dbtest::TempDir;

constexpr uint32_t kShards = 2;
constexpr int kWriterThreads = 3;
constexpr int kKeysPerThread = 40;
constexpr uint32_t kMaxOpsPerThread = 100000;

// One operation of a writer thread, fully determined by (seed, round, thread, seq).
struct CrashOp {
  enum Kind { kPut, kDelete, kBatch, kPutAsync } kind = kPut;
  // key -> value (nullopt = delete). Keys within one op are distinct.
  std::vector<std::pair<std::string, std::optional<std::string>>> updates;
};

std::string CrashKey(uint32_t round, int thread, int k) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "r%05u-t%d-k%03d", round, thread, k);
  return buf;
}

// extra: bytes added to every value (the compaction modes write more data per op).
std::string CrashValue(const std::string& key, uint32_t seq, size_t extra) {
  std::string v = key + "@" + std::to_string(seq) + ":";
  const size_t len = v.size() + extra + (std::hash<std::string>()(v) % 400);
  while (v.size() < len) v += static_cast<char>('a' + v.size() % 26);
  return v;
}

CrashOp MakeOp(uint64_t seed, uint32_t round, int thread, uint32_t seq, size_t extra) {
  std::mt19937_64 rng(seed ^ (uint64_t{round} << 40) ^ (uint64_t(thread) << 32) ^ seq);
  CrashOp op;
  const uint64_t r = rng() % 100;
  auto key = [&] { return CrashKey(round, thread, static_cast<int>(rng() % kKeysPerThread)); };
  if (r < 55) {
    op.kind = CrashOp::kPut;
    std::string k = key();
    op.updates.emplace_back(k, CrashValue(k, seq, extra));
  } else if (r < 70) {
    op.kind = CrashOp::kDelete;
    op.updates.emplace_back(key(), std::nullopt);
  } else if (r < 85) {
    op.kind = CrashOp::kPutAsync;
    std::string k = key();
    op.updates.emplace_back(k, CrashValue(k, seq, extra));
  } else {
    op.kind = CrashOp::kBatch;
    std::set<std::string> used;
    const int n = 2 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      std::string k = key();
      if (!used.insert(k).second) continue;
      if (rng() % 4 == 0) {
        op.updates.emplace_back(k, std::nullopt);
      } else {
        op.updates.emplace_back(k, CrashValue(k, seq, extra));
      }
    }
  }
  return op;
}

// Mode names: "sync", "periodic", "none", optionally followed by "_compaction".
Durability ParseDurability(const std::string& s) {
  if (s.rfind("periodic", 0) == 0) return Durability::kPeriodic;
  if (s.rfind("none", 0) == 0) return Durability::kNone;
  return Durability::kSync;
}
bool IsCompactionMode(const std::string& s) {
  return dbtest::EndsWith(s, "_compaction");
}
// Bytes added to each value in the compaction modes: with 64 KiB memtables a child
// flushes every ~20 ops per shard and reaches the L0 trigger (4 files) quickly.
size_t ExtraValueBytes(const std::string& mode) {
  return IsCompactionMode(mode) ? 3000 : 0;
}

Options CrashOptions(const std::string& path, const std::string& mode) {
  Options opt = dbtest::SmallOptions(path, kShards);
  opt.durability = ParseDurability(mode);
  opt.periodic_sync_ms = 20;
  return opt;
}

void ReportLine(const std::string& line) {
  // One write() of < PIPE_BUF bytes: atomic with respect to the other threads.
  ssize_t n = ::write(dbtest::kChildReportFd, line.data(), line.size());
  (void)n;
}

// Performs `op` on `db` (PutAsync waits for its callback).
Status ApplyOp(DB* db, const CrashOp& op) {
  Status st;
  switch (op.kind) {
    case CrashOp::kPut:
      st = db->Put(op.updates[0].first, *op.updates[0].second);
      break;
    case CrashOp::kDelete:
      st = db->Delete(op.updates[0].first);
      break;
    case CrashOp::kPutAsync: {
      std::promise<Status> p;
      auto f = p.get_future();
      db->PutAsync(op.updates[0].first, *op.updates[0].second,
                   [&p](Status x) { p.set_value(std::move(x)); });
      st = f.get();
      break;
    }
    case CrashOp::kBatch: {
      WriteBatch b;
      for (auto& [k, v] : op.updates) {
        if (v.has_value()) {
          b.Put(k, *v);
        } else {
          b.Delete(k);
        }
      }
      st = db->Write(b);
      break;
    }
  }
  return st;
}

// Child mode. args: path durability seed round
int CrashWriterChild(const std::vector<std::string>& args) {
  ::alarm(60);
  if (args.size() != 4) return 100;
  const uint64_t seed = std::strtoull(args[2].c_str(), nullptr, 10);
  const uint32_t round = static_cast<uint32_t>(std::strtoul(args[3].c_str(), nullptr, 10));
  const size_t extra = ExtraValueBytes(args[1]);
  std::unique_ptr<DB> db;
  Status s = DB::Open(CrashOptions(args[0], args[1]), &db);
  if (!s.ok()) {
    std::fprintf(stderr, "[crash-writer] Open failed: %s\n", s.ToString().c_str());
    return 3;
  }
  ReportLine("O\n");
  const bool skip_some = dbtest::EnvU64("RINGDB_CRASH_SELFTEST_SKIP", 0) == 1;
  std::atomic<int> writers_left{kWriterThreads};
  std::vector<std::thread> threads;
  // Compaction modes: reports the compaction count whenever it changed ("C <n>"), so
  // the parent knows compactions ran in this process before the kill.
  if (IsCompactionMode(args[1])) {
    threads.emplace_back([&] {
      uint64_t reported = 0;
      while (writers_left.load() > 0) {
        Stats st;
        if (db->GetStats(&st).ok() && st.total.compactions != reported) {
          reported = st.total.compactions;
          ReportLine("C " + std::to_string(reported) + "\n");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t seq = 0; seq < kMaxOpsPerThread; ++seq) {
        CrashOp op = MakeOp(seed, round, t, seq, extra);
        // Test of the test: with RINGDB_CRASH_SELFTEST_SKIP=1 every 7th op is reported
        // but never performed, which the parent must report as lost writes.
        if (skip_some && seq % 7 == 3) {
          ReportLine("A " + std::to_string(t) + " " + std::to_string(seq) + "\n");
          continue;
        }
        Status st = ApplyOp(db.get(), op);
        if (!st.ok()) {
          std::fprintf(stderr, "[crash-writer] thread %d seq %u failed: %s\n", t, seq,
                       st.ToString().c_str());
          std::_Exit(4);
        }
        ReportLine("A " + std::to_string(t) + " " + std::to_string(seq) + "\n");
      }
      writers_left.fetch_sub(1);
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}
const dbtest::ChildModeRegistrar kCrashWriter("crash-writer", CrashWriterChild);

struct CrashParam {
  Durability durability;  // as the name says (the child derives it from the name)
  const char* name;
  uint64_t default_kills;
};

void PrintTo(const CrashParam& p, std::ostream* os) {
  *os << p.name;
}

// Reads every report line until EOF (the child died) or the deadline (then returns
// false with the child still running).
bool ReadReports(int fd, std::string* buf, std::chrono::steady_clock::time_point deadline,
                 bool stop_at_open) {
  char chunk[4096];
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (stop_at_open && buf->find("O\n") != std::string::npos) return false;
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, std::max(ms, 1));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    buf->append(chunk, static_cast<size_t>(n));
  }
}

using KeyStates = std::map<std::string, std::optional<std::string>>;

// One round: spawn a writer, kill it, parse what it acknowledged, reopen and check.
class CrashTest : public ::testing::TestWithParam<CrashParam> {
 protected:
  void SetUp() override {
    param_ = GetParam();
    seed_ = dbtest::TestSeed(std::string("CrashTest ") + param_.name);
    kills_ = dbtest::EnvU64("RINGDB_CRASH_KILLS", param_.default_kills);
    rng_.seed(seed_);
    path_ = tmp_.Sub("db");
    opt_ = CrashOptions(path_, param_.name);
    compaction_mode_ = IsCompactionMode(param_.name);
    extra_ = ExtraValueBytes(param_.name);
  }

  std::string FailContext(uint32_t round) const {
    std::ostringstream os;
    os << " [mode=" << param_.name << " round=" << round << " replay: RINGDB_SEED=" << seed_
       << " db_test --gtest_filter='*CrashTest*/" << param_.name << "']";
    return os.str();
  }

  // Spawns the round's writer and SIGKILLs it at a random moment; *reports gets every
  // line it wrote.
  void RunAndKillChild(uint32_t round, std::string* reports) {
    auto child = dbtest::SpawnChild(
        "crash-writer", {path_, param_.name, std::to_string(seed_), std::to_string(round)}, true);
    ASSERT_GT(child.pid, 0);
    const auto start = std::chrono::steady_clock::now();
    // The compaction modes kill later (up to 400 ms) so that flushes and compactions
    // are under way. Under ThreadSanitizer the children run several times slower: in
    // 400 ms no child of sync_compaction had compacted once.
#ifdef RINGDB_TSAN
    constexpr uint64_t kCompactionWindowUs = 2'000'000;
#else
    constexpr uint64_t kCompactionWindowUs = 400'000;
#endif
    const auto delay =
        std::chrono::microseconds(rng_() % (compaction_mode_ ? kCompactionWindowUs : 100000));
    bool eof;
    if (rng_() % 3 == 0) {
      // Let Open finish first so that the kill lands among writes more often.
      eof = ReadReports(child.report_fd, reports, start + std::chrono::seconds(20), true);
      if (!eof)
        eof =
            ReadReports(child.report_fd, reports, std::chrono::steady_clock::now() + delay, false);
    } else {
      eof = ReadReports(child.report_fd, reports, start + delay, false);
    }
    ::kill(child.pid, SIGKILL);
    if (!eof)
      ReadReports(child.report_fd, reports,
                  std::chrono::steady_clock::now() + std::chrono::seconds(30), false);
    ::close(child.report_fd);
    auto ex = dbtest::WaitChild(child.pid, 30000);
    ASSERT_TRUE(!ex.exited && ex.term_signal == SIGKILL)
        << "writer died before/other than by our SIGKILL: " << ex.Describe()
        << " (see its stderr above)" << FailContext(round);
  }

  // *acked[t]: how many operations thread t acknowledged, in order.
  void ParseReports(uint32_t round, const std::string& reports, std::vector<uint32_t>* acked) {
    std::istringstream in(reports);
    std::string tag;
    uint64_t round_compactions = 0;
    while (in >> tag) {
      if (tag == "O") {
        ++opened_children_;
        continue;
      }
      if (tag == "C") {
        in >> round_compactions;
        continue;
      }
      int t = -1;
      uint32_t seq = 0;
      ASSERT_EQ(tag, "A") << "bad report line" << FailContext(round);
      in >> t >> seq;
      ASSERT_TRUE(t >= 0 && t < kWriterThreads) << FailContext(round);
      ASSERT_EQ(seq, (*acked)[t]) << "thread " << t << " acked out of order" << FailContext(round);
      (*acked)[t] = seq + 1;
      ++total_acked_;
    }
    child_compactions_ += round_compactions;
    if (round_compactions > 0) ++rounds_compacted_;
  }

  // Thread t's keys of `round`: the state after its `acked` operations, or with the
  // one operation that may have been in flight applied too.
  void CheckThreadKeys(DB* db, uint32_t round, int t, uint32_t acked) {
    KeyStates state;
    for (uint32_t seq = 0; seq < acked; ++seq) {
      for (auto& [k, v] : MakeOp(seed_, round, t, seq, extra_).updates) state[k] = v;
    }
    KeyStates maybe;
    for (auto& [k, v] : MakeOp(seed_, round, t, acked, extra_).updates) maybe[k] = v;
    for (int ki = 0; ki < kKeysPerThread; ++ki) {
      const std::string key = CrashKey(round, t, ki);
      std::string got;
      Status g = db->Get(key, &got);
      ASSERT_TRUE(g.ok() || g.IsNotFound())
          << "Get(" << key << "): " << g.ToString() << FailContext(round);
      std::optional<std::string> have;
      if (g.ok()) have = got;
      auto st = state.find(key);
      const std::optional<std::string> want = st == state.end() ? std::nullopt : st->second;
      if (have == want) {
        settled_[key] = have;
        continue;
      }
      auto mb = maybe.find(key);
      if (mb != maybe.end() && have == mb->second) {
        ++inflight_applied_;
        settled_[key] = have;
        continue;
      }
      // Classify: a value of an earlier seq (or absent) means a lost ack; anything
      // else is a phantom.
      bool is_lost = !have.has_value();
      for (uint32_t seq = 0; seq < acked && !is_lost; ++seq) {
        for (auto& [k, v] : MakeOp(seed_, round, t, seq, extra_).updates) {
          if (k == key && v == have) is_lost = true;
        }
      }
      (is_lost ? lost_ : phantoms_)++;
      ADD_FAILURE() << (is_lost ? "LOST acknowledged write: " : "PHANTOM value: ") << key
                    << " want " << (want ? Printable(*want) : std::string("<absent>")) << " got "
                    << (have ? Printable(*have) : std::string("<absent>")) << " (thread " << t
                    << " acked " << acked << " ops)" << FailContext(round);
      settled_[key] = have;
    }
  }

  // Earlier rounds' keys must keep their settled values: a sample every round.
  void CheckSettledSample(DB* db, uint32_t round) {
    if (settled_.empty()) return;
    for (int i = 0; i < 200; ++i) {
      auto it = settled_.begin();
      std::advance(it, static_cast<long>(rng_() % settled_.size()));
      std::string got;
      Status g = db->Get(it->first, &got);
      std::optional<std::string> have;
      if (g.ok()) have = got;
      ASSERT_TRUE(g.ok() || g.IsNotFound()) << g.ToString() << FailContext(round);
      ASSERT_TRUE(have == it->second)
          << "settled key " << it->first << " changed after a later crash: want "
          << (it->second ? Printable(*it->second) : std::string("<absent>")) << " got "
          << (have ? Printable(*have) : std::string("<absent>")) << FailContext(round);
    }
  }

  // The final full check of every settled key, and the summary line.
  void FinalCheck() {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(opt_, &db));
    uint64_t present = 0;
    for (auto& [k, v] : settled_) {
      std::string got;
      Status g = db->Get(k, &got);
      std::optional<std::string> have;
      if (g.ok()) have = got;
      EXPECT_TRUE(have == v) << "final check " << k << ": " << g.ToString();
      if (have) ++present;
    }
    std::fprintf(stderr,
                 "[ crash] mode=%s seed=%llu kills=%llu children_opened=%llu acked_ops=%llu "
                 "acked_writes_lost=%llu phantoms=%llu inflight_applied=%llu keys=%zu present=%llu "
                 "child_compactions=%llu rounds_compacted=%llu parent_compactions=%llu\n",
                 param_.name, static_cast<unsigned long long>(seed_),
                 static_cast<unsigned long long>(kills_),
                 static_cast<unsigned long long>(opened_children_),
                 static_cast<unsigned long long>(total_acked_),
                 static_cast<unsigned long long>(lost_), static_cast<unsigned long long>(phantoms_),
                 static_cast<unsigned long long>(inflight_applied_), settled_.size(),
                 static_cast<unsigned long long>(present),
                 static_cast<unsigned long long>(child_compactions_),
                 static_cast<unsigned long long>(rounds_compacted_),
                 static_cast<unsigned long long>(parent_compactions_));
  }

  CrashParam param_{};
  uint64_t seed_ = 0;
  uint64_t kills_ = 0;
  std::mt19937_64 rng_;
  TempDir tmp_;
  std::string path_;
  Options opt_;
  bool compaction_mode_ = false;
  size_t extra_ = 0;
  // Settled state of earlier rounds: key -> value (nullopt = absent).
  KeyStates settled_;
  uint64_t total_acked_ = 0, lost_ = 0, phantoms_ = 0, inflight_applied_ = 0;
  uint64_t opened_children_ = 0;
  // Compactions the children reported (summed over rounds), rounds whose child had
  // compacted before the kill, and compactions the parent's reopens ran.
  uint64_t child_compactions_ = 0, rounds_compacted_ = 0, parent_compactions_ = 0;
};

TEST_P(CrashTest, AcknowledgedWritesSurviveSigkill) {
  for (uint32_t round = 0; round < kills_; ++round) {
    std::string reports;
    ASSERT_NO_FATAL_FAILURE(RunAndKillChild(round, &reports));
    std::vector<uint32_t> acked(kWriterThreads, 0);
    ASSERT_NO_FATAL_FAILURE(ParseReports(round, reports, &acked));

    std::unique_ptr<DB> db;
    Status s = DB::Open(opt_, &db);
    ASSERT_TRUE(s.ok()) << "recovery after SIGKILL failed: " << s.ToString() << FailContext(round);
    for (int t = 0; t < kWriterThreads; ++t) {
      ASSERT_NO_FATAL_FAILURE(CheckThreadKeys(db.get(), round, t, acked[t]));
    }
    ASSERT_NO_FATAL_FAILURE(CheckSettledSample(db.get(), round));
    Stats st;
    if (db->GetStats(&st).ok()) parent_compactions_ += st.total.compactions;
    ASSERT_OK(db->Close());
    if (HasFailure()) break;
  }
  ASSERT_NO_FATAL_FAILURE(FinalCheck());
  EXPECT_EQ(lost_, 0u);
  EXPECT_EQ(phantoms_, 0u);
  // The test only means something if the children got to write.
  EXPECT_GT(total_acked_, 0u) << "no child ever acknowledged a write";
  if (compaction_mode_) {
    EXPECT_GT(rounds_compacted_, 0u) << "no child compacted before it was killed: the "
                                        "compaction mode exercised nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CrashTest,
                         ::testing::Values(CrashParam{Durability::kSync, "sync", 60},
                                           CrashParam{Durability::kPeriodic, "periodic", 20},
                                           CrashParam{Durability::kNone, "none", 20},
                                           CrashParam{Durability::kSync, "sync_compaction", 12},
                                           CrashParam{Durability::kNone, "none_compaction", 12}),
                         [](const ::testing::TestParamInfo<CrashParam>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace ringdb
