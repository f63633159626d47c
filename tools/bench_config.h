// ringdb-bench's flags and workload table (docs/bench.md lists both).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ringdb_bench {

using json = nlohmann::ordered_json;

enum class Phase {
  kFillSeq,
  kFillRandom,
  kOverwrite,
  kReadRandom,
  kReadMissing,
  kReadWhileWriting,
  kReadRandomWriteRandom,
  kMixed,
  kSeekRandom,
  kScan,
  kMultiGet,
  kYcsbA,
  kYcsbB,
  kYcsbC,
  kYcsbD,
  kYcsbE,
  kYcsbF,
  kFlush,
};

// How a read phase picks existing keys (YCSB's requestdistribution).
enum class Dist { kUniform, kZipfian, kLatest };
const char* DistName(Dist d);

struct PhaseInfo {
  const char* name;
  Phase phase;
  bool fill;      // always --num operations, whatever --duration says
  bool iterator;  // uses DB::NewIterator (not on --load=reactor)
  bool multiget;  // uses DB::MultiGet (not on --load=reactor)
  Dist default_dist;
  const char* summary;  // one line for --help and docs/bench.md
};
const std::vector<PhaseInfo>& Phases();
const PhaseInfo* FindPhase(const std::string& name);

enum class Load { kThreads, kReactor };

struct Config {
  std::string benchmarks = "fillrandom,mixed";
  uint64_t num = 200000;
  uint64_t ops = 0;  // read/mixed phases when duration == 0 (0 = num)
  int key_size = 16;
  int value_size = 100;
  int threads = 2;
  double duration = 10;
  uint32_t shards = 0;
  std::string durability = "none";
  uint32_t periodic_sync_ms = 100;
  std::string io_backend = "auto";
  int64_t io_poll_batch = -1;   // -1: Options default
  int64_t idle_spin_us = -1;    // -1: Options default (auto)
  int64_t cache_size = -1;      // -1: Options default
  int64_t memtable_bytes = -1;  // -1: Options default
  bool block_align = false;     // Options::block_align (RocksDB: BlockBasedTableOptions)
  bool pin_threads = false;
  int shard_nice = -1;              // Options::shard_nice (-1: the engine default)
  int64_t sync_round_hold_us = -1;  // Options::sync_round_hold_us (-1: the engine default)
  bool caller_block_reads = true;
  std::string caller_read_sqpoll = "auto";  // Options::caller_read_sqpoll
  bool warm_cache_on_open = true;           // Options::warm_cache_on_open
  bool post_writes = true;
  std::string db = "/var/tmp/ringdb-bench";
  std::string rocksdb_db;  // "" = db + "-rocksdb"
  bool use_existing_db = false;
  int readwritepercent = 80;
  uint64_t write_rate_limit = 0;  // readwhilewriting's writer: key+value bytes/s (0: none)
  std::string json_file;
  uint64_t seed = 42;
  bool async = false;
  uint32_t async_depth = 32;
  bool stats = false;
  bool histogram = false;
  bool iotrace = false;
  double report_interval = 1.0;
  // New workloads.
  std::string distribution;  // "" = the workload's own default
  uint32_t seek_nexts = 10;
  uint64_t scan_length = 0;  // 0 = full scan (scan), 100 (ycsb-e's maximum)
  uint32_t multiget_batch = 32;
  uint32_t batch_size = 1;           // fills: keys per WriteBatch
  int64_t iterator_chunk_bytes = 0;  // 0 = sized to the workload
  // Load source, engines, sweeps.
  std::string load_name = "threads";
  Load load = Load::kThreads;
  uint32_t fibers_per_shard = 16;
  std::string engines_flag = "ringdb";
  std::vector<std::string> engines;
  std::string sweep_flag;
  std::vector<uint32_t> sweep_shards;  // empty: one run at --shards
  int runs = 1;

  std::vector<const PhaseInfo*> phases;  // parsed --benchmarks
};

// Parses argv into *cfg. Returns -1 to go on, or the exit code (0 for --help, 2 for a
// usage error, with the message printed).
int ParseFlags(int argc, char** argv, Config* cfg);

// The distribution a phase uses: --distribution, or the phase's default.
Dist PhaseDist(const Config& cfg, const PhaseInfo& p);

// The store directory of an engine at a shard count (sweeps keep one store per count).
std::string StorePath(const Config& cfg, const std::string& engine, uint32_t shards);

json ConfigJson(const Config& c);

}  // namespace ringdb_bench
