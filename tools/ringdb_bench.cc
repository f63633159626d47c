// ringdb-bench: db_bench-style workloads against the public ringdb API.
//
// Phases (--benchmarks, comma list, run in order on the same DB):
//   fillseq fillrandom overwrite readrandom readmissing readwhilewriting
//   readrandomwriterandom mixed
// Every operation is timed and attributed to db->ShardForKey(key); each application
// thread keeps one histogram per (shard, op kind), merged at the end of the phase.
// See docs/bench.md.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_histogram.h"
#include "ringdb/db.h"
#include "ringdb/options.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"

namespace ringdb_bench {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

// ---------------------------------------------------------------------------------
// Configuration

struct Config {
  std::string benchmarks = "fillrandom,mixed";
  uint64_t num = 200000;
  uint64_t ops = 0;  // read/mixed phases when duration == 0 (0 = num)
  int key_size = 16;
  int value_size = 100;
  int threads = 2;
  double duration = 10;
  uint32_t shards = 0;
  std::string durability = "none";
  uint32_t periodic_sync_ms = 100;
  std::string io_backend = "auto";
  int64_t cache_size = -1;      // -1: Options default
  int64_t memtable_bytes = -1;  // -1: Options default
  bool pin_threads = false;
  std::string db = "/var/tmp/ringdb-bench";
  bool use_existing_db = false;
  int readwritepercent = 80;
  std::string json_file;
  uint64_t seed = 42;
  bool async = false;
  uint32_t async_depth = 32;
  bool stats = false;
  bool histogram = false;
  double report_interval = 1.0;
};

enum class Phase {
  kFillSeq,
  kFillRandom,
  kOverwrite,
  kReadRandom,
  kReadMissing,
  kReadWhileWriting,
  kReadRandomWriteRandom,
  kMixed,
};

struct PhaseName {
  const char* name;
  Phase phase;
};
constexpr PhaseName kPhases[] = {
    {"fillseq", Phase::kFillSeq},
    {"fillrandom", Phase::kFillRandom},
    {"overwrite", Phase::kOverwrite},
    {"readrandom", Phase::kReadRandom},
    {"readmissing", Phase::kReadMissing},
    {"readwhilewriting", Phase::kReadWhileWriting},
    {"readrandomwriterandom", Phase::kReadRandomWriteRandom},
    {"mixed", Phase::kMixed},
};

bool IsFill(Phase p) {
  return p == Phase::kFillSeq || p == Phase::kFillRandom || p == Phase::kOverwrite;
}

json ConfigJson(const Config& c, uint32_t shard_count, const std::string& backend) {
  json j;
  j["benchmarks"] = c.benchmarks;
  j["num"] = c.num;
  j["ops"] = c.ops;
  j["key_size"] = c.key_size;
  j["value_size"] = c.value_size;
  j["threads"] = c.threads;
  j["duration"] = c.duration;
  j["shards_requested"] = c.shards;
  j["shards"] = shard_count;
  j["durability"] = c.durability;
  j["periodic_sync_ms"] = c.periodic_sync_ms;
  j["io_backend_requested"] = c.io_backend;
  j["io_backend"] = backend;
  j["cache_size"] = c.cache_size;
  j["memtable_bytes"] = c.memtable_bytes;
  j["pin_threads"] = c.pin_threads;
  j["db"] = c.db;
  j["use_existing_db"] = c.use_existing_db;
  j["readwritepercent"] = c.readwritepercent;
  j["seed"] = c.seed;
  j["async"] = c.async;
  j["async_depth"] = c.async_depth;
  return j;
}

// ---------------------------------------------------------------------------------
// Keys, values, randomness

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
};

int Digits(uint64_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

// Zero-padded decimal of n in buf[0, width).
void FormatKey(uint64_t n, char* buf, int width) {
  for (int i = width - 1; i >= 0; i--) {
    buf[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}

// A pool of pseudo-random bytes; each value is a slice of it at a random offset.
class ValuePool {
 public:
  ValuePool(size_t value_size, uint64_t seed) : value_size_(value_size) {
    size_t n = std::max<size_t>(1 << 20, value_size * 4);
    data_.resize(n + value_size);
    Rng r(seed ^ 0x5eedull);
    for (size_t i = 0; i < data_.size(); i += 8) {
      uint64_t x = r.Next();
      std::memcpy(&data_[i], &x, std::min<size_t>(8, data_.size() - i));
    }
    span_ = n;
  }
  std::string_view Get(Rng& r) const {
    return std::string_view(data_.data() + r.Uniform(span_), value_size_);
  }

 private:
  size_t value_size_;
  size_t span_ = 0;
  std::string data_;
};

// ---------------------------------------------------------------------------------
// Per-thread recording

enum Kind { kRead = 0, kWrite = 1, kKinds = 2 };

struct alignas(64) Slot {
  Histogram hist;
  std::atomic<uint64_t> found{0};  // reads that found a value
};

struct ThreadRec {
  ThreadRec(uint32_t shards, bool bg) : background(bg) {
    for (auto& k : slots) k.reset(new Slot[shards]);
  }
  std::unique_ptr<Slot[]> slots[kKinds];
  bool background;
  uint64_t finish_ns = 0;
  // Async: operations in flight.
  alignas(64) std::atomic<uint32_t> inflight{0};
};

struct ErrorState {
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first;
  void Report(const ringdb::Status& s, const char* what) {
    std::lock_guard<std::mutex> g(mu);
    if (first.empty()) first = std::string(what) + ": " + s.ToString();
    failed.store(true, std::memory_order_release);
  }
};

struct PhaseRun {
  Phase phase;
  std::string name;
  const Config* cfg;
  ringdb::DB* db;
  uint32_t shards;
  const ValuePool* values;
  uint64_t phase_index;
  std::vector<std::unique_ptr<ThreadRec>> recs;  // foreground first, then background
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};     // foreground: duration elapsed or error
  std::atomic<bool> bg_stop{false};  // background writer: foreground done
  std::atomic<int> fg_running{0};
  ErrorState err;
};

// Issues one operation, blocking or async, and records it.
class OpIssuer {
 public:
  OpIssuer(PhaseRun* run, ThreadRec* rec) : run_(run), rec_(rec) {}

  void Put(std::string_view key, std::string_view value) {
    uint32_t shard = run_->db->ShardForKey(key);
    Slot* slot = &rec_->slots[kWrite][shard];
    if (run_->cfg->async) {
      Throttle();
      uint64_t t0 = NowNs();
      PhaseRun* run = run_;
      ThreadRec* rec = rec_;
      run_->db->PutAsync(key, value, [run, rec, slot, t0](ringdb::Status s) {
        if (s.ok()) {
          slot->hist.Record(NowNs() - t0);
        } else {
          run->err.Report(s, "PutAsync");
        }
        Done(rec);
      });
      return;
    }
    uint64_t t0 = NowNs();
    ringdb::Status s = run_->db->Put(wo_, key, value);
    uint64_t t1 = NowNs();
    if (!s.ok()) {
      run_->err.Report(s, "Put");
      return;
    }
    slot->hist.Record(t1 - t0);
  }

  void Get(std::string_view key) {
    uint32_t shard = run_->db->ShardForKey(key);
    Slot* slot = &rec_->slots[kRead][shard];
    if (run_->cfg->async) {
      Throttle();
      uint64_t t0 = NowNs();
      PhaseRun* run = run_;
      ThreadRec* rec = rec_;
      run_->db->GetAsync(key, [run, rec, slot, t0](ringdb::Status s, std::string_view) {
        if (s.ok() || s.IsNotFound()) {
          slot->hist.Record(NowNs() - t0);
          if (s.ok())
            slot->found.store(slot->found.load(std::memory_order_relaxed) + 1,
                              std::memory_order_relaxed);
        } else {
          run->err.Report(s, "GetAsync");
        }
        Done(rec);
      });
      return;
    }
    uint64_t t0 = NowNs();
    ringdb::Status s = run_->db->Get(ro_, key, &value_);
    uint64_t t1 = NowNs();
    if (!s.ok() && !s.IsNotFound()) {
      run_->err.Report(s, "Get");
      return;
    }
    slot->hist.Record(t1 - t0);
    if (s.ok())
      slot->found.store(slot->found.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Waits for every async operation of this thread.
  void Drain() {
    uint32_t cur;
    while ((cur = rec_->inflight.load(std::memory_order_acquire)) != 0) {
      rec_->inflight.wait(cur, std::memory_order_acquire);
    }
  }

 private:
  void Throttle() {
    uint32_t depth = std::max<uint32_t>(1, run_->cfg->async_depth);
    uint32_t cur;
    while ((cur = rec_->inflight.load(std::memory_order_acquire)) >= depth) {
      rec_->inflight.wait(cur, std::memory_order_acquire);
    }
    rec_->inflight.fetch_add(1, std::memory_order_relaxed);
  }
  static void Done(ThreadRec* rec) {
    rec->inflight.fetch_sub(1, std::memory_order_release);
    rec->inflight.notify_one();
  }

  PhaseRun* run_;
  ThreadRec* rec_;
  ringdb::WriteOptions wo_;
  ringdb::ReadOptions ro_;
  std::string value_;
};

void Worker(PhaseRun* run, int tid, uint64_t quota, uint64_t first_key) {
  ThreadRec* rec = run->recs[tid].get();
  const Config& cfg = *run->cfg;
  Rng rng(cfg.seed * 0x100000001b3ull ^ (run->phase_index << 40) ^
          (static_cast<uint64_t>(tid) << 20) ^ 0x9e3779b9ull);
  OpIssuer io(run, rec);
  std::string key(static_cast<size_t>(cfg.key_size), '0');
  const bool bounded = cfg.duration <= 0 || IsFill(run->phase);
  int get_weight = 0, put_weight = 0;

  while (!run->go.load(std::memory_order_acquire)) std::this_thread::yield();

  if (rec->background) {
    // readwhilewriting's writer: random overwrites until the readers finish.
    while (!run->bg_stop.load(std::memory_order_relaxed) &&
           !run->err.failed.load(std::memory_order_relaxed)) {
      FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size);
      io.Put(key, run->values->Get(rng));
    }
    io.Drain();
    rec->finish_ns = NowNs();
    return;
  }

  for (uint64_t i = 0;; i++) {
    if (bounded ? i >= quota : run->stop.load(std::memory_order_relaxed)) break;
    if (run->err.failed.load(std::memory_order_relaxed)) break;
    switch (run->phase) {
      case Phase::kFillSeq:
        FormatKey(first_key + i, key.data(), cfg.key_size);
        io.Put(key, run->values->Get(rng));
        break;
      case Phase::kFillRandom:
      case Phase::kOverwrite:
        FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size);
        io.Put(key, run->values->Get(rng));
        break;
      case Phase::kReadRandom:
      case Phase::kReadWhileWriting:
        FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size);
        io.Get(key);
        break;
      case Phase::kReadMissing:
        // Same prefix as an existing key, but a '.' where its last digit would be.
        FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size - 1);
        key[static_cast<size_t>(cfg.key_size - 1)] = '.';
        io.Get(key);
        break;
      case Phase::kReadRandomWriteRandom:
        // db_bench's schedule: in each block of 100 ops, readwritepercent reads first.
        if (get_weight == 0 && put_weight == 0) {
          get_weight = cfg.readwritepercent;
          put_weight = 100 - cfg.readwritepercent;
        }
        FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size);
        if (get_weight > 0) {
          get_weight--;
          io.Get(key);
        } else {
          put_weight--;
          io.Put(key, run->values->Get(rng));
        }
        break;
      case Phase::kMixed: {
        // Each op independently a read with probability readwritepercent%.
        bool read = rng.Uniform(100) < static_cast<uint64_t>(cfg.readwritepercent);
        FormatKey(rng.Uniform(cfg.num), key.data(), cfg.key_size);
        if (read) {
          io.Get(key);
        } else {
          io.Put(key, run->values->Get(rng));
        }
        break;
      }
    }
  }
  io.Drain();
  rec->finish_ns = NowNs();
  run->fg_running.fetch_sub(1, std::memory_order_release);
}

// ---------------------------------------------------------------------------------
// Aggregation and reporting

struct Agg {
  Histogram all;
  Histogram kind[kKinds];
  std::vector<Histogram> shard;  // foreground, all kinds
  uint64_t found = 0;
};

Agg Aggregate(const PhaseRun& run, bool background) {
  Agg a;
  a.shard.resize(run.shards);
  for (const auto& rec : run.recs) {
    if (rec->background != background) continue;
    for (int k = 0; k < kKinds; k++) {
      for (uint32_t s = 0; s < run.shards; s++) {
        const Slot& sl = rec->slots[k][s];
        if (sl.hist.count() == 0) continue;
        a.kind[k].Merge(sl.hist);
        a.shard[s].Merge(sl.hist);
        a.all.Merge(sl.hist);
        a.found += sl.found.load(std::memory_order_relaxed);
      }
    }
  }
  return a;
}

double Us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

json LatJson(const Histogram& h) {
  json j;
  j["count"] = h.count();
  j["mean_us"] = Us(static_cast<uint64_t>(h.Mean()));
  j["p50_us"] = Us(h.Percentile(0.50));
  j["p99_us"] = Us(h.Percentile(0.99));
  j["p999_us"] = Us(h.Percentile(0.999));
  j["max_us"] = Us(h.max());
  return j;
}

std::string LatStr(const Histogram& h) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "p50 %.1f p99 %.1f p99.9 %.1f max %.1f (us)",
                Us(h.Percentile(0.50)), Us(h.Percentile(0.99)), Us(h.Percentile(0.999)),
                Us(h.max()));
  return buf;
}

void PrintHistogram(const Histogram& h) {
  std::printf("Microseconds per op:\n");
  std::printf("Count: %" PRIu64 " Average: %.4f\n", h.count(), h.Mean() / 1000.0);
  std::printf("Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f Max: %.2f\n",
              Us(h.Percentile(0.5)), Us(h.Percentile(0.75)), Us(h.Percentile(0.99)),
              Us(h.Percentile(0.999)), Us(h.Percentile(0.9999)), Us(h.max()));
  std::printf("------------------------------------------------------\n");
  double total = static_cast<double>(h.count());
  double cum = 0;
  for (int b = 0; b < Histogram::kBuckets; b++) {
    uint64_t c = h.bucket(b);
    if (c == 0) continue;
    cum += static_cast<double>(c);
    double pct = 100.0 * static_cast<double>(c) / total;
    std::string bar(static_cast<size_t>(pct / 5.0 + 0.5), '#');
    std::printf("[ %10.3f, %10.3f ] %10" PRIu64 " %7.3f%% %7.3f%% %s\n",
                Us(Histogram::BucketLow(b)), Us(Histogram::BucketHigh(b) + 1), c, pct,
                100.0 * cum / total, bar.c_str());
  }
}

ringdb::ShardStats Delta(const ringdb::ShardStats& a, const ringdb::ShardStats& b) {
  ringdb::ShardStats d = b;  // gauges: the value at the end
  d.writes -= a.writes;
  d.write_groups -= a.write_groups;
  d.wal_bytes -= a.wal_bytes;
  d.wal_syncs -= a.wal_syncs;
  d.flushes -= a.flushes;
  d.flush_bytes -= a.flush_bytes;
  d.stall_ns -= a.stall_ns;
  d.gets -= a.gets;
  d.table_reads -= a.table_reads;
  d.bloom_skips -= a.bloom_skips;
  d.cache_hits -= a.cache_hits;
  d.cache_misses -= a.cache_misses;
  return d;
}

json ShardStatsJson(const ringdb::ShardStats& s) {
  json j;
  j["shard"] = s.shard;
  j["writes"] = s.writes;
  j["write_groups"] = s.write_groups;
  j["wal_bytes"] = s.wal_bytes;
  j["wal_syncs"] = s.wal_syncs;
  j["flushes"] = s.flushes;
  j["flush_bytes"] = s.flush_bytes;
  j["stall_ns"] = s.stall_ns;
  j["gets"] = s.gets;
  j["table_reads"] = s.table_reads;
  j["bloom_skips"] = s.bloom_skips;
  j["cache_hits"] = s.cache_hits;
  j["cache_misses"] = s.cache_misses;
  j["cache_bytes"] = s.cache_bytes;
  j["memtable_bytes"] = s.memtable_bytes;
  j["immutable_memtables"] = s.immutable_memtables;
  j["l0_files"] = s.l0_files;
  return j;
}

void PrintDbStatsLine(const ringdb::ShardStats& d) {
  double per_group =
      d.write_groups ? static_cast<double>(d.writes) / static_cast<double>(d.write_groups) : 0.0;
  uint64_t lookups = d.cache_hits + d.cache_misses;
  std::printf(
      "  db: writes %" PRIu64 ", write groups %" PRIu64 " (%.1f writes/group), WAL syncs %" PRIu64
      ", WAL %.1f MB, flushes %" PRIu64 " (%.1f MB), stall %.1f ms, table gets %" PRIu64
      ", block reads %" PRIu64 ", bloom skips %" PRIu64 ", cache hit %.1f%%, L0 files %" PRIu64
      ", memtable %.1f MB\n",
      d.writes, d.write_groups, per_group, d.wal_syncs,
      static_cast<double>(d.wal_bytes) / 1048576.0, d.flushes,
      static_cast<double>(d.flush_bytes) / 1048576.0, static_cast<double>(d.stall_ns) / 1e6, d.gets,
      d.table_reads, d.bloom_skips,
      lookups ? 100.0 * static_cast<double>(d.cache_hits) / static_cast<double>(lookups) : 0.0,
      d.l0_files, static_cast<double>(d.memtable_bytes) / 1048576.0);
}

void PrintShardStatsTable(const ringdb::Stats& st) {
  std::printf("DB stats (%s):\n", st.io_backend.c_str());
  std::printf("%6s %10s %9s %9s %10s %9s %10s %8s %10s %9s %9s %9s %9s %6s %9s\n", "shard",
              "writes", "groups", "syncs", "wal_MB", "flushes", "flush_MB", "stall_ms", "gets",
              "blk_reads", "bloom_sk", "c_hits", "c_miss", "L0", "mem_MB");
  auto row = [](const char* label, const ringdb::ShardStats& s) {
    std::printf(
        "%6s %10" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10.1f %9" PRIu64 " %10.1f %8.1f %10" PRIu64
        " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6" PRIu64 " %9.1f\n",
        label, s.writes, s.write_groups, s.wal_syncs, static_cast<double>(s.wal_bytes) / 1048576.0,
        s.flushes, static_cast<double>(s.flush_bytes) / 1048576.0,
        static_cast<double>(s.stall_ns) / 1e6, s.gets, s.table_reads, s.bloom_skips, s.cache_hits,
        s.cache_misses, s.l0_files, static_cast<double>(s.memtable_bytes) / 1048576.0);
  };
  for (const auto& s : st.shards) row(std::to_string(s.shard).c_str(), s);
  row("total", st.total);
}

// ---------------------------------------------------------------------------------
// One phase

bool RunPhase(const Config& cfg, ringdb::DB* db, Phase phase, const std::string& name,
              uint64_t phase_index, const ValuePool& values, json* out) {
  auto run = std::make_unique<PhaseRun>();
  run->phase = phase;
  run->name = name;
  run->cfg = &cfg;
  run->db = db;
  run->shards = db->shard_count();
  run->values = &values;
  run->phase_index = phase_index;
  const int nfg = cfg.threads;
  const bool with_writer = phase == Phase::kReadWhileWriting;
  for (int t = 0; t < nfg; t++)
    run->recs.push_back(std::make_unique<ThreadRec>(run->shards, false));
  if (with_writer) run->recs.push_back(std::make_unique<ThreadRec>(run->shards, true));
  run->fg_running.store(nfg);

  const bool bounded = cfg.duration <= 0 || IsFill(phase);
  const uint64_t total = IsFill(phase) ? cfg.num : (cfg.ops ? cfg.ops : cfg.num);

  ringdb::Stats before;
  ringdb::Status s = db->GetStats(&before);
  if (!s.ok()) {
    std::fprintf(stderr, "GetStats: %s\n", s.ToString().c_str());
    return false;
  }

  std::vector<std::thread> threads;
  uint64_t next_first = 0;
  for (int t = 0; t < nfg; t++) {
    uint64_t quota = total / static_cast<uint64_t>(nfg) +
                     (static_cast<uint64_t>(t) < total % static_cast<uint64_t>(nfg) ? 1 : 0);
    threads.emplace_back(Worker, run.get(), t, quota, next_first);
    next_first += quota;
  }
  if (with_writer) threads.emplace_back(Worker, run.get(), nfg, 0, 0);

  const uint64_t start = NowNs();
  run->go.store(true, std::memory_order_release);
  const uint64_t deadline = bounded ? ~0ull : start + static_cast<uint64_t>(cfg.duration * 1e9);
  const uint64_t interval = static_cast<uint64_t>(cfg.report_interval * 1e9);
  uint64_t next_report = interval ? start + interval : ~0ull;
  uint64_t last_ops = 0, last_t = start;
  const bool tty = isatty(STDERR_FILENO);
  bool printed_progress = false;

  while (run->fg_running.load(std::memory_order_acquire) > 0) {
    uint64_t now = NowNs();
    if (now >= deadline) run->stop.store(true, std::memory_order_relaxed);
    if (now >= next_report) {
      Agg a = Aggregate(*run, false);
      uint64_t ops = a.all.count();
      double el = static_cast<double>(now - start) / 1e9;
      double cur = static_cast<double>(ops - last_ops) / (static_cast<double>(now - last_t) / 1e9);
      std::fprintf(stderr,
                   "%s%-12s: %6.1fs %10" PRIu64 " ops  %9.0f ops/s (now %9.0f)  p99 %.1f us%s",
                   tty ? "\r" : "", name.c_str(), el, ops, static_cast<double>(ops) / el, cur,
                   Us(a.all.Percentile(0.99)), tty ? "   " : "\n");
      std::fflush(stderr);
      printed_progress = true;
      last_ops = ops;
      last_t = now;
      next_report += interval;
    }
    uint64_t wake = std::min(deadline, next_report);
    now = NowNs();
    uint64_t sleep_ns = wake > now ? std::min<uint64_t>(wake - now, 5000000) : 0;
    if (sleep_ns) std::this_thread::sleep_for(std::chrono::nanoseconds(sleep_ns));
  }
  run->bg_stop.store(true, std::memory_order_relaxed);
  for (auto& t : threads) t.join();
  if (tty && printed_progress) std::fprintf(stderr, "\n");

  uint64_t finish = start;
  for (int t = 0; t < nfg; t++) finish = std::max(finish, run->recs[t]->finish_ns);
  const double secs = std::max(1e-9, static_cast<double>(finish - start) / 1e9);

  ringdb::Stats after;
  s = db->GetStats(&after);
  if (!s.ok()) {
    std::fprintf(stderr, "GetStats: %s\n", s.ToString().c_str());
    return false;
  }

  Agg a = Aggregate(*run, false);
  const uint64_t ops = a.all.count();
  const uint64_t writes = a.kind[kWrite].count();
  const uint64_t reads = a.kind[kRead].count();
  const double entry = static_cast<double>(cfg.key_size + cfg.value_size);
  const double mb =
      (static_cast<double>(writes) + static_cast<double>(a.found)) * entry / 1048576.0;
  const double ops_s = static_cast<double>(ops) / secs;
  // db_bench's micros/op: thread-seconds per op.
  const double micros_op = ops ? secs * 1e6 * nfg / static_cast<double>(ops) : 0.0;

  std::printf("%-12s : %11.3f micros/op %.0f ops/sec %.1f MB/s; %s", name.c_str(), micros_op, ops_s,
              mb / secs, LatStr(a.all).c_str());
  if (reads) std::printf(" (%" PRIu64 " of %" PRIu64 " found)", a.found, reads);
  std::printf("\n");
  if (reads && writes) {
    std::printf("  reads  : %10" PRIu64 " ops %10.0f ops/s; %s\n", reads,
                static_cast<double>(reads) / secs, LatStr(a.kind[kRead]).c_str());
    std::printf("  writes : %10" PRIu64 " ops %10.0f ops/s; %s\n", writes,
                static_cast<double>(writes) / secs, LatStr(a.kind[kWrite]).c_str());
  }
  Agg bg;
  double bg_secs = 0;
  if (with_writer) {
    bg = Aggregate(*run, true);
    bg_secs = std::max(1e-9, static_cast<double>(run->recs[nfg]->finish_ns - start) / 1e9);
    std::printf("  writer : %10" PRIu64 " ops %10.0f ops/s; %s (background, not in the totals)\n",
                bg.all.count(), static_cast<double>(bg.all.count()) / bg_secs,
                LatStr(bg.all).c_str());
  }
  std::printf("  %5s %12s %12s %10s %10s %10s %10s\n", "shard", "ops", "ops/s", "p50(us)",
              "p99(us)", "p99.9(us)", "max(us)");
  auto shard_row = [&](const std::string& label, const Histogram& h) {
    std::printf("  %5s %12" PRIu64 " %12.0f %10.1f %10.1f %10.1f %10.1f\n", label.c_str(),
                h.count(), static_cast<double>(h.count()) / secs, Us(h.Percentile(0.5)),
                Us(h.Percentile(0.99)), Us(h.Percentile(0.999)), Us(h.max()));
  };
  for (uint32_t i = 0; i < run->shards; i++) shard_row(std::to_string(i), a.shard[i]);
  shard_row("total", a.all);
  ringdb::ShardStats d = Delta(before.total, after.total);
  PrintDbStatsLine(d);
  if (cfg.histogram) PrintHistogram(a.all);
  std::fflush(stdout);

  if (out) {
    json j;
    j["name"] = name;
    j["config"] = ConfigJson(cfg, run->shards, db->io_backend());
    j["seconds"] = secs;
    j["ops"] = ops;
    j["ops_per_sec"] = ops_s;
    j["micros_per_op"] = micros_op;
    j["mb_per_sec"] = mb / secs;
    j["latency"] = LatJson(a.all);
    if (reads) {
      j["reads"] = LatJson(a.kind[kRead]);
      j["reads"]["found"] = a.found;
    }
    if (writes) j["writes"] = LatJson(a.kind[kWrite]);
    if (with_writer) {
      j["background_writes"] = LatJson(bg.all);
      j["background_writes"]["ops_per_sec"] = static_cast<double>(bg.all.count()) / bg_secs;
    }
    json shards = json::array();
    for (uint32_t i = 0; i < run->shards; i++) {
      json sj = LatJson(a.shard[i]);
      sj["shard"] = i;
      sj["ops"] = a.shard[i].count();
      sj["ops_per_sec"] = static_cast<double>(a.shard[i].count()) / secs;
      shards.push_back(sj);
    }
    j["shards"] = shards;
    json dbj;
    dbj["delta_total"] = ShardStatsJson(d);
    json per = json::array();
    for (size_t i = 0; i < after.shards.size() && i < before.shards.size(); i++) {
      per.push_back(ShardStatsJson(Delta(before.shards[i], after.shards[i])));
    }
    dbj["delta_shards"] = per;
    j["db_stats"] = dbj;
    out->push_back(j);
  }

  if (run->err.failed.load()) {
    std::fprintf(stderr, "%s: stopped on error: %s\n", name.c_str(), run->err.first.c_str());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------

bool PrepareDir(const Config& cfg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(cfg.db);
  if (cfg.use_existing_db || !fs::exists(p, ec)) return true;
  bool empty = fs::is_directory(p, ec) && fs::is_empty(p, ec);
  bool is_store = fs::exists(p / "OPTIONS", ec) || fs::exists(p / "LOCK", ec);
  if (!empty && !is_store) {
    std::fprintf(stderr,
                 "refusing to delete %s: it exists and does not look like a ringdb store "
                 "(no OPTIONS or LOCK file)\n",
                 cfg.db.c_str());
    return false;
  }
  fs::remove_all(p, ec);
  if (ec) {
    std::fprintf(stderr, "cannot remove %s: %s\n", cfg.db.c_str(), ec.message().c_str());
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"ringdb-bench: db_bench-style workloads for ringdb (see docs/bench.md)"};
  app.allow_windows_style_options(false);
  app.add_option("--benchmarks", cfg.benchmarks,
                 "comma list, run in order on the same DB: fillseq, fillrandom, overwrite, "
                 "readrandom, readmissing, readwhilewriting, readrandomwriterandom, mixed")
      ->capture_default_str();
  app.add_option("--num", cfg.num,
                 "number of keys: the key space [0, num) and the total ops of a fill phase "
                 "(split across threads)")
      ->capture_default_str();
  app.add_option("--ops", cfg.ops,
                 "total ops of a read/mixed phase when --duration is 0 (0 = --num)")
      ->capture_default_str();
  app.add_option("--key_size", cfg.key_size, "key bytes (zero-padded decimal)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1024));
  app.add_option("--value_size", cfg.value_size, "value bytes")
      ->capture_default_str()
      ->check(CLI::Range(0, 32 << 20));
  app.add_option("--threads", cfg.threads, "application threads issuing calls")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--duration", cfg.duration,
                 "seconds per read/mixed phase; 0 = --ops operations (fills always do --num)")
      ->capture_default_str();
  app.add_option("--shards", cfg.shards, "shards (0 = one per online CPU)")->capture_default_str();
  app.add_option("--durability", cfg.durability, "sync | periodic | none")
      ->capture_default_str()
      ->check(CLI::IsMember({"sync", "periodic", "none"}));
  app.add_option("--periodic_sync_ms", cfg.periodic_sync_ms, "fdatasync period for periodic")
      ->capture_default_str();
  app.add_option("--io_backend", cfg.io_backend, "auto | uring | aio")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "uring", "aio"}));
  app.add_option("--cache_size", cfg.cache_size, "block cache bytes, all shards (-1 = default)")
      ->capture_default_str();
  app.add_option("--memtable_bytes", cfg.memtable_bytes, "memtable bytes per shard (-1 = default)")
      ->capture_default_str();
  app.add_flag("--pin_threads", cfg.pin_threads, "pin shard threads to CPUs");
  app.add_option("--db", cfg.db, "store directory (deleted first unless --use_existing_db)")
      ->capture_default_str();
  app.add_flag("--use_existing_db", cfg.use_existing_db, "open the store as it is");
  app.add_option("--readwritepercent", cfg.readwritepercent,
                 "percent reads in readrandomwriterandom and mixed")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_option("--json", cfg.json_file, "write results as JSON to this file");
  app.add_option("--seed", cfg.seed, "random seed")->capture_default_str();
  app.add_flag("--async", cfg.async, "use PutAsync/GetAsync, --async_depth in flight per thread");
  app.add_option("--async_depth", cfg.async_depth, "async operations in flight per thread")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  app.add_flag("--stats", cfg.stats, "print DB::GetStats per shard at the end");
  app.add_flag("--histogram", cfg.histogram, "print the latency histogram of each phase");
  app.add_option("--report_interval", cfg.report_interval,
                 "seconds between progress lines on stderr (0 = none)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::pair<Phase, std::string>> phases;
  {
    std::string_view rest = cfg.benchmarks;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (item.empty()) continue;
      bool ok = false;
      for (const auto& p : kPhases) {
        if (item == p.name) {
          phases.emplace_back(p.phase, std::string(p.name));
          ok = true;
        }
      }
      if (!ok) {
        std::fprintf(stderr, "unknown benchmark '%.*s'\n", static_cast<int>(item.size()),
                     item.data());
        return 2;
      }
    }
  }
  if (phases.empty()) {
    std::fprintf(stderr, "no benchmarks given\n");
    return 2;
  }
  if (cfg.num == 0) {
    std::fprintf(stderr, "--num must be > 0\n");
    return 2;
  }
  if (Digits(cfg.num - 1) > cfg.key_size - 1) {
    std::fprintf(stderr,
                 "--key_size %d is too small for --num %" PRIu64
                 " (needs %d digits + 1 for readmissing)\n",
                 cfg.key_size, cfg.num, Digits(cfg.num - 1));
    return 2;
  }
  if (!PrepareDir(cfg)) return 1;

  ringdb::Options opt;
  opt.path = cfg.db;
  opt.create_if_missing = !cfg.use_existing_db;
  opt.shards = cfg.shards;
  opt.pin_threads = cfg.pin_threads;
  opt.durability = cfg.durability == "sync"       ? ringdb::Durability::kSync
                   : cfg.durability == "periodic" ? ringdb::Durability::kPeriodic
                                                  : ringdb::Durability::kNone;
  opt.periodic_sync_ms = cfg.periodic_sync_ms;
  opt.io_backend = cfg.io_backend == "uring" ? ringdb::IoBackendKind::kUring
                   : cfg.io_backend == "aio" ? ringdb::IoBackendKind::kAio
                                             : ringdb::IoBackendKind::kAuto;
  if (cfg.cache_size >= 0) opt.block_cache_bytes = static_cast<size_t>(cfg.cache_size);
  if (cfg.memtable_bytes > 0) opt.memtable_bytes = static_cast<size_t>(cfg.memtable_bytes);

  std::unique_ptr<ringdb::DB> db;
  ringdb::Status s = ringdb::DB::Open(opt, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "open %s: %s\n", cfg.db.c_str(), s.ToString().c_str());
    return 1;
  }

  struct utsname u {};
  uname(&u);
  std::printf("ringdb-bench: %u shards, io backend %s, %ld CPUs, Linux %s\n", db->shard_count(),
              db->io_backend().c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.release);
  std::printf("Keys: %d bytes, values: %d bytes, entries: %" PRIu64
              ", durability: %s, threads: %d%s, cache: %zu MB, memtable: %zu MB/shard, db: %s\n",
              cfg.key_size, cfg.value_size, cfg.num, cfg.durability.c_str(), cfg.threads,
              cfg.async ? (" (async, depth " + std::to_string(cfg.async_depth) + ")").c_str() : "",
              opt.block_cache_bytes >> 20, opt.memtable_bytes >> 20, cfg.db.c_str());
  std::printf("------------------------------------------------\n");
  std::fflush(stdout);

  ValuePool values(static_cast<size_t>(cfg.value_size), cfg.seed);
  json phases_json = json::array();
  bool ok = true;
  for (size_t i = 0; i < phases.size() && ok; i++) {
    ok = RunPhase(cfg, db.get(), phases[i].first, phases[i].second, i, values,
                  cfg.json_file.empty() ? nullptr : &phases_json);
  }

  ringdb::Stats final_stats;
  s = db->GetStats(&final_stats);
  if (cfg.stats) {
    if (s.ok()) {
      PrintShardStatsTable(final_stats);
    } else {
      std::fprintf(stderr, "GetStats: %s\n", s.ToString().c_str());
    }
  }

  if (!cfg.json_file.empty()) {
    json doc;
    doc["tool"] = "ringdb-bench";
    doc["machine"] = {{"nproc", sysconf(_SC_NPROCESSORS_ONLN)},
                      {"kernel", std::string(u.release)},
                      {"io_backend", db->io_backend()}};
    doc["config"] = ConfigJson(cfg, db->shard_count(), db->io_backend());
    doc["phases"] = phases_json;
    if (s.ok()) {
      json per = json::array();
      for (const auto& sh : final_stats.shards) per.push_back(ShardStatsJson(sh));
      doc["db_stats"] = {{"total", ShardStatsJson(final_stats.total)}, {"shards", per}};
    }
    std::ofstream f(cfg.json_file);
    f << doc.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", cfg.json_file.c_str());
      ok = false;
    }
  }

  s = db->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "close: %s\n", s.ToString().c_str());
    return 1;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace ringdb_bench

int main(int argc, char** argv) {
  return ringdb_bench::Main(argc, argv);
}
