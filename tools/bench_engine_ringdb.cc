// The ringdb engine: the public API (include/ringdb/*) behind bench_engine.h.
#include <cinttypes>
#include <cstdio>

#include "bench_engine.h"
#include "ringdb/db.h"
#include "ringdb/iterator.h"
#include "ringdb/options.h"
#include "ringdb/stats.h"
#include "ringdb/write_batch.h"

namespace ringdb_bench {

namespace {

ringdb::ShardStats Delta(const ringdb::ShardStats& a, const ringdb::ShardStats& b) {
  ringdb::ShardStats d = b;  // gauges (cache, memtable, files): the value at the end
  d.writes -= a.writes;
  d.write_groups -= a.write_groups;
  d.wal_bytes -= a.wal_bytes;
  d.wal_syncs -= a.wal_syncs;
  d.flushes -= a.flushes;
  d.flush_bytes -= a.flush_bytes;
  d.stall_ns -= a.stall_ns;
  d.gets -= a.gets;
  d.table_reads -= a.table_reads;
  d.caller_sqpoll_reads -= a.caller_sqpoll_reads;
  d.bloom_skips -= a.bloom_skips;
  d.cache_hits -= a.cache_hits;
  d.cache_misses -= a.cache_misses;
  d.compactions -= a.compactions;
  d.compaction_errors -= a.compaction_errors;
  d.compaction_read_bytes -= a.compaction_read_bytes;
  d.compaction_write_bytes -= a.compaction_write_bytes;
  return d;
}

double Mb(uint64_t bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}

void PrintDbStatsLine(const ringdb::ShardStats& d) {
  double per_group =
      d.write_groups ? static_cast<double>(d.writes) / static_cast<double>(d.write_groups) : 0.0;
  uint64_t lookups = d.cache_hits + d.cache_misses;
  std::printf(
      "  db: writes %" PRIu64 ", write groups %" PRIu64 " (%.1f writes/group), WAL syncs %" PRIu64
      ", WAL %.1f MB, flushes %" PRIu64 " (%.1f MB), compactions %" PRIu64
      " (%.1f MB written), stall %.1f ms, table gets %" PRIu64 ", block reads %" PRIu64 " (%" PRIu64
      " through the submission thread), bloom skips %" PRIu64
      ", cache hit %.1f%%, L0 files %" PRIu64 ", memtable %.1f MB\n",
      d.writes, d.write_groups, per_group, d.wal_syncs, Mb(d.wal_bytes), d.flushes,
      Mb(d.flush_bytes), d.compactions, Mb(d.compaction_write_bytes),
      static_cast<double>(d.stall_ns) / 1e6, d.gets, d.table_reads, d.caller_sqpoll_reads,
      d.bloom_skips,
      lookups ? 100.0 * static_cast<double>(d.cache_hits) / static_cast<double>(lookups) : 0.0,
      d.l0_files, Mb(d.memtable_bytes));
}

void PrintShardStatsTable(const ringdb::Stats& st, const char* title) {
  std::printf("  %s (%s):\n", title, st.io_backend.c_str());
  std::printf("  %6s %10s %9s %9s %10s %8s %10s %8s %10s %9s %9s %9s %9s %5s %8s %8s\n", "shard",
              "writes", "groups", "syncs", "wal_MB", "flushes", "flush_MB", "stall_ms", "gets",
              "blk_reads", "bloom_sk", "c_hits", "c_miss", "L0", "mem_MB", "compacts");
  auto row = [](const char* label, const ringdb::ShardStats& s) {
    std::printf(
        "  %6s %10" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10.1f %8" PRIu64 " %10.1f %8.1f %10" PRIu64
        " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %5" PRIu64 " %8.1f %8" PRIu64 "\n",
        label, s.writes, s.write_groups, s.wal_syncs, Mb(s.wal_bytes), s.flushes, Mb(s.flush_bytes),
        static_cast<double>(s.stall_ns) / 1e6, s.gets, s.table_reads, s.bloom_skips, s.cache_hits,
        s.cache_misses, s.l0_files, Mb(s.memtable_bytes), s.compactions);
  };
  for (const auto& s : st.shards) row(std::to_string(s.shard).c_str(), s);
  row("total", st.total);
}

class RingdbIterator final : public EngineIterator {
 public:
  explicit RingdbIterator(std::unique_ptr<ringdb::Iterator> it) : it_(std::move(it)) {}
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Seek(std::string_view target) override { it_->Seek(target); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  Status status() const override { return it_->status(); }

 private:
  std::unique_ptr<ringdb::Iterator> it_;
};

class RingdbEngine final : public Engine {
 public:
  explicit RingdbEngine(std::unique_ptr<ringdb::DB> db) : db_(std::move(db)) {}
  ~RingdbEngine() override { Close(); }

  std::string name() const override { return "ringdb"; }
  std::string Describe() const override {
    return std::to_string(db_->shard_count()) + " shards, io backend " + db_->io_backend();
  }
  uint32_t shard_count() const override { return db_->shard_count(); }
  uint32_t ShardForKey(std::string_view key) const override { return db_->ShardForKey(key); }

  Status Put(std::string_view key, std::string_view value) override {
    return db_->Put(wo_, key, value);
  }
  Status Delete(std::string_view key) override { return db_->Delete(wo_, key); }
  Status Write(std::span<const BatchOp> ops) override {
    ringdb::WriteBatch b;
    for (const BatchOp& op : ops) {
      if (op.is_delete) {
        b.Delete(op.key);
      } else {
        b.Put(op.key, op.value);
      }
    }
    return db_->Write(wo_, b);
  }
  Status Get(std::string_view key, std::string* value) override {
    return db_->Get(ro_, key, value);
  }
  void MultiGet(std::span<const std::string_view> keys, std::vector<std::string>* values,
                std::vector<Status>* statuses) override {
    *statuses = db_->MultiGet(ro_, keys, values);
  }
  std::unique_ptr<EngineIterator> NewIterator(size_t chunk_bytes, Status* error) override {
    ringdb::ReadOptions ro;
    if (chunk_bytes) ro.iterator_chunk_bytes = chunk_bytes;
    std::unique_ptr<ringdb::Iterator> it = db_->NewIterator(ro);
    if (!it) {
      *error = Status::NotSupported(
          "DB::NewIterator returned no iterator (this ringdb build does not implement "
          "iterators yet)");
      return nullptr;
    }
    return std::make_unique<RingdbIterator>(std::move(it));
  }

  bool SupportsAsync() const override { return true; }
  void PutAsync(std::string_view key, std::string_view value,
                std::function<void(Status)> cb) override {
    db_->PutAsync(key, value, std::move(cb));
  }
  void GetAsync(std::string_view key, std::function<void(Status, std::string_view)> cb) override {
    db_->GetAsync(key, std::move(cb));
  }
  ringdb::DB* ringdb_db() override { return db_.get(); }

  void PhaseBegin() override { before_ok_ = db_->GetStats(&before_).ok(); }
  // Prints the counters' difference over the phase; the JSON gets DB::StatsJson() as it
  // stands at the phase's end (docs/bench.md: subtract the previous phase's).
  void PhaseEnd(bool verbose, json* out) override {
    ringdb::Stats after;
    Status s = db_->GetStats(&after);
    if (!s.ok() || !before_ok_) {
      std::printf("  db: GetStats: %s\n", s.ToString().c_str());
      return;
    }
    PrintDbStatsLine(Delta(before_.total, after.total));
    if (after.sync_rounds > before_.sync_rounds) {
      std::printf("  db: synced rounds %" PRIu64 " (%" PRIu64 " released by a hold running out)\n",
                  after.sync_rounds - before_.sync_rounds,
                  after.sync_round_timeouts - before_.sync_round_timeouts);
    }
    if (verbose) {
      ringdb::Stats delta;
      delta.io_backend = after.io_backend;
      delta.total = Delta(before_.total, after.total);
      for (size_t i = 0; i < after.shards.size() && i < before_.shards.size(); i++) {
        delta.shards.push_back(Delta(before_.shards[i], after.shards[i]));
      }
      PrintShardStatsTable(delta, "engine stats over the phase");
    }
    (*out)["db_stats"] = StatsJsonOrNull();
  }
  json FinalStats(bool verbose) override {
    if (verbose) {
      ringdb::Stats st;
      Status s = db_->GetStats(&st);
      if (s.ok()) {
        PrintShardStatsTable(st, "engine stats at the end");
      } else {
        std::fprintf(stderr, "GetStats: %s\n", s.ToString().c_str());
      }
    }
    return StatsJsonOrNull();
  }

  Status Flush() override { return db_->Flush(); }
  Status Close() override {
    if (closed_) return Status::OK();
    closed_ = true;
    return db_->Close();
  }

 private:
  // DB::StatsJson() parsed: the engine's one JSON rendering of its stats (null when
  // empty, e.g. after Close, or not JSON).
  json StatsJsonOrNull() {
    std::string text = db_->StatsJson();
    if (text.empty()) return json();
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json() : j;
  }

  std::unique_ptr<ringdb::DB> db_;
  ringdb::WriteOptions wo_;
  ringdb::ReadOptions ro_;
  ringdb::Stats before_;
  bool before_ok_ = false;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<Engine> OpenRingdbEngine(const EngineSpec& spec, Status* status) {
  const Config& cfg = *spec.cfg;
  ringdb::Options opt;
  opt.path = spec.path;
  opt.create_if_missing = !cfg.use_existing_db;
  opt.shards = spec.shards;
  opt.pin_threads = cfg.pin_threads;
  if (cfg.shard_nice >= 0) opt.shard_nice = cfg.shard_nice;
  if (cfg.sync_round_hold_us >= 0) {
    opt.sync_round_hold_us = static_cast<uint32_t>(cfg.sync_round_hold_us);
  }
  opt.caller_block_reads = cfg.caller_block_reads;
  opt.warm_cache_on_open = cfg.warm_cache_on_open;
  opt.post_writes = cfg.post_writes;
  opt.caller_read_sqpoll = cfg.caller_read_sqpoll == "never"    ? ringdb::SqpollReads::kNever
                           : cfg.caller_read_sqpoll == "always" ? ringdb::SqpollReads::kAlways
                                                                : ringdb::SqpollReads::kAuto;
  opt.durability = cfg.durability == "sync"       ? ringdb::Durability::kSync
                   : cfg.durability == "periodic" ? ringdb::Durability::kPeriodic
                                                  : ringdb::Durability::kNone;
  opt.periodic_sync_ms = cfg.periodic_sync_ms;
  opt.io_backend = cfg.io_backend == "uring" ? ringdb::IoBackendKind::kUring
                   : cfg.io_backend == "aio" ? ringdb::IoBackendKind::kAio
                                             : ringdb::IoBackendKind::kAuto;
  if (cfg.io_poll_batch >= 0) opt.io_poll_batch = static_cast<uint32_t>(cfg.io_poll_batch);
  if (cfg.idle_spin_us >= 0) opt.idle_spin_us = static_cast<uint32_t>(cfg.idle_spin_us);
  if (cfg.cache_size >= 0) opt.block_cache_bytes = static_cast<size_t>(cfg.cache_size);
  if (cfg.memtable_bytes > 0) opt.memtable_bytes = static_cast<size_t>(cfg.memtable_bytes);
  opt.block_align = cfg.block_align;
  opt.io_trace = cfg.iotrace;
  std::unique_ptr<ringdb::DB> db;
  *status = ringdb::DB::Open(opt, &db);
  if (!status->ok()) return nullptr;
  return std::make_unique<RingdbEngine>(std::move(db));
}

}  // namespace ringdb_bench
