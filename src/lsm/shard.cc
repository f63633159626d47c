// Shard: the write path (commit queue, group commit) and the lifecycle. Reads live in
// shard_read.cc, recovery in shard_recovery.cc, flush in shard_flush.cc, compaction in
// shard_compaction.cc.
#include "lsm/shard.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "lsm/filenames.h"
#include "lsm/write_batch_rep.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
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
      post_done_(kPostWindow, 0),
      mem_(std::make_shared<MemTable>()) {
  wal_.set_on_complete(&Shard::OnWalComplete, this);
}

Shard::~Shard() {
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
  raw->fibers_.Add(3);
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
  raw->UpdatePostsOpen();
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
// Posted writes

uint64_t Shard::TakePostTicket() {
  const uint64_t t = posts_issued_.fetch_add(1, std::memory_order_acq_rel);
  // The window of tickets the shard tracks: wait (never in practice) for room.
  while (t >= posts_applied_.load(std::memory_order_acquire) + kPostWindow) sched_yield();
  return t;
}

void Shard::WaitPostsApplied(uint64_t issued) const {
  // The shard applies what it was sent within a loop pass; a producer preempted between
  // taking its ticket and pushing (a few instructions) is the rare long wait.
  for (uint32_t i = 0; posts_applied_.load(std::memory_order_acquire) < issued; i++) {
    if (i < 1024) {
      util::CpuRelax();
    } else {
      sched_yield();
    }
  }
}

void Shard::MarkPostApplied(uint64_t ticket) {
  uint64_t applied = posts_applied_.load(std::memory_order_relaxed);
  RINGDB_ASSERT(ticket >= applied && ticket < applied + kPostWindow);
  post_done_[ticket % kPostWindow] = 1;
  while (post_done_[applied % kPostWindow] != 0) {
    post_done_[applied % kPostWindow] = 0;
    applied++;
  }
  posts_applied_.store(applied, std::memory_order_release);
}

void Shard::UpdatePostsOpen() {
  const bool open = opt_.durability != Durability::kSync && bg_error_.ok() && !stalled_ &&
                    !stopping_ && !crashed_;
  posts_open_.store(open, std::memory_order_release);
}

// ---------------------------------------------------------------------------------
// Write path

void Shard::SubmitWrite(WriteRequest* w) {
  w->next = nullptr;
  w->start_ns = util::NowNanos();
  if (!w->posted && (crashed_ || stopping_)) {
    w->status =
        crashed_ ? Status::Aborted("shard crashed (test)") : Status::Shutdown("the DB is closing");
    w->done(w);
    return;
  }
  if (WriteBatchRep::Empty(w->rep)) {
    if (w->posted) MarkPostApplied(w->post_ticket);
    w->status = Status::OK();
    w->done(w);
    return;
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
  for (WriteRequest* w = head; w != nullptr;) {
    WriteRequest* next = w->next;  // done() may free w
    if (!w->posted) {
      RecordOp(w->kind, w->start_ns, s, WriteBatchRep::Count(w->rep));
      if (s.ok()) stats_.user_bytes_written += w->rep.size() - WriteBatchRep::kHeaderBytes;
      w->status = s;
      w->done(w);
    }
    w = next;
  }
}

void Shard::FailQueued(const Status& s) {
  WriteRequest* head = queue_head_;
  queue_head_ = queue_tail_ = nullptr;
  queue_len_ = 0;
  // Posted requests were acknowledged already: they still become visible (not
  // logged: docs/engine.md "Posted writes").
  CompleteRequests(ApplyRequests(head, next_seq_, /*posted_only=*/true), s);
}

void Shard::SetBackgroundError(const Status& s) {
  if (!bg_error_.ok() || s.ok()) return;
  bg_error_ = s;
  RINGDB_LOG_ERROR("shard %u is now read-only: %s", opt_.shard_id, s.ToString().c_str());
  UpdatePostsOpen();
  flush_progress_.Set();  // stalled writers re-check and see the error
}

WriteRequest* Shard::TakeGroup() {
  WriteRequest* head = queue_head_;
  WriteRequest* last = head;
  size_t n = 1, bytes = head->rep.size();
  while (last->next != nullptr && bytes + last->next->rep.size() <= kMaxGroupBytes) {
    last = last->next;
    bytes += last->rep.size();
    n++;
  }
  queue_head_ = last->next;
  if (queue_head_ == nullptr) queue_tail_ = nullptr;
  last->next = nullptr;
  queue_len_ -= n;
  return head;
}

void Shard::CommitLoop() {
  const uint64_t period_ns = uint64_t{opt_.periodic_sync_ms} * 1'000'000;
  for (;;) {
    if (crashed_) {
      wal_.WaitInFlightAtMost(0);
      FailQueued(Status::Aborted("shard crashed (test)"));
      return;
    }
    if (queue_head_ != nullptr) {
      CommitGroup(TakeGroup());
      continue;
    }
    if (switch_requested_) {
      if (mem_->num_entries() > 0 && bg_error_.ok()) {
        Status s = SwitchMemtable();
        (void)s;  // a failure is the background error now
      }
      switch_requested_ = false;
      switch_done_.Set();
      continue;
    }
    if (stopping_) {
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

void Shard::CommitGroup(WriteRequest* head) {
  // Pipelined: up to WalWriter::kMaxInFlight groups in the kernel, acknowledged in
  // order (OnWalComplete) as their I/O completes.
  wal_.WaitInFlightAtMost(WalWriter::kMaxInFlight - 1);
  Status s =
      bg_error_.ok()
          ? MakeRoomForWrite()
          : Status::ReadOnly("shard " + std::to_string(opt_.shard_id) +
                             " is read-only after an earlier error: " + bg_error_.ToString());
  if (!s.ok()) {
    CompleteRequests(ApplyRequests(head, next_seq_, /*posted_only=*/true), s);
    return;
  }
  const bool sync = GroupWantsSync(head);
  WalGroup* g = wal_.NewGroup();
  wal_.Encode(g, head, next_seq_);
  next_seq_ = g->last_seq + 1;
  stats_.write_groups++;
  stats_.group_size.Record(g->requests);
  // Buffered modes: visible now; acknowledged once the write reached the kernel. The
  // posted requests complete here (their bytes are encoded and in the memtable).
  if (opt_.durability != Durability::kSync) Apply(g);
  s = wal_.Issue(g, sync);
  if (!s.ok()) {
    SetBackgroundError(s);
    if (!g->applied) g->head = ApplyRequests(g->head, next_seq_, /*posted_only=*/true);
    CompleteRequests(g->head, s);
    wal_.Recycle(g);
  }
}

WriteRequest* Shard::ApplyRequests(WriteRequest* head, SequenceNumber first_seq, bool posted_only) {
  // posted_only: the group failed; only its posted requests (acknowledged already) are
  // applied, with fresh sequence numbers, and never logged.
  SequenceNumber seq = first_seq;
  WriteRequest* waited = nullptr;
  WriteRequest** tail = &waited;
  for (WriteRequest* w = head; w != nullptr;) {
    WriteRequest* next = w->next;  // done() may free w
    const uint32_t count = WriteBatchRep::Count(w->rep);
    if (!posted_only || w->posted) {
      Status a = WriteBatchRep::InsertInto(w->rep, seq, mem_.get());
      RINGDB_ASSERT_MSG(a.ok(), "a validated batch failed to apply");
    }
    if (!posted_only || w->posted) seq += count;
    if (w->posted) {
      RecordOp(w->kind, w->start_ns, Status::OK(), count);
      stats_.user_bytes_written += w->rep.size() - WriteBatchRep::kHeaderBytes;
      const uint64_t ticket = w->post_ticket;
      w->status = Status::OK();
      w->done(w);  // the request and its bytes may go now
      MarkPostApplied(ticket);
    } else {
      *tail = w;
      tail = &w->next;
    }
    w = next;
  }
  *tail = nullptr;
  if (seq != first_seq) {
    if (posted_only) next_seq_ = seq;
    last_seq_ = seq - 1;
    published_seq_.store(last_seq_, std::memory_order_release);
  }
  return waited;
}

void Shard::Apply(WalGroup* g) {
  RINGDB_ASSERT(next_seq_ > g->last_seq);
  g->head = ApplyRequests(g->head, g->first_seq, /*posted_only=*/false);
  RINGDB_ASSERT(last_seq_ == g->last_seq);
  g->applied = true;
}

void Shard::OnWalComplete(void* arg) {
  auto* shard = static_cast<Shard*>(arg);
  while (WalGroup* g = shard->wal_.PopCompleted()) shard->CompleteGroup(g);
}

void Shard::CompleteGroup(WalGroup* g) {
  Status s = g->status;
  if (crashed_) {
    s = Status::Aborted("shard crashed (test)");
  } else if (!s.ok()) {
    SetBackgroundError(s);
  } else if (!bg_error_.ok()) {
    // An earlier group failed: this one's bytes may be durable, but recovery drops
    // them (they follow a break in the log), so it must not be acknowledged.
    s = Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
  }
  if (s.ok()) {
    if (!g->applied) Apply(g);
    stats_.writes += g->requests;
    stats_.wal_bytes += g->len;
    if (g->sync) stats_.wal_syncs++;
  } else if (!g->applied) {
    g->head = ApplyRequests(g->head, next_seq_, /*posted_only=*/true);
  }
  WriteRequest* head = g->head;
  wal_.Recycle(g);
  CompleteRequests(head, s);
}

Status Shard::WaitForL0Room() {
  // Backpressure: too many L0 files slow writes down, then stop them, until compaction
  // catches up. The time is counted as stall.
  for (;;) {
    const WriteStall ws = L0WriteStall(versions_.state(), opt_.compaction);
    if (ws == WriteStall::kNone) return Status::OK();
    if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
    if (crashed_) return Status::Aborted("shard crashed (test)");
    const uint64_t t0 = util::NowNanos();
    compact_wakeup_.Set();
    if (ws == WriteStall::kStop) {
      stalled_ = true;
      UpdatePostsOpen();
      compact_progress_.Reset();
      compact_progress_.WaitFor(10'000'000);
    } else {
      rt::SleepFor(1'000'000);
    }
    stats_.stall_ns += util::NowNanos() - t0;
    stats_.stalls++;
    if (ws == WriteStall::kSlowdown) break;
  }
  if (stalled_) {
    stalled_ = false;
    UpdatePostsOpen();
  }
  return Status::OK();
}

Status Shard::MakeRoomForWrite() {
  Status s = WaitForL0Room();
  if (!s.ok()) return s;
  if (stalled_) {
    stalled_ = false;
    UpdatePostsOpen();
  }
  if (mem_->ApproximateMemoryUsage() < opt_.memtable_bytes) return Status::OK();
  return SwitchMemtable();
}

Status Shard::SwitchMemtable() {
  wal_.WaitInFlightAtMost(0);  // the old segment's writes must be done before it is closed
  if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());
  uint64_t stall_start = 0;
  while (imm_.size() >= opt_.max_immutable_memtables && bg_error_.ok() && !crashed_) {
    if (stall_start == 0) {
      stall_start = util::NowNanos();
      stalled_ = true;
      UpdatePostsOpen();
      RINGDB_LOG_DEBUG("shard %u: writes stalled, %zu immutable memtables wait for flush",
                       opt_.shard_id, imm_.size());
    }
    flush_wakeup_.Set();
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (stall_start != 0) {
    stats_.stall_ns += util::NowNanos() - stall_start;
    stats_.stalls++;
    stalled_ = false;
    UpdatePostsOpen();
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  if (!bg_error_.ok()) return Status::ReadOnly("shard is read-only: " + bg_error_.ToString());

  // Invariant (relied on by FlushOldestImmutable's log number): every memtable's WAL
  // segment is either the open one or recorded in imm_. So the new segment is created
  // first, and the switch of segment and memtable happens without a suspension in
  // between; only then is the old segment closed (kPeriodic: synced, so the period
  // bound holds; kSync: synced already; kNone: the flush makes its contents durable).
  WalWriter::Segment next;
  Status s = wal_.CreateSegment(versions_.NewFileNumber(), &next);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  WalWriter::Segment old = wal_.Swap(std::move(next));
  imm_.push_back(Immutable{std::move(mem_), old.number});
  mem_ = std::make_shared<MemTable>();
  PublishView();
  s = wal_.Close(&old, opt_.durability == Durability::kPeriodic);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  flush_wakeup_.Set();
  return Status::OK();
}

// ---------------------------------------------------------------------------------
// Lifecycle

Status Shard::Flush() {
  if (!bg_error_.ok()) return bg_error_;
  if (mem_->num_entries() > 0 || queue_head_ != nullptr) {
    // Only the commit fiber switches memtables (it owns the WAL), so ask it; it first
    // commits what is queued.
    switch_requested_ = true;
    commit_wakeup_.Set();
    while (switch_requested_ && !crashed_) {
      switch_done_.Reset();
      switch_done_.Wait();
    }
  }
  flush_wakeup_.Set();
  while (!imm_.empty() && bg_error_.ok() && !crashed_) {
    flush_progress_.Reset();
    flush_progress_.Wait();
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  return bg_error_;
}

Status Shard::Close() {
  // Posted writes were acknowledged: every one already sent must be in the memtable
  // (and so in the WAL synced below). No new ticket is taken once the DB is closing,
  // and the loop drains the rings while this fiber yields.
  while (posts_applied_.load(std::memory_order_acquire) <
             posts_issued_.load(std::memory_order_acquire) &&
         !crashed_) {
    rt::SleepFor(50'000);
  }
  stopping_ = true;
  UpdatePostsOpen();
  compact_wakeup_.Set();
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
  Status s = bg_error_;
  if (wal_.segment_open()) {
    // A clean close loses nothing in any durability mode.
    Status c = wal_.CloseSegment(/*sync=*/s.ok());
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
  switch_done_.Set();
  compact_wakeup_.Set();
  FailQueued(Status::Aborted("shard crashed (test)"));
  commit_wakeup_.Set();
  flush_wakeup_.Set();
  flush_progress_.Set();
  fibers_.Wait();
}

void Shard::GetStats(ShardStats* out) const {
  // Filled in place: the stats hold histograms too big for a fiber's stack.
  ShardStats& st = *out;
  st = stats_;
  st.gets = reads_.table_searches;
  st.table_reads = reads_.table_reads;
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
