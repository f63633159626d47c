// Store: the one door between ringdb-server and the engine. Every use of engine
// internals (DBImpl, lsm::Shard, the runtime's cross-shard messages) is in store.cc
// and store_read.cc; the rest of the server sees only this interface, the
// reactor/fiber primitives and the I/O backend. When the engine's internals change,
// these files are what is re-implemented; this contract is what the server relies on:
//
//   - Routing: ShardOf(key) is the engine's shard of a key.
//   - Threads: the server runs as fibers on the shard threads (RunOnEveryShard). The
//     "(shard)" operations below run on the thread of the shard that owns the key, in
//     a fiber; "(any shard)" ones on any shard thread, in a fiber. All of them may
//     suspend the fiber, never the thread.
//   - Writes: SubmitWrite queues a batch on the current shard. Its callback runs on
//     that shard once the batch is as durable as the store's durability mode says and
//     is visible to every read below (published), so a client that got the reply of a
//     write sees it through any shard. Callbacks of one shard run in submission order,
//     and once one reports an error every later one does too (the shard turned
//     read-only), so a batch is never acknowledged after an earlier one failed.
//   - Reads: Get (on the owner) sees everything the owner published, which in
//     periodic/none mode includes writes not acknowledged yet (the server's pending
//     table holds those and makes their readers wait); ReadInPlace (from any shard,
//     without a hop) sees exactly the owner's acknowledged writes, or declines when it
//     cannot tell them apart (below). Neither reveals a write a crash could undo
//     without the caller knowing.
//   - Expiry: a value may carry a deadline (Unix ms, 0 = none), stored by the engine
//     with the value (WriteBatch::Put with a deadline; docs/engine.md "Expiring
//     values"). The engine judges it on the store's clock (StoreOptions::clock_ms,
//     which NowMs() reads too): no read returns a value whose deadline is at or before
//     NowMs(), and compaction drops expired entries.
//
// Reads of another shard's keys (docs/server.md "How it runs"): the owner publishes
// its memtables and tables (lsm::Shard::view()), and any thread reads them lock-free.
// A block that is not in the owner's cache is read by the owner (it alone fills its
// cache): the reads go over the rings and the reading fiber suspends until they are
// back. In `sync` mode everything published is durable. In `periodic`/`none` a
// write is published when its group is formed, before its WAL write reached the
// kernel; ReadInPlace then reads at the owner's newest acknowledged sequence number
// and declines (the caller sends the reads to the owner, whose pending writes answer
// them) while the owner has published writes that are not acknowledged yet.
//
// Stored values are the clients' bytes as they are: any program reading the store
// with the public API sees the same values and deadlines.
//
// Thread ownership: the Store object is shared by all shard threads; its per-shard
// state (write requests, read stats) is written only by that shard's thread, and the
// acknowledged sequence number of each shard is read by the others.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/options.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"
#include "ringdb/write_batch.h"
#include "runtime/message.h"

namespace ringdb {
class DB;
}

namespace ringdb::server {

struct StoreOptions {
  std::string path;
  uint32_t shards = 0;  // 0: the stored count, or ShardsFor's default for a new store
  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 1000;  // kPeriodic: like appendfsync everysec
  size_t memtable_bytes = 64ull << 20;
  size_t block_cache_bytes = 256ull << 20;
  IoBackendKind io_backend = IoBackendKind::kAuto;
  uint32_t io_poll_batch = 64;  // completions reaped per reactor pass (sockets need more than 4)
  uint32_t idle_spin_us = Options::kAutoSpin;
  bool pin_threads = false;
  // Unix milliseconds for expiry decisions (the engine's Options::clock_ms); null: the
  // real clock (tests set it).
  std::function<uint64_t()> clock_ms;
};

// A call run on another shard (RunAll). Filled by the caller, on its stack.
struct ShardCall : rt::Message {
  uint32_t shard = 0;
  void (*fn)(void* arg) = nullptr;
  void* arg = nullptr;
  // ---- private to Store ----
  uint32_t origin_ = 0;
  void* join_ = nullptr;
};

// One key of a ReadInPlace.
struct KeyRead {
  std::string_view key;          // in
  std::string* value = nullptr;  // out: the value (OK only)
  uint64_t expire_at_ms = 0;     // out: its deadline (0: none)
  Status status;                 // out: OK, NotFound (absent or expired), or an error
};

class Store {
 public:
  static Status Open(const StoreOptions& opt, std::unique_ptr<Store>* out);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Syncs and closes the store. REQUIRES: not on a shard thread; no server fiber left.
  Status Close();

  // The shard count Open will run with: `requested` when not 0, else the count stored
  // in the store at `path`, else the server's default for a new store: one per CPU but
  // one, at least 1. The spare CPU is for the clients and the kernel's network work.
  // Measured on 2 vCPUs with redis-benchmark on the same CPUs (docs/server.md
  // "Performance"): one shard served -P 1 SETs 1.16x (periodic) and 1.24x (sync) as
  // fast as two (a command for the other shard's key crosses over and wakes a sleeping
  // thread), and -P 16 stayed above Redis.
  static uint32_t ShardsFor(const std::string& path, uint32_t requested);

  // ---- thread-safe ----
  uint32_t shard_count() const { return nshards_; }
  uint32_t ShardOf(std::string_view key) const;
  // "io_uring (...why...)" or "libaio (...)".
  const std::string& io_backend() const { return backend_desc_; }
  const StoreOptions& options() const { return opt_; }
  uint64_t NowMs() const;
  // Limits the engine enforces (InvalidArgument beyond them).
  static constexpr size_t kMaxKeyBytes = ringdb::kMaxKeyBytes;
  // A value leaves room for the 8 bytes of a deadline, so that EXPIRE never fails on
  // a value SET accepted.
  static constexpr size_t kMaxValueBytes = ringdb::kMaxValueBytes - 8;

  // Runs fn(shard) in a fiber on every shard thread and returns when every one has
  // returned. REQUIRES: not on a shard thread.
  Status RunOnEveryShard(const std::function<void(uint32_t shard)>& fn);

  // ---- from a fiber on a shard thread ----

  // Runs calls[i].fn(calls[i].arg) on shard calls[i].shard for every i, all at once
  // (the current shard's calls inline, in this fiber, after the others were sent), and
  // returns when all have returned. Remote calls run in a fresh fiber on their shard.
  void RunAll(ShardCall* calls, size_t n);
  // Fire and forget: fn(arg) runs in a fresh fiber on `shard` (any shard, this one
  // included). The message is allocated; use it per connection, not per request.
  void Post(uint32_t shard, void (*fn)(void* arg), void* arg);

  // (shard) The newest published value of key: OK with *value and *expire_at_ms
  // (0: none), or NotFound (absent, or expired at NowMs()), or an error. In
  // periodic/none mode it may be a write not acknowledged yet (the caller's pending
  // table knows those). *expired (when not null): NotFound because the newest version
  // is a value whose deadline has passed (the caller may delete it, as Redis does).
  Status Get(std::string_view key, std::string* value, uint64_t* expire_at_ms,
             bool* expired = nullptr);

  // (any shard) Reads reads[0..n), every key owned by `owner`, as of the owner's
  // acknowledged writes, on this thread (no hop unless a block must be read from
  // disk: then the owner reads it and this fiber waits). False, with nothing read,
  // when the owner has published writes that are not acknowledged yet (periodic/none
  // mode), or when a key's newest version is a value past its deadline (only the
  // owner can delete it and count it as expired): the caller must ask the owner.
  // REQUIRES: reads[i].value set.
  bool ReadInPlace(uint32_t owner, KeyRead* reads, size_t n);

  // Write batches: encoded on any thread, submitted on the owning shard.
  // InvalidArgument when key or value exceed the limits (batch unchanged then).
  static Status BatchPut(WriteBatch* batch, std::string_view key, std::string_view value,
                         uint64_t expire_at_ms);
  static Status BatchDelete(WriteBatch* batch, std::string_view key);

  using WriteDone = void (*)(void* arg, const Status& s);
  // (shard) Queues batch (every key owned by the current shard); done(arg, status) runs
  // on this shard when it is durable as configured and published (see the header
  // comment). REQUIRES: batch stays valid and unchanged until done runs. Never blocks.
  void SubmitWrite(const WriteBatch& batch, WriteDone done, void* arg);

  // Any thread: write completions that waited for their write to be published (0
  // while the engine publishes every write before acknowledging it, as it does today).
  uint64_t completions_held_back() const;

  // (shard) Up to `max` live keys of the current shard, in order, starting after
  // `after` (or at the first key when `first`). *end: no key follows the last one.
  Status ScanLocal(std::string_view after, bool first, size_t max, std::vector<std::string>* keys,
                   bool* end);
  // (shard) Live keys of the current shard, how many of them carry a deadline, and
  // the sum of those keys' remaining time to live at NowMs(), in ms.
  Status CountLocal(uint64_t* keys, uint64_t* with_deadline, uint64_t* ttl_sum_ms);

  // (fiber) The engine's statistics of every shard (each read on its own thread, plus
  // the reads every shard thread made of it), and their Prometheus rendering.
  void GetStats(ringdb::Stats* out);
  static std::string RenderPrometheus(const ringdb::Stats& st);

  struct PerShard;  // store_internal.h

 private:
  Store() = default;
  // (any shard) The sequence number ReadInPlace reads `owner` at; false when it must
  // decline (see the header comment).
  bool ReadPoint(uint32_t owner, uint64_t* seq) const;

  StoreOptions opt_;
  std::unique_ptr<DB> db_;
  uint32_t nshards_ = 0;
  std::string backend_desc_;
  std::vector<std::unique_ptr<PerShard>> per_shard_;
};

}  // namespace ringdb::server
