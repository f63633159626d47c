// ringdb-bench's output: the per-phase report (db_bench's line, percentiles, per-kind
// and per-shard tables, JSON), and the tables across trials (shard sweep, engine ratios,
// medians of repeated runs). docs/bench.md "Output" shows each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_config.h"
#include "bench_engine.h"
#include "bench_histogram.h"
#include "bench_record.h"

namespace ringdb_bench {

inline double Us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}
json LatJson(const Histogram& h);

// The figures of one phase that the cross-trial tables use.
struct PhaseSummary {
  std::string name;
  std::string engine;
  uint32_t shards = 0;
  int run = 0;
  bool ok = false;
  double seconds = 0;
  uint64_t ops = 0;
  double ops_per_sec = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
};

struct PhaseReportInput {
  const Config* cfg = nullptr;
  const PhaseInfo* info = nullptr;
  Engine* engine = nullptr;
  uint32_t shards = 0;
  int run = 0;
  Dist dist = Dist::kUniform;
  uint32_t workers = 1;  // threads, or shard threads with --load=reactor (for micros/op)
  Agg fg;
  double secs = 0;
  bool has_bg = false;  // readwhilewriting's writer(s)
  Agg bg;
  double bg_secs = 0;
};

// Prints the phase's report to stdout (with the engine's counters) and returns its JSON.
json ReportPhase(const PhaseReportInput& in, PhaseSummary* summary);

// After every trial: medians of repeated runs, the scaling table of a shard sweep, and
// the ringdb/rocksdb ratios. Each prints only when it applies and returns its JSON (null
// when it does not apply).
json ReportRuns(const Config& cfg, const std::vector<PhaseSummary>& all);
json ReportScaling(const Config& cfg, const std::vector<PhaseSummary>& all);
json ReportComparison(const Config& cfg, const std::vector<PhaseSummary>& all);

}  // namespace ringdb_bench
