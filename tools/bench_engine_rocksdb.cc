// The RocksDB engine, for side-by-side runs (--engine=rocksdb or ringdb,rocksdb). Built
// only with -Drocksdb=enabled (librocksdb-dev), and never linked into
// ringdb-bench-static. It registers itself with the engine registry at start-up.
//
// RocksDB is configured to match ringdb's settings (docs/bench.md "RocksDB mapping"):
//   write_buffer_size    = Options::memtable_bytes (per shard) x shards
//   max_write_buffer_number = max_immutable_memtables + 1 (3)
//   block cache          = --cache_size (LRU, same total as ringdb's cache)
//   block size 4 KiB, bloom filter 10 bits/key, no compression
//   use_direct_reads and use_direct_io_for_flush_and_compaction (ringdb's O_DIRECT)
//   max_background_jobs  = max(2, shards) (ringdb compacts on every shard)
//   --durability sync -> WriteOptions::sync = true; none -> sync = false (the WAL is
//   written to the kernel, never fdatasync'ed); periodic -> sync = false plus
//   DB::SyncWAL every --periodic_sync_ms from a background thread.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "bench_engine.h"
#include "ringdb/options.h"

namespace ringdb_bench {

namespace {

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound();
  return Status::IOError("rocksdb: " + s.ToString());
}

rocksdb::Slice S(std::string_view v) {
  return rocksdb::Slice(v.data(), v.size());
}

std::string_view V(const rocksdb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

class RocksIterator final : public EngineIterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Seek(std::string_view target) override { it_->Seek(S(target)); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return V(it_->key()); }
  std::string_view value() const override { return V(it_->value()); }
  Status status() const override { return FromRocks(it_->status()); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The tickers the "db:" line reports (the same quantities as ringdb's).
struct Counters {
  uint64_t keys_written = 0, self_groups = 0, wal_syncs = 0, wal_bytes = 0, flush_bytes = 0,
           stall_us = 0, cache_hits = 0, cache_misses = 0, bloom_useful = 0, compact_read_bytes = 0,
           compact_write_bytes = 0;
  // Gauges.
  uint64_t l0_files = 0, memtable_bytes = 0, cache_usage = 0;
};

class RocksdbEngine final : public Engine {
 public:
  RocksdbEngine(rocksdb::DB* db, std::shared_ptr<rocksdb::Statistics> stats,
                rocksdb::WriteOptions wo, uint32_t periodic_ms, std::string describe)
      : db_(db), stats_(std::move(stats)), wo_(wo), describe_(std::move(describe)) {
    if (periodic_ms) {
      syncer_ = std::thread([this, periodic_ms] {
        std::unique_lock<std::mutex> l(mu_);
        while (!stop_sync_) {
          cv_.wait_for(l, std::chrono::milliseconds(periodic_ms));
          if (stop_sync_) break;
          l.unlock();
          db_->SyncWAL();
          l.lock();
        }
      });
    }
  }
  ~RocksdbEngine() override { Close(); }

  std::string name() const override { return "rocksdb"; }
  std::string Describe() const override { return describe_; }
  uint32_t shard_count() const override { return 1; }
  uint32_t ShardForKey(std::string_view) const override { return 0; }

  Status Put(std::string_view key, std::string_view value) override {
    return FromRocks(db_->Put(wo_, S(key), S(value)));
  }
  Status Delete(std::string_view key) override { return FromRocks(db_->Delete(wo_, S(key))); }
  Status Write(std::span<const BatchOp> ops) override {
    rocksdb::WriteBatch b;
    for (const BatchOp& op : ops) {
      rocksdb::Status s = op.is_delete ? b.Delete(S(op.key)) : b.Put(S(op.key), S(op.value));
      if (!s.ok()) return FromRocks(s);
    }
    return FromRocks(db_->Write(wo_, &b));
  }
  Status Get(std::string_view key, std::string* value) override {
    return FromRocks(db_->Get(ro_, S(key), value));
  }
  void MultiGet(std::span<const std::string_view> keys, std::vector<std::string>* values,
                std::vector<Status>* statuses) override {
    const size_t n = keys.size();
    std::vector<rocksdb::Slice> slices(n);
    for (size_t i = 0; i < n; i++) slices[i] = S(keys[i]);
    std::vector<rocksdb::PinnableSlice> pinned(n);
    std::vector<rocksdb::Status> st(n);
    db_->MultiGet(ro_, db_->DefaultColumnFamily(), n, slices.data(), pinned.data(), st.data());
    values->resize(n);
    statuses->resize(n);
    for (size_t i = 0; i < n; i++) {
      (*statuses)[i] = FromRocks(st[i]);
      if (st[i].ok()) (*values)[i].assign(pinned[i].data(), pinned[i].size());
    }
  }
  std::unique_ptr<EngineIterator> NewIterator(size_t, Status*) override {
    return std::make_unique<RocksIterator>(db_->NewIterator(ro_));
  }

  void PhaseBegin() override { before_ = Read(); }
  void PhaseEnd(bool verbose, json* out) override {
    Counters a = before_, b = Read();
    Counters d = b;
    d.keys_written -= a.keys_written;
    d.self_groups -= a.self_groups;
    d.wal_syncs -= a.wal_syncs;
    d.wal_bytes -= a.wal_bytes;
    d.flush_bytes -= a.flush_bytes;
    d.stall_us -= a.stall_us;
    d.cache_hits -= a.cache_hits;
    d.cache_misses -= a.cache_misses;
    d.bloom_useful -= a.bloom_useful;
    d.compact_read_bytes -= a.compact_read_bytes;
    d.compact_write_bytes -= a.compact_write_bytes;
    const double mb = 1048576.0;
    uint64_t lookups = d.cache_hits + d.cache_misses;
    std::printf(
        "  db: keys written %" PRIu64 ", write groups %" PRIu64
        " (%.1f writes/group), WAL syncs %" PRIu64
        ", WAL %.1f MB, flushed %.1f MB, compaction %.1f MB read %.1f MB written, "
        "stall %.1f ms, bloom useful %" PRIu64 ", cache hit %.1f%%, L0 files %" PRIu64
        ", memtable %.1f MB\n",
        d.keys_written, d.self_groups,
        d.self_groups ? static_cast<double>(d.keys_written) / static_cast<double>(d.self_groups)
                      : 0.0,
        d.wal_syncs, static_cast<double>(d.wal_bytes) / mb, static_cast<double>(d.flush_bytes) / mb,
        static_cast<double>(d.compact_read_bytes) / mb,
        static_cast<double>(d.compact_write_bytes) / mb, static_cast<double>(d.stall_us) / 1e3,
        d.bloom_useful,
        lookups ? 100.0 * static_cast<double>(d.cache_hits) / static_cast<double>(lookups) : 0.0,
        d.l0_files, static_cast<double>(d.memtable_bytes) / mb);
    if (verbose) PrintLevelStats();
    (*out)["db_stats"] = {{"delta_total", CountersJson(d)}};
  }
  json FinalStats(bool verbose) override {
    if (verbose) PrintLevelStats();
    json j = {{"total", CountersJson(Read())}};
    if (verbose) {
      std::string text;
      if (db_->GetProperty(rocksdb::DB::Properties::kStats, &text)) j["stats_text"] = text;
    }
    return j;
  }

  Status Flush() override {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    return FromRocks(db_->Flush(fo));
  }
  Status Close() override {
    if (!db_) return Status::OK();
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_sync_ = true;
    }
    cv_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    rocksdb::Status s = db_->Close();
    delete db_;
    db_ = nullptr;
    return FromRocks(s);
  }

 private:
  Counters Read() {
    Counters c;
    rocksdb::Statistics* st = stats_.get();
    c.keys_written = st->getTickerCount(rocksdb::NUMBER_KEYS_WRITTEN);
    c.self_groups = st->getTickerCount(rocksdb::WRITE_DONE_BY_SELF);
    c.wal_syncs = st->getTickerCount(rocksdb::WAL_FILE_SYNCED);
    c.wal_bytes = st->getTickerCount(rocksdb::WAL_FILE_BYTES);
    c.flush_bytes = st->getTickerCount(rocksdb::FLUSH_WRITE_BYTES);
    c.stall_us = st->getTickerCount(rocksdb::STALL_MICROS);
    c.cache_hits = st->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
    c.cache_misses = st->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
    c.bloom_useful = st->getTickerCount(rocksdb::BLOOM_FILTER_USEFUL);
    c.compact_read_bytes = st->getTickerCount(rocksdb::COMPACT_READ_BYTES);
    c.compact_write_bytes = st->getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
    db_->GetIntProperty(rocksdb::DB::Properties::kNumFilesAtLevelPrefix + "0", &c.l0_files);
    db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &c.memtable_bytes);
    db_->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &c.cache_usage);
    return c;
  }
  static json CountersJson(const Counters& c) {
    return {{"keys_written", c.keys_written},
            {"write_groups", c.self_groups},
            {"wal_syncs", c.wal_syncs},
            {"wal_bytes", c.wal_bytes},
            {"flush_bytes", c.flush_bytes},
            {"stall_ns", c.stall_us * 1000},
            {"cache_hits", c.cache_hits},
            {"cache_misses", c.cache_misses},
            {"bloom_useful", c.bloom_useful},
            {"compaction_read_bytes", c.compact_read_bytes},
            {"compaction_write_bytes", c.compact_write_bytes},
            {"l0_files", c.l0_files},
            {"memtable_bytes", c.memtable_bytes},
            {"cache_bytes", c.cache_usage}};
  }
  void PrintLevelStats() {
    std::string text;
    if (db_->GetProperty(rocksdb::DB::Properties::kLevelStats, &text)) {
      std::printf("  rocksdb.levelstats:\n%s", text.c_str());
    }
  }

  rocksdb::DB* db_;
  std::shared_ptr<rocksdb::Statistics> stats_;
  rocksdb::WriteOptions wo_;
  rocksdb::ReadOptions ro_;
  std::string describe_;
  Counters before_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_sync_ = false;
  std::thread syncer_;
};

std::unique_ptr<Engine> OpenRocksdb(const EngineSpec& spec, Status* status) {
  const Config& cfg = *spec.cfg;
  const ringdb::Options defaults;  // ringdb's defaults, where a flag keeps them
  const uint32_t shards = spec.shards
                              ? spec.shards
                              : static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const size_t memtable =
      cfg.memtable_bytes > 0 ? static_cast<size_t>(cfg.memtable_bytes) : defaults.memtable_bytes;
  const size_t cache =
      cfg.cache_size >= 0 ? static_cast<size_t>(cfg.cache_size) : defaults.block_cache_bytes;

  rocksdb::Options o;
  o.create_if_missing = !cfg.use_existing_db;
  o.write_buffer_size = memtable * shards;
  o.max_write_buffer_number = static_cast<int>(defaults.max_immutable_memtables) + 1;
  o.compression = rocksdb::kNoCompression;
  o.use_direct_reads = true;
  o.use_direct_io_for_flush_and_compaction = true;
  o.max_background_jobs = static_cast<int>(std::max<uint32_t>(2, shards));
  o.statistics = rocksdb::CreateDBStatistics();
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(cache);
  t.block_size = defaults.block_bytes;
  t.block_align = cfg.block_align;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(defaults.bloom_bits_per_key, false));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));

  rocksdb::WriteOptions wo;
  wo.sync = cfg.durability == "sync";
  const uint32_t periodic_ms = cfg.durability == "periodic" ? cfg.periodic_sync_ms : 0;

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, spec.path, &db);
  if (!s.ok()) {
    *status = FromRocks(s);
    return nullptr;
  }
  char describe[256];
  std::snprintf(describe, sizeof(describe),
                "RocksDB %d.%d.%d, memtable %zu MB (%zu MB x %u shards), cache %zu MB, bloom %d "
                "bits, direct I/O, WAL sync %s",
                ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH, (memtable * shards) >> 20,
                memtable >> 20, shards, cache >> 20, defaults.bloom_bits_per_key,
                wo.sync       ? "on every write"
                : periodic_ms ? "periodic (SyncWAL thread)"
                              : "off");
  *status = Status::OK();
  return std::make_unique<RocksdbEngine>(db, o.statistics, wo, periodic_ms, describe);
}

[[maybe_unused]] const bool kRegistered = RegisterEngine("rocksdb", &OpenRocksdb);

}  // namespace

}  // namespace ringdb_bench
