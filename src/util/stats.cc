// The non-histogram parts of the public stats types (ringdb/stats.h): names, derived
// values and the shard -> total sum. HistogramData lives in util/histogram.cc.
#include "ringdb/stats.h"

#include <algorithm>

namespace ringdb {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kPut:
      return "put";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kWriteBatch:
      return "write_batch";
    case OpKind::kGet:
      return "get";
    case OpKind::kMultiGet:
      return "multiget";
    case OpKind::kIterSeek:
      return "iter_seek";
    case OpKind::kIterNext:
      return "iter_next";
  }
  return "unknown";
}

const char* IoClassName(IoClass c) {
  switch (c) {
    case IoClass::kOther:
      return "other";
    case IoClass::kWal:
      return "wal";
    case IoClass::kFlush:
      return "flush";
    case IoClass::kCompactionRead:
      return "compaction_read";
    case IoClass::kCompactionWrite:
      return "compaction_write";
    case IoClass::kUserRead:
      return "user_read";
    case IoClass::kManifest:
      return "manifest";
    case IoClass::kCacheWarm:
      return "cache_warm";
  }
  return "unknown";
}

uint64_t IoStats::total_count() const {
  uint64_t n = 0;
  for (const IoClassStats& c : classes) n += c.count;
  return n;
}

uint64_t IoStats::total_read_bytes() const {
  uint64_t n = 0;
  for (const IoClassStats& c : classes) n += c.read_bytes;
  return n;
}

uint64_t IoStats::total_write_bytes() const {
  uint64_t n = 0;
  for (const IoClassStats& c : classes) n += c.write_bytes;
  return n;
}

namespace {

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

uint64_t ShardStats::table_bytes() const {
  uint64_t n = 0;
  for (uint64_t b : level_bytes) n += b;
  return n;
}

double ShardStats::cache_hit_rate() const {
  return Ratio(cache_hits, cache_hits + cache_misses);
}

double ShardStats::bloom_false_positive_rate() const {
  return Ratio(bloom_false_positives, bloom_false_positives + bloom_skips);
}

double ShardStats::write_amplification() const {
  const uint64_t device = io.of(IoClass::kWal).write_bytes + io.of(IoClass::kFlush).write_bytes +
                          io.of(IoClass::kCompactionWrite).write_bytes +
                          io.of(IoClass::kManifest).write_bytes;
  return Ratio(device, user_bytes_written);
}

double ShardStats::read_amplification() const {
  return Ratio(io.of(IoClass::kUserRead).read_bytes, user_bytes_read);
}

double ShardStats::space_amplification() const {
  uint64_t live = live_data_bytes;
  if (live == 0) live = *std::max_element(std::begin(level_bytes), std::end(level_bytes));
  return Ratio(table_bytes(), live);
}

namespace {

void AddOp(const OpStats& s, OpStats* t) {
  t->count += s.count;
  t->errors += s.errors;
  t->items += s.items;
  t->latency_ns.Merge(s.latency_ns);
}

void AddIoClass(const IoClassStats& s, IoClassStats* t) {
  t->count += s.count;
  t->reads += s.reads;
  t->writes += s.writes;
  t->syncs += s.syncs;
  t->errors += s.errors;
  t->read_bytes += s.read_bytes;
  t->write_bytes += s.write_bytes;
  t->latency_ns.Merge(s.latency_ns);
}

void AddIo(const IoStats& s, IoStats* t) {
  if (t->backend.empty()) {
    t->backend = s.backend;
  } else if (!s.backend.empty() && s.backend != t->backend) {
    t->backend = "mixed";
  }
  for (size_t c = 0; c < kIoClassCount; c++) AddIoClass(s.classes[c], &t->classes[c]);
  t->submit_batch.Merge(s.submit_batch);
  t->depth_at_submit.Merge(s.depth_at_submit);
  t->in_flight += s.in_flight;
  t->trace_records += s.trace_records;
  t->trace_dropped += s.trace_dropped;
  t->trace_bytes_written += s.trace_bytes_written;
}

void AddRuntime(const RuntimeStats& s, RuntimeStats* t) {
  t->loops += s.loops;
  t->sleeps += s.sleeps;
  t->fiber_switches += s.fiber_switches;
  t->messages += s.messages;
  t->timers_fired += s.timers_fired;
  t->long_fiber_runs += s.long_fiber_runs;
  t->ring_full_waits += s.ring_full_waits;
  t->ring_occupancy.Merge(s.ring_occupancy);
}

}  // namespace

void AccumulateShardStats(const ShardStats& s, ShardStats* t) {
  t->writes += s.writes;
  t->write_groups += s.write_groups;
  t->wal_bytes += s.wal_bytes;
  t->wal_syncs += s.wal_syncs;
  t->user_bytes_written += s.user_bytes_written;
  t->stall_ns += s.stall_ns;
  t->stalls += s.stalls;

  t->flushes += s.flushes;
  t->flush_bytes += s.flush_bytes;
  t->compactions += s.compactions;
  t->compaction_errors += s.compaction_errors;
  t->compaction_read_bytes += s.compaction_read_bytes;
  t->compaction_write_bytes += s.compaction_write_bytes;
  t->compaction_expired += s.compaction_expired;

  t->gets += s.gets;
  t->table_reads += s.table_reads;
  t->caller_sqpoll_reads += s.caller_sqpoll_reads;
  t->user_bytes_read += s.user_bytes_read;
  t->bloom_skips += s.bloom_skips;
  t->bloom_false_positives += s.bloom_false_positives;
  t->cache_hits += s.cache_hits;
  t->cache_misses += s.cache_misses;
  t->cache_bytes += s.cache_bytes;
  t->cache_warm_blocks += s.cache_warm_blocks;
  t->cache_warming += s.cache_warming;

  t->memtable_bytes += s.memtable_bytes;
  t->immutable_memtables += s.immutable_memtables;
  t->immutable_memtable_bytes += s.immutable_memtable_bytes;
  t->l0_files += s.l0_files;
  for (int l = 0; l < kStatsLevels; l++) {
    t->level_files[l] += s.level_files[l];
    t->level_bytes[l] += s.level_bytes[l];
  }
  t->live_data_bytes += s.live_data_bytes;

  for (size_t k = 0; k < kOpKindCount; k++) AddOp(s.ops[k], &t->ops[k]);
  AddIo(s.io, &t->io);
  AddRuntime(s.runtime, &t->runtime);
}

}  // namespace ringdb
