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
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "db/store_files.h"
#include "db/test_hooks.h"
#include "lsm/shard.h"
#include "ringdb/db.h"
#include "runtime/runtime.h"

namespace ringdb::db {

// InvalidArgument for a key or value over the limits of ringdb/options.h.
Status CheckKeyValue(std::string_view key, std::string_view value);

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
  std::vector<Status> MultiGet(const ReadOptions& ro, std::span<const std::string_view> keys,
                               std::vector<std::string>* values) override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& ro) override;
  const Snapshot* GetSnapshot() override;
  void ReleaseSnapshot(const Snapshot* snapshot) override;
  Status RunOnShards(uint32_t fibers_per_shard, const ShardTask& task) override;
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

  // The per-shard sequence numbers a read uses: the snapshot's, or Shard::kLatest.
  // InvalidArgument for a snapshot of another DB. SeqFor: one shard's, no allocation.
  Status ReadSeqs(const ReadOptions& ro, std::vector<lsm::SequenceNumber>* seqs) const;
  Status SeqFor(const ReadOptions& ro, uint32_t shard, lsm::SequenceNumber* seq) const;

  // For DBIterator.
  rt::Runtime* runtime() const { return rt_.get(); }
  lsm::Shard* shard(uint32_t i) const { return shards_[i].get(); }
  uint64_t caller_spin_ns() const { return caller_spin_ns_; }
  // False once Close began; shared so that an iterator outliving its DB (a bug the
  // docs forbid) does not touch freed shards.
  std::shared_ptr<const std::atomic<bool>> open_token() const { return open_; }
  // Iterator cursors of shard i: touched only on shard i's thread. Close() frees what
  // iterators left behind.
  std::unordered_set<lsm::UserIterator*>& cursors(uint32_t i) { return cursors_[i]; }

 private:
  explicit DBImpl(const Options& opt) : opt_(opt) {}
  // Runs fn(shard) in a fiber on every shard at once; returns the first error.
  template <class F>
  Status OnAllShards(F fn);
  bool OnShardThread() const;
  Status CheckOpen() const;
  Status SubmitWrite(uint32_t shard, std::string_view rep, bool sync,
                     OpKind kind = OpKind::kWriteBatch);
  class SnapshotImpl;
  void SubmitWriteAsync(uint32_t shard, std::string rep, WriteCallback cb,
                        OpKind kind = OpKind::kWriteBatch);

  Options opt_;
  DirLock lock_;
  std::unique_ptr<rt::Runtime> rt_;
  std::vector<std::unique_ptr<lsm::Shard>> shards_;
  uint32_t nshards_ = 0;
  std::string backend_desc_;
  std::atomic<bool> closed_{false};
  uint64_t caller_spin_ns_ = 0;  // set by Open (Options::idle_spin_us)
  std::shared_ptr<std::atomic<bool>> open_ = std::make_shared<std::atomic<bool>>(true);
  std::vector<std::unordered_set<lsm::UserIterator*>> cursors_;
  std::mutex snapshots_mu_;  // not on the data path: GetSnapshot/ReleaseSnapshot only
  std::set<const Snapshot*> snapshots_;
};

class DBImpl::SnapshotImpl final : public Snapshot {
 public:
  SnapshotImpl(const DBImpl* db, std::vector<lsm::SequenceNumber> seqs)
      : db(db), seqs(std::move(seqs)) {}
  const DBImpl* const db;
  const std::vector<lsm::SequenceNumber> seqs;  // per shard
};

template <class F>
Status DBImpl::OnAllShards(F fn) {
  std::vector<Status> results(nshards_);
  std::latch done(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    rt_->SubmitToAsync(
        i, [&fn, i] { return fn(i); },
        [&results, &done, i](Status st) {
          results[i] = std::move(st);
          done.count_down();
        });
  }
  done.wait();
  for (uint32_t i = 0; i < nshards_; i++) {
    if (!results[i].ok()) return results[i];  // it names the shard's files
  }
  return Status::OK();
}

}  // namespace ringdb::db
