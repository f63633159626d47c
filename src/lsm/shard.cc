// Shard: the write path (commit queue, group commit) and the lifecycle. Memtable
// switches and write stalls live in shard_switch.cc, reads in shard_read.cc, recovery
// in shard_recovery.cc, flush in shard_flush.cc, compaction in shard_compaction.cc.
#include "lsm/shard.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "lsm/filenames.h"
#include "lsm/write_batch_rep.h"
#include "runtime/file_io.h"
#include "runtime/loop_driver.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"
#include "util/clock.h"
#include "util/cpu_relax.h"
#include "util/log.h"

namespace ringdb::lsm {
namespace {

// A group commit takes at most this many payload bytes (one larger batch goes alone).
constexpr size_t kMaxGroupBytes = 4 << 20;

void UnrefView(void* v) {
  static_cast<const ReadView*>(v)->Unref();
}

}  // namespace

Shard::Shard(const ShardOptions& opt)
    : opt_(opt),
      pacer_(opt.pacer),
      tables_(opt.dir, -1, opt.block_cache_bytes, &retire_, &pacer_),
      versions_(VersionSetOptions{opt.dir, opt.shard_id, opt.manifest_max_bytes}, -1, &tables_),
      wal_(WalWriterOptions{opt.durability == Durability::kSync, opt.wal_preallocate_bytes},
           opt.dir, -1, &pacer_),
      posting_(opt.durability != Durability::kSync),
      pending_keys_(std::make_unique<PendingKeys>()),
      mem_(std::make_shared<MemTable>()) {
  wal_.set_on_complete(&Shard::OnWalComplete, this);
}

Shard::~Shard() {
  if (opt_.sync_round != nullptr) opt_.sync_round->Attach(opt_.shard_id, nullptr);
  if (const ReadView* v = view_.exchange(nullptr, std::memory_order_acq_rel)) {
    retire_.Add(&UnrefView, const_cast<ReadView*>(v));
  }
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status Shard::Open(const ShardOptions& opt, std::unique_ptr<Shard>* out) {
  std::unique_ptr<Shard> shard(new Shard(opt));
  Status s = shard->Recover();
  if (!s.ok()) return s;
  rt::Reactor* r = rt::CurrentReactor();
  Shard* raw = shard.get();
  const bool zero_fill = opt.durability == Durability::kSync;
  const bool warm = opt.warm_cache && raw->versions_.current()->NumFiles() > 0;
  raw->fibers_.Add(3 + (zero_fill ? 1 : 0) + (warm ? 1 : 0));
  if (zero_fill) {
    r->Spawn(
        [raw] {
          raw->wal_.ZeroAheadLoop([raw] { return raw->stopping_ || raw->crashed_; },
                                  &raw->zero_wakeup_);
          raw->fibers_.Done();
        },
        "wal_zero");
  }
  r->Spawn(
      [raw] {
        raw->CompactionLoop();
        raw->fibers_.Done();
      },
      "compaction");
  r->Spawn(
      [raw] {
        raw->CommitLoop();
        raw->fibers_.Done();
      },
      "commit");
  r->Spawn(
      [raw] {
        raw->FlushLoop();
        raw->fibers_.Done();
      },
      "flush");
  if (warm) {
    raw->stats_.cache_warming = 1;
    r->Spawn(
        [raw] {
          raw->WarmCache();
          raw->stats_.cache_warming = 0;
          raw->fibers_.Done();
        },
        "cache_warm");
  }
  raw->UpdatePostsOpen();
  if (opt.sync_round != nullptr) opt.sync_round->Attach(opt.shard_id, raw);
  *out = std::move(shard);
  return Status::OK();
}

void Shard::PublishView() {
  auto* v = new ReadView;
  v->mem = mem_;
  v->imm.reserve(imm_.size());
  for (auto it = imm_.rbegin(); it != imm_.rend(); ++it) v->imm.push_back(it->mem);
  v->version = versions_.current();
  const ReadView* old = view_.exchange(v, std::memory_order_acq_rel);
  if (old != nullptr) retire_.Add(&UnrefView, const_cast<ReadView*>(old));
  // Views are few (one per memtable switch, flush or compaction): hand them to RCU
  // now rather than holding memtables until the list fills up.
  retire_.Flush();
}

// ---------------------------------------------------------------------------------
// Sequence numbers and posted writes

template <typename Done>
void Shard::WaitUntil(const Done& done) {
  if (rt::ForeignBlocker* b = rt::CurrentForeignBlocker()) {
    b->WaitUntil(done);
    return;
  }
  for (uint32_t i = 0; !done(); i++) {
    if (i < 1024) {
      util::CpuRelax();
    } else {
      sched_yield();
    }
  }
}

void Shard::WaitPublished(SequenceNumber seq) const {
  // Writers push what they took a sequence for right away, and the shard applies it
  // within a loop pass; a writer preempted between the two is the rare long wait.
  WaitUntil([this, seq] { return published_seq_.load(std::memory_order_acquire) >= seq; });
}

void Shard::WaitPublishedOrClear(SequenceNumber seq, std::string_view key) const {
  WaitUntil([this, seq, key] {
    return published_seq_.load(std::memory_order_acquire) >= seq || !pending_keys_->MayHave(key);
  });
}

void Shard::MarkApplied(SequenceNumber first, uint64_t count) {
  if (count == 0) return;
  SequenceNumber prefix = last_seq_;
  if (first == prefix + 1) {
    prefix = first + count - 1;
    while (!applied_ahead_.empty() && applied_ahead_.top().first <= prefix + 1) {
      prefix = std::max(prefix, applied_ahead_.top().second);
      applied_ahead_.pop();
    }
  } else {
    RINGDB_ASSERT_MSG(first > prefix + 1, "a sequence number was applied twice");
    applied_ahead_.emplace(first, first + count - 1);
    return;
  }
  last_seq_ = prefix;
  published_seq_.store(prefix, std::memory_order_release);
  if (pending_keys_) pending_keys_->Publish(prefix);
}

Status Shard::ReadOnlyError() const {
  return Status::ReadOnly(ShardName() + " is read-only after an earlier error" +
                          (bg_resumable_ ? " (DB::Resume may clear it)" : "") + ": " +
                          bg_error_.ToString());
}

void Shard::UpdatePostsOpen() {
  const bool open = posting_ && bg_error_.ok() && !stalled_ && !stopping_ && !crashed_;
  posts_open_.store(open, std::memory_order_release);
}

// ---------------------------------------------------------------------------------
// Write path

void Shard::SubmitWrite(WriteRequest* w) {
  w->next = nullptr;
  SyncRound* round = opt_.sync_round;
  const bool counted = w->round_ns != 0;  // by its sender (SyncRound::Arrive)
  // A sender that counted the request stamped it already: one clock read per write.
  w->start_ns = counted ? w->round_ns : util::NowNanos();
  if (!w->posted && (crashed_ || stopping_)) {
    if (counted) {
      round->Taken(opt_.shard_id, 1);
      round->Left(1);
    }
    w->status =
        crashed_ ? Status::Aborted("shard crashed (test)") : Status::Shutdown("the DB is closing");
    w->done(w);
    return;
  }
  if (WriteBatchRep::Empty(w->rep)) {
    RINGDB_ASSERT_MSG(!w->posted, "an empty batch was posted");
    if (counted) {
      round->Taken(opt_.shard_id, 1);
      round->Left(1);
    }
    w->status = Status::OK();
    w->done(w);
    return;
  }
  if (round != nullptr && !counted) {
    w->round_ns = w->start_ns;
    round->Queued(opt_.shard_id, 1);
  }
  if (queue_tail_ == nullptr) {
    queue_head_ = queue_tail_ = w;
  } else {
    queue_tail_->next = w;
    queue_tail_ = w;
  }
  queue_len_++;
  commit_wakeup_.Set();
}

void Shard::CompleteRequests(WriteRequest* head, const Status& s) {
  rt::WakeBatch wakes;  // the waiters of the whole list at once
  for (WriteRequest* w = head; w != nullptr;) {
    WriteRequest* next = w->next;  // done() may free w
    if (!w->posted) {
      // Out of the round's count before its writer may arrive again.
      if (opt_.sync_round != nullptr) opt_.sync_round->Left(1);
      RecordOp(w->kind, w->start_ns, s, WriteBatchRep::Count(w->rep));
      if (s.ok()) stats_.user_bytes_written += w->rep.size() - WriteBatchRep::kHeaderBytes;
    }
    w->status = s;
    w->done(w);
    w = next;
  }
}

void Shard::PrependToQueue(RequestList* list) {
  if (list->head == nullptr) return;
  list->tail->next = queue_head_;
  queue_head_ = list->head;
  if (queue_tail_ == nullptr) queue_tail_ = list->tail;
  queue_len_ += list->n;
  if (opt_.sync_round != nullptr) {
    opt_.sync_round->Requeued(opt_.shard_id, static_cast<int64_t>(list->n));
  }
  *list = RequestList();
}

void Shard::FailQueued(const Status& s) {
  PrependToQueue(&held_);  // held-back requests are older than the queued ones
  WriteRequest* head = queue_head_;
  if (opt_.sync_round != nullptr) {
    opt_.sync_round->Taken(opt_.shard_id, static_cast<int64_t>(queue_len_));
  }
  queue_head_ = queue_tail_ = nullptr;
  queue_len_ = 0;
  // Posted requests were acknowledged already: they still become visible; not logged,
  // they stay in their post logs for recovery (docs/engine.md "Posted writes").
  ApplyRequests(head, /*posted_only=*/true);
  CompleteRequests(head, s);
}

void Shard::SetBackgroundError(const Status& s, bool resumable) {
  if (s.ok()) return;
  resumable = resumable && s.IsNoSpace();
  if (!bg_error_.ok() && (!bg_resumable_ || resumable)) return;
  bg_error_ = s;
  bg_resumable_ = resumable;
  RINGDB_LOG_ERROR("shard %u is now read-only%s: %s", opt_.shard_id,
                   resumable ? " (DB::Resume clears it once space is back)" : " until reopened",
                   s.ToString().c_str());
  UpdatePostsOpen();
  flush_progress_.Set();  // stalled writers re-check and see the error
}

WriteRequest* Shard::TakeGroup() {
  // Every queued request, up to kMaxGroupBytes, except those a pending switch holds
  // back (they keep their order in held_).
  WriteRequest* head = nullptr;
  WriteRequest** tail = &head;
  size_t bytes = 0;
  int64_t taken = 0;
  while (queue_head_ != nullptr) {
    WriteRequest* w = queue_head_;
    if (head != nullptr && bytes + w->rep.size() > kMaxGroupBytes) break;
    queue_head_ = w->next;
    queue_len_--;
    taken++;
    w->next = nullptr;
    if (Holds(w)) {
      held_.Append(w);
      continue;
    }
    *tail = w;
    tail = &w->next;
    bytes += w->rep.size();
  }
  if (queue_head_ == nullptr) queue_tail_ = nullptr;
  if (opt_.sync_round != nullptr) opt_.sync_round->Taken(opt_.shard_id, taken);
  return head;
}

bool Shard::HoldForRound() {
  SyncRound* round = opt_.sync_round;
  // Nothing waits for a round while the queue must move for another reason.
  if (round == nullptr || switch_requested_ || switch_barrier_ != 0 || stopping_ || crashed_ ||
      !bg_error_.ok()) {
    return false;
  }
  const uint64_t oldest = queue_head_->round_ns, now = util::NowNanos();
  if (round->MayIssue(opt_.shard_id, oldest, now)) return false;
  commit_wakeup_.Reset();
  commit_wakeup_.WaitFor(round->Deadline(oldest) - now);
  return true;
}

void Shard::CommitLoop() {
  const uint64_t period_ns = uint64_t{opt_.periodic_sync_ms} * 1'000'000;
  for (;;) {
    if (crashed_) {
      wal_.WaitInFlightAtMost(0);
      FailQueued(Status::Aborted("shard crashed (test)"));
      return;
    }
    MaybeSwitch();
    if (queue_head_ != nullptr) {
      if (HoldForRound()) continue;
      if (WriteRequest* group = TakeGroup()) CommitGroup(group);
      continue;
    }
    if (switch_requested_ && switch_barrier_ == 0) {
      if (mem_->num_entries() > 0 && bg_error_.ok()) {
        Status s = SwitchMemtable();
        (void)s;  // a failure is the background error now
      }
      switch_requested_ = false;
      switch_done_.Set();
      continue;
    }
    if (stopping_ && switch_barrier_ == 0) {
      wal_.WaitInFlightAtMost(0);
      if (queue_head_ == nullptr) return;
      continue;
    }
    if (opt_.durability == Durability::kPeriodic && bg_error_.ok() &&
        wal_.synced_upto() < wal_.write_offset()) {
      // Whatever was written is synced within periodic_sync_ms, writes or not.
      const uint64_t now = util::NowNanos(), deadline = wal_.last_sync_ns() + period_ns;
      if (now >= deadline) {
        wal_.WaitInFlightAtMost(0);
        Status s = wal_.Sync();
        if (s.ok()) {
          stats_.wal_syncs++;
        } else {
          SetBackgroundError(s);
        }
        continue;
      }
      commit_wakeup_.Reset();
      commit_wakeup_.WaitFor(deadline - now);
      continue;
    }
    commit_wakeup_.Reset();
    commit_wakeup_.Wait();
  }
}

bool Shard::GroupWantsSync(WriteRequest* head) const {
  if (opt_.durability == Durability::kSync) return true;
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    if (w->sync) return true;
  }
  return opt_.durability == Durability::kPeriodic &&
         util::NowNanos() - wal_.last_sync_ns() >= uint64_t{opt_.periodic_sync_ms} * 1'000'000;
}

void Shard::AssignSequences(WriteRequest* head) {
  uint64_t total = 0;
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    if (!w->posted) total += WriteBatchRep::Count(w->rep);
  }
  if (total == 0) return;
  SequenceNumber seq = AllocateSequences(static_cast<uint32_t>(total));
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    if (w->posted) continue;
    w->first_seq = seq;
    seq += WriteBatchRep::Count(w->rep);
  }
}

void Shard::CommitGroup(WriteRequest* head) {
  // Pipelined: up to WalWriter::kMaxInFlight groups in the kernel, acknowledged in
  // order (OnWalComplete) as their I/O completes.
  wal_.WaitInFlightAtMost(WalWriter::kMaxInFlight - 1);
  Status s = bg_error_.ok() ? MakeRoomForWrite() : ReadOnlyError();
  bool any_held = false;
  for (WriteRequest* w = head; w != nullptr && s.ok(); w = w->next) any_held |= Holds(w);
  if (any_held) {
    // MakeRoomForWrite asked for a switch that waits: what this group may not put into
    // the old memtable waits with it; the rest goes back to the front of the queue.
    RequestList again;
    for (WriteRequest* w = head; w != nullptr;) {
      WriteRequest* next = w->next;
      (Holds(w) ? held_ : again).Append(w);
      w = next;
    }
    PrependToQueue(&again);
    MaybeSwitch();
    return;
  }
  if (!s.ok()) {
    ApplyRequests(head, /*posted_only=*/true);
    CompleteRequests(head, s);
    return;
  }
  AssignSequences(head);
  const bool sync = GroupWantsSync(head);
  WalGroup* g = wal_.NewGroup();
  wal_.Encode(g, head);
  stats_.write_groups++;
  stats_.group_size.Record(g->requests);
  // Buffered modes: visible now; acknowledged (posted ones: released) once the write
  // reached the kernel.
  if (opt_.durability != Durability::kSync) Apply(g);
  s = wal_.Issue(g, sync);
  if (!s.ok()) {
    SetBackgroundError(s, /*resumable=*/true);  // nothing was queued
    if (!g->applied) {
      ApplyRequests(head, /*posted_only=*/true);
      for (WriteRequest* w = head; w != nullptr; w = w->next) {
        if (!w->posted) MarkApplied(w->first_seq, WriteBatchRep::Count(w->rep));  // holes
      }
    }
    CompleteRequests(head, s);
    wal_.Recycle(g);
  }
  MaybeSwitch();
}

void Shard::ApplyRequests(WriteRequest* head, bool posted_only) {
  for (WriteRequest* w = head; w != nullptr; w = w->next) {
    if (posted_only && !w->posted) continue;
    const uint32_t count = WriteBatchRep::Count(w->rep);
    Status a = WriteBatchRep::InsertInto(w->rep, w->first_seq, mem_.get());
    RINGDB_ASSERT_MSG(a.ok(), "a validated batch failed to apply");
    if (w->posted) pending_keys_->Applied(w->rep, w->first_seq + count - 1);
    MarkApplied(w->first_seq, count);
    if (!w->posted && posting_ && count > 0 && last_seq_ < w->first_seq + count - 1) {
      // A request that waited took its sequence numbers here, after posted writes that
      // took theirs on their writers' threads and have not arrived: it is applied but
      // not published until they are, and its writer is acknowledged (CompleteRequests)
      // before then. Readers see its keys pending, as a posted write's, until it is
      // published (WaitForPostedWritesOf; AckedSequence already covers it).
      pending_keys_->Add(w->rep);
      pending_keys_->Applied(w->rep, w->first_seq + count - 1);
    }
  }
}

void Shard::Apply(WalGroup* g) {
  ApplyRequests(g->head, /*posted_only=*/false);
  g->applied = true;
}

// ---------------------------------------------------------------------------------
// Lifecycle

Status Shard::Flush() {
  if (!bg_error_.ok()) return bg_error_;
  SwitchForFlush();
  return WaitForImmutablesFlushed();
}

Status Shard::WaitForImmutablesFlushed() {
  flush_wakeup_.Set();
  while (!imm_.empty() && bg_error_.ok() && !crashed_) {
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  return bg_error_;
}

void Shard::WaitForSentPostsApplied() {
  while (last_seq_ + 1 < seq_alloc_.load(std::memory_order_acquire) && !crashed_) {
    rt::SleepFor(50'000);
  }
}

Status Shard::Close() {
  // Posted writes were acknowledged: every one already sent must be in the memtable
  // (and so in the WAL synced below). No new ticket is taken once the DB is closing,
  // and the loop drains the rings while this fiber yields.
  WaitForSentPostsApplied();
  stopping_ = true;
  UpdatePostsOpen();
  zero_wakeup_.Set();
  compact_wakeup_.Set();
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
  Status s = bg_error_;
  if (wal_.segment_open()) {
    // A clean close loses nothing in any durability mode; the sealed length lets the
    // next Open read only what was written.
    WalWriter::Segment seg = wal_.Swap(WalWriter::Segment());
    Status c = wal_.Close(&seg, /*sync=*/s.ok());
    if (s.ok() && c.ok()) c = LogWalSegments(&seg, /*track_open=*/false);
    if (s.ok()) s = c;
  }
  Status m = versions_.Close();
  if (s.ok()) s = m;
  if (dir_fd_ >= 0) {
    rt::Close(dir_fd_);
    dir_fd_ = -1;
  }
  if (rt::CurrentReactor()->io_trace_running()) {
    Status t = rt::CurrentReactor()->StopIoTrace();
    if (!t.ok()) RINGDB_LOG_WARN("shard %u: I/O trace: %s", opt_.shard_id, t.ToString().c_str());
  }
  return s;
}

void Shard::Crash() {
  crashed_ = true;
  stopping_ = true;
  UpdatePostsOpen();
  zero_wakeup_.Set();
  switch_done_.Set();
  compact_wakeup_.Set();
  FailQueued(Status::Aborted("shard crashed (test)"));
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
}

void Shard::GetStats(InternalShardStats* out) const {
  // Filled in place: the stats hold histograms too big for a fiber's stack.
  InternalShardStats& st = *out;
  st = stats_;
  st.gets = reads_.table_searches;
  st.table_reads = reads_.table_reads;
  st.caller_sqpoll_reads = caller_sqpoll_reads_;
  st.bloom_skips = reads_.bloom_skips;
  st.bloom_false_positives = reads_.bloom_false_positives;
  st.cache_hits = reads_.cache_hits;
  st.cache_misses = reads_.cache_misses;
  st.memtable_bytes = mem_->ApproximateMemoryUsage();
  st.immutable_memtables = imm_.size();
  const VersionState& v = versions_.state();
  st.l0_files = v.files(0).size();
  for (int l = 0; l < kNumLevels; l++) st.level_files[l] = v.files(l).size();
  st.cache_bytes = tables_.blocks().usage();
  st.immutable_memtable_bytes = 0;
  for (const Immutable& m : imm_) st.immutable_memtable_bytes += m.mem->ApproximateMemoryUsage();
  for (int l = 0; l < kNumLevels && l < kStatsLevels; l++) st.level_bytes[l] = v.LevelBytes(l);
  if (rt::Reactor* r = rt::CurrentReactor()) r->FillStats(&st);
}

}  // namespace ringdb::lsm
