// DBImpl: the public facade. Routes each key to its shard with a stable hash, carries
// requests from application threads to shard threads over the runtime's SPSC rings
// (the caller's request object travels, so a blocking call allocates only its batch
// encoding), and owns LOCK, OPTIONS and the runtime.
//
// Thread safety: every public method may be called from any application thread.
// Calling a blocking method from a shard thread (e.g. inside an async callback) is
// refused with InvalidArgument: it would deadlock the shard.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "db/store_files.h"
#include "db/test_hooks.h"
#include "lsm/shard.h"
#include "ringdb/db.h"
#include "runtime/runtime.h"

namespace ringdb::db {

class DBImpl final : public DB {
 public:
  static Status Open(const Options& opt, const testing::OpenHooks* hooks, std::unique_ptr<DB>* out);
  ~DBImpl() override;

  Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) override;
  Status Delete(const WriteOptions& wo, std::string_view key) override;
  Status Write(const WriteOptions& wo, const WriteBatch& batch) override;
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value) override;
  void PutAsync(std::string_view key, std::string_view value, WriteCallback cb) override;
  void DeleteAsync(std::string_view key, WriteCallback cb) override;
  void WriteAsync(const WriteBatch& batch, WriteCallback cb) override;
  void GetAsync(std::string_view key, GetCallback cb) override;
  Status Flush() override;
  Status Close() override;
  Status GetStats(Stats* stats) override;
  uint32_t shard_count() const override { return nshards_; }
  uint32_t ShardForKey(std::string_view key) const override { return ShardOf(key); }
  std::string io_backend() const override { return backend_desc_; }

  // Shard of a key: FastRange32(XXH3(key)) over the shard count. DO NOT CHANGE: it
  // decides where existing data lives.
  uint32_t ShardOf(std::string_view key) const;
  // testing::Crash.
  void CrashForTesting();
  // Stats of every shard, read on each shard's own thread.
  std::vector<lsm::ShardStats> ShardStatsSnapshot();

 private:
  explicit DBImpl(const Options& opt) : opt_(opt) {}
  // Runs fn(shard) in a fiber on every shard at once; returns the first error.
  template <class F>
  Status OnAllShards(F fn);
  bool OnShardThread() const;
  Status CheckOpen() const;
  Status SubmitWrite(uint32_t shard, std::string_view rep, bool sync);
  void SubmitWriteAsync(uint32_t shard, std::string rep, WriteCallback cb);

  Options opt_;
  DirLock lock_;
  std::unique_ptr<rt::Runtime> rt_;
  std::vector<std::unique_ptr<lsm::Shard>> shards_;
  uint32_t nshards_ = 0;
  std::string backend_desc_;
  std::atomic<bool> closed_{false};
  uint64_t caller_spin_ns_ = 0;  // set by Open (Options::idle_spin_us)
};

}  // namespace ringdb::db
