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

class CrashTest : public ::testing::TestWithParam<CrashParam> {};

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

TEST_P(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const CrashParam param = GetParam();
  const uint64_t seed = dbtest::TestSeed(std::string("CrashTest ") + param.name);
  const uint64_t kills = dbtest::EnvU64("RINGDB_CRASH_KILLS", param.default_kills);
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const std::string path = tmp.Sub("db");
  const Options opt = CrashOptions(path, param.name);
  const bool compaction_mode = IsCompactionMode(param.name);
  const size_t extra = ExtraValueBytes(param.name);

  // Settled state of earlier rounds: key -> value (nullopt = absent).
  std::map<std::string, std::optional<std::string>> settled;
  uint64_t total_acked = 0, lost = 0, phantoms = 0, inflight_applied = 0, opened_children = 0;
  // Compactions the children reported (summed over rounds), rounds whose child had
  // compacted before the kill, and compactions the parent's reopens ran.
  uint64_t child_compactions = 0, rounds_compacted = 0, parent_compactions = 0;
  auto fail_context = [&](uint32_t round) {
    std::ostringstream os;
    os << " [mode=" << param.name << " round=" << round << " replay: RINGDB_SEED=" << seed
       << " db_test --gtest_filter='*CrashTest*/" << param.name << "']";
    return os.str();
  };

  for (uint32_t round = 0; round < kills; ++round) {
    auto child = dbtest::SpawnChild(
        "crash-writer", {path, param.name, std::to_string(seed), std::to_string(round)}, true);
    ASSERT_GT(child.pid, 0);
    const auto start = std::chrono::steady_clock::now();
    // The compaction modes kill later (up to 400 ms) so that flushes and compactions
    // are under way.
    const auto delay = std::chrono::microseconds(rng() % (compaction_mode ? 400000 : 100000));
    std::string reports;
    bool eof;
    if (rng() % 3 == 0) {
      // Let Open finish first so that the kill lands among writes more often.
      eof = ReadReports(child.report_fd, &reports, start + std::chrono::seconds(20), true);
      if (!eof)
        eof =
            ReadReports(child.report_fd, &reports, std::chrono::steady_clock::now() + delay, false);
    } else {
      eof = ReadReports(child.report_fd, &reports, start + delay, false);
    }
    ::kill(child.pid, SIGKILL);
    if (!eof)
      ReadReports(child.report_fd, &reports,
                  std::chrono::steady_clock::now() + std::chrono::seconds(30), false);
    ::close(child.report_fd);
    auto ex = dbtest::WaitChild(child.pid, 30000);
    ASSERT_TRUE(!ex.exited && ex.term_signal == SIGKILL)
        << "writer died before/other than by our SIGKILL: " << ex.Describe()
        << " (see its stderr above)" << fail_context(round);

    // Parse the acknowledgements.
    std::vector<uint32_t> acked(kWriterThreads, 0);
    std::istringstream in(reports);
    std::string tag;
    uint64_t round_compactions = 0;
    while (in >> tag) {
      if (tag == "O") {
        ++opened_children;
        continue;
      }
      if (tag == "C") {
        in >> round_compactions;
        continue;
      }
      int t = -1;
      uint32_t seq = 0;
      ASSERT_EQ(tag, "A") << "bad report line" << fail_context(round);
      in >> t >> seq;
      ASSERT_TRUE(t >= 0 && t < kWriterThreads) << fail_context(round);
      ASSERT_EQ(seq, acked[t]) << "thread " << t << " acked out of order" << fail_context(round);
      acked[t] = seq + 1;
      ++total_acked;
    }

    child_compactions += round_compactions;
    if (round_compactions > 0) ++rounds_compacted;

    std::unique_ptr<DB> db;
    Status s = DB::Open(opt, &db);
    ASSERT_TRUE(s.ok()) << "recovery after SIGKILL failed: " << s.ToString() << fail_context(round);

    for (int t = 0; t < kWriterThreads; ++t) {
      // Expected state after the acknowledged prefix, plus the updates of the one
      // operation that may have been in flight.
      std::map<std::string, std::optional<std::string>> state;
      for (uint32_t seq = 0; seq < acked[t]; ++seq) {
        for (auto& [k, v] : MakeOp(seed, round, t, seq, extra).updates) state[k] = v;
      }
      std::map<std::string, std::optional<std::string>> maybe;
      for (auto& [k, v] : MakeOp(seed, round, t, acked[t], extra).updates) maybe[k] = v;
      for (int ki = 0; ki < kKeysPerThread; ++ki) {
        const std::string key = CrashKey(round, t, ki);
        std::string got;
        Status g = db->Get(key, &got);
        ASSERT_TRUE(g.ok() || g.IsNotFound())
            << "Get(" << key << "): " << g.ToString() << fail_context(round);
        std::optional<std::string> have;
        if (g.ok()) have = got;
        auto st = state.find(key);
        const std::optional<std::string> want = st == state.end() ? std::nullopt : st->second;
        if (have == want) {
          settled[key] = have;
          continue;
        }
        auto mb = maybe.find(key);
        if (mb != maybe.end() && have == mb->second) {
          ++inflight_applied;
          settled[key] = have;
          continue;
        }
        // Classify: a value of an earlier seq (or absent) means a lost ack; anything
        // else is a phantom.
        bool is_lost = !have.has_value();
        for (uint32_t seq = 0; seq < acked[t] && !is_lost; ++seq) {
          for (auto& [k, v] : MakeOp(seed, round, t, seq, extra).updates) {
            if (k == key && v == have) is_lost = true;
          }
        }
        (is_lost ? lost : phantoms)++;
        ADD_FAILURE() << (is_lost ? "LOST acknowledged write: " : "PHANTOM value: ") << key
                      << " want " << (want ? Printable(*want) : std::string("<absent>")) << " got "
                      << (have ? Printable(*have) : std::string("<absent>")) << " (thread " << t
                      << " acked " << acked[t] << " ops)" << fail_context(round);
        settled[key] = have;
      }
    }
    // Earlier rounds' keys must keep their settled values: a sample every round.
    if (!settled.empty()) {
      for (int i = 0; i < 200; ++i) {
        auto it = settled.begin();
        std::advance(it, static_cast<long>(rng() % settled.size()));
        std::string got;
        Status g = db->Get(it->first, &got);
        std::optional<std::string> have;
        if (g.ok()) have = got;
        ASSERT_TRUE(g.ok() || g.IsNotFound()) << g.ToString() << fail_context(round);
        ASSERT_TRUE(have == it->second)
            << "settled key " << it->first << " changed after a later crash: want "
            << (it->second ? Printable(*it->second) : std::string("<absent>")) << " got "
            << (have ? Printable(*have) : std::string("<absent>")) << fail_context(round);
      }
    }
    Stats st;
    if (db->GetStats(&st).ok()) parent_compactions += st.total.compactions;
    ASSERT_OK(db->Close());
    if (HasFailure()) break;
  }

  // Final full check of every settled key.
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(opt, &db));
  uint64_t present = 0;
  for (auto& [k, v] : settled) {
    std::string got;
    Status g = db->Get(k, &got);
    std::optional<std::string> have;
    if (g.ok()) have = got;
    EXPECT_TRUE(have == v) << "final check " << k << ": " << g.ToString();
    if (have) ++present;
  }
  std::fprintf(
      stderr,
      "[ crash] mode=%s seed=%llu kills=%llu children_opened=%llu acked_ops=%llu "
      "acked_writes_lost=%llu phantoms=%llu inflight_applied=%llu keys=%zu present=%llu "
      "child_compactions=%llu rounds_compacted=%llu parent_compactions=%llu\n",
      param.name, static_cast<unsigned long long>(seed), static_cast<unsigned long long>(kills),
      static_cast<unsigned long long>(opened_children),
      static_cast<unsigned long long>(total_acked), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(phantoms), static_cast<unsigned long long>(inflight_applied),
      settled.size(), static_cast<unsigned long long>(present),
      static_cast<unsigned long long>(child_compactions),
      static_cast<unsigned long long>(rounds_compacted),
      static_cast<unsigned long long>(parent_compactions));
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(phantoms, 0u);
  // The test only means something if the children got to write.
  EXPECT_GT(total_acked, 0u) << "no child ever acknowledged a write";
  if (compaction_mode) {
    EXPECT_GT(rounds_compacted, 0u) << "no child compacted before it was killed: the "
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
