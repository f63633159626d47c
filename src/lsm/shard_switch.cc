// Shard: memtable switches and write stalls. The commit fiber switches the memtable
// (it owns the WAL) once the memtable is full, after every sequence number taken
// before the switch was requested is applied (the switch barrier, for posted writes);
// writers are slowed, then stopped, while L0 or the immutable memtables pile up.
// The write path itself is in shard.cc.
#include "lsm/compaction.h"
#include "lsm/shard.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {

void Shard::RequestSwitch() {
  // Every sequence number taken so far goes into the memtable being closed; the
  // sources (memtables, then tables) then never overlap in sequence, which point
  // lookups rely on (the first source holding a key has its newest version).
  switch_barrier_ = seq_alloc_.load(std::memory_order_acquire);
}

void Shard::MaybeSwitch() {
  if (switch_barrier_ == 0 || last_seq_ + 1 < switch_barrier_) return;
  switch_barrier_ = 0;
  Status s = SwitchMemtable();
  (void)s;                      // a failure is the background error now; the held requests meet it
  if (held_.head != nullptr) {  // back to the front of the queue, in order
    PrependToQueue(&held_);
    commit_wakeup_.Set();
  }
}

Status Shard::WaitForL0Room() {
  // Backpressure: too many L0 files slow writes down, then stop them, until compaction
  // catches up. The time is counted as stall.
  uint64_t stopped_ns = 0;  // time spent stopped while compaction has a lasting error
  for (;;) {
    const WriteStall ws = L0WriteStall(versions_.state(), opt_.compaction);
    if (ws == WriteStall::kNone) break;
    if (!bg_error_.ok()) return ReadOnlyError();
    if (crashed_) return Status::Aborted("shard crashed (test)");
    if (ws == WriteStall::kStop && !compaction_error_.ok() &&
        stopped_ns >= kCompactionErrorStallMs * 1'000'000) {
      // Compaction cannot make room (a damaged table): the writer gets that error, not
      // an endless stall. Reads are unaffected; docs/engine.md says how to recover.
      if (stalled_) {
        stalled_ = false;
        UpdatePostsOpen();
      }
      return compaction_error_;
    }
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
    const uint64_t waited = util::NowNanos() - t0;
    stats_.stall_ns += waited;
    stats_.stalls++;
    if (!compaction_error_.ok()) stopped_ns += waited;
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
  if (switch_barrier_ != 0) return Status::OK();  // a switch is pending already
  if (mem_->ApproximateMemoryUsage() < opt_.memtable_bytes) return Status::OK();
  if (!posting_) return SwitchMemtable();
  RequestSwitch();
  if (last_seq_ + 1 >= switch_barrier_) {
    switch_barrier_ = 0;
    return SwitchMemtable();
  }
  return Status::OK();
}

Status Shard::SwitchMemtable() {
  wal_.WaitInFlightAtMost(0);  // the old segment's writes must be done before it is closed
  if (!bg_error_.ok()) return ReadOnlyError();
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
  if (!bg_error_.ok()) return ReadOnlyError();

  // Invariant (relied on by FlushOldestImmutable's log number): every memtable's WAL
  // segment is either the open one or recorded in imm_. So the new segment is created
  // first, and the switch of segment and memtable happens without a suspension in
  // between; only then is the old segment closed.
  WalWriter::Segment next;
  Status s = wal_.CreateSegment(versions_.NewFileNumber(), &next);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  wal_.WaitZeroIdle();  // no zero-fill may be in flight on the segment swapped out
  WalWriter::Segment old = wal_.Swap(std::move(next));
  imm_.push_back(Immutable{std::move(mem_), old.number, last_seq_});
  mem_ = std::make_shared<MemTable>();
  PublishView();
  // Synced in every mode, so that a torn tail can only be the newest segment's, and
  // sealed in the MANIFEST with its length: recovery then knows what it is owed.
  s = wal_.Close(&old, /*sync=*/true);
  if (s.ok()) s = LogWalSegments(&old, /*track_open=*/true);
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  flush_wakeup_.Set();
  return Status::OK();
}

Status Shard::LogWalSegments(const WalWriter::Segment* sealed, bool track_open) {
  VersionEdit edit;
  if (sealed != nullptr) {
    edit.AddWal(sealed->number, WalSegmentMeta{sealed->synced_upto, sealed->max_seq, true});
  }
  if (track_open) edit.AddWal(wal_.number(), WalSegmentMeta{});
  return versions_.LogAndApply(&edit, {});
}

}  // namespace ringdb::lsm
