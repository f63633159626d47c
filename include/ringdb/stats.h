// Stats: what each shard counts about itself, cheap enough to be always on, gathered
// on each shard's own thread by DB::GetStats. Every metric, its unit and meaning:
// docs/stats.md. DB::StatsJson() and DB::StatsPrometheus() render the same data.
//
// Units are in the names: *_ns nanoseconds, *_bytes bytes; other counts are events.
// Counters only grow for the life of the DB; gauges (marked) are values at the time of
// the GetStats call. Histograms (HistogramData) are cumulative too: subtract an earlier
// copy (HistogramData::Subtract) to get an interval.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringdb {

// A fixed-size log-linear histogram of non-negative integers (nanoseconds, request
// counts, queue depths). Values below kSubBuckets have a bucket each; above, every
// power of two is split into kSubBuckets equal buckets, so a percentile is reported
// within 1/kSubBuckets (6.25%) of the true value. Values >= 2^kMaxBits (about 18 min
// in ns) land in the last bucket; max() stays exact.
//
// Record() is O(1) and never allocates: a shard keeps these always on. Merge() adds
// another histogram (all share one geometry), so shards sum into a total.
//
// The bucket array (kBuckets counters, 4.7 KiB) is allocated by the constructor, not
// held inline: a ShardStats with a few dozen histograms stays small enough to live on
// a fiber's stack. Copies (and moves, which copy) allocate; Record() never does.
// Thread ownership: none (a value type); one writer at a time.
class HistogramData {
 public:
  static constexpr int kSubBucketBits = 4;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;  // 16 per power of two
  static constexpr int kMaxBits = 40;
  static constexpr int kBuckets = (kMaxBits - kSubBucketBits + 1) * kSubBuckets;  // 592

  HistogramData() : buckets_(new uint64_t[kBuckets]()) {}
  HistogramData(const HistogramData& o);
  HistogramData& operator=(const HistogramData& o);
  ~HistogramData() = default;

  void Record(uint64_t value) {
    buckets_[static_cast<size_t>(BucketOf(value))]++;
    count_++;
    sum_ += value;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }
  // Records `value` n times.
  void RecordN(uint64_t value, uint64_t n);
  void Merge(const HistogramData& other);
  // Adds counts recorded elsewhere with this geometry: bucket_counts[kBuckets] and the
  // count, sum, min and max that go with them (how a recorder that other threads read
  // concurrently hands over a snapshot).
  void MergeCounts(const uint64_t* bucket_counts, uint64_t count, uint64_t sum, uint64_t min,
                   uint64_t max);
  // Removes what `earlier` (an older copy of this histogram) had counted: the result
  // describes the interval between the two. min()/max() keep this copy's values (the
  // exact extremes of an interval are not recoverable).
  void Subtract(const HistogramData& earlier);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return count_ ? max_ : 0; }
  double Mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // Value at quantile q in [0, 1]: the upper bound of the bucket that holds the
  // ceil(q * count)-th smallest value, clamped to [min(), max()]. 0 when empty.
  uint64_t Percentile(double q) const;

  // ---- bucket geometry (exporters, tests) ----
  static int BucketOf(uint64_t value) {
    if (value < static_cast<uint64_t>(kSubBuckets)) return static_cast<int>(value);
    const int msb = 63 - __builtin_clzll(value);  // >= kSubBucketBits
    if (msb >= kMaxBits) return kBuckets - 1;
    const int shift = msb - kSubBucketBits;
    const int sub = static_cast<int>((value >> shift) & (kSubBuckets - 1));
    return (shift + 1) * kSubBuckets + sub;
  }
  static uint64_t BucketLow(int bucket);   // smallest value in the bucket
  static uint64_t BucketHigh(int bucket);  // largest (UINT64_MAX for the last)
  uint64_t bucket_count(int bucket) const { return buckets_[static_cast<size_t>(bucket)]; }
  // Values <= bound (exact when bound is some BucketHigh(b); else the buckets whose
  // upper bound is <= bound): what a Prometheus bucket with le=bound reports.
  uint64_t CountAtMost(uint64_t bound) const;

 private:
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  std::unique_ptr<uint64_t[]> buckets_;  // kBuckets counters; never null
};

// Operations a shard serves, for per-op counts and latencies. Values index
// ShardStats::ops (not persisted; may be extended at the end).
enum class OpKind : uint8_t {
  kPut = 0,
  kDelete = 1,
  kWriteBatch = 2,  // DB::Write: one shard's part of a batch
  kGet = 3,
  kMultiGet = 4,  // one shard's part of a MultiGet
  kIterSeek = 5,  // positioning an iterator's shard cursor (Seek/SeekToFirst/...)
  kIterNext = 6,  // producing one iterator chunk
};
inline constexpr size_t kOpKindCount = 7;
// "put", "delete", "write_batch", "get", "multiget", "iter_seek", "iter_next".
const char* OpKindName(OpKind k);

// What an I/O is for; the same values and names as the engine's internal I/O class
// (the classes an I/O trace records). Indexes IoStats::classes.
enum class IoClass : uint8_t {
  kOther = 0,  // recovery reads, files opened/removed at start-up, the I/O trace's own writes
  kWal = 1,
  kFlush = 2,
  kCompactionRead = 3,
  kCompactionWrite = 4,
  kUserRead = 5,   // Get / MultiGet / iterator block reads
  kManifest = 6,   // MANIFEST and CURRENT
  kCacheWarm = 7,  // table reads that warm the block cache after Open (Options::warm_cache_on_open)
};
inline constexpr size_t kIoClassCount = 8;
// "other", "wal", "flush", "compaction_read", "compaction_write", "user_read", "manifest",
// "cache_warm".
const char* IoClassName(IoClass c);

inline constexpr int kStatsLevels = 7;  // LSM levels L0..L6

// One operation kind on one shard.
struct OpStats {
  uint64_t count = 0;        // operations completed (any outcome)
  uint64_t errors = 0;       // ... with an error status (NotFound is not an error)
  uint64_t items = 0;        // keys/entries handled: batch entries, MultiGet keys, iterator entries
  HistogramData latency_ns;  // from arrival at the shard to completion
};

// The completed I/O of one class on one shard, as its reactor saw it.
struct IoClassStats {
  uint64_t count = 0;        // requests completed (every op, failed ones included)
  uint64_t reads = 0;        // read/readv requests
  uint64_t writes = 0;       // write/writev requests
  uint64_t syncs = 0;        // fsync/fdatasync requests
  uint64_t errors = 0;       // requests that completed with an error
  uint64_t read_bytes = 0;   // bytes transferred by reads
  uint64_t write_bytes = 0;  // bytes transferred by writes
  HistogramData latency_ns;  // submission to the kernel -> completion reaped
};

// A shard's I/O: every request its reactor completed, through whatever backend.
struct IoStats {
  std::string backend;  // backend name, e.g. "io_uring", "libaio", "fault(io_uring)"
  IoClassStats classes[kIoClassCount];  // indexed by IoClass
  // Requests handed to the kernel per reactor Submit() call (calls that submitted none
  // are not recorded): large means batching works. count() = such Submit() calls.
  HistogramData submit_batch;
  // Requests of this reactor in the kernel when each request was submitted, itself
  // included (1 at queue depth 1); one sample per completed request.
  HistogramData depth_at_submit;
  uint64_t in_flight = 0;  // gauge: requests prepared and not completed
  // The I/O trace (Options::io_trace), when on.
  uint64_t trace_records = 0;        // records kept
  uint64_t trace_dropped = 0;        // records dropped because the disk lagged
  uint64_t trace_bytes_written = 0;  // bytes of IOTRACE written so far

  const IoClassStats& of(IoClass c) const { return classes[static_cast<size_t>(c)]; }
  IoClassStats& of(IoClass c) { return classes[static_cast<size_t>(c)]; }
  // Sums over the classes.
  uint64_t total_count() const;
  uint64_t total_read_bytes() const;
  uint64_t total_write_bytes() const;
};

// The shard's event loop.
struct RuntimeStats {
  uint64_t loops = 0;           // reactor loop passes
  uint64_t sleeps = 0;          // times the reactor slept in the kernel
  uint64_t fiber_switches = 0;  // fiber resumptions
  uint64_t messages = 0;        // messages handled from inbound rings
  uint64_t timers_fired = 0;
  uint64_t long_fiber_runs = 0;  // a fiber ran past the stall threshold (20 ms)
  uint64_t ring_full_waits = 0;  // sends that waited for room in a full outbound ring
  // Messages waiting in an inbound ring when the reactor drained it (one sample per
  // non-empty ring per drain; the ring's capacity is Options-independent, 1024).
  HistogramData ring_occupancy;
};

struct ShardStats {
  uint32_t shard = 0;  // shard index; in Stats::total, the number of shards

  // ---- writes and the WAL ----
  uint64_t writes = 0;        // write requests acknowledged
  uint64_t write_groups = 0;  // group commits (WAL writes)
  uint64_t wal_bytes = 0;
  uint64_t wal_syncs = 0;           // fdatasyncs of the WAL
  uint64_t user_bytes_written = 0;  // key + value bytes of acknowledged writes
  uint64_t stall_ns = 0;            // time writes waited for flushes / L0 (write stalls)
  uint64_t stalls = 0;              // writes (or write groups) that had to wait

  // ---- flush and compaction ----
  uint64_t flushes = 0;  // memtables written to L0 tables
  uint64_t flush_bytes = 0;
  uint64_t compactions = 0;
  uint64_t compaction_errors = 0;  // failed compactions (the store is left as it was)
  uint64_t compaction_read_bytes = 0;
  uint64_t compaction_write_bytes = 0;
  uint64_t compaction_expired = 0;  // values past their deadline that compactions removed

  // ---- reads ----
  uint64_t gets = 0;         // point reads that had to search tables
  uint64_t table_reads = 0;  // data blocks read from disk
  // ... of them, read by application threads through the DB's submission thread
  // (Options::caller_read_sqpoll)
  uint64_t caller_sqpoll_reads = 0;
  uint64_t user_bytes_read = 0;        // key + value bytes returned by Get/MultiGet/iterators
  uint64_t bloom_skips = 0;            // tables skipped thanks to the bloom filter ("useful")
  uint64_t bloom_false_positives = 0;  // filter said "maybe", the table lacked the key
  uint64_t cache_hits = 0;             // block cache lookups that hit
  uint64_t cache_misses = 0;
  uint64_t cache_bytes = 0;  // gauge: bytes held by the block cache
  // Data blocks the warm-up after Open cached (Options::warm_cache_on_open), and whether
  // it still runs (gauge: 1 while it does; in Stats::total, the shards still warming).
  uint64_t cache_warm_blocks = 0;
  uint64_t cache_warming = 0;

  // ---- sizes (gauges) ----
  uint64_t memtable_bytes = 0;  // the mutable memtable
  uint64_t immutable_memtables = 0;
  uint64_t immutable_memtable_bytes = 0;
  uint64_t l0_files = 0;
  uint64_t level_files[kStatsLevels] = {};  // table files per level (L0 = level_files[0])
  uint64_t level_bytes[kStatsLevels] = {};  // table bytes per level
  // Estimated bytes of live (latest, non-deleted) data; 0 when the engine has no
  // estimate (space_amplification() then uses the largest level's size).
  uint64_t live_data_bytes = 0;

  // ---- per operation, I/O, event loop ----
  OpStats ops[kOpKindCount];  // indexed by OpKind
  IoStats io;
  RuntimeStats runtime;

  const OpStats& op(OpKind k) const { return ops[static_cast<size_t>(k)]; }
  OpStats& op(OpKind k) { return ops[static_cast<size_t>(k)]; }

  // ---- derived (computed from the fields above, so totals stay consistent) ----
  uint64_t table_bytes() const;   // sum of level_bytes
  double cache_hit_rate() const;  // hits / (hits + misses); 0 when no lookups
  // Of the table probes for keys the table lacked, the share the filter let through:
  // false positives / (false positives + bloom_skips). 0 when none.
  double bloom_false_positive_rate() const;
  // Bytes written to the device (WAL, flush, compaction and MANIFEST writes) per user
  // byte written. 0 when nothing was written.
  double write_amplification() const;
  // Bytes read from the device for user reads per user byte returned.
  double read_amplification() const;
  // Table bytes per live byte (live_data_bytes, else the largest level's bytes).
  double space_amplification() const;
};

struct Stats {
  std::string io_backend;  // the backend and why it was chosen
  // Durability::kSync with Options::sync_round_hold_us > 0: synced rounds released, and
  // how many of them because a hold ran out rather than because every writer was back.
  uint64_t sync_rounds = 0;
  uint64_t sync_round_timeouts = 0;
  std::vector<ShardStats> shards;
  ShardStats total;  // sums (shard = number of shards): AccumulateShardStats of each
};

// Adds s into *total: counters and gauges are summed, histograms merged, and
// total->io.backend is s.io.backend (or "mixed" when shards differ). Derived values
// of *total stay consistent because they are computed from the sums.
void AccumulateShardStats(const ShardStats& s, ShardStats* total);

}  // namespace ringdb
