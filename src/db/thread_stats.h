// ThreadStats: what an application thread's reads did, per shard, for DB::GetStats.
// Reads run on the caller's thread (docs/engine.md "Reads on any thread"), so their
// counts cannot live in the shard's own stats (one writer, the shard thread): each
// thread writes its own block and GetStats adds every block into the shard totals.
//
// Thread ownership: a block has one writer, its thread; GetStats reads it from
// another. Every field is a relaxed atomic written with load + store (no
// read-modify-write: nobody else writes it), so recording costs plain moves.
// Blocks are owned by the DB's StatsRegistry and live as long as the DB.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "io/io_backend.h"
#include "lsm/point_lookup.h"
#include "lsm/shard.h"
#include "ringdb/stats.h"

namespace ringdb::db {

// A counter with one writer and concurrent readers.
class Counter {
 public:
  void Add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// HistogramData's geometry with one writer and concurrent readers.
class ConcurrentHistogram {
 public:
  void Record(uint64_t v) {
    const size_t b = static_cast<size_t>(HistogramData::BucketOf(v));
    buckets_[b].store(buckets_[b].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    count_.Add(1);
    sum_.Add(v);
    if (v < min_.load(std::memory_order_relaxed)) min_.store(v, std::memory_order_relaxed);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
  }
  // Adds a snapshot of this histogram into *out.
  void AddTo(HistogramData* out) const;

 private:
  std::atomic<uint64_t> buckets_[HistogramData::kBuckets] = {};
  Counter count_;
  Counter sum_;
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

// One op kind of one shard, as recorded by one thread.
struct ThreadOpStats {
  Counter count;
  Counter errors;
  Counter items;
  ConcurrentHistogram latency_ns;
  void Record(uint64_t ns, const Status& s, uint64_t n) {
    count.Add(1);
    items.Add(n);
    if (!s.ok() && !s.IsNotFound()) errors.Add(1);
    latency_ns.Record(ns);
  }
};

// The blocks one thread read itself from one shard's tables (caller_reads.h), counted
// as the shard's reactor counts the reads it issues (IoClass::kUserRead), so that the
// shard's I/O statistics stay complete without a message per read.
struct ThreadIoStats {
  Counter count;
  Counter errors;
  Counter read_bytes;
  Counter sqpoll;  // of them, issued by the DB's submission thread
  ConcurrentHistogram latency_ns;
  ConcurrentHistogram depth_at_submit;
  void Record(const io::IoRequest& r, bool through_sqpoll);
  // Adds these reads into a shard's stats (I/O, table_reads, caller_sqpoll_reads).
  void AddTo(lsm::InternalShardStats* out) const;
};

// One shard, as seen by one thread.
struct ThreadShardStats {
  ThreadOpStats get;
  ThreadOpStats multiget;
  ThreadOpStats iter_seek;
  ThreadOpStats iter_next;  // latency unrecorded: counts and items only
  Counter user_bytes_read;
  Counter table_searches, bloom_skips, bloom_false_positives, cache_hits, cache_misses;
  ThreadIoStats block_reads;
  void AddReads(const lsm::ReadCounters& rc) {
    table_searches.Add(rc.table_searches);
    bloom_skips.Add(rc.bloom_skips);
    bloom_false_positives.Add(rc.bloom_false_positives);
    cache_hits.Add(rc.cache_hits);
    cache_misses.Add(rc.cache_misses);
  }
  // Adds this block into a shard's stats.
  void AddTo(lsm::InternalShardStats* out) const;
};

// One thread's blocks for one DB, one per shard, created on first use.
class ThreadStats {
 public:
  explicit ThreadStats(uint32_t shards) : shards_(shards) {}
  ThreadShardStats& shard(uint32_t i) {
    ThreadShardStats* s = shards_[i].load(std::memory_order_acquire);
    return s != nullptr ? *s : Create(i);
  }
  const ThreadShardStats* shard_if_any(uint32_t i) const {
    return shards_[i].load(std::memory_order_acquire);
  }
  ~ThreadStats();

 private:
  ThreadShardStats& Create(uint32_t i);
  std::vector<std::atomic<ThreadShardStats*>> shards_;
};

// Every thread's block of one DB.
class StatsRegistry {
 public:
  explicit StatsRegistry(uint32_t shards);
  ~StatsRegistry();
  // The calling thread's block (registered on its first call; a thread_local cache
  // makes later calls a compare and a load).
  ThreadStats& ForThisThread();
  // Adds every thread's counts for shard i into *out.
  void AddTo(uint32_t i, lsm::InternalShardStats* out) const;

 private:
  const uint64_t id_;  // unique per process, never reused (keys the thread_local cache)
  const uint32_t shards_;
  mutable std::mutex mu_;  // registration and GetStats only, never on the data path
  std::vector<std::unique_ptr<ThreadStats>> threads_;
};

}  // namespace ringdb::db
