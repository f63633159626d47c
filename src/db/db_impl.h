// DBImpl: the public facade. Routes each key to its shard with a stable hash; reads
// run on the calling thread through the shards' published read views (lock-free, see
// docs/engine.md "Reads on any thread"), handing only cache misses to the owning shard;
// writes travel to the owning shard over the runtime's SPSC rings (posted, or waited
// for); owns LOCK, OPTIONS, the runtime and the per-thread read stats.
//
// Thread safety: every public method may be called from any application thread.
// Calling a blocking method from a shard thread (e.g. inside an async callback) is
// refused with InvalidArgument: it would deadlock the shard.
//
// Close and calls racing it: every call enters a gate (CallGate) that is an RCU
// read-side section checking the shared `open` flag. Close clears the flag, then waits
// a grace period: every call that saw the DB open has finished touching the shards
// before Close closes them, and every later call returns Shutdown without touching
// anything. Waited writes leave the gate once queued; their shard finishes them during
// Close. Iterators hold the flag (shared), so one used after Close, or after the DB
// is destroyed, gets Shutdown too.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "db/caller_reads.h"
#include "db/store_files.h"
#include "db/test_hooks.h"
#include "db/thread_stats.h"
#include "io/sqpoll_thread.h"
#include "lsm/shard.h"
#include "ringdb/db.h"
#include "runtime/rcu.h"
#include "runtime/runtime.h"

namespace ringdb::db {

// InvalidArgument for a key or value over the limits of ringdb/options.h.
Status CheckKeyValue(std::string_view key, std::string_view value);

// The open flag shared with iterators (they may outlive the DB, a bug the docs forbid
// that must still not crash).
using OpenFlag = std::shared_ptr<std::atomic<bool>>;

// The entry of a public call: an RCU read-side section in which the DB was open.
class CallGate {
 public:
  explicit CallGate(const std::atomic<bool>& open) {
    rt::rcu::EnsureRegistered();
    rt::rcu::detail::Lock();  // first: the flag is read inside the section
    open_ = open.load(std::memory_order_acquire);
  }
  ~CallGate() { Leave(); }
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;
  bool open() const { return open_; }
  // Ends the section early: a waited write leaves once queued, so a write stalled for
  // seconds does not hold up every grace period (and the memory they free).
  void Leave() {
    if (!left_) rt::rcu::detail::Unlock();
    left_ = true;
  }

 private:
  bool open_ = false;
  bool left_ = false;
};

class DBImpl final : public DB {
 public:
  static Status Open(const Options& opt, const testing::OpenHooks* hooks, std::unique_ptr<DB>* out);
  ~DBImpl() override;

  Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) override;
  Status Delete(const WriteOptions& wo, std::string_view key) override;
  Status Write(const WriteOptions& wo, const WriteBatch& batch) override;
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value,
             uint64_t* expire_at_unix_ms) override;
  void PutAsync(std::string_view key, std::string_view value, WriteCallback cb) override;
  void DeleteAsync(std::string_view key, WriteCallback cb) override;
  void WriteAsync(const WriteBatch& batch, WriteCallback cb) override;
  void GetAsync(std::string_view key, GetCallback cb) override;
  std::vector<Status> MultiGet(const ReadOptions& ro, std::span<const std::string_view> keys,
                               std::vector<std::string>* values) override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& ro) override;
  const Snapshot* GetSnapshot() override;
  Status ReleaseSnapshot(const Snapshot* snapshot) override;
  Status RunOnShards(uint32_t fibers_per_shard, const ShardTask& task) override;
  Status Flush() override;
  Status Resume() override;
  Status Checkpoint(const std::string& dir) override;
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
  // Stats of every shard, read on each shard's own thread, plus the threads' reads.
  std::vector<lsm::InternalShardStats> ShardStatsSnapshot();

  // The sequence number a read of `shard` uses: the snapshot's, or Shard::kLatest.
  // InvalidArgument for a snapshot of another DB.
  Status SeqFor(const ReadOptions& ro, uint32_t shard, lsm::SequenceNumber* seq) const;

  rt::Runtime* runtime() const { return rt_.get(); }
  lsm::Shard* shard(uint32_t i) const { return shards_[i].get(); }
  uint64_t caller_spin_ns() const { return caller_spin_ns_; }
  const OpenFlag& open_flag() const { return open_; }
  StatsRegistry& thread_stats() { return *stats_; }

 private:
  explicit DBImpl(const Options& opt) : opt_(opt) {}
  // Runs fn(shard) in a fiber on every shard at once; returns the first error.
  template <class F>
  Status OnAllShards(F fn);
  bool OnShardThread() const;
  // Shutdown or InvalidArgument when a blocking call may not proceed, else OK.
  Status CheckCall(const CallGate& gate) const;
  // The same for the *Async calls (PutAsync, DeleteAsync, WriteAsync, GetAsync): a
  // Status to hand the callback at once, or OK.
  Status CheckAsyncCall(const CallGate& gate) const;
  // Waits until every posted write acknowledged so far is applied on every shard.
  void WaitForAllPostedWrites() const;

  // Writes (db_write.cc).
  // The calling thread's post buffer to `shard` (created with its post log on first
  // use), or null when the log cannot be created.
  rt::PostBuffer* PostBufferFor(uint32_t shard);
  // Posts a record of rep_bytes that fill() writes (returning its entry count).
  bool PostRecord(uint32_t shard, size_t rep_bytes, OpKind kind,
                  const std::function<uint32_t(char*)>& fill);
  // Posts a one-entry batch (a Put with its deadline, or a Delete) to `shard`; false
  // when it must be waited for instead (shard not accepting posts, buffer full, too
  // large).
  bool PostEntry(uint32_t shard, bool is_put, std::string_view key, std::string_view value,
                 uint64_t expire_at_ms, OpKind kind);
  // Posts a whole rep; false as PostEntry.
  bool PostRep(uint32_t shard, std::string_view rep, OpKind kind);
  // Queues a waited write and leaves the gate before waiting for it.
  Status SubmitWrite(uint32_t shard, std::string_view rep, bool sync, OpKind kind, CallGate* gate);
  Status WriteParts(const WriteOptions& wo, std::vector<std::string>& reps, CallGate* gate);
  void SubmitWriteAsync(uint32_t shard, std::string rep, WriteCallback cb, OpKind kind);
  bool Posting(const WriteOptions& wo) const { return post_writes_ && !wo.sync; }

  class SnapshotImpl;

  Options opt_;
  DirLock lock_;
  // kSync: the shards' synced rounds (lsm/sync_round.h). Declared before rt_, so it
  // outlives the shard threads and any kick still in their rings.
  std::unique_ptr<lsm::SyncRound> sync_round_;
  std::unique_ptr<rt::Runtime> rt_;
  std::vector<std::unique_ptr<lsm::Shard>> shards_;
  uint32_t nshards_ = 0;
  std::string backend_desc_;
  std::atomic<bool> closed_{false};  // Close started (idempotence)
  OpenFlag open_ = std::make_shared<std::atomic<bool>>(true);
  uint64_t caller_spin_ns_ = 0;  // set by Open (Options::idle_spin_us)
  // Set by Open: how application threads read their cache misses (caller_reads.h);
  // null (Options::caller_block_reads false) hands them to the shards.
  CallerIoConfig caller_io_;
  const CallerIoConfig* caller_io() const { return caller_block_reads_ ? &caller_io_ : nullptr; }
  bool caller_block_reads_ = true;
  // Options::caller_read_sqpoll (db_open.cc): the submission thread, if any, and the
  // count of calls reading on their threads now (CallerIoConfig::in_flight).
  static void SetUpCallerSqpoll(const Options& opt, DBImpl* db);
  std::unique_ptr<io::SqpollThread> caller_sqpoll_;
  alignas(64) std::atomic<uint32_t> caller_reads_in_flight_{0};
  bool post_writes_ = false;  // set by Open: durability none/periodic and Options
  // Set by Open from testing::OpenHooks (db_checkpoint.cc).
  bool checkpoint_copy_tables_ = false;
  std::function<Status(const std::string& path)> checkpoint_before_file_;
  std::unique_ptr<StatsRegistry> stats_;
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
  std::vector<rt::ForeignWaiter> done(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    rt_->SubmitToAsync(
        i, [&fn, i] { return fn(i); },
        [&results, &done, i](Status st) {
          results[i] = std::move(st);
          done[i].Notify();
        });
  }
  for (uint32_t i = 0; i < nshards_; i++) done[i].Wait(caller_spin_ns_);
  for (uint32_t i = 0; i < nshards_; i++) {
    if (!results[i].ok()) return results[i];  // it names the shard's files
  }
  return Status::OK();
}

}  // namespace ringdb::db
