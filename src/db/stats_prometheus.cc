// Stats in the Prometheus text exposition format 0.0.4 (DB::StatsPrometheus): one
// family per metric, labelled by shard (and op, I/O class or level); latencies as
// histograms in seconds plus quantile gauges. Every metric and its unit: docs/stats.md.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "db/stats_render.h"

namespace ringdb::db {

namespace {

// Latency bucket bounds (seconds): 1-2.5-5 steps from 1 us to 10 s.
constexpr double kLatencyBoundsSec[] = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                        5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,
                                        0.25, 0.5,    1.0,    2.5,  5.0,    10.0};
// Count bucket bounds (requests, messages): powers of two.
constexpr double kCountBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

struct Label {
  const char* name;
  std::string value;
};

class PromWriter {
 public:
  // Starts a metric family: its HELP and TYPE lines. Every sample of the family must
  // follow before the next Family().
  void Family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void Sample(const std::string& name, const std::vector<Label>& labels, uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%" PRIu64, v);
    Line(name, labels, buf);
  }
  void Sample(const std::string& name, const std::vector<Label>& labels, double v) {
    Line(name, labels, Num(v));
  }

  // A Prometheus histogram from a HistogramData: _bucket{le} for each bound (values are
  // multiplied by `scale` first, e.g. 1e-9 for ns -> s), +Inf, _sum, _count.
  template <size_t N>
  void Histogram(const std::string& name, std::vector<Label> labels, const HistogramData& h,
                 const double (&bounds)[N], double scale) {
    labels.push_back({"le", ""});
    for (double b : bounds) {
      // Every internal bucket whose upper edge is <= b (b in the histogram's unit).
      const double raw = b / scale + 1e-6;  // guard against 1e-6/1e-9 rounding below
      labels.back().value = Num(b);
      Sample(name + "_bucket", labels, h.CountAtMost(static_cast<uint64_t>(raw)));
    }
    labels.back().value = "+Inf";
    Sample(name + "_bucket", labels, h.count());
    labels.pop_back();
    Sample(name + "_sum", labels, static_cast<double>(h.sum()) * scale);
    Sample(name + "_count", labels, h.count());
  }

  std::string Take() { return std::move(out_); }

 private:
  static std::string Num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.15g", v);
    return buf;
  }

  static void Escape(const std::string& v, std::string* out) {
    for (char c : v) {
      if (c == '\\') {
        *out += "\\\\";
      } else if (c == '"') {
        *out += "\\\"";
      } else if (c == '\n') {
        *out += "\\n";
      } else {
        *out += c;
      }
    }
  }

  void Line(const std::string& name, const std::vector<Label>& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); i++) {
        if (i > 0) out_ += ',';
        out_ += labels[i].name;
        out_ += "=\"";
        Escape(labels[i].value, &out_);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string out_;
};

using Getter = uint64_t (*)(const ShardStats&);
using RatioGetter = double (*)(const ShardStats&);

struct ScalarMetric {
  const char* name;
  const char* type;  // "counter" or "gauge"
  const char* help;
  Getter get;
  double scale;  // 1, or 1e-9 for ns -> s
};

// Plain per-shard scalars. A lambda without captures converts to the function pointer.
const ScalarMetric kScalars[] = {
    {"ringdb_writes_total", "counter", "Write requests acknowledged.",
     [](const ShardStats& s) { return s.writes; }, 1},
    {"ringdb_write_groups_total", "counter", "Group commits (WAL writes).",
     [](const ShardStats& s) { return s.write_groups; }, 1},
    {"ringdb_wal_bytes_total", "counter", "Bytes appended to the WAL.",
     [](const ShardStats& s) { return s.wal_bytes; }, 1},
    {"ringdb_wal_syncs_total", "counter", "fdatasyncs of the WAL.",
     [](const ShardStats& s) { return s.wal_syncs; }, 1},
    {"ringdb_user_bytes_written_total", "counter", "Key and value bytes of acknowledged writes.",
     [](const ShardStats& s) { return s.user_bytes_written; }, 1},
    {"ringdb_stall_seconds_total", "counter", "Time writes waited for flushes or L0 (stalls).",
     [](const ShardStats& s) { return s.stall_ns; }, 1e-9},
    {"ringdb_stalls_total", "counter", "Writes that had to wait (stalls).",
     [](const ShardStats& s) { return s.stalls; }, 1},
    {"ringdb_flushes_total", "counter", "Memtables written to L0 tables.",
     [](const ShardStats& s) { return s.flushes; }, 1},
    {"ringdb_flush_bytes_total", "counter", "Bytes of L0 tables written by flushes.",
     [](const ShardStats& s) { return s.flush_bytes; }, 1},
    {"ringdb_compactions_total", "counter", "Compactions finished.",
     [](const ShardStats& s) { return s.compactions; }, 1},
    {"ringdb_compaction_errors_total", "counter", "Compactions that failed.",
     [](const ShardStats& s) { return s.compaction_errors; }, 1},
    {"ringdb_compaction_read_bytes_total", "counter", "Table bytes read by compactions.",
     [](const ShardStats& s) { return s.compaction_read_bytes; }, 1},
    {"ringdb_compaction_write_bytes_total", "counter", "Table bytes written by compactions.",
     [](const ShardStats& s) { return s.compaction_write_bytes; }, 1},
    {"ringdb_compaction_expired_total", "counter",
     "Values past their deadline that compactions rewrote as tombstones or dropped.",
     [](const ShardStats& s) { return s.compaction_expired; }, 1},
    {"ringdb_table_gets_total", "counter", "Point reads that had to search tables.",
     [](const ShardStats& s) { return s.gets; }, 1},
    {"ringdb_table_block_reads_total", "counter", "Data blocks read from disk.",
     [](const ShardStats& s) { return s.table_reads; }, 1},
    {"ringdb_caller_sqpoll_block_reads_total", "counter",
     "Data blocks application threads read through the DB's submission thread.",
     [](const ShardStats& s) { return s.caller_sqpoll_reads; }, 1},
    {"ringdb_user_bytes_read_total", "counter", "Key and value bytes returned by reads.",
     [](const ShardStats& s) { return s.user_bytes_read; }, 1},
    {"ringdb_bloom_useful_total", "counter", "Table probes the bloom filter avoided.",
     [](const ShardStats& s) { return s.bloom_skips; }, 1},
    {"ringdb_bloom_false_positives_total", "counter",
     "Table probes the bloom filter let through for an absent key.",
     [](const ShardStats& s) { return s.bloom_false_positives; }, 1},
    {"ringdb_block_cache_hits_total", "counter", "Block cache lookups that hit.",
     [](const ShardStats& s) { return s.cache_hits; }, 1},
    {"ringdb_block_cache_misses_total", "counter", "Block cache lookups that missed.",
     [](const ShardStats& s) { return s.cache_misses; }, 1},
    {"ringdb_block_cache_bytes", "gauge", "Bytes held by the block cache.",
     [](const ShardStats& s) { return s.cache_bytes; }, 1},
    {"ringdb_cache_warm_blocks_total", "counter", "Data blocks the warm-up after Open cached.",
     [](const ShardStats& s) { return s.cache_warm_blocks; }, 1},
    {"ringdb_cache_warming", "gauge", "1 while the block cache warm-up after Open runs.",
     [](const ShardStats& s) { return s.cache_warming; }, 1},
    {"ringdb_memtable_bytes", "gauge", "Bytes of the mutable memtable.",
     [](const ShardStats& s) { return s.memtable_bytes; }, 1},
    {"ringdb_immutable_memtables", "gauge", "Immutable memtables waiting for flush.",
     [](const ShardStats& s) { return s.immutable_memtables; }, 1},
    {"ringdb_immutable_memtable_bytes", "gauge", "Bytes of immutable memtables.",
     [](const ShardStats& s) { return s.immutable_memtable_bytes; }, 1},
    {"ringdb_live_data_bytes", "gauge", "Estimated live data bytes (0: no estimate).",
     [](const ShardStats& s) { return s.live_data_bytes; }, 1},
    {"ringdb_io_in_flight", "gauge", "I/O requests prepared and not completed.",
     [](const ShardStats& s) { return s.io.in_flight; }, 1},
    {"ringdb_io_trace_records_total", "counter", "I/O trace records kept.",
     [](const ShardStats& s) { return s.io.trace_records; }, 1},
    {"ringdb_io_trace_dropped_total", "counter", "I/O trace records dropped (disk behind).",
     [](const ShardStats& s) { return s.io.trace_dropped; }, 1},
    {"ringdb_io_trace_written_bytes_total", "counter", "Bytes of I/O trace written.",
     [](const ShardStats& s) { return s.io.trace_bytes_written; }, 1},
    {"ringdb_reactor_loops_total", "counter", "Reactor loop passes.",
     [](const ShardStats& s) { return s.runtime.loops; }, 1},
    {"ringdb_reactor_sleeps_total", "counter", "Times the reactor slept in the kernel.",
     [](const ShardStats& s) { return s.runtime.sleeps; }, 1},
    {"ringdb_reactor_fiber_switches_total", "counter", "Fiber resumptions.",
     [](const ShardStats& s) { return s.runtime.fiber_switches; }, 1},
    {"ringdb_reactor_messages_total", "counter", "Messages handled from inbound rings.",
     [](const ShardStats& s) { return s.runtime.messages; }, 1},
    {"ringdb_reactor_timers_fired_total", "counter", "Timers fired.",
     [](const ShardStats& s) { return s.runtime.timers_fired; }, 1},
    {"ringdb_reactor_long_fiber_runs_total", "counter",
     "Fibers that ran past the stall threshold without yielding.",
     [](const ShardStats& s) { return s.runtime.long_fiber_runs; }, 1},
    {"ringdb_reactor_ring_full_waits_total", "counter",
     "Cross-shard sends that waited for room in a full ring.",
     [](const ShardStats& s) { return s.runtime.ring_full_waits; }, 1},
};

struct RatioMetric {
  const char* name;
  const char* help;
  RatioGetter get;
};

const RatioMetric kRatios[] = {
    {"ringdb_block_cache_hit_ratio", "Block cache hits / lookups.",
     [](const ShardStats& s) { return s.cache_hit_rate(); }},
    {"ringdb_bloom_false_positive_ratio",
     "Bloom false positives / (false positives + useful), for keys a table lacked.",
     [](const ShardStats& s) { return s.bloom_false_positive_rate(); }},
    {"ringdb_write_amplification",
     "Device bytes written (WAL, flush, compaction, MANIFEST) "
     "per user byte written.",
     [](const ShardStats& s) { return s.write_amplification(); }},
    {"ringdb_read_amplification", "Device bytes read for user reads per user byte read.",
     [](const ShardStats& s) { return s.read_amplification(); }},
    {"ringdb_space_amplification", "Table bytes per live byte.",
     [](const ShardStats& s) { return s.space_amplification(); }},
};

std::vector<Label> ShardLabel(const ShardStats& s) {
  return {{"shard", std::to_string(s.shard)}};
}

struct Quantile {
  double q;
  const char* label;
};
constexpr Quantile kQuantiles[] = {
    {0.5, "0.5"}, {0.9, "0.9"}, {0.99, "0.99"}, {0.999, "0.999"}, {1.0, "1"}};

void RenderQuantiles(PromWriter* w, const char* name, const char* help, const char* key,
                     const std::vector<const ShardStats*>& shards,
                     const HistogramData& (*get)(const ShardStats&, size_t), size_t n,
                     const char* (*label)(size_t)) {
  w->Family(name, "gauge", help);
  for (const ShardStats* s : shards) {
    for (size_t i = 0; i < n; i++) {
      const HistogramData& h = get(*s, i);
      if (h.count() == 0) continue;
      for (const Quantile& q : kQuantiles) {
        w->Sample(name,
                  {{"shard", std::to_string(s->shard)}, {key, label(i)}, {"quantile", q.label}},
                  static_cast<double>(h.Percentile(q.q)) * 1e-9);
      }
    }
  }
}

using Shards = std::vector<const ShardStats*>;

void RenderInfo(const Stats& stats, PromWriter* w) {
  w->Family("ringdb_info", "gauge", "The I/O backend in use (value 1).");
  w->Sample("ringdb_info", {{"io_backend", stats.io_backend}}, uint64_t{1});
  w->Family("ringdb_shards", "gauge", "Number of shards.");
  w->Sample("ringdb_shards", {}, static_cast<uint64_t>(stats.shards.size()));
  w->Family("ringdb_sync_rounds_total", "counter",
            "Synced rounds released (Durability::kSync, docs/engine.md \"Synced rounds\").");
  w->Sample("ringdb_sync_rounds_total", {}, stats.sync_rounds);
  w->Family("ringdb_sync_round_timeouts_total", "counter",
            "Synced rounds released because a hold ran out.");
  w->Sample("ringdb_sync_round_timeouts_total", {}, stats.sync_round_timeouts);
}

// kScalars and kRatios: one sample per shard.
void RenderScalars(const Shards& shards, PromWriter* w) {
  for (const ScalarMetric& m : kScalars) {
    w->Family(m.name, m.type, m.help);
    for (const ShardStats* s : shards) {
      if (m.scale == 1) {
        w->Sample(m.name, ShardLabel(*s), m.get(*s));
      } else {
        w->Sample(m.name, ShardLabel(*s), static_cast<double>(m.get(*s)) * m.scale);
      }
    }
  }
  for (const RatioMetric& m : kRatios) {
    w->Family(m.name, "gauge", m.help);
    for (const ShardStats* s : shards) w->Sample(m.name, ShardLabel(*s), m.get(*s));
  }
}

void RenderLevels(const Shards& shards, PromWriter* w) {
  struct LevelGauge {
    const char* name;
    const char* help;
    const uint64_t (ShardStats::*field)[kStatsLevels];
  };
  for (const LevelGauge& m :
       {LevelGauge{"ringdb_level_files", "Table files per LSM level.", &ShardStats::level_files},
        LevelGauge{"ringdb_level_bytes", "Table bytes per LSM level.", &ShardStats::level_bytes}}) {
    w->Family(m.name, "gauge", m.help);
    for (const ShardStats* s : shards) {
      for (int l = 0; l < kStatsLevels; l++) {
        w->Sample(m.name, {{"shard", std::to_string(s->shard)}, {"level", std::to_string(l)}},
                  (s->*m.field)[l]);
      }
    }
  }
}

std::vector<Label> OpLabels(const ShardStats& s, size_t k) {
  return {{"shard", std::to_string(s.shard)}, {"op", OpKindName(static_cast<OpKind>(k))}};
}

// Per operation kind: counts, latency histograms and quantiles.
void RenderOps(const Shards& shards, PromWriter* w) {
  struct OpCounter {
    const char* name;
    const char* help;
    uint64_t OpStats::*field;
  };
  for (const OpCounter& m :
       {OpCounter{"ringdb_ops_total", "Operations completed.", &OpStats::count},
        OpCounter{"ringdb_op_errors_total", "Operations that failed.", &OpStats::errors},
        OpCounter{"ringdb_op_items_total", "Keys or entries handled by operations.",
                  &OpStats::items}}) {
    w->Family(m.name, "counter", m.help);
    for (const ShardStats* s : shards) {
      for (size_t k = 0; k < kOpKindCount; k++)
        w->Sample(m.name, OpLabels(*s, k), s->ops[k].*m.field);
    }
  }
  w->Family("ringdb_op_latency_seconds", "histogram",
            "Operation latency on the shard, arrival to completion.");
  for (const ShardStats* s : shards) {
    for (size_t k = 0; k < kOpKindCount; k++) {
      w->Histogram("ringdb_op_latency_seconds", OpLabels(*s, k), s->ops[k].latency_ns,
                   kLatencyBoundsSec, 1e-9);
    }
  }
  RenderQuantiles(
      w, "ringdb_op_latency_quantile_seconds",
      "Operation latency quantiles since start (quantile 1 is the maximum).", "op", shards,
      [](const ShardStats& s, size_t k) -> const HistogramData& { return s.ops[k].latency_ns; },
      kOpKindCount, [](size_t k) { return OpKindName(static_cast<OpKind>(k)); });
}

std::vector<Label> IoLabels(const ShardStats& s, size_t c) {
  return {{"shard", std::to_string(s.shard)}, {"class", IoClassName(static_cast<IoClass>(c))}};
}

// Per I/O class: counts, bytes, latency histograms and quantiles.
void RenderIoClasses(const Shards& shards, PromWriter* w) {
  struct IoCounter {
    const char* name;
    const char* help;
    uint64_t IoClassStats::*field;
  };
  for (const IoCounter& m :
       {IoCounter{"ringdb_io_requests_total", "I/O requests completed.", &IoClassStats::count},
        IoCounter{"ringdb_io_reads_total", "Read requests completed.", &IoClassStats::reads},
        IoCounter{"ringdb_io_writes_total", "Write requests completed.", &IoClassStats::writes},
        IoCounter{"ringdb_io_syncs_total", "fsync/fdatasync requests completed.",
                  &IoClassStats::syncs},
        IoCounter{"ringdb_io_errors_total", "I/O requests that failed.", &IoClassStats::errors},
        IoCounter{"ringdb_io_read_bytes_total", "Bytes read.", &IoClassStats::read_bytes},
        IoCounter{"ringdb_io_written_bytes_total", "Bytes written.", &IoClassStats::write_bytes}}) {
    w->Family(m.name, "counter", m.help);
    for (const ShardStats* s : shards) {
      for (size_t c = 0; c < kIoClassCount; c++) {
        w->Sample(m.name, IoLabels(*s, c), s->io.classes[c].*m.field);
      }
    }
  }
  w->Family("ringdb_io_latency_seconds", "histogram",
            "I/O latency, submission to the kernel to completion.");
  for (const ShardStats* s : shards) {
    for (size_t c = 0; c < kIoClassCount; c++) {
      w->Histogram("ringdb_io_latency_seconds", IoLabels(*s, c), s->io.classes[c].latency_ns,
                   kLatencyBoundsSec, 1e-9);
    }
  }
  RenderQuantiles(
      w, "ringdb_io_latency_quantile_seconds",
      "I/O latency quantiles since start (quantile 1 is the maximum).", "class", shards,
      [](const ShardStats& s, size_t c) -> const HistogramData& {
        return s.io.classes[c].latency_ns;
      },
      kIoClassCount, [](size_t c) { return IoClassName(static_cast<IoClass>(c)); });
}

// Count histograms of one sample per shard: batch sizes, queue depths, ring occupancy.
void RenderCountHistograms(const Shards& shards, PromWriter* w) {
  struct CountHistogram {
    const char* name;
    const char* help;
    const HistogramData& (*get)(const ShardStats&);
  };
  for (const CountHistogram& m :
       {CountHistogram{
            "ringdb_io_submit_batch", "Requests handed to the kernel per Submit().",
            [](const ShardStats& s) -> const HistogramData& { return s.io.submit_batch; }},
        CountHistogram{
            "ringdb_io_depth_at_submit",
            "Requests in the kernel when a request was submitted, itself included.",
            [](const ShardStats& s) -> const HistogramData& { return s.io.depth_at_submit; }},
        CountHistogram{"ringdb_reactor_ring_occupancy",
                       "Messages waiting in an inbound ring when the reactor drained it.",
                       [](const ShardStats& s) -> const HistogramData& {
                         return s.runtime.ring_occupancy;
                       }}}) {
    w->Family(m.name, "histogram", m.help);
    for (const ShardStats* s : shards)
      w->Histogram(m.name, ShardLabel(*s), m.get(*s), kCountBounds, 1);
  }
}

}  // namespace

std::string RenderStatsPrometheus(const Stats& stats) {
  PromWriter w;
  Shards shards;
  for (const ShardStats& s : stats.shards) shards.push_back(&s);
  RenderInfo(stats, &w);
  RenderScalars(shards, &w);
  RenderLevels(shards, &w);
  RenderOps(shards, &w);
  RenderIoClasses(shards, &w);
  RenderCountHistograms(shards, &w);
  return w.Take();
}

}  // namespace ringdb::db
