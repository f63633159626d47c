// ringdb: an embeddable thread-per-core, shared-nothing key-value store.
//
//   ringdb::Options opt;
//   opt.path = "/var/lib/app/db";
//   std::unique_ptr<ringdb::DB> db;
//   ringdb::Status s = ringdb::DB::Open(opt, &db);
//   s = db->Put("key", "value");
//   std::string v;
//   s = db->Get("key", &v);  // s.IsNotFound() when absent
//
// Threads: every method may be called from any number of application threads at once
// (one writer per shard, readers anywhere; docs/engine.md):
//  - Reads (Get, MultiGet, iterators, GetSnapshot) run on the calling thread against
//    the shards' published state, without locks and without waking a shard; a block
//    missing from the cache is read on the calling thread too
//    (Options::caller_block_reads).
//  - Writes go to the owning shard. In kSync mode, or with WriteOptions::sync, Put,
//    Delete and Write return once the write is durable. In kPeriodic/kNone mode (with
//    Options::post_writes) they usually return as soon as the write is in the calling
//    thread's post log for its shard ("posted"), before the shard applied it.
//  - Visibility, in every mode: a read that begins after a write returned OK sees it,
//    on any thread (a kSync write returns once durable, just before its shard inserts
//    it; a read that could see it waits for that insert). A posted write survives a
//    crash of the process (the next Open replays the post logs); what a machine crash
//    may lose is set by the durability mode (docs/engine.md "Posted writes").
//  - The *Async variants return at once and run the callback on the owning shard's
//    thread when the operation completes (keep callbacks short and never call a blocking
//    DB method from inside one). Blocking methods must not be called from a shard
//    thread (a ShardContext serves that code).
// Close: a call that races Close() or comes after it returns Shutdown (GetSnapshot:
// null; an iterator: !Valid() with status Shutdown) and never touches freed memory;
// Close waits for the calls already inside to leave (a gate counts them).
// Each method below repeats, in a "Threads:" line, where it may be called and what a
// call racing Close() gets ("a shard thread" = a thread of this DB's shards: an async
// callback or a RunOnShards task).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/iterator.h"
#include "ringdb/options.h"
#include "ringdb/shard_context.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"
#include "ringdb/write_batch.h"

namespace ringdb {

// A consistent read view: one sequence number per shard, taken at GetSnapshot. Reads
// with ReadOptions::snapshot see exactly what each shard had acknowledged at that
// point. Across shards the view is per shard: it is taken on every shard at once but
// not atomically, so a multi-shard WriteBatch that was in flight during GetSnapshot may
// be visible on some shards and not on others (docs/engine.md "Snapshots"). Writes
// acknowledged before GetSnapshot was called are always visible; writes issued after it
// returned never are.
class Snapshot {
 public:
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 protected:
  Snapshot() = default;
  ~Snapshot() = default;
};

class DB {
 public:
  // Creates or recovers the store at opt.path. A store held by another DB (in this or
  // another process) is Busy.
  static Status Open(const Options& opt, std::unique_ptr<DB>* db);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Closes the store if Close() was not called.
  virtual ~DB() = default;

  // Threads (Put, Delete, Write): any application thread; from a shard thread
  // InvalidArgument (it would deadlock). Racing Close: Shutdown, or, if the write got in
  // first, it completes (the shard finishes it during Close) and returns its status.
  virtual Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) = 0;
  virtual Status Delete(const WriteOptions& wo, std::string_view key) = 0;
  virtual Status Write(const WriteOptions& wo, const WriteBatch& batch) = 0;
  Status Put(std::string_view key, std::string_view value) {
    return Put(WriteOptions(), key, value);
  }
  Status Delete(std::string_view key) { return Delete(WriteOptions(), key); }
  Status Write(const WriteBatch& batch) { return Write(WriteOptions(), batch); }

  // OK and *value set, NotFound (absent, deleted, or past its deadline), or an error.
  // *expire_at_unix_ms (when not null): the value's deadline, 0 when it has none.
  // Threads: any application thread (runs on it); from a shard thread InvalidArgument.
  // Racing Close: Shutdown, or the answer of a read that got in first.
  virtual Status Get(const ReadOptions& ro, std::string_view key, std::string* value,
                     uint64_t* expire_at_unix_ms) = 0;
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value) {
    return Get(ro, key, value, nullptr);
  }
  Status Get(std::string_view key, std::string* value) {
    return Get(ReadOptions(), key, value, nullptr);
  }

  // Looks up every key at once: each owning shard gets its keys in one message and issues
  // every block-cache miss together, so a batch of cold keys uses the SSD's parallelism.
  // (*values)[i] and the returned status [i] belong to keys[i] (OK, NotFound or error).
  // Threads and Close: as Get (every status Shutdown when refused).
  virtual std::vector<Status> MultiGet(const ReadOptions& ro,
                                       std::span<const std::string_view> keys,
                                       std::vector<std::string>* values) = 0;

  // An ordered iterator over every shard (ringdb/iterator.h), bounded by
  // ReadOptions::lower_bound/upper_bound, at ReadOptions::snapshot or at a view taken now.
  // Threads: any application thread; the iterator itself is used by one thread at a
  // time. From a shard thread, or racing Close: an iterator that is !Valid() with the
  // error (InvalidArgument, Shutdown); one created before Close turns Shutdown after it.
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& ro) = 0;

  // Pins the current sequence number of every shard; compaction keeps what it needs.
  // Release with ReleaseSnapshot before closing the DB.
  // Threads: any application thread. From a shard thread, or racing Close: null.
  virtual const Snapshot* GetSnapshot() = 0;
  // InvalidArgument for a snapshot released already (or not from this DB): a double
  // release is a caller bug, reported rather than ignored. A snapshot released after
  // Close is freed (OK). Threads: any application thread; a snapshot may be released
  // on another thread than the one that took it. Racing Close: OK (freed).
  virtual Status ReleaseSnapshot(const Snapshot* snapshot) = 0;

  using WriteCallback = std::function<void(Status)>;
  // `value` is valid only during the callback.
  using GetCallback = std::function<void(Status, std::string_view value)>;
  // Threads: any application thread; the callback runs on the key's shard thread (for
  // WriteAsync, on the thread of the batch's last shard to finish). A call refused
  // before it is queued (from a shard thread: NotSupported; an oversized key or value:
  // InvalidArgument; an empty batch: OK) runs the callback at once on the calling
  // thread. Racing Close: the callback gets Shutdown at once on the calling thread, or
  // the call was queued before Close began and its callback runs on the shard thread.
  virtual void PutAsync(std::string_view key, std::string_view value, WriteCallback cb) = 0;
  virtual void DeleteAsync(std::string_view key, WriteCallback cb) = 0;
  virtual void WriteAsync(const WriteBatch& batch, WriteCallback cb) = 0;
  virtual void GetAsync(std::string_view key, GetCallback cb) = 0;

  // Turns every shard's memtable into an SSTable and waits until that is durable.
  // Threads: any application thread; from a shard thread InvalidArgument. Racing Close:
  // Shutdown, or a flush that got in first completes.
  virtual Status Flush() = 0;

  // Writes a consistent, openable copy of the store into `dir`, a directory this call
  // creates (its parent must exist): OPTIONS, and per shard its tables (hard links
  // where the file system allows, else copies), a MANIFEST naming them and CURRENT;
  // no WAL segment, no LOCK. Open it like any store; it shares nothing with the source
  // after the call (a later compaction or deletion in the source leaves it intact).
  // Contents: every write acknowledged before the call (on any thread, posted ones
  // included) is in it; writes that race the call may or may not be, per shard (each
  // shard's copy is one instant of that shard, taken after a flush of its memtable;
  // like a Snapshot, the instants of different shards are not one atomic cut).
  // Cost: a flush of every memtable, then links (no data copied) or, where linking
  // fails, a copy of each table; writes keep running meanwhile. docs/engine.md
  // "Checkpoints".
  // Errors: InvalidArgument when `dir` is empty or exists (nothing is touched);
  // Shutdown after Close (a call racing Close either finishes first or gets Shutdown);
  // a shard's flush error (e.g. ReadOnly after a failed write); an I/O error naming the
  // file. On any error after `dir` was created, `dir` and everything in it is removed.
  // OPTIONS is written last, so a copy cut short by a crash is refused by Open.
  virtual Status Checkpoint(const std::string& dir) = 0;

  // Makes the store writable again, without a reopen, after an error that a retry can
  // clear: a write (of the WAL, of a flushed table, of a MANIFEST record) that failed
  // with NoSpace, once space is back. Until then a shard that hit such an error
  // refuses writes (ReadOnly, naming the error); reads keep working. Resume seals each
  // such shard's WAL at the last write that succeeded, continues in a new segment and
  // flushes the memtables, so it needs space itself.
  // Returns OK when every shard is writable (a shard that never failed is left alone),
  // else the first error that keeps a shard read-only:
  //  - NoSpace: space is still missing; nothing was lost, call Resume again later;
  //  - any other error: only a reopen clears it (Close, then Open, which recovers). A
  //    failed fsync/fdatasync is never cleared (the kernel may have dropped data it had
  //    accepted; docs/engine.md "Errors"), nor is Corruption or an IOError.
  // Writes acknowledged before the error stay; a write that failed may or may not be
  // in the store, as after any failed write. Shutdown after Close.
  // Threads: any application thread; from a shard thread InvalidArgument.
  virtual Status Resume() = 0;

  // Waits for in-flight work, flushes nothing that is not needed for durability (the
  // WAL covers the memtables), syncs, and releases the directory. Idempotent.
  // Threads: any application thread, once or many times, also at once (one closes, the
  // others return OK at once, possibly before the store is closed). From a shard thread:
  // InvalidArgument, and the store is left open (and leaked: no call closes it again).
  virtual Status Close() = 0;

  // Counters of every shard (gathered on each shard's thread).
  // Threads: any application thread; from a shard thread InvalidArgument. Racing Close:
  // Shutdown, or the counters of a call that got in first.
  virtual Status GetStats(Stats* stats) = 0;
  // GetStats rendered as one JSON object / in the Prometheus text exposition format.
  // Empty on error (e.g. after Close, or from a shard thread).
  std::string StatsJson();
  std::string StatsPrometheus();

  // Runs task(ctx, i) for i in [0, fibers_per_shard) as fibers on every shard's own
  // thread and returns when all of them have returned (ringdb/shard_context.h). The
  // task must not call blocking DB methods; it uses ctx. Returns the first error of
  // the shards (e.g. Aborted if the store closes meanwhile).
  // Threads: any application thread; from a shard thread InvalidArgument. Racing Close:
  // Shutdown, or the tasks run and the call returns their shards' first error.
  using ShardTask = std::function<void(ShardContext& ctx, uint32_t fiber)>;
  virtual Status RunOnShards(uint32_t fibers_per_shard, const ShardTask& task) = 0;

  // Threads (shard_count, ShardForKey, io_backend): any thread, shard threads too; they
  // read what Open fixed and answer the same before and after Close.
  virtual uint32_t shard_count() const = 0;
  // The shard that owns `key` (stable for the life of the store).
  virtual uint32_t ShardForKey(std::string_view key) const = 0;
  // "io_uring" or "libaio", and why (e.g. the io_uring probe failure on fallback).
  virtual std::string io_backend() const = 0;
};

}  // namespace ringdb
