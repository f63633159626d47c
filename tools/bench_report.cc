#include "bench_report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace ringdb_bench {

namespace {

double PerSec(uint64_t n, double secs) {
  return static_cast<double>(n) / secs;
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

// What one latency sample of the phase is, when it is not one key's operation.
std::string SampleNote(const PhaseReportInput& in) {
  const Config& cfg = *in.cfg;
  switch (in.info->phase) {
    case Phase::kMultiGet:
      return " (one sample per MultiGet of " + std::to_string(cfg.multiget_batch) +
             " keys; ops are keys)";
    case Phase::kSeekRandom:
      return " (one sample per new iterator + Seek + " + std::to_string(cfg.seek_nexts) + " Next)";
    case Phase::kScan:
      return cfg.scan_length
                 ? " (one sample per scan of " + std::to_string(cfg.scan_length) + " entries)"
                 : " (one sample per entry of a full scan)";
    default:
      if (in.info->fill && cfg.batch_size > 1) {
        return " (one sample per WriteBatch of " + std::to_string(cfg.batch_size) +
               " keys; ops are keys)";
      }
      return "";
  }
}

json CountsJson(const Counts& c, double secs) {
  json j = LatJson(c.latency);
  j["ops"] = c.ops;
  j["ops_per_sec"] = PerSec(c.ops, secs);
  j["found"] = c.found;
  j["bytes"] = c.bytes;
  if (c.entries) j["entries"] = c.entries;
  return j;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Medians over runs of one (engine, shards, phase) cell.
struct Cell {
  std::string name, engine;
  uint32_t shards = 0;
  std::vector<double> ops_s, p50, p99;
  bool ok = true;
};

std::vector<Cell> Cells(const std::vector<PhaseSummary>& all) {
  std::vector<Cell> cells;
  for (const PhaseSummary& s : all) {
    auto it = std::find_if(cells.begin(), cells.end(), [&](const Cell& c) {
      return c.name == s.name && c.engine == s.engine && c.shards == s.shards;
    });
    if (it == cells.end()) {
      cells.push_back(Cell{s.name, s.engine, s.shards, {}, {}, {}, true});
      it = cells.end() - 1;
    }
    it->ok = it->ok && s.ok;
    it->ops_s.push_back(s.ops_per_sec);
    it->p50.push_back(s.p50_us);
    it->p99.push_back(s.p99_us);
  }
  return cells;
}

std::vector<std::string> PhaseOrder(const std::vector<PhaseSummary>& all) {
  std::vector<std::string> names;
  for (const PhaseSummary& s : all) {
    if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
  }
  return names;
}

std::string Spread(const std::vector<double>& v) {
  if (v.size() < 2) return "1 run";
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%zu runs, %.0f..%.0f, spread %.1f%%", v.size(), *lo, *hi,
                Median(v) > 0 ? 100.0 * (*hi - *lo) / Median(v) : 0.0);
  return buf;
}

}  // namespace

json LatJson(const Histogram& h) {
  json j;
  j["count"] = h.count();
  j["mean_us"] = h.Mean() / 1000.0;
  j["p50_us"] = Us(h.Percentile(0.50));
  j["p99_us"] = Us(h.Percentile(0.99));
  j["p999_us"] = Us(h.Percentile(0.999));
  j["max_us"] = Us(h.max());
  return j;
}

namespace {

// The headline figures of a phase, computed once for the printout, the JSON and the
// summary.
struct PhaseFigures {
  double secs = 0;
  double ops_s = 0;
  double micros_op = 0;  // db_bench's micros/op: worker-seconds per op
  double mb_s = 0;
};

PhaseFigures Figures(const PhaseReportInput& in) {
  const Counts& a = in.fg.all;
  PhaseFigures f;
  f.secs = in.secs;
  f.ops_s = PerSec(a.ops, f.secs);
  f.micros_op = a.ops ? f.secs * 1e6 * in.workers / static_cast<double>(a.ops) : 0.0;
  f.mb_s = static_cast<double>(a.bytes) / 1048576.0 / f.secs;
  return f;
}

// db_bench's line (7.x shape; scripts/compare_writes.sh parses "N ops/sec"), the
// percentiles, and a line per operation kind when the phase mixes kinds.
void PrintPhaseLines(const PhaseReportInput& in, const PhaseFigures& f) {
  const Counts& a = in.fg.all;
  const uint64_t reads = in.fg.kind[kRead].ops + in.fg.kind[kMultiGet].ops;
  const uint64_t found = in.fg.kind[kRead].found + in.fg.kind[kMultiGet].found;
  const Histogram& lat = a.latency;
  std::printf("%-12s : %11.3f micros/op %.0f ops/sec %.3f seconds %" PRIu64
              " operations; %6.1f MB/s",
              in.info->name, f.micros_op, f.ops_s, f.secs, a.ops, f.mb_s);
  if (reads) std::printf(" (%" PRIu64 " of %" PRIu64 " found)", found, reads);
  std::printf("\n");
  std::printf(
      "  Percentiles (us): P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f "
      "Max: %.2f%s\n",
      Us(lat.Percentile(0.5)), Us(lat.Percentile(0.75)), Us(lat.Percentile(0.99)),
      Us(lat.Percentile(0.999)), Us(lat.Percentile(0.9999)), Us(lat.max()), SampleNote(in).c_str());
  int kinds_used = 0;
  for (const Counts& k : in.fg.kind) kinds_used += k.ops > 0;
  if (kinds_used > 1) {
    for (int k = 0; k < kKinds; k++) {
      const Counts& c = in.fg.kind[k];
      if (!c.ops) continue;
      std::printf("  %-8s : %10" PRIu64 " ops %10.0f ops/s; %s", KindName(k), c.ops,
                  PerSec(c.ops, f.secs), LatStr(c.latency).c_str());
      if (k == kRead || k == kRmw) std::printf(" (%" PRIu64 " found)", c.found);
      if (k == kScan) std::printf(" (%" PRIu64 " entries)", c.entries);
      std::printf("\n");
    }
  }
  if (in.has_bg) {
    std::printf("  %-8s : %10" PRIu64 " ops %10.0f ops/s; %s (background, not in the totals)\n",
                "writer", in.bg.all.ops, PerSec(in.bg.all.ops, in.bg_secs),
                LatStr(in.bg.all.latency).c_str());
  }
}

// One row per shard (ops attributed to the owner of their key), the cross-shard row,
// the total.
void PrintShardTable(const PhaseReportInput& in, double secs) {
  std::printf("  %6s %12s %12s %10s %10s %10s %10s\n", "shard", "ops", "ops/s", "p50(us)",
              "p99(us)", "p99.9(us)", "max(us)");
  auto row = [&](const std::string& label, const Counts& c) {
    std::printf("  %6s %12" PRIu64 " %12.0f", label.c_str(), c.ops, PerSec(c.ops, secs));
    const Histogram& h = c.latency;
    if (h.count()) {
      std::printf(" %10.1f %10.1f %10.1f %10.1f\n", Us(h.Percentile(0.5)), Us(h.Percentile(0.99)),
                  Us(h.Percentile(0.999)), Us(h.max()));
    } else {
      std::printf(" %10s %10s %10s %10s\n", "-", "-", "-", "-");
    }
  };
  for (uint32_t i = 0; i < in.shards; i++) row(std::to_string(i), in.fg.shard[i]);
  const Counts& xs = in.fg.shard[in.shards];
  if (xs.ops || xs.latency.count()) row("xshard", xs);
  row("total", in.fg.all);
  if (in.info->iterator) std::printf("  (iterator operations span every shard: row xshard)\n");
}

json PhaseJson(const PhaseReportInput& in, const PhaseFigures& f) {
  const Counts& a = in.fg.all;
  json j;
  j["name"] = in.info->name;
  j["engine"] = in.engine->name();
  j["run"] = in.run;
  j["shard_count"] = in.shards;
  j["load"] = in.cfg->load_name;
  j["distribution"] = DistName(in.dist);
  j["seconds"] = f.secs;
  j["ops"] = a.ops;
  j["ops_per_sec"] = f.ops_s;
  j["micros_per_op"] = f.micros_op;
  j["mb_per_sec"] = f.mb_s;
  j["latency"] = LatJson(a.latency);
  for (int k = 0; k < kKinds; k++) {
    if (in.fg.kind[k].ops) j[KindName(k)] = CountsJson(in.fg.kind[k], f.secs);
  }
  if (in.has_bg) j["background_writes"] = CountsJson(in.bg.all, in.bg_secs);
  json shards = json::array();
  for (uint32_t i = 0; i < in.shards; i++) {
    json sj = CountsJson(in.fg.shard[i], f.secs);
    sj["shard"] = i;
    shards.push_back(sj);
  }
  j["shards"] = shards;
  const Counts& xs = in.fg.shard[in.shards];
  if (xs.ops || xs.latency.count()) j["cross_shard"] = CountsJson(xs, f.secs);
  return j;
}

}  // namespace

json ReportPhase(const PhaseReportInput& in, PhaseSummary* summary) {
  const PhaseFigures f = Figures(in);
  const Histogram& lat = in.fg.all.latency;
  PrintPhaseLines(in, f);
  PrintShardTable(in, f.secs);
  json j = PhaseJson(in, f);
  in.engine->PhaseEnd(in.cfg->stats, &j);
  if (in.cfg->histogram) PrintHistogram(lat);
  std::fflush(stdout);

  summary->name = in.info->name;
  summary->engine = in.engine->name();
  summary->shards = in.shards;
  summary->run = in.run;
  summary->seconds = f.secs;
  summary->ops = in.fg.all.ops;
  summary->ops_per_sec = f.ops_s;
  summary->p50_us = Us(lat.Percentile(0.5));
  summary->p99_us = Us(lat.Percentile(0.99));
  summary->p999_us = Us(lat.Percentile(0.999));
  return j;
}

json ReportRuns(const Config& cfg, const std::vector<PhaseSummary>& all) {
  if (cfg.runs < 2) return json();
  std::printf("\nMedians over %d runs (engines alternating):\n", cfg.runs);
  std::printf("  %-22s %-8s %6s %12s %10s %10s  %s\n", "phase", "engine", "shards", "ops/s",
              "p50(us)", "p99(us)", "ops/s spread");
  json out = json::array();
  for (const Cell& c : Cells(all)) {
    std::printf("  %-22s %-8s %6u %12.0f %10.1f %10.1f  %s%s\n", c.name.c_str(), c.engine.c_str(),
                c.shards, Median(c.ops_s), Median(c.p50), Median(c.p99), Spread(c.ops_s).c_str(),
                c.ok ? "" : " (errors)");
    out.push_back({{"name", c.name},
                   {"engine", c.engine},
                   {"shards", c.shards},
                   {"runs", c.ops_s.size()},
                   {"ops_per_sec_median", Median(c.ops_s)},
                   {"ops_per_sec_all", c.ops_s},
                   {"p50_us_median", Median(c.p50)},
                   {"p99_us_median", Median(c.p99)},
                   {"ok", c.ok}});
  }
  return out;
}

json ReportScaling(const Config& cfg, const std::vector<PhaseSummary>& all) {
  if (cfg.sweep_shards.empty()) return json();
  std::vector<Cell> cells = Cells(all);
  json out = json::array();
  for (const std::string& name : PhaseOrder(all)) {
    std::vector<const Cell*> rows;
    for (uint32_t n : cfg.sweep_shards) {
      for (const Cell& c : cells) {
        if (c.name == name && c.shards == n && c.engine == "ringdb") rows.push_back(&c);
      }
    }
    if (rows.empty()) continue;
    // Efficiency against linear scaling from the first count of the sweep (1 normally).
    const Cell* base = rows[0];
    const double base_per_shard = Median(base->ops_s) / base->shards;
    std::printf("\nScaling: %s (--load=%s%s%s)\n", name.c_str(), cfg.load_name.c_str(),
                cfg.load == Load::kReactor
                    ? (", " + std::to_string(cfg.fibers_per_shard) + " fibers/shard").c_str()
                    : (", " + std::to_string(cfg.threads) + " threads").c_str(),
                cfg.runs > 1 ? (", medians of " + std::to_string(cfg.runs) + " runs").c_str() : "");
    std::printf("  %6s %12s %12s %11s %10s %10s\n", "shards", "ops/s", "ops/s/shard", "efficiency",
                "p50(us)", "p99(us)");
    json table = json::array();
    for (const Cell* c : rows) {
      double ops = Median(c->ops_s);
      double per = ops / c->shards;
      double eff = base_per_shard > 0 ? per / base_per_shard : 0;
      std::printf("  %6u %12.0f %12.0f %10.1f%% %10.1f %10.1f%s\n", c->shards, ops, per,
                  100.0 * eff, Median(c->p50), Median(c->p99), c->ok ? "" : " (errors)");
      table.push_back({{"shards", c->shards},
                       {"ops_per_sec", ops},
                       {"ops_per_sec_per_shard", per},
                       {"efficiency", eff},
                       {"p50_us", Median(c->p50)},
                       {"p99_us", Median(c->p99)},
                       {"ok", c->ok}});
    }
    if (base->shards != 1) {
      std::printf("  (efficiency: ops/s at n / (n * ops/s per shard at %u shards))\n",
                  base->shards);
    }
    out.push_back({{"name", name}, {"base_shards", base->shards}, {"rows", table}});
  }
  std::fflush(stdout);
  return out;
}

json ReportComparison(const Config& cfg, const std::vector<PhaseSummary>& all) {
  if (cfg.engines.size() < 2) return json();
  std::vector<Cell> cells = Cells(all);
  const std::string& a = cfg.engines[0];
  const std::string& b = cfg.engines[1];
  std::printf("\n%s vs %s%s:\n", a.c_str(), b.c_str(),
              cfg.runs > 1 ? (" (medians of " + std::to_string(cfg.runs) + " runs each)").c_str()
                           : " (1 run each: use --runs 3 or more before quoting a ratio)");
  json out = json::array();
  for (const std::string& name : PhaseOrder(all)) {
    const Cell *ca = nullptr, *cb = nullptr;
    for (const Cell& c : cells) {
      if (c.name != name) continue;
      if (c.engine == a) ca = &c;
      if (c.engine == b) cb = &c;
    }
    if (!ca || !cb) continue;
    double oa = Median(ca->ops_s), ob = Median(cb->ops_s);
    double pa = Median(ca->p99), pb = Median(cb->p99);
    double r_ops = ob > 0 ? oa / ob : 0, r_p99 = pb > 0 ? pa / pb : 0;
    std::printf("ratio %-22s: %s/%s ops/s %.2fx (%.0f vs %.0f), p99 %.2fx (%.1f vs %.1f us)%s\n",
                name.c_str(), a.c_str(), b.c_str(), r_ops, oa, ob, r_p99, pa, pb,
                ca->ok && cb->ok ? "" : " (errors: not comparable)");
    if (cfg.runs > 1) {
      std::printf("      %s: %s; %s: %s\n", a.c_str(), Spread(ca->ops_s).c_str(), b.c_str(),
                  Spread(cb->ops_s).c_str());
    }
    out.push_back({{"name", name},
                   {"engines", {a, b}},
                   {"ops_per_sec", {oa, ob}},
                   {"p99_us", {pa, pb}},
                   {"ops_ratio", r_ops},
                   {"p99_ratio", r_p99},
                   {"runs", cfg.runs},
                   {"ok", ca->ok && cb->ok}});
  }
  std::fflush(stdout);
  return out;
}

}  // namespace ringdb_bench
