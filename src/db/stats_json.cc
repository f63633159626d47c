// Stats as JSON (DB::StatsJson): one object with the backend, the shard count, the
// total and every shard, each shard with its counters, gauges, derived ratios, per-op
// and per-I/O-class latency histograms (summarized: count, sum, min, mean,
// p50/p90/p99/p99.9, max) and event-loop counters. Every field and its unit:
// docs/stats.md.
#include <nlohmann/json.hpp>

#include "db/stats_render.h"

namespace ringdb::db {

namespace {

using Json = nlohmann::ordered_json;

Json HistogramJson(const HistogramData& h) {
  return Json{{"count", h.count()},
              {"sum", h.sum()},
              {"min", h.min()},
              {"mean", h.Mean()},
              {"p50", h.Percentile(0.5)},
              {"p90", h.Percentile(0.9)},
              {"p99", h.Percentile(0.99)},
              {"p999", h.Percentile(0.999)},
              {"max", h.max()}};
}

Json IoJson(const IoStats& io) {
  Json classes = Json::object();
  for (size_t c = 0; c < kIoClassCount; c++) {
    const IoClassStats& s = io.classes[c];
    classes[IoClassName(static_cast<IoClass>(c))] =
        Json{{"count", s.count},
             {"reads", s.reads},
             {"writes", s.writes},
             {"syncs", s.syncs},
             {"errors", s.errors},
             {"read_bytes", s.read_bytes},
             {"write_bytes", s.write_bytes},
             {"latency_ns", HistogramJson(s.latency_ns)}};
  }
  return Json{{"backend", io.backend},
              {"in_flight", io.in_flight},
              {"classes", classes},
              {"submit_batch", HistogramJson(io.submit_batch)},
              {"depth_at_submit", HistogramJson(io.depth_at_submit)},
              {"trace",
               {{"records", io.trace_records},
                {"dropped", io.trace_dropped},
                {"bytes_written", io.trace_bytes_written}}}};
}

Json RuntimeJson(const RuntimeStats& r) {
  return Json{{"loops", r.loops},
              {"sleeps", r.sleeps},
              {"fiber_switches", r.fiber_switches},
              {"messages", r.messages},
              {"timers_fired", r.timers_fired},
              {"long_fiber_runs", r.long_fiber_runs},
              {"ring_full_waits", r.ring_full_waits},
              {"ring_occupancy", HistogramJson(r.ring_occupancy)}};
}

Json ShardJson(const ShardStats& s) {
  Json j;
  j["shard"] = s.shard;
  j["writes"] = s.writes;
  j["write_groups"] = s.write_groups;
  j["wal_bytes"] = s.wal_bytes;
  j["wal_syncs"] = s.wal_syncs;
  j["user_bytes_written"] = s.user_bytes_written;
  j["stall_ns"] = s.stall_ns;
  j["stalls"] = s.stalls;
  j["flushes"] = s.flushes;
  j["flush_bytes"] = s.flush_bytes;
  j["compactions"] = s.compactions;
  j["compaction_errors"] = s.compaction_errors;
  j["compaction_read_bytes"] = s.compaction_read_bytes;
  j["compaction_write_bytes"] = s.compaction_write_bytes;
  j["compaction_expired"] = s.compaction_expired;
  j["gets"] = s.gets;
  j["table_reads"] = s.table_reads;
  j["caller_sqpoll_reads"] = s.caller_sqpoll_reads;
  j["user_bytes_read"] = s.user_bytes_read;
  j["bloom_skips"] = s.bloom_skips;
  j["bloom_false_positives"] = s.bloom_false_positives;
  j["cache_hits"] = s.cache_hits;
  j["cache_misses"] = s.cache_misses;
  j["cache_bytes"] = s.cache_bytes;
  j["cache_warm_blocks"] = s.cache_warm_blocks;
  j["cache_warming"] = s.cache_warming;
  j["memtable_bytes"] = s.memtable_bytes;
  j["immutable_memtables"] = s.immutable_memtables;
  j["immutable_memtable_bytes"] = s.immutable_memtable_bytes;
  j["l0_files"] = s.l0_files;
  j["level_files"] = s.level_files;
  j["level_bytes"] = s.level_bytes;
  j["live_data_bytes"] = s.live_data_bytes;
  j["derived"] = Json{{"table_bytes", s.table_bytes()},
                      {"cache_hit_rate", s.cache_hit_rate()},
                      {"bloom_false_positive_rate", s.bloom_false_positive_rate()},
                      {"write_amplification", s.write_amplification()},
                      {"read_amplification", s.read_amplification()},
                      {"space_amplification", s.space_amplification()}};
  Json ops = Json::object();
  for (size_t k = 0; k < kOpKindCount; k++) {
    const OpStats& o = s.ops[k];
    ops[OpKindName(static_cast<OpKind>(k))] = Json{{"count", o.count},
                                                   {"errors", o.errors},
                                                   {"items", o.items},
                                                   {"latency_ns", HistogramJson(o.latency_ns)}};
  }
  j["ops"] = std::move(ops);
  j["io"] = IoJson(s.io);
  j["runtime"] = RuntimeJson(s.runtime);
  return j;
}

}  // namespace

std::string RenderStatsJson(const Stats& stats) {
  Json j;
  j["io_backend"] = stats.io_backend;
  j["shard_count"] = stats.shards.size();
  j["sync_rounds"] = stats.sync_rounds;
  j["sync_round_timeouts"] = stats.sync_round_timeouts;
  j["total"] = ShardJson(stats.total);
  Json shards = Json::array();
  for (const ShardStats& s : stats.shards) shards.push_back(ShardJson(s));
  j["shards"] = std::move(shards);
  // replace: a stray non-UTF-8 byte (say, in a backend description) must not throw.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace ringdb::db
