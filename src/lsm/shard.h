// Shard: the storage engine of one shard, coordinating the parts it owns (see
// docs/engine.md):
//   WalWriter   the write-ahead log and the group commits in flight (wal_writer.h)
//   VersionSet  the live tables and the MANIFEST (version_set.h)
//   TableCache  open tables, the block cache, block reads (table_cache.h)
// plus the memtables, the commit queue, and the commit, flush and compaction fibers.
//
// One writer, readers anywhere (DESIGN.md rule 1). Only this shard's thread changes its
// state. What a read needs is published as an immutable ReadView (memtables + version)
// behind one atomic pointer, with the sequence number reads may see; any thread reads
// them inside an rcu::ReadLock (point_lookup.h), and replaced views are freed through
// RCU. Writes from other threads arrive as WriteRequests over the rings, in order.
//
// Thread ownership: everything is the shard thread's except what is marked "any
// thread". Methods marked (fiber) run inside a fiber on the shard's reactor.
//
// Durability contract (DESIGN.md): in kSync a write's WriteRequest completes only after
// its WAL bytes were fdatasync'ed, and only then is it applied to the memtable. In
// kPeriodic/kNone a group is applied to the memtable when it is formed and acknowledged
// when its write reached the kernel (posted requests: when queued, see
// write_request.h). Any failed WAL, table or MANIFEST write or sync makes the shard
// read-only with that error; nothing is retried as if it had not happened.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/compaction.h"
#include "lsm/db_iter.h"
#include "lsm/io_pacer.h"
#include "lsm/memtable.h"
#include "lsm/point_lookup.h"
#include "lsm/table_builder.h"
#include "lsm/table_cache.h"
#include "lsm/version.h"
#include "lsm/version_set.h"
#include "lsm/wal_writer.h"
#include "lsm/write_request.h"
#include "ringdb/options.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"
#include "runtime/rcu.h"
#include "runtime/spsc_ring.h"
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
  uint64_t manifest_max_bytes = 4ull << 20;
  TableOptions table;
  CompactionOptions compaction;
  IoPacerOptions pacer;
  bool io_trace = false;  // record every I/O of this shard into <dir>/IOTRACE
  size_t io_trace_buffer_bytes = 4ull << 20;
};

// The public counters (ringdb/stats.h) plus what only the engine looks at.
struct ShardStats : ringdb::ShardStats {
  uint64_t compaction_ns = 0;
  util::Histogram group_size;  // requests per group commit
};

// Reads blocks that missed the cache, for an iterator or lookup on some thread.
class BlockReader {
 public:
  virtual ~BlockReader() = default;
  // Fills every reads[i].block or .status. May suspend (a fiber) or block (a thread).
  virtual void Read(BlockRead* reads, size_t n) = 0;
};

class Shard {
 public:
  // Reads at kLatest see what the shard has published when they start.
  static constexpr SequenceNumber kLatest = kMaxSequenceNumber;

  // (fiber) Creates the shard directory's contents or recovers them: MANIFEST, then
  // every WAL segment it does not cover (torn tails are cut and logged; corruption in
  // the middle is an error naming file and offset), flushes what the WAL held into an
  // L0 table, writes a fresh MANIFEST and CURRENT, deletes obsolete files, publishes
  // the first read view and starts the commit, flush and compaction fibers.
  static Status Open(const ShardOptions& opt, std::unique_ptr<Shard>* out);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // ---------------------------------------------------------------- writes
  // Queues a write; w->done runs when it is acknowledged or failed (posted requests:
  // when applied, see write_request.h).
  void SubmitWrite(WriteRequest* w);

  // Posted writes (any thread). A producer that may post checks AcceptingPosts(),
  // then takes a ticket right before pushing the request (TakePostTicket), which the
  // request carries. Readers call WaitForPostedWrites() first, which returns once every
  // request whose ticket was taken before the call is in the memtable.
  bool AcceptingPosts() const { return posts_open_.load(std::memory_order_acquire); }
  uint64_t TakePostTicket();
  void WaitForPostedWrites() const {
    const uint64_t issued = posts_issued_.load(std::memory_order_acquire);
    if (posts_applied_.load(std::memory_order_acquire) < issued) WaitPostsApplied(issued);
  }

  // ---------------------------------------------------------------- reads
  // Any thread: the newest sequence number a read may see.
  SequenceNumber published_sequence() const {
    return published_seq_.load(std::memory_order_acquire);
  }
  // Any thread, inside an rcu::ReadLock (which the result must not outlive).
  const ReadView* view() const { return view_.load(std::memory_order_acquire); }
  // Any thread, inside an rcu::ReadLock.
  const BlockCache& block_cache() const { return tables_.blocks(); }

  // Any thread: point lookup through the current view; blocks that miss the cache are
  // read through `reader` (which may block or suspend the caller). Counts into *rc.
  // REQUIRES: WaitForPostedWrites() first when posted writes must be visible.
  Status GetWith(std::string_view key, std::string* value, SequenceNumber seq, bool fill_cache,
                 BlockReader* reader, ReadCounters* rc) const;
  // Any thread: keys[0..n) at once; every block still needed is read in one batch per
  // round.
  void MultiGetWith(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                    SequenceNumber seq, bool fill_cache, BlockReader* reader,
                    ReadCounters* rc) const;
  // (fiber) Point lookup on this shard's thread (sees every posted write).
  Status Get(std::string_view key, std::string* value, SequenceNumber seq = kLatest,
             bool fill_cache = true);
  // (fiber) Looks up keys[0..n) at once; every block that misses the cache is read in
  // one submission per round.
  void MultiGet(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                SequenceNumber seq = kLatest, bool fill_cache = true);
  // (fiber) Reads blocks for another thread's lookups or iterators (one submission).
  void ReadBlocks(BlockRead* reads, size_t n) { tables_.ReadBlocks(reads, n, &reads_.table_reads); }
  // A BlockReader for fibers of this shard.
  BlockReader* fiber_reader() { return &fiber_reader_; }

  // Any thread: an iterator over the user keys of `view` as of seq, within
  // [lower, upper). It holds the view (memtables and tables stay alive while it
  // lives); blocks missing from the cache come from `reader`. Using it needs the
  // block cache, so the caller must keep the shard open meanwhile.
  std::unique_ptr<UserIterator> NewIterator(ReadViewRef view, SequenceNumber seq,
                                            std::optional<std::string> lower,
                                            std::optional<std::string> upper, bool fill_cache,
                                            BlockReader* reader) const;

  // Shard thread: pins published_sequence(); compaction keeps every version a read at
  // it needs until ReleaseSnapshot(that number). False from ReleaseSnapshot when the
  // number is not pinned.
  SequenceNumber AcquireSnapshot();
  bool ReleaseSnapshot(SequenceNumber seq);

  // ---------------------------------------------------------------- lifecycle
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

  // ---------------------------------------------------------------- stats
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
  struct Immutable {
    std::shared_ptr<MemTable> mem;
    uint64_t wal_number;  // segment holding exactly this memtable's writes
  };
  class ReadaheadFetcher;  // compaction input reads (shard_compaction.cc)
  class FiberReader final : public BlockReader {
   public:
    explicit FiberReader(Shard* s) : shard_(s) {}
    void Read(BlockRead* reads, size_t n) override { shard_->ReadBlocks(reads, n); }

   private:
    Shard* shard_;
  };
  // Posted tickets in flight at most; a producer waits past that (never in practice:
  // the post buffers hold far fewer requests).
  static constexpr uint64_t kPostWindow = uint64_t{1} << 16;

  explicit Shard(const ShardOptions& opt);

  // Recovery (shard_recovery.cc).
  Status Recover();
  Status ReplayWal(uint64_t number, MemTable* mem, bool* torn);
  Status DeleteObsoleteFiles();

  // Write path (shard.cc).
  void CommitLoop();
  // Takes the queued requests (up to kMaxGroupBytes) off the queue.
  WriteRequest* TakeGroup();
  void CommitGroup(WriteRequest* head);
  bool GroupWantsSync(WriteRequest* head) const;
  // Inserts g's batches into the memtable and publishes them; the posted requests are
  // completed (and may be freed) and leave g's list.
  void Apply(WalGroup* g);
  // Inserts the batches of a request list from first_seq on (posted_only: only the
  // posted ones, with fresh numbers), completes the posted requests, and returns the
  // list of the others.
  WriteRequest* ApplyRequests(WriteRequest* head, SequenceNumber first_seq, bool posted_only);
  static void OnWalComplete(void* arg);
  void CompleteGroup(WalGroup* g);
  // Completes the waited requests of a list with s (posted ones already completed).
  void CompleteRequests(WriteRequest* head, const Status& s);
  void FailQueued(const Status& s);
  Status MakeRoomForWrite();
  Status WaitForL0Room();
  // Stalls while too many immutable memtables wait, then starts a new WAL segment and
  // memtable. Commit fiber only: it owns the WAL.
  Status SwitchMemtable();
  void SetBackgroundError(const Status& s);
  void WaitPostsApplied(uint64_t issued) const;
  // (fiber on this shard) WaitForPostedWrites without blocking the loop that applies them.
  void WaitForPostedWritesInFiber();
  void MarkPostApplied(uint64_t ticket);
  void UpdatePostsOpen();
  // Publishes a new ReadView of mem_, imm_ and the current version.
  void PublishView();

  // Compaction (shard_compaction.cc).
  void CompactionLoop();
  Status RunCompaction(const Compaction& c);

  // Flush (shard_flush.cc).
  void FlushLoop();
  Status FlushOldestImmutable();
  // Writes the table `number` from `it`, syncs it and its directory entry, opens it.
  Status WriteTable(InternalIterator* it, FileMetaData* meta, TableRef* table);
  SequenceNumber ResolveSeq(SequenceNumber seq) const {
    return seq == kLatest ? published_sequence() : seq;
  }
  std::string FilePath(const std::string& name) const { return opt_.dir + "/" + name; }

  const ShardOptions opt_;
  int dir_fd_ = -1;
  // Declared before everything it may receive, so it is destroyed (flushed) last.
  rt::rcu::RetireList retire_;
  IoPacer pacer_;  // background (flush, compaction) I/O budget
  TableCache tables_;
  VersionSet versions_;
  WalWriter wal_;
  FiberReader fiber_reader_{this};

  // ---- published for readers on any thread ----
  std::atomic<const ReadView*> view_{nullptr};
  std::atomic<SequenceNumber> published_seq_{0};
  alignas(rt::kCacheLine) std::atomic<uint64_t> posts_issued_{0};
  alignas(rt::kCacheLine) std::atomic<uint64_t> posts_applied_{0};
  std::atomic<bool> posts_open_{false};

  // ---- write path (commit fiber) ----
  WriteRequest* queue_head_ = nullptr;
  WriteRequest* queue_tail_ = nullptr;
  size_t queue_len_ = 0;
  rt::Event commit_wakeup_;
  SequenceNumber last_seq_ = 0;     // last sequence in the memtable (== published_seq_)
  SequenceNumber next_seq_ = 1;     // next sequence to assign (groups in flight hold the gap)
  std::vector<uint8_t> post_done_;  // applied tickets beyond posts_applied_ (kPostWindow)
  bool stalled_ = false;            // the commit fiber waits for flush or compaction

  // ---- memtables ----
  std::shared_ptr<MemTable> mem_;
  std::deque<Immutable> imm_;      // oldest first
  bool switch_requested_ = false;  // Flush() asks the commit fiber for a switch
  rt::Event switch_done_;
  rt::Event flush_wakeup_;
  rt::Event flush_progress_;  // set whenever an immutable memtable got flushed

  // ---- compaction ----
  CompactPointers compact_pointers_;
  rt::Event compact_wakeup_;
  rt::Event compact_progress_;  // set whenever a compaction finished (or failed)
  uint64_t last_compaction_backoff_ms_ = 0;
  std::vector<SequenceNumber> snapshots_;  // live snapshots, sorted (duplicates allowed)

  Status bg_error_;  // sticky: read-only once set
  bool stopping_ = false;
  bool crashed_ = false;
  rt::WaitGroup fibers_;  // commit, flush and compaction fibers

  ShardStats stats_;
  ReadCounters reads_;  // reads done by this shard's fibers (and blocks read for others)
};

}  // namespace ringdb::lsm
