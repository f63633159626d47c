// Runs the phases of one trial (one opened engine) with either load source, and prints
// and records each phase's results (docs/bench.md "Output").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench_config.h"
#include "bench_engine.h"
#include "bench_generators.h"
#include "bench_report.h"
#include "bench_workload.h"

namespace ringdb_bench {

class Trial {
 public:
  Trial(const Config& cfg, Engine* engine, const ValuePool& values, int run);

  // Runs one phase: prints its results and appends its JSON to *phases_json.
  bool RunPhase(const PhaseInfo& info, uint64_t phase_index, json* phases_json,
                PhaseSummary* summary);

 private:
  struct PhaseRun;
  void PreparePhase(const PhaseInfo& info, uint64_t phase_index, PhaseRun* r);
  PhaseReportInput MakeReportInput(const PhaseInfo& info, const PhaseRun& r, uint64_t start) const;
  uint64_t RunThreads(PhaseRun* r);
  uint64_t RunReactor(PhaseRun* r);

  const Config& cfg_;
  Engine* engine_;
  const ValuePool& values_;
  int run_;
  GlobalKeySpace global_;
  std::vector<std::unique_ptr<ShardKeySpace>> shard_spaces_;  // --load=reactor
  bool shard_keys_built_ = false;
  bool shard_missing_built_ = false;
};

}  // namespace ringdb_bench
