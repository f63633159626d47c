// Engine: the small storage interface the workload generator drives, so that the same
// phases run against ringdb (bench_engine_ringdb.cc) and, in a -Drocksdb=enabled build,
// RocksDB (bench_engine_rocksdb.cc) in the same binary.
//
// Thread safety: every operation may be called from any number of threads at once (both
// engines allow it). Stats calls (PhaseBegin/PhaseEnd/FinalStats) come from the main
// thread only, between phases.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_config.h"
#include "ringdb/status.h"

namespace ringdb {
class DB;
}

namespace ringdb_bench {

using ringdb::Status;

struct BatchOp {
  bool is_delete = false;
  std::string_view key;
  std::string_view value;
};

// An ordered cursor (see ringdb/iterator.h; RocksDB's has the same shape).
class EngineIterator {
 public:
  virtual ~EngineIterator() = default;
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void Seek(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string name() const = 0;
  // One line about the instance: I/O backend, version, the settings that matter.
  virtual std::string Describe() const = 0;
  // Shards the engine partitions keys over (1 for RocksDB) and the owner of a key.
  virtual uint32_t shard_count() const = 0;
  virtual uint32_t ShardForKey(std::string_view key) const = 0;

  virtual Status Put(std::string_view key, std::string_view value) = 0;
  virtual Status Delete(std::string_view key) = 0;
  virtual Status Write(std::span<const BatchOp> ops) = 0;
  // OK and *value set, NotFound, or an error.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  // (*statuses)[i] and (*values)[i] belong to keys[i].
  virtual void MultiGet(std::span<const std::string_view> keys, std::vector<std::string>* values,
                        std::vector<Status>* statuses) = 0;
  // A cursor over the latest data. chunk_bytes: how much a shard sends at once (ringdb's
  // ReadOptions::iterator_chunk_bytes; ignored by RocksDB). nullptr with *error set when
  // the engine cannot make one.
  virtual std::unique_ptr<EngineIterator> NewIterator(size_t chunk_bytes, Status* error) = 0;

  // ringdb's non-blocking calls; the callback runs on the shard thread.
  virtual bool SupportsAsync() const { return false; }
  virtual void PutAsync(std::string_view, std::string_view, std::function<void(Status)> cb) {
    cb(Status::NotSupported("PutAsync"));
  }
  virtual void GetAsync(std::string_view, std::function<void(Status, std::string_view)> cb) {
    cb(Status::NotSupported("GetAsync"), {});
  }
  // The ringdb DB for --load=reactor (DB::RunOnShards); nullptr for other engines.
  virtual ringdb::DB* ringdb_db() { return nullptr; }

  // Counters: PhaseBegin takes a snapshot; PhaseEnd prints the difference as one "  db:"
  // line (plus, with verbose, a readable per-shard summary) and stores it in *out.
  virtual void PhaseBegin() = 0;
  virtual void PhaseEnd(bool verbose, json* out) = 0;
  // The engine's statistics at the end of a run, as JSON (and printed when verbose).
  virtual json FinalStats(bool verbose) = 0;

  // Memtables to SSTables, waiting until done (the "flush" phase).
  virtual Status Flush() = 0;
  virtual Status Close() = 0;
};

// Where and how to open an engine.
struct EngineSpec {
  const Config* cfg = nullptr;
  std::string path;
  uint32_t shards = 0;  // 0 = one per online CPU
};

using EngineOpener = std::unique_ptr<Engine> (*)(const EngineSpec& spec, Status* status);

// Engines register themselves at start-up (a static initializer in their file), so the
// static ringdb-bench, built without the RocksDB adapter, simply lacks "rocksdb".
bool RegisterEngine(const char* name, EngineOpener opener);
EngineOpener FindEngine(const std::string& name);
std::vector<std::string> EngineNames();

// The ringdb engine (always built).
std::unique_ptr<Engine> OpenRingdbEngine(const EngineSpec& spec, Status* status);

}  // namespace ringdb_bench
