#include "bench_config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "bench_generators.h"

namespace ringdb_bench {

namespace {

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "ringdb-bench: %s\n", msg.c_str());
  return 2;
}

// Checks the combinations CLI11 cannot; fills the parsed fields.
int Validate(Config* cfg) {
  for (const std::string& name : SplitComma(cfg->benchmarks)) {
    const PhaseInfo* p = FindPhase(name);
    if (!p) return UsageError("unknown benchmark '" + name + "' (see --help)");
    cfg->phases.push_back(p);
  }
  if (cfg->phases.empty()) return UsageError("no benchmarks given");
  if (cfg->num == 0) return UsageError("--num must be > 0");
  if (Digits(cfg->num - 1) > cfg->key_size - 1) {
    return UsageError("--key_size " + std::to_string(cfg->key_size) + " is too small for --num " +
                      std::to_string(cfg->num) + " (needs " + std::to_string(Digits(cfg->num - 1)) +
                      " digits + 1 for readmissing and inserts)");
  }
  cfg->load = cfg->load_name == "reactor" ? Load::kReactor : Load::kThreads;

  cfg->engines = SplitComma(cfg->engines_flag);
  if (cfg->engines.empty()) return UsageError("--engine: give ringdb, rocksdb or ringdb,rocksdb");
  for (size_t i = 0; i < cfg->engines.size(); i++) {
    const std::string& e = cfg->engines[i];
    if (e != "ringdb" && e != "rocksdb") return UsageError("--engine: unknown engine '" + e + "'");
    for (size_t j = 0; j < i; j++) {
      if (cfg->engines[j] == e) return UsageError("--engine: '" + e + "' given twice");
    }
  }
  const bool with_rocksdb =
      std::find(cfg->engines.begin(), cfg->engines.end(), "rocksdb") != cfg->engines.end();

  for (const std::string& item : SplitComma(cfg->sweep_flag)) {
    char* end = nullptr;
    unsigned long n = std::strtoul(item.c_str(), &end, 10);
    if (*end != '\0' || n == 0 || n > 256) {
      return UsageError("--sweep_shards: '" + item + "' is not a shard count in [1, 256]");
    }
    cfg->sweep_shards.push_back(static_cast<uint32_t>(n));
  }
  if (!cfg->sweep_flag.empty() && cfg->sweep_shards.empty()) {
    return UsageError("--sweep_shards: give a comma list such as 1,2,4");
  }

  if (with_rocksdb && cfg->load == Load::kReactor) {
    return UsageError(
        "--load=reactor runs the load on ringdb's shard threads (DB::RunOnShards); RocksDB has "
        "no such threads, so it is ringdb-only. Use --load=threads with --engine=rocksdb.");
  }
  if (with_rocksdb && !cfg->sweep_shards.empty()) {
    return UsageError(
        "--sweep_shards measures ringdb's per-shard scaling; RocksDB has no shards. Run the "
        "sweep with --engine=ringdb.");
  }
  if (with_rocksdb && cfg->async) {
    return UsageError("--async uses ringdb's PutAsync/GetAsync; it is ringdb-only");
  }
  if (cfg->load == Load::kReactor) {
    if (cfg->async) return UsageError("--async applies to --load=threads only");
    if (cfg->write_rate_limit != 0) {
      return UsageError("--benchmark_write_rate_limit applies to --load=threads only");
    }
    if (cfg->batch_size > 1) {
      return UsageError(
          "--batch_size: a shard's fibers have no WriteBatch (ShardContext offers "
          "Put, Delete and Get); use --load=threads");
    }
    std::string bad;
    for (const PhaseInfo* p : cfg->phases) {
      if (p->iterator || p->multiget) bad += std::string(bad.empty() ? "" : ", ") + p->name;
    }
    if (!bad.empty()) {
      return UsageError("--load=reactor: " + bad +
                        " need iterators or MultiGet, which a shard's fibers do not have "
                        "(ShardContext offers Put, Delete and Get); run them with --load=threads");
    }
  }
  return -1;
}

}  // namespace

const char* DistName(Dist d) {
  switch (d) {
    case Dist::kUniform:
      return "uniform";
    case Dist::kZipfian:
      return "zipfian";
    case Dist::kLatest:
      return "latest";
  }
  return "?";
}

const std::vector<PhaseInfo>& Phases() {
  static const std::vector<PhaseInfo> kPhases = {
      {"fillseq", Phase::kFillSeq, true, false, false, Dist::kUniform,
       "Put keys 0..num-1 in order (one contiguous slice per thread)"},
      {"fillrandom", Phase::kFillRandom, true, false, false, Dist::kUniform,
       "num Puts, keys uniform in [0, num)"},
      {"overwrite", Phase::kOverwrite, true, false, false, Dist::kUniform,
       "as fillrandom, meant for a full store"},
      {"readrandom", Phase::kReadRandom, false, false, false, Dist::kUniform,
       "Get of existing keys (--distribution, default uniform)"},
      {"readmissing", Phase::kReadMissing, false, false, false, Dist::kUniform,
       "Get of absent keys sharing an existing key's prefix"},
      {"readwhilewriting", Phase::kReadWhileWriting, false, false, false, Dist::kUniform,
       "readrandom plus one background writer (per shard with --load=reactor)"},
      {"readrandomwriterandom", Phase::kReadRandomWriteRandom, false, false, false, Dist::kUniform,
       "db_bench's schedule: per 100 ops, readwritepercent reads then writes"},
      {"mixed", Phase::kMixed, false, false, false, Dist::kUniform,
       "each op a read with probability readwritepercent%, else a Put"},
      {"seekrandom", Phase::kSeekRandom, false, true, false, Dist::kUniform,
       "new iterator, Seek to a random key, then --seek_nexts Next()s"},
      {"scan", Phase::kScan, false, true, false, Dist::kUniform,
       "full scan (each Next an op), or --scan_length entries from a random key per op"},
      {"multiget", Phase::kMultiGet, false, false, true, Dist::kUniform,
       "MultiGet of --multiget_batch random keys per op (ops counted in keys)"},
      {"ycsb-a", Phase::kYcsbA, false, false, false, Dist::kZipfian,
       "YCSB A: 50% read, 50% update"},
      {"ycsb-b", Phase::kYcsbB, false, false, false, Dist::kZipfian, "YCSB B: 95% read, 5% update"},
      {"ycsb-c", Phase::kYcsbC, false, false, false, Dist::kZipfian, "YCSB C: read only"},
      {"ycsb-d", Phase::kYcsbD, false, false, false, Dist::kLatest,
       "YCSB D: 95% read (latest), 5% insert"},
      {"ycsb-e", Phase::kYcsbE, false, true, false, Dist::kZipfian,
       "YCSB E: 95% scan of 1..100 entries (iterator), 5% insert"},
      {"ycsb-f", Phase::kYcsbF, false, false, false, Dist::kZipfian,
       "YCSB F: 50% read, 50% read-modify-write"},
      {"flush", Phase::kFlush, false, false, false, Dist::kUniform,
       "turn every memtable into an SSTable and wait (db_bench's flush); not timed as ops"},
  };
  return kPhases;
}

const PhaseInfo* FindPhase(const std::string& name) {
  std::string n = name;
  // Accept "ycsba" and "ycsb_a" for "ycsb-a".
  if (n.size() == 5 && n.compare(0, 4, "ycsb") == 0) n = "ycsb-" + n.substr(4);
  if (n.size() == 6 && n.compare(0, 5, "ycsb_") == 0) n[4] = '-';
  for (const PhaseInfo& p : Phases()) {
    if (n == p.name) return &p;
  }
  return nullptr;
}

Dist PhaseDist(const Config& cfg, const PhaseInfo& p) {
  if (cfg.distribution == "uniform") return Dist::kUniform;
  if (cfg.distribution == "zipfian") return Dist::kZipfian;
  if (cfg.distribution == "latest") return Dist::kLatest;
  return p.default_dist;
}

std::string StorePath(const Config& cfg, const std::string& engine, uint32_t shards) {
  if (engine == "rocksdb") return cfg.rocksdb_db.empty() ? cfg.db + "-rocksdb" : cfg.rocksdb_db;
  if (cfg.sweep_shards.empty()) return cfg.db;
  return cfg.db + "-s" + std::to_string(shards);
}

// Long because: one statement per flag, so that the command line reads as one table
// (docs/bench.md documents each).
int ParseFlags(int argc, char** argv, Config* cfg) {
  std::string phase_list;
  for (const PhaseInfo& p : Phases()) phase_list += std::string("\n  ") + p.name + ": " + p.summary;
  CLI::App app{"ringdb-bench: db_bench-style workloads for ringdb (see docs/bench.md)"};
  app.allow_windows_style_options(false);
  app.add_option("--benchmarks", cfg->benchmarks,
                 "comma list, run in order on the same store:" + phase_list)
      ->capture_default_str();
  app.add_option("--num", cfg->num,
                 "number of keys: the key space [0, num) and the total ops of a fill phase")
      ->capture_default_str();
  app.add_option("--ops", cfg->ops,
                 "total ops of a read/mixed phase when --duration is 0 (0 = --num)")
      ->capture_default_str();
  app.add_option("--key_size", cfg->key_size, "key bytes (zero-padded decimal)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1024));
  app.add_option("--value_size", cfg->value_size, "value bytes")
      ->capture_default_str()
      ->check(CLI::Range(0, 32 << 20));
  app.add_option("--threads", cfg->threads, "application threads issuing calls (--load=threads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--duration", cfg->duration,
                 "seconds per read/mixed phase; 0 = --ops operations (fills always do --num)")
      ->capture_default_str();
  app.add_option("--shards", cfg->shards, "shards (0 = one per online CPU)")->capture_default_str();
  app.add_option("--durability", cfg->durability, "sync | periodic | none")
      ->capture_default_str()
      ->check(CLI::IsMember({"sync", "periodic", "none"}));
  app.add_option("--periodic_sync_ms", cfg->periodic_sync_ms, "fdatasync period for periodic")
      ->capture_default_str();
  app.add_option("--io_backend", cfg->io_backend, "auto | uring | aio")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "uring", "aio"}));
  app.add_option("--post_writes", cfg->post_writes,
                 "Options::post_writes: non-durable writes from application threads are "
                 "queued without waiting for the shard");
  app.add_option("--benchmark_write_rate_limit", cfg->write_rate_limit,
                 "readwhilewriting: the writer's pace in key+value bytes per second, as "
                 "db_bench's flag of that name: bursts refilled every 100 ms, as RocksDB's "
                 "GenericRateLimiter (0 = as fast as it goes)");
  app.add_option(
      "--idle_spin_us", cfg->idle_spin_us,
      "Options::idle_spin_us: how long an idle shard polls before it sleeps (-1 = auto)");
  app.add_option("--io_poll_batch", cfg->io_poll_batch,
                 "I/O completions a shard reaps per loop pass (0 = all, -1 = default)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{UINT32_MAX}));
  app.add_option("--cache_size", cfg->cache_size, "block cache bytes, all shards (-1 = default)")
      ->capture_default_str();
  app.add_option("--memtable_bytes", cfg->memtable_bytes, "memtable bytes per shard (-1 = default)")
      ->capture_default_str();
  app.add_flag("--block_align", cfg->block_align,
               "Options::block_align: page-aligned data blocks in the tables written "
               "(RocksDB engine: BlockBasedTableOptions::block_align)");
  app.add_flag("--pin_threads", cfg->pin_threads, "pin shard threads to CPUs");
  app.add_option("--sync_round_hold_us", cfg->sync_round_hold_us,
                 "Options::sync_round_hold_us: how long a shard holds synced writes for their "
                 "round (0 = off, -1 = the engine default)")
      ->check(CLI::Range(int64_t{-1}, int64_t{100'000}));
  app.add_option("--shard_nice", cfg->shard_nice,
                 "Options::shard_nice: nice steps below the application's threads for the "
                 "shard threads (-1 = the engine's default)")
      ->check(CLI::Range(-1, 19));
  app.add_option("--warm_cache_on_open", cfg->warm_cache_on_open,
                 "Options::warm_cache_on_open: after Open, the shards cache their tables' "
                 "blocks in the background until the cache is full (ringdb only)")
      ->capture_default_str();
  app.add_option("--caller_block_reads", cfg->caller_block_reads,
                 "Options::caller_block_reads: application threads read their cache misses "
                 "themselves (true) or hand them to the shard (false)");
  app.add_option("--caller_read_sqpoll", cfg->caller_read_sqpoll,
                 "Options::caller_read_sqpoll: those reads go through the DB's kernel "
                 "submission thread while more than 6 per CPU are in flight (auto), never, "
                 "or always")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "never", "always"}));
  app.add_flag("--iotrace", cfg->iotrace,
               "record every I/O (Options::io_trace; read it with ringdb-tool iotrace)");
  app.add_option("--db", cfg->db, "store directory (deleted first unless --use_existing_db)")
      ->capture_default_str();
  app.add_option("--rocksdb_db", cfg->rocksdb_db, "RocksDB's directory (default: <db>-rocksdb)");
  app.add_flag("--use_existing_db", cfg->use_existing_db, "open the store as it is");
  app.add_option("--readwritepercent", cfg->readwritepercent,
                 "percent reads in readrandomwriterandom and mixed")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_option("--distribution", cfg->distribution,
                 "uniform | zipfian | latest: how read phases pick keys (default: uniform, "
                 "YCSB workloads as YCSB: zipfian, D latest)")
      ->check(CLI::IsMember({"uniform", "zipfian", "latest"}));
  app.add_option("--seek_nexts", cfg->seek_nexts, "Next() calls after each Seek in seekrandom")
      ->capture_default_str();
  app.add_option("--scan_length", cfg->scan_length,
                 "scan: entries per op (0 = full scans); ycsb-e: maximum scan length (0 = 100)")
      ->capture_default_str();
  app.add_option("--multiget_batch", cfg->multiget_batch, "keys per MultiGet")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 16));
  app.add_option("--batch_size", cfg->batch_size, "fill phases: keys per WriteBatch (1 = Put)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 16));
  app.add_option("--iterator_chunk_bytes", cfg->iterator_chunk_bytes,
                 "ReadOptions::iterator_chunk_bytes (0 = sized to the scan)")
      ->capture_default_str();
  app.add_option("--json", cfg->json_file, "write results as JSON to this file");
  app.add_option("--seed", cfg->seed, "random seed")->capture_default_str();
  app.add_flag("--async", cfg->async,
               "use PutAsync/GetAsync, --async_depth in flight per thread (ringdb, threads)");
  app.add_option("--async_depth", cfg->async_depth, "async operations in flight per thread")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--load", cfg->load_name,
                 "threads: application threads call the API; reactor: closed-loop fibers on "
                 "the shard threads (DB::RunOnShards; ringdb only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"threads", "reactor"}));
  app.add_option("--fibers_per_shard", cfg->fibers_per_shard,
                 "closed-loop fibers per shard with --load=reactor")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--engine", cfg->engines_flag,
                 "ringdb, rocksdb, or ringdb,rocksdb (rocksdb needs a -Drocksdb=enabled build)")
      ->capture_default_str();
  app.add_option("--sweep_shards", cfg->sweep_flag,
                 "comma list of shard counts: run every phase at each and print the scaling "
                 "table (a fresh store each, <db>-s<N>)");
  app.add_option("--runs", cfg->runs,
                 "repeat everything this many times (engines alternating) and report medians")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_flag("--stats", cfg->stats, "print the engine's statistics at the end of each phase");
  app.add_flag("--histogram", cfg->histogram, "print the latency histogram of each phase");
  app.add_option("--report_interval", cfg->report_interval,
                 "seconds between progress lines on stderr (0 = none)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Validate(cfg);
}

json ConfigJson(const Config& c) {
  json j;
  j["benchmarks"] = c.benchmarks;
  j["num"] = c.num;
  j["ops"] = c.ops;
  j["key_size"] = c.key_size;
  j["value_size"] = c.value_size;
  j["threads"] = c.threads;
  j["duration"] = c.duration;
  j["shards_requested"] = c.shards;
  j["durability"] = c.durability;
  j["periodic_sync_ms"] = c.periodic_sync_ms;
  j["io_backend_requested"] = c.io_backend;
  j["io_poll_batch"] = c.io_poll_batch;
  j["idle_spin_us"] = c.idle_spin_us;
  j["benchmark_write_rate_limit"] = c.write_rate_limit;
  j["post_writes"] = c.post_writes;
  j["caller_read_sqpoll"] = c.caller_read_sqpoll;
  j["cache_size"] = c.cache_size;
  j["memtable_bytes"] = c.memtable_bytes;
  j["block_align"] = c.block_align;
  j["pin_threads"] = c.pin_threads;
  j["shard_nice"] = c.shard_nice;
  j["sync_round_hold_us"] = c.sync_round_hold_us;
  j["caller_block_reads"] = c.caller_block_reads;
  j["warm_cache_on_open"] = c.warm_cache_on_open;
  j["iotrace"] = c.iotrace;
  j["db"] = c.db;
  j["use_existing_db"] = c.use_existing_db;
  j["readwritepercent"] = c.readwritepercent;
  j["distribution"] = c.distribution.empty() ? "default" : c.distribution;
  j["seek_nexts"] = c.seek_nexts;
  j["scan_length"] = c.scan_length;
  j["multiget_batch"] = c.multiget_batch;
  j["batch_size"] = c.batch_size;
  j["iterator_chunk_bytes"] = c.iterator_chunk_bytes;
  j["seed"] = c.seed;
  j["async"] = c.async;
  j["async_depth"] = c.async_depth;
  j["load"] = c.load_name;
  j["fibers_per_shard"] = c.fibers_per_shard;
  j["engines"] = c.engines;
  j["sweep_shards"] = c.sweep_shards;
  j["runs"] = c.runs;
  return j;
}

}  // namespace ringdb_bench
