// Shard: the storage engine one shard thread runs. It owns a WAL with group commit, the
// memtable and immutable memtables, the SSTables and their block cache, and the
// MANIFEST; flush runs as a fiber beside the commit fiber. See docs/engine.md.
//
// Thread ownership: everything here is touched only by the shard's reactor thread.
// Methods marked (fiber) must run inside a fiber on that reactor; the others may also
// run from a ring-message handler.
//
// Durability contract (DESIGN.md): in kSync a write's WriteRequest completes only after
// its WAL bytes were fdatasync'ed (one write + one linked fdatasync per group of
// requests that arrived together). Any failed WAL, table or MANIFEST write or sync makes
// the shard read-only with that error; nothing is retried as if it had not happened.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "lsm/block_cache.h"
#include "lsm/compaction.h"
#include "lsm/db_iter.h"
#include "lsm/io_pacer.h"
#include "lsm/memtable.h"
#include "lsm/table_builder.h"
#include "lsm/table_reader.h"
#include "lsm/version_edit.h"
#include "ringdb/options.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"
#include "runtime/sync.h"
#include "util/clock.h"
#include "util/histogram.h"

namespace ringdb::lsm {

struct ShardOptions {
  std::string dir;  // <store>/shard-NNN
  uint32_t shard_id = 0;
  bool create_if_missing = true;
  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 100;
  size_t memtable_bytes = 64ull << 20;
  uint32_t max_immutable_memtables = 2;
  size_t wal_preallocate_bytes = 64ull << 20;
  size_t block_cache_bytes = 64ull << 20;
  TableOptions table;
  CompactionOptions compaction;
  IoPacerOptions pacer;
  bool io_trace = false;  // record every I/O of this shard into <dir>/IOTRACE
  size_t io_trace_buffer_bytes = 4ull << 20;
};

// One write handed to a shard. Owned by the caller until done() runs (on the shard
// thread); done() may free it.
struct WriteRequest {
  std::string_view rep;  // write-batch rep (lsm/write_batch_rep.h) of this shard's part
  bool sync = false;     // fdatasync before completing, whatever the durability mode
  OpKind kind = OpKind::kWriteBatch;  // for the per-op stats
  uint64_t start_ns = 0;              // set by SubmitWrite
  Status status;                      // set before done()
  void (*done)(WriteRequest*) = nullptr;
  void* arg = nullptr;
  WriteRequest* next = nullptr;  // intrusive queue link (shard-private)
};

// The public counters (ringdb/stats.h) plus what only the engine looks at.
struct ShardStats : ringdb::ShardStats {
  uint64_t compaction_ns = 0;
  util::Histogram group_size;  // requests per group commit
};

class Shard {
 public:
  // (fiber) Creates the shard directory's contents or recovers them: MANIFEST, then
  // every WAL segment it does not cover (torn tails are cut and logged; corruption in
  // the middle is an error naming file and offset), flushes what the WAL held into an
  // L0 table, writes a fresh MANIFEST and CURRENT, deletes obsolete files, and starts
  // the commit and flush fibers.
  static Status Open(const ShardOptions& opt, std::unique_ptr<Shard>* out);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Queues a write; w->done runs when it is acknowledged or failed.
  void SubmitWrite(WriteRequest* w);

  // Reads take a sequence number: kLatest means what is acknowledged when the read
  // starts; a snapshot's number (AcquireSnapshot) reads as of that point.
  static constexpr SequenceNumber kLatest = kMaxSequenceNumber;
  SequenceNumber last_sequence() const { return last_seq_; }
  // Pins last_sequence(): compaction keeps every version a read at it needs until
  // ReleaseSnapshot(that number).
  SequenceNumber AcquireSnapshot();
  void ReleaseSnapshot(SequenceNumber seq);

  // Looks in the memtables only. True when that settles it: *s is OK (value set) or
  // NotFound. False: the tables must be searched (call Get in a fiber).
  bool GetFromMemtables(std::string_view key, std::string* value, Status* s,
                        SequenceNumber seq = kLatest) const;
  // (fiber) Full point lookup.
  Status Get(std::string_view key, std::string* value, SequenceNumber seq = kLatest,
             bool fill_cache = true);
  // (fiber) Looks up keys[0..n) at once: every lookup that must read a table runs in its
  // own fiber, so all their block-cache misses go to the disk in one submission.
  void MultiGet(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                SequenceNumber seq = kLatest, bool fill_cache = true);
  // (fiber) An iterator over this shard's user keys as of seq, bounded to [lower, upper).
  // It pins the memtables and tables of the current version (they outlive flushes and
  // compactions while it lives); use and destroy it on this shard's thread, in fibers.
  std::unique_ptr<UserIterator> NewIterator(SequenceNumber seq, std::optional<std::string> lower,
                                            std::optional<std::string> upper,
                                            bool fill_cache = true);

  // (fiber) Makes the current memtable immutable and waits until every immutable
  // memtable is in an SSTable recorded by the MANIFEST.
  Status Flush();
  // (fiber) Finishes queued writes, stops the background fibers, syncs the WAL (so a
  // clean close loses nothing in any durability mode) and closes every file.
  Status Close();
  // Abandons the shard as a crash would: queued and future writes fail with Aborted,
  // background fibers stop at their next step without issuing more I/O. Files are
  // closed by the destructor.
  void Crash();

  // Counts one operation of `kind` that arrived at start_ns (util::NowNanos) and ends now.
  void RecordOp(OpKind kind, uint64_t start_ns, const Status& s, uint64_t items = 1) {
    OpStats& o = stats_.op(kind);
    o.count++;
    o.items += items;
    if (!s.ok() && !s.IsNotFound()) o.errors++;
    o.latency_ns.Record(util::NowNanos() - start_ns);
  }
  void AddUserBytesRead(uint64_t n) { stats_.user_bytes_read += n; }

  // The error that made the shard read-only, or OK.
  const Status& background_error() const { return bg_error_; }
  // (Large: histograms. Fill a heap object, never a fiber-stack temporary.)
  void GetStats(ShardStats* out) const;
  uint32_t shard_id() const { return opt_.shard_id; }

 private:
  struct WalSegment {
    uint64_t number = 0;
    int fd = -1;
    uint64_t write_offset = 0;  // next write goes here (4 KiB aligned)
    uint64_t synced_upto = 0;   // bytes before this are fdatasync'ed
    uint64_t allocated = 0;     // preallocated size
  };
  struct Immutable {
    std::shared_ptr<MemTable> mem;
    uint64_t wal_number;  // segment holding exactly this memtable's writes
  };
  struct Table {
    int fd = -1;
    std::unique_ptr<TableReader> reader;
    BlockCache* cache = nullptr;  // its index and filter are charged there while open
    size_t pinned = 0;
    ~Table();
  };
  class Fetcher;
  class ReadaheadFetcher;
  class LevelIterator;
  // A group commit in flight (kSync): its WAL write and the linked fdatasync.
  struct InflightGroup {
    Shard* shard = nullptr;
    WriteRequest* head = nullptr;
    size_t n = 0;
    SequenceNumber first_seq = 0;
    uint64_t offset = 0;
    uint64_t len = 0;
    io::AlignedBuffer buf;
    io::IoRequest wr;
    io::IoRequest fs;
    int pending = 0;
    bool done = false;
  };
  // Measured on a 2-core VM (16 sync writers, 2 shards): 1 and 4 in flight performed
  // alike (the path is CPU-bound there); 2 lets a group's write overlap the previous
  // group's fdatasync without splitting groups much.
  static constexpr size_t kMaxGroupsInFlight = 2;

  explicit Shard(const ShardOptions& opt);

  // Recovery (shard_recovery.cc).
  Status Recover();
  Status ReplayWal(uint64_t number, MemTable* mem, bool* torn);
  Status DeleteObsoleteFiles();

  // Write path (shard.cc).
  void CommitLoop();
  Status CommitGroup(WriteRequest* head, size_t n);
  Status IssueGroup(WriteRequest* head);
  static void OnGroupIo(io::IoRequest* req);
  // Acknowledges, in order, every finished group at the front of inflight_.
  void CompleteGroups();
  // (fiber) Waits until no group is in flight.
  void DrainGroups();
  void CompleteRequests(WriteRequest* head, const Status& s);
  Status WriteWal(const std::string& bytes, bool sync);
  Status SyncWal();
  Status MakeRoomForWrite();
  // Stalls while too many immutable memtables wait, then starts a new WAL segment and
  // memtable. Commit fiber only: it owns the WAL.
  Status SwitchMemtable();
  Status NewWalSegment(WalSegment* seg);
  Status CloseWalSegment(WalSegment* seg, bool sync);
  void FailQueued(const Status& s);
  void SetBackgroundError(const Status& s);

  // Compaction (shard_compaction.cc).
  void CompactionLoop();
  Status RunCompaction(const Compaction& c);

  // Flush and MANIFEST (shard_flush.cc).
  void FlushLoop();
  Status FlushOldestImmutable();
  Status WriteTable(InternalIterator* it, FileMetaData* meta);
  // Appends edit to the MANIFEST (write + linked fdatasync), then applies it.
  Status LogAndApply(VersionEdit* edit);
  Status AppendManifestRecord(const VersionEdit& edit);
  Status WriteNewManifest();
  Status OpenTable(uint64_t number, uint64_t file_size, std::shared_ptr<Table>* out);
  Status GetTable(const FileMetaData& f, std::shared_ptr<Table>* out);
  // An iterator over one table that keeps the table open (and its fetcher) while it lives.
  std::unique_ptr<InternalIterator> NewTableIterator(uint64_t number, std::shared_ptr<Table> table,
                                                     bool fill_cache);
  Status GetFromTables(std::string_view key, SequenceNumber seq, std::string* value,
                       bool fill_cache, bool* vanished);
  SequenceNumber ResolveSeq(SequenceNumber seq) const { return seq == kLatest ? last_seq_ : seq; }
  bool IsLiveFile(uint64_t number) const;

  // kSync: the WAL is written with O_DIRECT in 4 KiB-aligned, padded group writes (the
  // device sees each group once). Otherwise it is written through the page cache,
  // unpadded, so acknowledged writes survive a process crash without a device round trip.
  bool wal_direct() const { return opt_.durability == Durability::kSync; }
  std::string FilePath(const std::string& name) const { return opt_.dir + "/" + name; }

  const ShardOptions opt_;
  int dir_fd_ = -1;

  // Write path state. Invariant: wal_.write_offset only moves forward within a segment.
  WriteRequest* queue_head_ = nullptr;
  WriteRequest* queue_tail_ = nullptr;
  size_t queue_len_ = 0;
  rt::Event commit_wakeup_;
  WalSegment wal_;
  io::AlignedBuffer wal_buf_;
  std::string encode_buf_;
  uint64_t last_sync_ns_ = 0;
  uint64_t last_seq_ = 0;  // last sequence applied to the memtable (visible to reads)
  uint64_t next_seq_ = 1;  // next sequence to assign (groups in flight hold the gap)
  // Invariant: inflight_ is in WAL order; a group is acknowledged only after every
  // earlier one. durable_upto_: end of the last acknowledged group in the segment.
  std::deque<std::unique_ptr<InflightGroup>> inflight_;
  std::vector<std::unique_ptr<InflightGroup>> spare_groups_;
  rt::Event inflight_progress_;
  uint64_t durable_upto_ = 0;

  // Shared: iterators pin the memtables they read.
  std::shared_ptr<MemTable> mem_;
  std::deque<Immutable> imm_;      // oldest first
  bool switch_requested_ = false;  // Flush() asks the commit fiber for a switch
  rt::Event switch_done_;
  rt::Event flush_wakeup_;
  rt::Event flush_progress_;  // set whenever an immutable memtable got flushed
  bool flush_in_progress_ = false;

  VersionState version_;
  uint64_t next_file_number_ = 1;
  uint64_t manifest_number_ = 0;
  rt::Semaphore manifest_lock_{1};  // serializes LogAndApply across fibers
  int manifest_fd_ = -1;
  uint64_t manifest_offset_ = 0;

  CompactPointers compact_pointers_;
  rt::Event compact_wakeup_;
  rt::Event compact_progress_;  // set whenever a compaction finished (or failed)
  bool compaction_running_ = false;
  uint64_t last_compaction_backoff_ms_ = 0;
  std::vector<SequenceNumber> snapshots_;  // live snapshots, sorted (duplicates allowed)

  std::map<uint64_t, std::shared_ptr<Table>> tables_;
  BlockCache cache_;
  IoPacer pacer_;  // background (flush, compaction) I/O budget

  Status bg_error_;  // sticky: read-only once set
  bool stopping_ = false;
  bool crashed_ = false;
  rt::WaitGroup fibers_;  // commit, flush and compaction fibers
  rt::Event stopped_;

  ShardStats stats_;
};

}  // namespace ringdb::lsm
