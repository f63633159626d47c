// Store: the one door between ringdb-server and the engine. Every use of engine
// internals (DBImpl, lsm::Shard, the runtime's cross-shard messages) is in store.cc;
// the rest of the server sees only this interface, the reactor/fiber primitives and
// the I/O backend. When the engine's internals change, this file pair is what is
// re-implemented; its contract is what the server relies on:
//
//   - Routing: ShardOf(key) is the engine's shard of a key.
//   - Threads: the server runs as fibers on the shard threads (RunOnEveryShard). The
//     "(shard)" operations below run on the thread of the shard that owns the key, in
//     a fiber; they may suspend the fiber, never the thread.
//   - Writes: SubmitWrite queues an encoded batch on the current shard. Its callback
//     runs on that shard once the batch is as durable as the store's durability mode
//     says. Callbacks of one shard run in submission order, and once one reports an
//     error every later one does too (the shard turned read-only), so a batch is never
//     acknowledged after an earlier one failed. Until acknowledged, a write is invisible
//     to Get.
//   - Expiry: a value may carry a deadline (Unix ms, 0 = none). Get never returns a
//     value whose deadline is at or before NowMs().
//
// Expiry today (replaced by the engine feature, see docs/server.md): the deadline is
// encoded in front of the stored value by this adapter (one byte 0x00, or 0x01 and the
// deadline as fixed64), so stores written by ringdb-server hold values other programs
// must decode, and compaction does not drop expired entries yet (reads hide them,
// FLUSHALL and overwrites remove them). The engine's WriteOptions::expire_at_unix_ms /
// Get-with-deadline / Options::clock_ms replace that without changing this interface.
//
// Thread ownership: the Store object is shared by all shard threads; its per-shard
// state (the write-request pool) is touched only by that shard's thread.
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
#include "runtime/message.h"

namespace ringdb {
class DB;
}

namespace ringdb::server {

struct StoreOptions {
  std::string path;
  uint32_t shards = 0;  // 0: the stored count, or one per CPU for a new store
  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 1000;  // kPeriodic: like appendfsync everysec
  size_t memtable_bytes = 64ull << 20;
  size_t block_cache_bytes = 256ull << 20;
  IoBackendKind io_backend = IoBackendKind::kAuto;
  uint32_t io_poll_batch = 64;  // completions reaped per reactor pass (sockets need more than 4)
  uint32_t idle_spin_us = Options::kAutoSpin;
  bool pin_threads = false;
  // Unix milliseconds for expiry decisions; null: the real clock (tests set it).
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

class Store {
 public:
  static Status Open(const StoreOptions& opt, std::unique_ptr<Store>* out);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Syncs and closes the store. REQUIRES: not on a shard thread; no server fiber left.
  Status Close();

  // ---- thread-safe ----
  uint32_t shard_count() const { return nshards_; }
  uint32_t ShardOf(std::string_view key) const;
  // "io_uring (...why...)" or "libaio (...)".
  const std::string& io_backend() const { return backend_desc_; }
  const StoreOptions& options() const { return opt_; }
  uint64_t NowMs() const;
  // Limits the engine enforces (InvalidArgument beyond them).
  static constexpr size_t kMaxKeyBytes = ringdb::kMaxKeyBytes;
  static constexpr size_t kMaxValueBytes = ringdb::kMaxValueBytes - 9;  // minus the header

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

  // (shard) The latest acknowledged value of key: OK with *value and *expire_at_ms
  // (0: none), or NotFound (absent, or expired at NowMs()), or an error.
  Status Get(std::string_view key, std::string* value, uint64_t* expire_at_ms);

  // Write batches: encoded on any thread, submitted on the owning shard.
  static void BatchClear(std::string* rep);
  static bool BatchEmpty(const std::string& rep);
  // InvalidArgument when key or value exceed the limits (rep unchanged then).
  static Status BatchPut(std::string* rep, std::string_view key, std::string_view value,
                         uint64_t expire_at_ms);
  static Status BatchDelete(std::string* rep, std::string_view key);

  using WriteDone = void (*)(void* arg, const Status& s);
  // (shard) Queues rep (every key owned by the current shard); done(arg, status) runs
  // on this shard when it is durable as configured (see the header comment).
  // REQUIRES: rep stays valid until done runs. Never blocks.
  void SubmitWrite(std::string_view rep, WriteDone done, void* arg);

  // (shard) Up to `max` live keys of the current shard, in order, starting after
  // `after` (or at the first key when `first`). *end: no key follows the last one.
  Status ScanLocal(std::string_view after, bool first, size_t max, std::vector<std::string>* keys,
                   bool* end);
  // (shard) Live keys of the current shard, and how many of them carry a deadline.
  Status CountLocal(uint64_t* keys, uint64_t* with_deadline);

  // (fiber) The engine's statistics of every shard (each read on its own thread), and
  // their Prometheus rendering.
  void GetStats(ringdb::Stats* out);
  static std::string RenderPrometheus(const ringdb::Stats& st);

 private:
  struct PerShard;
  Store() = default;

  StoreOptions opt_;
  std::unique_ptr<DB> db_;
  uint32_t nshards_ = 0;
  std::string backend_desc_;
  std::vector<std::unique_ptr<PerShard>> per_shard_;
};

}  // namespace ringdb::server
