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
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/checkpoint.h"
#include "lsm/compaction.h"
#include "lsm/db_iter.h"
#include "lsm/expiry.h"
#include "lsm/io_pacer.h"
#include "lsm/memtable.h"
#include "lsm/pending_keys.h"
#include "lsm/point_lookup.h"
#include "lsm/recovery_check.h"
#include "lsm/sync_round.h"
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

class CompactionIterator;
class ReadaheadFetcher;  // compaction input reads (readahead_fetcher.h)

struct ShardOptions {
  std::string dir;  // <store>/shard-NNN
  uint32_t shard_id = 0;
  bool create_if_missing = true;
  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 100;
  size_t memtable_bytes = 64ull << 20;
  uint32_t max_immutable_memtables = 2;
  size_t wal_preallocate_bytes = 64ull << 20;
  // How often (at most) the MANIFEST records how far the open WAL segment is synced, so
  // that recovery after a crash knows a floor of what it is owed (docs/manifest.md
  // "WAL segments"). 0: only at segment switch and Close.
  uint32_t wal_track_interval_ms = 1000;
  size_t block_cache_bytes = 64ull << 20;
  bool warm_cache = false;  // warm the block cache after Open (Options::warm_cache_on_open)
  uint64_t manifest_max_bytes = 4ull << 20;
  TableOptions table;
  CompactionOptions compaction;
  IoPacerOptions pacer;
  bool io_trace = false;  // record every I/O of this shard into <dir>/IOTRACE
  size_t io_trace_buffer_bytes = 4ull << 20;
  ExpiryClock clock;  // judges deadlines in reads and compactions (lsm/expiry.h)
  // kSync: the DB's synced rounds (lsm/sync_round.h), shared by its shards; null: every
  // group is issued as soon as anything is queued.
  SyncRound* sync_round = nullptr;
};

// The public counters (ringdb/stats.h) plus what only the engine looks at.
struct InternalShardStats : ringdb::ShardStats {
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
  // Wakes the commit fiber (a synced round was released by another shard).
  void KickCommit() { commit_wakeup_.Set(); }

  // Posted writes (any thread; docs/engine.md "Posted writes"). A writer that may post
  // checks AcceptingPosts(), writes the record into its post log, takes its sequence
  // numbers (AllocateSequences) right before pushing the request, and returns. Readers
  // call WaitForPostedWrites() first, which returns once every sequence number taken
  // before the call is published (in the memtable).
  bool AcceptingPosts() const { return posts_open_.load(std::memory_order_acquire); }
  SequenceNumber AllocateSequences(uint32_t count) {
    return seq_alloc_.fetch_add(count, std::memory_order_acq_rel);
  }
  // Returns once every sequence number acknowledged before the call is published.
  // kSync has no posted writes, but a synced group is acknowledged as soon as it is
  // durable, just before the shard inserts it (docs/engine.md "Synced rounds"): readers
  // wait the same way for what was acknowledged (acked_seq_), not for what is still on
  // its way to the disk.
  void WaitForPostedWrites() const {
    const SequenceNumber acked = AckedSequence();
    if (published_seq_.load(std::memory_order_acquire) < acked) WaitPublished(acked);
  }
  // The same for a point read of `key`: waits only when a posted write of that key (or
  // of keys sharing its PendingKeys slots) may be unpublished, and only until its slots
  // show it is not (or everything taken before the call is published): behind a
  // writer's burst, thousands of posted writes may be queued, and a read whose slots
  // clear early need not wait for all of them.
  void WaitForPostedWritesOf(std::string_view key) const {
    const SequenceNumber acked = AckedSequence();
    if (published_seq_.load(std::memory_order_acquire) >= acked) return;
    if (pending_keys_->MayHave(key)) WaitPublishedOrClear(acked, key);
  }
  // Writers, before acknowledging a posted batch: marks its keys pending (posting only).
  void NotePostedKeys(std::string_view rep) { pending_keys_->Add(rep); }
  // The directory where writers create post logs (lsm/post_log.h).
  const std::string& dir() const { return opt_.dir; }

  // ---------------------------------------------------------------- reads
  // Any thread: the newest sequence number a read may see.
  SequenceNumber published_sequence() const {
    return published_seq_.load(std::memory_order_acquire);
  }
  // Any thread, inside an rcu::ReadLock (which the result must not outlive).
  const ReadView* view() const { return view_.load(std::memory_order_acquire); }
  // Any thread, inside an rcu::ReadLock.
  const BlockCache& block_cache() const { return tables_.blocks(); }
  const ExpiryClock& clock() const { return opt_.clock; }

  // Any thread: point lookup through the current view; blocks that miss the cache are
  // read through `reader` (which may block or suspend the caller). Counts into *rc.
  // REQUIRES: WaitForPostedWrites() first when posted writes must be visible.
  // *expire_at (when not null): the value's deadline, 0 for none (lsm/expiry.h).
  Status GetWith(std::string_view key, std::string* value, SequenceNumber seq, bool fill_cache,
                 BlockReader* reader, ReadCounters* rc, uint64_t* expire_at = nullptr) const;
  // Any thread: keys[0..n) at once; every block still needed is read in one batch per
  // round. expire_ats (when not null): each found value's deadline, 0 for none.
  void MultiGetWith(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                    SequenceNumber seq, bool fill_cache, BlockReader* reader, ReadCounters* rc,
                    uint64_t* expire_ats = nullptr) const;
  // (fiber) Point lookup on this shard's thread (sees every posted write).
  Status Get(std::string_view key, std::string* value, SequenceNumber seq = kLatest,
             bool fill_cache = true, uint64_t* expire_at = nullptr);
  // (fiber) Looks up keys[0..n) at once; every block that misses the cache is read in
  // one submission per round.
  void MultiGet(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                SequenceNumber seq = kLatest, bool fill_cache = true);
  // (fiber) Reads blocks for another thread's lookups or iterators (one submission).
  void ReadBlocks(BlockRead* reads, size_t n) { tables_.ReadBlocks(reads, n, &reads_.table_reads); }
  // (shard thread) A block that a reader on another thread read from table
  // `file_number` itself and the cache admitted: cached.
  void AdoptBlock(uint64_t file_number, uint64_t offset, BlockPtr block) {
    tables_.blocks().Insert(file_number, offset, block, block->charge());
  }
  // (shard thread) Counts a block read that a reader on another thread made itself
  // and handed to the shard to count (caller_reads.h).
  void CountTableRead() { reads_.table_reads++; }
  // (shard thread) Counts a block read an application thread made through the DB's
  // submission thread (ShardStats::caller_sqpoll_reads).
  void CountCallerSqpollRead() { caller_sqpoll_reads_++; }
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
  // (fiber) DB::Checkpoint's shard step: Flush(), so every write this shard applied
  // before the call is in a table, then captures the live tables (held open) and the
  // checkpoint's MANIFEST (lsm/checkpoint.h) between two MANIFEST changes.
  Status PrepareCheckpoint(ShardCheckpoint* out);
  // (fiber) Finishes queued writes, stops the background fibers, syncs the WAL (so a
  // clean close loses nothing in any durability mode) and closes every file.
  Status Close();
  // (fiber) Makes the shard writable again after an error that Resume clears (a write
  // that failed with NoSpace: a WAL group, a flushed table or a MANIFEST record, never
  // an fsync/fdatasync; docs/engine.md "Errors"): seals the WAL segment at its last
  // good group and continues in a new one, retries the MANIFEST record, then flushes
  // the immutable memtables. OK when the shard is writable (or was), else the error
  // that keeps it read-only: still NoSpace (try again later; nothing changed that a
  // retry cannot redo) or an error that only a reopen clears.
  Status Resume();
  // Abandons the shard as a crash would: queued and future writes fail with Aborted,
  // background fibers stop at their next step without issuing more I/O. Files are
  // closed by the destructor.
  void Crash();

  // ---------------------------------------------------------------- stats
  // Counts one operation of `kind` that arrived at start_ns (util::NowNanos) and ends now.
  void RecordOp(OpKind kind, uint64_t start_ns, const Status& s, uint64_t items = 1) {
    RecordOpElapsed(kind, util::NowNanos() - start_ns, s, items);
  }
  // The same, for an operation timed with util::FastNanos (reads).
  void RecordOpElapsed(OpKind kind, uint64_t elapsed_ns, const Status& s, uint64_t items = 1) {
    OpStats& o = stats_.op(kind);
    o.count++;
    o.items += items;
    if (!s.ok() && !s.IsNotFound()) o.errors++;
    o.latency_ns.Record(elapsed_ns);
  }
  void AddUserBytesRead(uint64_t n) { stats_.user_bytes_read += n; }
  // The error that made the shard read-only, or OK.
  const Status& background_error() const { return bg_error_; }
  // (Large: histograms. Fill a heap object, never a fiber-stack temporary.)
  void GetStats(InternalShardStats* out) const;
  uint32_t shard_id() const { return opt_.shard_id; }

 private:
  struct Immutable {
    std::shared_ptr<MemTable> mem;
    uint64_t wal_number;  // the newest segment holding this memtable's writes
    // Every sequence number <= covered is in this memtable or an older source.
    SequenceNumber covered;
    // Older segments holding its writes too: none after a switch; the other replayed
    // segments after a recovery that kept them (StartAfterReplay). The flush that makes
    // them obsolete deletes them with wal_number.
    std::vector<uint64_t> older_wals = {};
  };
  class CompactionOutputs;  // the tables one compaction writes (shard_compaction.cc)
  // A FIFO of requests linked through WriteRequest::next.
  struct RequestList {
    WriteRequest* head = nullptr;
    WriteRequest* tail = nullptr;
    size_t n = 0;
    void Append(WriteRequest* w) {
      w->next = nullptr;
      (tail == nullptr ? head : tail->next) = w;
      tail = w;
      n++;
    }
  };
  class FiberReader final : public BlockReader {
   public:
    explicit FiberReader(Shard* s) : shard_(s) {}
    void Read(BlockRead* reads, size_t n) override { shard_->ReadBlocks(reads, n); }

   private:
    Shard* shard_;
  };

  explicit Shard(const ShardOptions& opt);

  // Recovery (shard_recovery.cc).
  Status Recover();
  Status RecoverSteps();
  Status StartAfterReplay();
  // (fiber) Keeps the replayed memtable in memory and its segments live when the replay
  // was clean; *kept says whether it did.
  Status KeepReplayedSegments(bool* kept);
  void SyncReplayedSegment(const std::string& name);
  // A failed Open removes what it created (the new WAL segment, the table of the
  // replayed WAL, a new MANIFEST) unless CURRENT may already name the new MANIFEST.
  void CleanUpFailedOpen();
  uint64_t open_created_table_ = 0;
  // Replays one live segment into mem_; *torn_path is set to its path when its tail is
  // torn (and must be "" for the segments that follow: lsm/recovery_check.h).
  Status ReplayWal(const WalReplayItem& item, std::string* torn_path);
  Status ReadWalRange(int fd, const std::string& path, uint64_t offset, char* dst, uint64_t len);
  // (fiber) Records in the MANIFEST how much of `sealed` (closed, synced) holds writes
  // and/or that the open segment exists (docs/manifest.md "WAL segments").
  Status LogWalSegments(const WalWriter::Segment* sealed, bool track_open);
  std::string ShardName() const { return "shard " + std::to_string(opt_.shard_id); }
  // (flush fiber) Records the open segment's synced length when it grew and the
  // interval passed.
  void MaybeTrackWal();
  uint64_t wal_tracked_number_ = 0, wal_tracked_bytes_ = 0, wal_tracked_ns_ = 0;
  // Replays the unreleased records of the post logs that the WAL and tables lack.
  Status ReplayPostLogs(const std::vector<std::string>& logs);
  Status DeleteObsoleteFiles();

  // Write path (shard.cc).
  void CommitLoop();
  // Takes the queued requests (up to kMaxGroupBytes) off the queue.
  WriteRequest* TakeGroup();
  void CommitGroup(WriteRequest* head);
  bool GroupWantsSync(WriteRequest* head) const;
  // Gives the requests that have none their sequence numbers.
  void AssignSequences(WriteRequest* head);
  // Inserts g's batches into the memtable and publishes what became contiguous.
  void Apply(WalGroup* g);
  // Inserts the batches of a request list (all, or only the posted ones: they were
  // acknowledged, so they stay visible even when their group failed) at their
  // sequence numbers and marks them applied.
  void ApplyRequests(WriteRequest* head, bool posted_only);
  // A durable, not yet inserted kSync group (shard_complete.cc): acknowledges the
  // requests that may go early (WriteRequest::early_ack), inserts the group, then
  // completes the rest. False (nothing done) when none may go early or its batches are
  // too large to copy.
  bool AckBeforeInsert(WalGroup* g);
  // Marks [first, first + count) applied (or never to be: holes of failed groups) and
  // advances the published prefix.
  void MarkApplied(SequenceNumber first, uint64_t count);
  static void OnWalComplete(void* arg);
  void CompleteGroup(WalGroup* g);
  // Completes every request of a list with s (a posted one is released only when s is
  // OK: it is then in the WAL).
  void CompleteRequests(WriteRequest* head, const Status& s);
  void FailQueued(const Status& s);
  // Puts the list back at the front of the queue, in order (emptying it).
  void PrependToQueue(RequestList* list);
  // kSync with synced rounds: true if the queue is held for its round (this waited for
  // a kick, an arrival or the hold's end; look again).
  bool HoldForRound();
  Status MakeRoomForWrite();
  Status WaitForL0Room();
  // Stalls while too many immutable memtables wait, then starts a new WAL segment and
  // memtable. Commit fiber only: it owns the WAL.
  Status SwitchMemtable();
  // `resumable`: the failure was a write that Resume may redo (taken only for NoSpace).
  // A non-resumable error replaces a resumable one.
  void SetBackgroundError(const Status& s, bool resumable = false);
  // What a write gets while the shard is read-only.
  Status ReadOnlyError() const;
  // Resume (shard_resume.cc): the WAL steps.
  Status ResumeWal();
  // (fiber) Close and Resume: until every sequence number already taken (a posted write
  // sent to this shard) is applied, the loop draining the rings meanwhile.
  void WaitForSentPostsApplied();
  // (fiber) Flush and Resume: wakes the flush fiber and waits until no immutable
  // memtable is left or a background error stopped the flushes; returns that error
  // (Aborted after Crash()).
  Status WaitForImmutablesFlushed();
  void WaitPublished(SequenceNumber seq) const;
  // Any thread: the newest sequence number acknowledged to a writer, which a read that
  // begins now must see (posted writes: every one taken; kSync: acked_seq_).
  SequenceNumber AckedSequence() const {
    return posting_ ? seq_alloc_.load(std::memory_order_acquire) - 1
                    : acked_seq_.load(std::memory_order_acquire);
  }
  // Until `seq` is published or PendingKeys no longer may have `key`.
  void WaitPublishedOrClear(SequenceNumber seq, std::string_view key) const;
  // Any thread: spins, then yields, until done() (a ForeignBlocker's way under a driver).
  template <typename Done>
  static void WaitUntil(const Done& done);
  // (fiber on this shard) WaitForPostedWrites without blocking the loop that applies them.
  void WaitForPostedWritesInFiber();
  void UpdatePostsOpen();
  // Posting: the memtable is full. Every sequence number taken before now must be in it
  // before the switch (sources must not overlap in sequence); later ones wait.
  void RequestSwitch();
  // Completes a requested switch once what it waits for is published.
  void MaybeSwitch();
  bool Holds(const WriteRequest* w) const {
    return switch_barrier_ != 0 && (!w->posted || w->first_seq >= switch_barrier_);
  }
  // Publishes a new ReadView of mem_, imm_ and the current version.
  void PublishView();

  // Compaction (shard_compaction.cc).
  void CompactionLoop();
  Status RunCompaction(const Compaction& c);
  // The steps of RunCompaction: the inputs' merged iterator; the entries copied into
  // the outputs; the edit that installs them (or, for a trivial move, the input).
  Status OpenCompactionInputs(const Compaction& c, const Version& base,
                              std::vector<std::unique_ptr<ReadaheadFetcher>>* fetchers,
                              std::unique_ptr<InternalIterator>* merged);
  Status CopyToOutputs(CompactionIterator* it, CompactionOutputs* outputs);
  Status ApplyCompactionEdit(const Compaction& c, const std::vector<FileMetaData>& outputs,
                             const std::vector<TableRef>& opened);
  bool InputsMostlyCached(const Compaction& c, const Version& base) const;
  void CacheBuiltBlocks(uint64_t number, TableBuilder* builder);

  // Cache warm-up after Open (shard_warm.cc).
  // (fiber) Caches the data blocks of the live tables, newest first, until the cache is
  // full, Close or a table drops out of the live set.
  void WarmCache();
  // (fiber) One table's blocks that the cache lacks; sets *full when the next block
  // would not fit without an eviction. An error ends this table's warm-up.
  Status WarmTable(const TableRef& table, bool* full);

  // Flush (shard_flush.cc).
  // (fiber) Has the commit fiber commit what is queued and turn a non-empty memtable
  // immutable (Flush, PrepareCheckpoint).
  void SwitchForFlush();
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
  // Every sequence number <= published_seq_ is applied (or a hole of a failed group).
  alignas(rt::kCacheLine) std::atomic<SequenceNumber> published_seq_{0};
  // The next sequence number to hand out (writers of posted requests take theirs).
  alignas(rt::kCacheLine) std::atomic<SequenceNumber> seq_alloc_{1};
  std::atomic<bool> posts_open_{false};
  const bool posting_;  // kPeriodic/kNone: posted requests may arrive
  // kSync: the last sequence number of the groups acknowledged before they were
  // inserted (AckBeforeInsert); never ahead of seq_alloc_.
  alignas(rt::kCacheLine) std::atomic<SequenceNumber> acked_seq_{0};
  // Keys of writes acknowledged but not yet published: posted writes, and synced groups
  // between their acknowledgement and their insert.
  std::unique_ptr<PendingKeys> pending_keys_;
  // kSync: the batches of the group being acknowledged ahead of its insert, copied (the
  // writers own theirs and may reuse them once woken), and where each starts.
  std::string copied_reps_;
  struct CopiedRep {
    size_t offset;
    size_t size;
    SequenceNumber first_seq;
    bool acked;  // acknowledged before the insert (its keys are pending)
  };
  std::vector<CopiedRep> copied_;

  // ---- write path (commit fiber) ----
  WriteRequest* queue_head_ = nullptr;
  WriteRequest* queue_tail_ = nullptr;
  size_t queue_len_ = 0;
  rt::Event commit_wakeup_;
  rt::Event zero_wakeup_;        // the WAL zero-fill fiber (kSync)
  SequenceNumber last_seq_ = 0;  // == published_seq_ (shard thread copy)
  // Applied ranges beyond the published prefix, smallest first.
  std::priority_queue<std::pair<SequenceNumber, SequenceNumber>,
                      std::vector<std::pair<SequenceNumber, SequenceNumber>>, std::greater<>>
      applied_ahead_;
  // A switch waiting for every sequence below it (RequestSwitch); 0 when none. Requests
  // at or past it are held back meanwhile.
  SequenceNumber switch_barrier_ = 0;
  RequestList held_;
  // Recovery only: the sequence ranges the WAL replay found, and the largest sequence of
  // the segments replayed before the current one.
  std::vector<std::pair<SequenceNumber, uint32_t>> replayed_;
  // The segments replayed at Open, oldest first: how far each holds valid records and
  // its highest sequence number (StartAfterReplay seals them when it keeps them).
  struct ReplayedSegment {
    uint64_t number;
    uint64_t valid_end;
    SequenceNumber max_seq;
  };
  std::vector<ReplayedSegment> replayed_segments_;
  uint64_t posted_replayed_ = 0;  // records only the post logs held, replayed at Open
  bool replay_clean_ = true;      // no replayed segment had a torn tail
  rt::WaitGroup replay_syncs_;    // SyncReplayedSegment fibers still running
  Status replay_sync_status_;     // the first error one of them met
  SequenceNumber replay_prev_max_ = 0;
  bool stalled_ = false;  // the commit fiber waits for flush or compaction

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
  // The last compaction failure that retrying cannot heal (Corruption: a damaged input
  // table) or did not heal (kCompactionFailuresPersistent failures in a row: e.g. EIO
  // from a dead disk); OK once a compaction succeeds. Writers stopped by a full L0 get
  // it after kCompactionErrorStallMs instead of waiting forever (docs/engine.md "When
  // a compaction keeps failing").
  Status compaction_error_;
  uint32_t compaction_failures_in_row_ = 0;
  // With the backoff (100, 200 ms) the third failure comes about 0.3 s after the first.
  static constexpr uint32_t kCompactionFailuresPersistent = 3;
  uint64_t compaction_log_ns_ = 0;       // when a compaction failure was last logged
  uint64_t compaction_log_skipped_ = 0;  // failures not logged since
  static constexpr uint64_t kCompactionErrorStallMs = 1000;
  std::vector<SequenceNumber> snapshots_;  // live snapshots, sorted (duplicates allowed)

  Status bg_error_;            // sticky: read-only once set (until Resume clears a resumable one)
  bool bg_resumable_ = false;  // bg_error_ is one Resume may clear
  bool flush_retryable_ = false;  // the last flush failed in a write (not a sync)
  rt::Semaphore resume_lock_{1};  // one Resume at a time
  // Resume: the broken segment, swapped out and closed, whose seal (at its last good
  // group) the MANIFEST does not hold yet; number 0 when none.
  uint64_t unsealed_number_ = 0;
  WalSegmentMeta unsealed_meta_;
  bool stopping_ = false;
  bool crashed_ = false;
  rt::WaitGroup fibers_;          // commit, flush, compaction (and cache warm-up) fibers
  uint64_t warm_read_bytes_ = 0;  // block bytes the warm-up read

  InternalShardStats stats_;
  ReadCounters reads_;  // reads done by this shard's fibers (and blocks read for others)
  uint64_t caller_sqpoll_reads_ = 0;
};

}  // namespace ringdb::lsm
