// ringdb-bench: db_bench-style workloads against the public ringdb API, with YCSB
// workloads, shard sweeps, reactor-generated load, and RocksDB side by side (in a
// -Drocksdb=enabled build). docs/bench.md describes every flag and every output.
//
//   config   bench_config.{h,cc}       flags and the workload table
//   engines  bench_engine*.{h,cc}      ringdb (and RocksDB) behind one interface
//   load     bench_workload.{h,cc}     key choice and the op mix of each workload
//            bench_runner.{h,cc}       application threads or shard fibers; progress
//   output   bench_report.{h,cc}       per-phase report, scaling table, engine ratios
//
// A trial is one engine opened on a fresh store (unless --use_existing_db) at one shard
// count, running every --benchmarks phase in order. Trials run for each --runs round,
// each --sweep_shards count and each --engine, engines alternating within a round.
#include <sys/utsname.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench_config.h"
#include "bench_engine.h"
#include "bench_report.h"
#include "bench_runner.h"
#include "ringdb/db.h"

namespace ringdb_bench {
namespace {

// Deletes a previous store at `path` unless it exists and is not a store of either engine.
bool PrepareDir(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) return true;
  bool empty = fs::is_directory(p, ec) && fs::is_empty(p, ec);
  bool is_store = false;
  for (const char* marker : {"OPTIONS", "LOCK", "CURRENT", "IDENTITY"}) {
    is_store = is_store || fs::exists(p / marker, ec);
  }
  if (!empty && !is_store) {
    std::fprintf(stderr,
                 "refusing to delete %s: it exists and does not look like a ringdb or RocksDB "
                 "store (no OPTIONS, LOCK, CURRENT or IDENTITY file)\n",
                 path.c_str());
    return false;
  }
  fs::remove_all(p, ec);
  if (ec) {
    std::fprintf(stderr, "cannot remove %s: %s\n", path.c_str(), ec.message().c_str());
    return false;
  }
  return true;
}

struct TrialKey {
  std::string engine;
  uint32_t shards;
  int run;
};

// One trial: open, run the phases, print and keep the final statistics, close.
bool RunTrial(const Config& cfg, const TrialKey& key, const ValuePool& values, json* phases_json,
              json* trials_json, std::vector<PhaseSummary>* summaries, std::string* ringdb_backend,
              json* last_ringdb_stats) {
  const std::string path = StorePath(cfg, key.engine, key.shards);
  if (!cfg.use_existing_db && !PrepareDir(path)) return false;
  EngineSpec spec;
  spec.cfg = &cfg;
  spec.path = path;
  spec.shards = key.shards;
  Status s;
  std::unique_ptr<Engine> engine = FindEngine(key.engine)(spec, &s);
  if (!engine) {
    std::fprintf(stderr, "open %s (%s): %s\n", path.c_str(), key.engine.c_str(),
                 s.ToString().c_str());
    return false;
  }
  std::printf(
      "== %s: %s; %s%s, db %s", engine->name().c_str(), engine->Describe().c_str(),
      cfg.load == Load::kReactor
          ? ("load: reactor, " + std::to_string(cfg.fibers_per_shard) + " fibers/shard").c_str()
          : ("load: " + std::to_string(cfg.threads) + " threads").c_str(),
      cfg.async ? (", async depth " + std::to_string(cfg.async_depth)).c_str() : "", path.c_str());
  if (cfg.runs > 1) std::printf(", run %d/%d", key.run + 1, cfg.runs);
  std::printf(" ==\n");
  std::fflush(stdout);
  if (engine->ringdb_db() && ringdb_backend->empty()) {
    *ringdb_backend = engine->ringdb_db()->io_backend();
  }

  Trial trial(cfg, engine.get(), values, key.run);
  bool ok = true;
  for (size_t i = 0; i < cfg.phases.size() && ok; i++) {
    PhaseSummary summary;
    ok = trial.RunPhase(*cfg.phases[i], i, phases_json, &summary);
    summaries->push_back(summary);
  }
  json final_stats = engine->FinalStats(cfg.stats);
  if (key.engine == "ringdb") *last_ringdb_stats = final_stats;
  trials_json->push_back({{"engine", key.engine},
                          {"shards", engine->shard_count()},
                          {"run", key.run},
                          {"db", path},
                          {"describe", engine->Describe()},
                          {"ok", ok},
                          {"final_stats", final_stats}});
  s = engine->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "close %s: %s\n", path.c_str(), s.ToString().c_str());
    return false;
  }
  return ok;
}

int Main(int argc, char** argv) {
  Config cfg;
  int rc = ParseFlags(argc, argv, &cfg);
  if (rc >= 0) return rc;
  for (const std::string& e : cfg.engines) {
    if (!FindEngine(e)) {
      std::fprintf(stderr,
                   "ringdb-bench: this binary was built without the %s engine (configure with "
                   "-D%s=enabled; needs librocksdb-dev). Engines here:",
                   e.c_str(), e.c_str());
      for (const std::string& n : EngineNames()) std::fprintf(stderr, " %s", n.c_str());
      std::fprintf(stderr, "\n");
      return 2;
    }
  }

  struct utsname u {};
  uname(&u);
  const long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("ringdb-bench: %ld CPUs, Linux %s\n", nproc, u.release);
  std::printf(
      "Keys: %d bytes, values: %d bytes, entries: %" PRIu64 ", durability: %s, benchmarks: %s\n",
      cfg.key_size, cfg.value_size, cfg.num, cfg.durability.c_str(), cfg.benchmarks.c_str());
  std::printf("------------------------------------------------\n");
  std::fflush(stdout);

  const ValuePool values(static_cast<size_t>(cfg.value_size), cfg.seed);
  std::vector<uint32_t> shard_counts = cfg.sweep_shards;
  if (shard_counts.empty()) shard_counts.push_back(cfg.shards);

  json phases_json = json::array();
  json trials_json = json::array();
  std::vector<PhaseSummary> summaries;
  std::string ringdb_backend;
  json last_ringdb_stats;
  bool ok = true;
  for (int run = 0; run < cfg.runs && ok; run++) {
    for (uint32_t n : shard_counts) {
      for (const std::string& e : cfg.engines) {
        ok = RunTrial(cfg, TrialKey{e, n, run}, values, &phases_json, &trials_json, &summaries,
                      &ringdb_backend, &last_ringdb_stats) &&
             ok;
        if (!ok) break;
      }
      if (!ok) break;
    }
  }

  json runs = ReportRuns(cfg, summaries);
  json scaling = ReportScaling(cfg, summaries);
  json comparison = ReportComparison(cfg, summaries);

  if (!cfg.json_file.empty()) {
    json doc;
    doc["tool"] = "ringdb-bench";
    doc["machine"] = {
        {"nproc", nproc}, {"kernel", std::string(u.release)}, {"io_backend", ringdb_backend}};
    doc["config"] = ConfigJson(cfg);
    doc["ok"] = ok;
    doc["phases"] = phases_json;
    doc["trials"] = trials_json;
    if (!last_ringdb_stats.is_null()) doc["db_stats"] = last_ringdb_stats;
    if (!runs.is_null()) doc["runs"] = runs;
    if (!scaling.is_null()) doc["scaling"] = scaling;
    if (!comparison.is_null()) doc["comparison"] = comparison;
    std::ofstream f(cfg.json_file);
    f << doc.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", cfg.json_file.c_str());
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace ringdb_bench

int main(int argc, char** argv) {
  return ringdb_bench::Main(argc, argv);
}
