// Shard: Resume, which makes a shard writable again after a write failed for lack of
// space (docs/engine.md "Errors").
//
// Why this is safe: a write that failed with NoSpace put nothing durable in the place
// of what it was meant to write, so once the store no longer relies on that place it
// may go on. The WAL segment with the failed group is sealed in the MANIFEST at the
// start of that group (recovery reads no further, so later groups that may have
// landed after the hole are never replayed) and writing continues in a new segment;
// a MANIFEST record whose write failed is rewritten at the same offset; a flushed
// table that failed was removed and is written again. An fsync/fdatasync that failed is
// never resumed: the kernel may have dropped data it had accepted (DESIGN.md).
#include "lsm/shard.h"
#include "runtime/reactor.h"
#include "util/log.h"

namespace ringdb::lsm {

Status Shard::ResumeWal() {
  wal_.WaitInFlightAtMost(0);
  if (unsealed_number_ == 0 && wal_.segment_open() && wal_.broken()) {
    WalWriter::Segment next;
    Status s = wal_.CreateSegment(versions_.NewFileNumber(), &next);
    if (!s.ok()) {
      // Nothing was created (CreateSegment removes what it made): retry later.
      if (!s.IsNoSpace()) SetBackgroundError(s);
      return s;
    }
    wal_.WaitZeroIdle();
    WalWriter::Segment old = wal_.Swap(std::move(next));
    // The memtable holds the old segment's writes (and, in the buffered modes, those
    // of failed groups, which were applied when formed): it is flushed like any other.
    if (mem_->num_entries() > 0) {
      imm_.push_back(Immutable{std::move(mem_), old.number, last_seq_});
      mem_ = std::make_shared<MemTable>();
      PublishView();
    }
    const WalSegmentMeta sealed{old.break_offset, old.good_max_seq, true};
    s = wal_.Close(&old, /*sync=*/true);
    if (!s.ok()) {
      SetBackgroundError(s);  // a failed fdatasync: read-only until reopen
      return s;
    }
    unsealed_number_ = old.number;
    unsealed_meta_ = sealed;
  }
  if (unsealed_number_ != 0) {
    VersionEdit edit;
    edit.AddWal(unsealed_number_, unsealed_meta_);
    edit.AddWal(wal_.number(), WalSegmentMeta{});
    Status s = versions_.LogAndApply(&edit, {});
    if (!s.ok()) {
      if (!s.IsNoSpace() || !versions_.append_retryable()) SetBackgroundError(s);
      return s;
    }
    unsealed_number_ = 0;
  }
  return Status::OK();
}

Status Shard::Resume() {
  resume_lock_.Acquire();
  struct Release {
    rt::Semaphore* sem;
    ~Release() { sem->Release(); }
  } release{&resume_lock_};
  if (crashed_) return Status::Aborted("shard crashed (test)");
  if (stopping_) return Status::Shutdown("the DB is closing");
  if (bg_error_.ok()) return Status::OK();
  if (!bg_resumable_) return bg_error_;
  // Posts are closed while the shard is read-only; the ones already sent are applied
  // (and stay in their post logs) before the memtable may be switched.
  WaitForSentPostsApplied();
  Status s = ResumeWal();
  if (!s.ok()) {
    RINGDB_LOG_WARN("shard %u: resume failed: %s", opt_.shard_id, s.ToString().c_str());
    return s;
  }
  if (crashed_) return Status::Aborted("shard crashed (test)");
  if (!bg_resumable_) return bg_error_;  // escalated meanwhile (a compaction's MANIFEST)
  RINGDB_LOG_INFO("shard %u: writable again (resumed after: %s)", opt_.shard_id,
                  bg_error_.ToString().c_str());
  bg_error_ = Status::OK();
  bg_resumable_ = false;
  UpdatePostsOpen();
  commit_wakeup_.Set();
  compact_wakeup_.Set();
  // The immutable memtables are flushed now, so a disk still full says so here.
  return WaitForImmutablesFlushed();
}

}  // namespace ringdb::lsm
