// reopen_bench: how long DB::Open takes on a store that was closed cleanly, and how fast
// recovery replays live WAL (issue 11, BENCH.md "reopen of a small store"). Plain main,
// not google-benchmark: each figure is one Open, repeated, reported as median and spread.
//
//   reopen_bench [--dir=D] [--keys=1000] [--runs=7] [--wal_mib=64] [--shards=0]
//
// Phase 1: a store with --keys keys (16-byte keys, 100-byte values), default options,
// closed cleanly; it is reopened --runs times. Phase 2: a store with about --wal_mib MiB
// of live WAL per shard (durability none, a memtable big enough that nothing is
// flushed), the process "crashes" (testing::Crash: nothing is closed), and Open replays
// it; MB/s = WAL bytes per shard / Open time (shards replay in parallel). Phase 2 runs
// twice: reopen_live_wal with the pages the crash left dirty (Open syncs each replayed
// segment, so it waits for their writeback), reopen_wal_on_disk after sync(2) (replay alone).
// Warnings logged during each Open are counted (they must be zero for a clean Open).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "db/test_hooks.h"
#include "ringdb/db.h"
#include "util/log.h"

namespace {

std::atomic<int> g_warnings{0};

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Key(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ull));
  return buf;
}

void Check(const ringdb::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

struct Figures {
  std::vector<double> ms;
  int warnings = 0;
};

void Report(const char* name, Figures f, const std::string& extra) {
  std::sort(f.ms.begin(), f.ms.end());
  std::printf("%-18s runs=%zu median=%.2f ms min=%.2f ms max=%.2f ms warnings=%d%s\n", name,
              f.ms.size(), f.ms[f.ms.size() / 2], f.ms.front(), f.ms.back(), f.warnings,
              extra.c_str());
}

double TimedOpen(const ringdb::Options& opt, std::unique_ptr<ringdb::DB>* db, int* warnings) {
  const int w0 = g_warnings.load();
  const double t0 = NowMs();
  Check(ringdb::DB::Open(opt, db), "open");
  const double t = NowMs() - t0;
  *warnings += g_warnings.load() - w0;
  return t;
}

Figures SmallStore(const std::string& dir, uint32_t shards, uint64_t keys, int runs) {
  ringdb::Options opt;
  opt.path = dir;
  opt.shards = shards;
  std::unique_ptr<ringdb::DB> db;
  Check(ringdb::DB::Open(opt, &db), "create");
  const std::string value(100, 'v');
  for (uint64_t i = 0; i < keys; i++) Check(db->Put({}, Key(i), value), "put");
  Check(db->Close(), "close");
  db.reset();
  Figures f;
  for (int r = 0; r < runs; r++) {
    f.ms.push_back(TimedOpen(opt, &db, &f.warnings));
    std::string v;
    Check(db->Get({}, Key(keys / 2), &v), "get");
    Check(db->Close(), "close");
    db.reset();
  }
  return f;
}

// on_disk: the crashed process's WAL pages are written back (sync(2)) before the timed
// Open, so it measures replay alone; otherwise Open also waits for the kernel to write
// the pages the crash left dirty (the fdatasync of each replayed segment).
Figures LiveWal(const std::string& dir, uint32_t shards, uint64_t wal_mib, int runs, bool on_disk,
                double* mib_per_shard) {
  Figures f;
  for (int r = 0; r < runs; r++) {
    std::system(("rm -rf " + dir).c_str());
    ringdb::Options opt;
    opt.path = dir;
    opt.shards = shards;
    opt.durability = ringdb::Durability::kNone;
    opt.memtable_bytes = 2ull << 30;  // nothing is flushed: the WAL is all live
    std::unique_ptr<ringdb::DB> db;
    Check(ringdb::DB::Open(opt, &db), "create");
    const uint32_t n = db->shard_count();
    const std::string value(1000, 'w');
    const uint64_t total = wal_mib * n * (1 << 20) / (value.size() + 16 + 40);
    ringdb::WriteBatch batch;
    for (uint64_t i = 0; i < total; i++) {
      batch.Put(Key(i), value);
      if (batch.Count() == 64) {
        Check(db->Write({}, batch), "write");
        batch.Clear();
      }
    }
    ringdb::Stats st;
    Check(db->GetStats(&st), "stats");
    *mib_per_shard = static_cast<double>(st.total.wal_bytes) / n / (1 << 20);
    ringdb::testing::Crash(std::move(db));
    if (on_disk) ::sync();
    opt.memtable_bytes = 64 << 20;
    f.ms.push_back(TimedOpen(opt, &db, &f.warnings));
    Check(db->Close(), "close");
    db.reset();
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/ringdb-reopen-bench";
  uint64_t keys = 1000, wal_mib = 64;
  int runs = 7;
  uint32_t shards = 0;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (std::strncmp(a, "--dir=", 6) == 0)
      dir = a + 6;
    else if (std::strncmp(a, "--keys=", 7) == 0)
      keys = std::strtoull(a + 7, nullptr, 10);
    else if (std::strncmp(a, "--runs=", 7) == 0)
      runs = std::atoi(a + 7);
    else if (std::strncmp(a, "--wal_mib=", 10) == 0)
      wal_mib = std::strtoull(a + 10, nullptr, 10);
    else if (std::strncmp(a, "--shards=", 9) == 0)
      shards = static_cast<uint32_t>(std::atoi(a + 9));
    else {
      std::fprintf(
          stderr,
          "usage: reopen_bench [--dir=D] [--keys=N] [--runs=N] [--wal_mib=N] [--shards=N]\n");
      return 2;
    }
  }
  ringdb::util::SetLogSink([](ringdb::util::LogLevel level, std::string_view msg) {
    if (level >= ringdb::util::LogLevel::kWarn) {
      g_warnings++;
      std::fprintf(stderr, "%.*s\n", static_cast<int>(msg.size()), msg.data());
    }
  });
  std::system(("rm -rf " + dir).c_str());
  Figures small = SmallStore(dir, shards, keys, runs);
  Report("reopen_small", small, " keys=" + std::to_string(keys));
  for (bool on_disk : {false, true}) {
    if (wal_mib == 0) break;
    double mib = 0;
    Figures live = LiveWal(dir + "-wal", shards, wal_mib, std::max(1, runs / 2), on_disk, &mib);
    std::sort(live.ms.begin(), live.ms.end());
    char extra[128];
    std::snprintf(extra, sizeof(extra), " wal_per_shard=%.1f MiB replay=%.0f MB/s per shard", mib,
                  mib * 1.048576 / (live.ms[live.ms.size() / 2] / 1000));
    Report(on_disk ? "reopen_wal_on_disk" : "reopen_live_wal", live, extra);
  }
  std::system(("rm -rf " + dir + " " + dir + "-wal").c_str());
  return 0;
}
