// Per-worker recording of ringdb-bench operations, and its aggregation.
//
// A Recorder belongs to one recording context: an application thread (--load=threads)
// or one shard (--load=reactor: all fibers of a shard run on its thread, one at a time).
// It holds one Slot per (op kind, shard), plus one per kind for operations that span
// shards (iterators, the latency of a MultiGet batch).
//
// Thread ownership: a Slot has exactly one writer at a time (the recording thread; with
// --async, the thread of the shard the slot is for, where the callback runs), which
// updates it with relaxed atomic loads/stores (plain moves on x86). The progress reporter
// reads live slots concurrently and sees a slightly stale view. Nothing on the data path
// takes a lock or a locked instruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench_histogram.h"

namespace ringdb_bench {

inline uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

enum Kind : int {
  kRead = 0,  // Get
  kWrite,     // Put / update (and WriteBatch entries)
  kInsert,    // YCSB insert of a new key
  kScan,      // iterator: Seek + Next()s, or one Next() of a full scan
  kRmw,       // YCSB read-modify-write (Get then Put, timed together)
  kMultiGet,  // keys of MultiGet calls; latency is per call
  kKinds,
};
const char* KindName(int kind);

// A histogram allocated on first use (most (kind, shard) pairs of a worker stay empty,
// and a histogram is ~10 KiB).
class LazyHistogram {
 public:
  LazyHistogram() = default;
  LazyHistogram(const LazyHistogram&) = delete;
  LazyHistogram& operator=(const LazyHistogram&) = delete;
  ~LazyHistogram() { delete h_.load(std::memory_order_relaxed); }
  // Writer only.
  Histogram* Get() {
    Histogram* h = h_.load(std::memory_order_relaxed);
    if (!h) {
      h = new Histogram;
      h_.store(h, std::memory_order_release);
    }
    return h;
  }
  // Any thread; nullptr when nothing was recorded.
  const Histogram* Peek() const { return h_.load(std::memory_order_acquire); }

 private:
  std::atomic<Histogram*> h_{nullptr};
};

inline void Bump(std::atomic<uint64_t>& a, uint64_t d) {
  a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

struct alignas(64) Slot {
  LazyHistogram latency;             // one sample per timed operation
  std::atomic<uint64_t> ops{0};      // operations counted in throughput
  std::atomic<uint64_t> found{0};    // reads that found a value
  std::atomic<uint64_t> bytes{0};    // key + value bytes written or read
  std::atomic<uint64_t> entries{0};  // entries read by iterators

  void Record(uint64_t ns, uint64_t n_ops, uint64_t n_bytes) {
    latency.Get()->Record(ns);
    Bump(ops, n_ops);
    if (n_bytes) Bump(bytes, n_bytes);
  }
};

class Recorder {
 public:
  explicit Recorder(uint32_t shards)
      : shards_(shards), slots_(new Slot[static_cast<size_t>(kKinds) * (shards + 1)]) {}
  uint32_t shards() const { return shards_; }
  // shard == shards(): operations that span shards.
  Slot& at(int kind, uint32_t shard) {
    return slots_[static_cast<size_t>(kind) * (shards_ + 1) + shard];
  }
  const Slot& at(int kind, uint32_t shard) const {
    return slots_[static_cast<size_t>(kind) * (shards_ + 1) + shard];
  }
  uint32_t cross_shard() const { return shards_; }

  // When the recording context finished its last operation (max over its workers).
  void Finished(uint64_t ns) {
    if (ns > finish_ns.load(std::memory_order_relaxed))
      finish_ns.store(ns, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> finish_ns{0};
  // --async: operations in flight from this thread.
  alignas(64) std::atomic<uint32_t> inflight{0};

 private:
  uint32_t shards_;
  std::unique_ptr<Slot[]> slots_;
};

struct Counts {
  Histogram latency;
  uint64_t ops = 0, found = 0, bytes = 0, entries = 0;
  void Add(const Slot& s);
  void Add(const Counts& c);
};

struct Agg {
  Counts all;
  Counts kind[kKinds];
  std::vector<Counts> shard;  // [shards]: cross-shard operations last
};

// Sums the recorders (any thread; live recorders give a slightly stale view).
Agg Aggregate(const std::vector<const Recorder*>& recs, uint32_t shards);

}  // namespace ringdb_bench
