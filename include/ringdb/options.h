// Options for opening a ringdb store and for individual reads and writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ringdb {

class Snapshot;

// When a write is acknowledged. DO NOT CHANGE the values: recorded in OPTIONS.
enum class Durability : uint8_t {
  // Acknowledged only after its WAL bytes are fdatasync'ed (group commit). Default.
  kSync = 0,
  // Acknowledged once the WAL write reached the kernel; fdatasync at least every
  // periodic_sync_ms. A crash of the machine may lose up to that much.
  kPeriodic = 1,
  // Acknowledged once in the memtable and handed to the kernel; never fdatasync'ed
  // except on flush/close. A process crash loses nothing the kernel got; a power loss may.
  kNone = 2,
};

enum class IoBackendKind : uint8_t {
  kAuto = 0,  // io_uring when usable, else libaio; env RINGDB_IO_BACKEND overrides
  kUring = 1,
  kAio = 2,
};

// Whether application threads' cold reads go through a kernel submission thread
// (Options::caller_read_sqpoll).
enum class SqpollReads : uint8_t {
  kAuto = 0,    // while more than 6 reads per CPU are in flight
  kNever = 1,   // never: no such thread is made
  kAlways = 2,  // every read an application thread makes
};

// Limits enforced with InvalidArgument.
inline constexpr size_t kMaxKeyBytes = 16 * 1024;           // 16 KiB
inline constexpr size_t kMaxValueBytes = 32 * 1024 * 1024;  // 32 MiB
inline constexpr uint32_t kMaxShards = 256;

struct Options {
  // Directory of the store. Created (with parents) when create_if_missing.
  std::string path;
  bool create_if_missing = true;
  bool error_if_exists = false;

  // Number of shards (one thread each). 0 = one per online CPU. Fixed at creation and
  // recorded in OPTIONS; reopening with a different non-zero count is InvalidArgument.
  uint32_t shards = 0;
  // Pin shard i's thread to CPU (i % online CPUs).
  bool pin_threads = false;
  // How many nice steps below the thread that opens the store the shard threads run
  // (setpriority; capped at 19). Where the application's threads and the shards share
  // too few cores, a shard waking to apply writes or run a flush otherwise preempts a
  // reader on the application's thread: on a 2-core VM, readwhilewriting's reader
  // p99.9 was 1.6-1.75 ms at 0 and 0.23-0.29 ms at 10 (docs/engine.md "Shard thread
  // priority"). Writes slow down when the cores are saturated (the shards get a smaller
  // share); on a machine with cores to spare it changes nothing. 0 keeps the opener's
  // priority (ringdb-server does: its shards are the application). In [0, 19].
  int shard_nice = 10;

  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 100;
  // kPeriodic/kNone: a Put/Delete/Write without WriteOptions::sync returns as soon as
  // the write is queued for its shard ("posted"), instead of waiting for the shard to
  // apply it. Every read still sees every write that returned before it began (reads
  // first wait for the shard to apply what was queued). See DB::Put.
  bool post_writes = true;
  // A Get, MultiGet or iterator on an application thread reads the blocks it misses in
  // the cache itself (pread, or its own io_uring for several at once) and hands them to
  // the shard for caching without waiting for it. False: the owning shard reads them
  // while the caller waits. See docs/engine.md "Reads on any thread".
  bool caller_block_reads = true;
  // io_uring only. Those reads, while many threads make them at once, go through one
  // kernel submission thread the DB shares (IORING_SETUP_SQPOLL) instead of each
  // thread's own system call: the thread polls and issues them, and a CPU kept busy by
  // it is not woken from idle for each completion. On the 2-vCPU development VM it made
  // 16 threads' cold reads about 1.25x faster (75K against 61K reads/s), and 1 to 8
  // threads' slower (every read then waits for another thread twice); kAuto uses it
  // only while more than 6 reads per CPU are in flight. The thread polls 2 ms after the
  // last read it issued, then sleeps. See docs/engine.md "Reads on any thread".
  SqpollReads caller_read_sqpoll = SqpollReads::kAuto;

  // Per shard: a memtable becomes immutable at this size and is flushed to an SSTable.
  size_t memtable_bytes = 64ull << 20;
  // Per shard: writes stall while this many immutable memtables wait for flush.
  uint32_t max_immutable_memtables = 2;
  // WAL segments are preallocated in steps of this size.
  size_t wal_preallocate_bytes = 64ull << 20;

  // Total block cache, split evenly across shards.
  size_t block_cache_bytes = 256ull << 20;
  size_t block_bytes = 4096;
  // Page-aligned data blocks, like RocksDB's block_align: tables written from now on
  // start every data block on a 4 KiB boundary (zero padding before it) and fit a block
  // and its trailer in one page when its entries allow, so a cold O_DIRECT read of a
  // block is one page instead of two (docs/sst.md "Aligned data blocks"). Costs the
  // padding: 0.7% with 1000-byte values, most (up to half a page per block) with
  // entries just over half or a third of a page. Requires block_bytes <= 4096
  // (InvalidArgument otherwise). Not recorded in the store: tables written either way
  // are read the same way.
  bool block_align = false;
  int bloom_bits_per_key = 10;
  // After Open, each shard reads its tables in the background and caches their data
  // blocks: L0 newest first, then L1, L2 and on, until the cache is full. It never
  // evicts a block to make room, so what reads bring in meanwhile stays; Open does not
  // wait for it (ShardStats::cache_warming says when it is done). Table reads are
  // O_DIRECT, so a restarted store finds nothing in the page cache: without this, each
  // first read of a block after a restart waits for the disk (docs/engine.md "Warming
  // the cache after Open"). Its reads are background I/O (I/O class cache_warm), 512 KiB
  // at a time, paced behind foreground reads. A read error or a damaged block ends the
  // warm-up of that table (logged); reads of it report the damage as usual.
  bool warm_cache_on_open = true;

  // Per shard: cap on flush and compaction I/O, bytes per second (0: no cap). Background
  // I/O also backs off on its own while foreground reads and commits are deep.
  uint64_t background_io_bytes_per_sec = 0;

  IoBackendKind io_backend = IoBackendKind::kAuto;
  // Most I/O completions a shard reaps per loop pass (0: all that are ready). Each pass
  // submits the I/O its completions led to, so this bounds the batches the device sees
  // refilled at once: on a virtio disk, reaping all locked a deep queue into cohorts
  // that cost 10-15% of its IOPS (docs/io.md). Raise it where CPU, not the device, is
  // the limit.
  uint32_t io_poll_batch = 4;
  // How long an idle shard spins before it sleeps in the kernel; a blocking caller
  // spins a quarter of that before it sleeps on a futex. kAutoSpin: shards spin 20 us
  // (cheaper than waking an idle vCPU) while most of their recent spins caught the work
  // they waited for, and sleep at once otherwise (docs/engine.md "Spinning"); callers
  // spin 5 us only when the machine has a core to spare beyond the shards (else their
  // spinning steals the shards' CPU).
  static constexpr uint32_t kAutoSpin = 0xffffffffu;
  uint32_t idle_spin_us = kAutoSpin;
  // kSync only: synced rounds (docs/engine.md "Synced rounds"). A shard holds its queued
  // writes until as many are queued in all shards as there were synced writers in the
  // DB when the last round went out, but at most this long; then every shard writes and
  // flushes what it holds at once, so concurrent writers share one WAL write and cache
  // flush per shard instead of queueing behind each other's. A lone writer is never
  // held (its round is complete at once). 0: off, every shard issues its queue at once.
  // At most 100000 (100 ms).
  uint32_t sync_round_hold_us = 300;

  // I/O trace: every I/O's class, file, offset, length, submit/complete time and queue
  // depth, per shard, into <path>/shard-NNN/IOTRACE (read it with `ringdb-tool iotrace`).
  // Records are buffered in at most io_trace_buffer_bytes per shard and written in the
  // background; when the disk cannot keep up, records are dropped and counted.
  bool io_trace = false;
  size_t io_trace_buffer_bytes = 4ull << 20;

  // The wall clock that value deadlines (WriteOptions::expire_at_unix_ms) are judged
  // by, in Unix milliseconds. Null: CLOCK_REALTIME. Called from any thread (readers and
  // shard threads), only when a value with a deadline is met; it must be thread-safe
  // and cheap. Tests and simulations set it.
  std::function<uint64_t()> clock_ms;
};

struct WriteOptions {
  // Force an fdatasync before acknowledging this write whatever Options::durability says.
  bool sync = false;
  // DB::Put only: the value's deadline in Unix milliseconds (0: none). From the
  // deadline on (Options::clock_ms decides when that is) reads treat the key as
  // deleted, and compaction removes the value. A deadline already past stores a value
  // no read returns, like a Delete. Non-zero for Delete or Write is InvalidArgument
  // (a WriteBatch carries its own deadlines: WriteBatch::Put). See docs/engine.md
  // "Expiring values".
  uint64_t expire_at_unix_ms = 0;
};

struct ReadOptions {
  // Read as of this snapshot (from DB::GetSnapshot), or the latest data when null.
  const Snapshot* snapshot = nullptr;
  // Populate the block cache with blocks this read loads.
  bool fill_cache = true;
  // Iterators only: keys outside [lower_bound, upper_bound) are never returned, and
  // shards stop reading at the bounds.
  std::optional<std::string> lower_bound;  // inclusive
  std::optional<std::string> upper_bound;  // exclusive
  // No longer used: iterators read the shards' published state on the calling thread.
  // Kept so that code setting it still compiles.
  size_t iterator_chunk_bytes = 64 * 1024;
};

}  // namespace ringdb
