// The workload generator: which operation comes next and on which key, shared by both
// load sources (application threads and shard fibers).
//
// Keys are numbers formatted as zero-padded decimals of --key_size bytes. A KeySpace
// says which numbers a worker may use: with --load=threads every worker uses [0, num)
// (plus the keys YCSB D/E insert); with --load=reactor each shard's fibers use the
// numbers that shard owns, precomputed once per store into a sorted list, so that
// picking a key costs an array lookup instead of hashing candidates until one is owned.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_config.h"
#include "bench_engine.h"
#include "bench_generators.h"
#include "bench_record.h"

namespace ringdb_bench {

// Key numbers a worker may use. "Loaded" keys are what reads pick from (YCSB's
// recordcount): indexes [0, loaded()) map to key numbers by KeyAt. "Latest" counts the
// loaded keys plus acknowledged inserts, newest last.
class KeySpace {
 public:
  virtual ~KeySpace() = default;
  virtual uint64_t loaded() const = 0;
  virtual uint64_t KeyAt(uint64_t idx) const = 0;
  virtual uint64_t latest_count() const = 0;
  virtual uint64_t LatestKeyAt(uint64_t idx) const = 0;
  // readmissing: key numbers whose "missing" key (last digit replaced by '.') the
  // worker may use.
  virtual uint64_t missing_count() const = 0;
  virtual uint64_t MissingAt(uint64_t idx) const = 0;
  // A fresh key number for an insert, then its acknowledgement once the write is done.
  virtual uint64_t ClaimInsert() = 0;
  virtual void AckInsert(uint64_t key) = 0;
  // Before a phase with the latest distribution: zeta(latest_count() - 1), which
  // SkewedLatest needs. It costs O(n), so it is computed once (extended incrementally
  // from the previous phase's) and shared by the workers.
  void PrepareLatest() {
    uint64_t n = std::max<uint64_t>(latest_count(), 2) - 1;
    if (n > zeta_items_) {
      zeta_sum_ = Zeta(zeta_items_, n, kZipfianConstant, zeta_sum_);
      zeta_items_ = n;
    }
    latest_items = n;
    latest_zetan = zeta_sum_;
  }
  uint64_t latest_items = 1;
  double latest_zetan = -1;

 private:
  uint64_t zeta_items_ = 0;
  double zeta_sum_ = 0;
};

// --load=threads: [0, num) for everyone; inserts take num, num+1, ... from an atomic
// counter (inserts are 5% of YCSB D/E, so the shared counter is cold).
class GlobalKeySpace final : public KeySpace {
 public:
  explicit GlobalKeySpace(uint64_t num) : num_(num), next_insert_(num), acked_last_(num - 1) {}
  uint64_t loaded() const override { return num_; }
  uint64_t KeyAt(uint64_t idx) const override { return idx; }
  uint64_t latest_count() const override { return acked_last_.load(std::memory_order_acquire) + 1; }
  uint64_t LatestKeyAt(uint64_t idx) const override { return idx; }
  uint64_t missing_count() const override { return num_; }
  uint64_t MissingAt(uint64_t idx) const override { return idx; }
  uint64_t ClaimInsert() override { return next_insert_.fetch_add(1, std::memory_order_relaxed); }
  // "Latest" is the highest acknowledged insert (YCSB waits for every lower one too; a
  // read of a still-in-flight lower key is then a NotFound, counted as such).
  void AckInsert(uint64_t key) override {
    uint64_t cur = acked_last_.load(std::memory_order_relaxed);
    while (key > cur && !acked_last_.compare_exchange_weak(cur, key, std::memory_order_release)) {
    }
  }

 private:
  uint64_t num_;
  alignas(64) std::atomic<uint64_t> next_insert_;
  alignas(64) std::atomic<uint64_t> acked_last_;
};

// --load=reactor: the key numbers one shard owns. Used only by that shard's fibers (one
// thread), so nothing is atomic.
class ShardKeySpace final : public KeySpace {
 public:
  ShardKeySpace(const Engine* engine, uint32_t shard, int key_size, uint64_t num)
      : engine_(engine), shard_(shard), key_size_(key_size), next_candidate_(num) {}
  std::vector<uint64_t> keys;      // owned numbers in [0, num), ascending
  std::vector<uint64_t> missing;   // owned "missing" keys (built when a phase needs them)
  std::vector<uint64_t> inserted;  // acknowledged inserts, oldest first

  uint64_t loaded() const override { return keys.size(); }
  uint64_t KeyAt(uint64_t idx) const override { return keys[idx]; }
  uint64_t latest_count() const override { return keys.size() + inserted.size(); }
  uint64_t LatestKeyAt(uint64_t idx) const override {
    return idx < keys.size() ? keys[idx] : inserted[idx - keys.size()];
  }
  uint64_t missing_count() const override { return missing.size(); }
  uint64_t MissingAt(uint64_t idx) const override { return missing[idx]; }
  // Candidates num, num+1, ... are tried until this shard owns one: every shard scans
  // the same sequence and keeps its own, so no coordination is needed (cost: about
  // `shards` key hashes per insert).
  uint64_t ClaimInsert() override;
  void AckInsert(uint64_t key) override { inserted.push_back(key); }

 private:
  const Engine* engine_;
  uint32_t shard_;
  int key_size_;
  uint64_t next_candidate_;
};

// Creates the shards' key spaces when *spaces is empty, and fills each shard's `keys`
// (when with_keys) and `missing` (when with_missing) using every CPU.
void BuildShardKeySpaces(const Engine& engine, const Config& cfg, bool with_keys, bool with_missing,
                         std::vector<std::unique_ptr<ShardKeySpace>>* spaces);

// The first error of a phase; workers stop at the next operation once `failed` is set.
struct ErrorState {
  std::atomic<bool> failed{false};
  std::mutex mu;  // errors only: never on the path of a successful operation
  std::string first;
  void Report(const Status& s, const char* what);
};

// What every worker of a phase shares (read-only while it runs, except the flags).
struct PhaseShared {
  const Config* cfg = nullptr;
  const PhaseInfo* info = nullptr;
  Dist dist = Dist::kUniform;
  uint64_t phase_index = 0;
  const ValuePool* values = nullptr;
  std::atomic<bool> stop{false};     // duration elapsed or error
  std::atomic<bool> bg_stop{false};  // background writers: foreground done
  std::atomic<int> fg_running{0};
  ErrorState err;
};

// Issues operations and records them. Implemented for application threads over an
// Engine (blocking or async) and for shard fibers over a ShardContext.
class Client {
 public:
  virtual ~Client() = default;
  virtual void Put(std::string_view key, std::string_view value, Kind kind) = 0;
  // An insert: AckInsert(keynum) once acknowledged.
  virtual void Insert(std::string_view key, std::string_view value, uint64_t keynum,
                      KeySpace* ks) = 0;
  virtual void Get(std::string_view key) = 0;
  virtual void ReadModifyWrite(std::string_view key, std::string_view value) = 0;
  virtual void Write(std::span<const BatchOp> ops) = 0;
  virtual void MultiGet(std::span<const std::string_view> keys) = 0;
  // Seek(start) and read up to `entries` entries: one kScan op.
  virtual void SeekScan(std::string_view start, uint64_t entries, size_t chunk_bytes) = 0;
  // One pass over the store from its first key, each Next() a kScan op; stops early
  // when `stop` is set.
  virtual void FullScan(const std::atomic<bool>& stop, size_t chunk_bytes) = 0;
  // Called after every operation (fibers yield now and then).
  virtual void AfterOp() {}
  // Waits for operations still in flight (async).
  virtual void Drain() {}
};

struct WorkerSpec {
  uint64_t first = 0;   // fillseq: first index of this worker's slice
  uint64_t quota = 0;   // ops when bounded
  bool bounded = true;  // quota-bound (else until `stop`)
  bool background = false;
  uint64_t seed = 0;
};

// Runs one worker of the phase until its quota is done, `stop` (or for a background
// writer `bg_stop`) is set, or an error was reported.
void RunWorker(PhaseShared* ps, KeySpace* ks, Client* client, const WorkerSpec& w);

// Seed of worker `id` in phase `phase_index`: distinct streams, reproducible runs.
uint64_t WorkerSeed(uint64_t seed, uint64_t phase_index, uint64_t id);

}  // namespace ringdb_bench
