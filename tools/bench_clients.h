// The two kinds of Client (bench_workload.h) a phase's workers drive:
//   EngineClient  --load=threads: an application thread calling the Engine, blocking
//                 or async (--async, at most --async_depth in flight);
//   ShardClient   --load=reactor: a fiber on a shard's own thread calling its
//                 ShardContext, only ever on keys that shard owns.
// Both time every operation and record it in the worker's Recorder, per owning shard.
#pragma once

#include <string>
#include <vector>

#include "bench_engine.h"
#include "bench_workload.h"
#include "ringdb/options.h"
#include "ringdb/shard_context.h"

namespace ringdb_bench {

class EngineClient final : public Client {
 public:
  EngineClient(PhaseShared* ps, Engine* engine, Recorder* rec, bool async)
      : ps_(ps), engine_(engine), rec_(rec), async_(async && engine->SupportsAsync()) {}

  void Put(std::string_view key, std::string_view value, Kind kind) override {
    DoPut(key, value, kind, 0, nullptr);
  }
  void Insert(std::string_view key, std::string_view value, uint64_t keynum,
              KeySpace* ks) override {
    DoPut(key, value, kInsert, keynum, ks);
  }
  void Get(std::string_view key) override;
  void ReadModifyWrite(std::string_view key, std::string_view value) override;
  void Write(std::span<const BatchOp> ops) override;
  void MultiGet(std::span<const std::string_view> keys) override;
  void SeekScan(std::string_view start, uint64_t entries, size_t chunk_bytes) override;
  void FullScan(const std::atomic<bool>& stop, size_t chunk_bytes) override;
  void Drain() override;

 private:
  void DoPut(std::string_view key, std::string_view value, Kind kind, uint64_t keynum,
             KeySpace* ks);
  // Async: waits until fewer than --async_depth operations are in flight, counts one.
  void Throttle();
  // Async completion: one fewer in flight.
  static void Done(Recorder* rec);

  PhaseShared* ps_;
  Engine* engine_;
  Recorder* rec_;
  bool async_;
  std::string value_;
  std::vector<std::string> mg_values_;
  std::vector<Status> mg_status_;
};

class ShardClient final : public Client {
 public:
  // Fibers yield every kYieldEvery ops: a Get served from the memtable or cache never
  // suspends, and a fiber that never suspends would starve the shard's other fibers
  // (and its commits, flushes and incoming requests).
  static constexpr uint32_t kYieldEvery = 16;

  ShardClient(PhaseShared* ps, ringdb::ShardContext* ctx, Recorder* rec)
      : ps_(ps), ctx_(ctx), rec_(rec), shard_(ctx->shard()) {}

  void Put(std::string_view key, std::string_view value, Kind kind) override;
  void Insert(std::string_view key, std::string_view value, uint64_t keynum, KeySpace* ks) override;
  void Get(std::string_view key) override;
  void ReadModifyWrite(std::string_view key, std::string_view value) override;
  // Not offered by ShardContext; Config validation keeps these phases off the reactor.
  void Write(std::span<const BatchOp>) override { Unsupported("WriteBatch"); }
  void MultiGet(std::span<const std::string_view>) override { Unsupported("MultiGet"); }
  void SeekScan(std::string_view, uint64_t, size_t) override { Unsupported("iterators"); }
  void FullScan(const std::atomic<bool>&, size_t) override { Unsupported("iterators"); }

  void AfterOp() override {
    if (++ops_ % kYieldEvery == 0) ctx_->Yield();
  }

 private:
  void Unsupported(const char* what);

  PhaseShared* ps_;
  ringdb::ShardContext* ctx_;
  Recorder* rec_;
  uint32_t shard_;
  ringdb::WriteOptions wo_;
  ringdb::ReadOptions ro_;
  std::string value_;
  uint64_t ops_ = 0;
};

}  // namespace ringdb_bench
