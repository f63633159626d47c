// Shard: completing WAL groups. A group's I/O completion acknowledges its requests
// (waking their writers, or running their callbacks) and makes its batches visible;
// in kSync a durable group is acknowledged just before its insert (AckBeforeInsert,
// docs/engine.md "Synced rounds"). The write path that issues the groups is in
// shard.cc.
#include <algorithm>

#include "lsm/shard.h"
#include "lsm/write_batch_rep.h"
#include "util/assert.h"

namespace ringdb::lsm {

void Shard::OnWalComplete(void* arg) {
  auto* shard = static_cast<Shard*>(arg);
  while (WalGroup* g = shard->wal_.PopCompleted()) shard->CompleteGroup(g);
}

void Shard::CompleteGroup(WalGroup* g) {
  Status s = g->status;
  if (crashed_) {
    s = Status::Aborted("shard crashed (test)");
  } else if (!s.ok()) {
    SetBackgroundError(s, /*resumable=*/g->write_failed);
  } else if (!bg_error_.ok()) {
    // An earlier group failed: this one's bytes may be durable, but recovery drops
    // them (they follow a break in the log), so it must not be acknowledged.
    s = ReadOnlyError();
  }
  if (s.ok() && !g->applied && AckBeforeInsert(g)) return;
  if (s.ok()) {
    if (!g->applied) Apply(g);
    stats_.writes += g->requests;
    stats_.wal_bytes += g->len;
    if (g->sync) stats_.wal_syncs++;
  } else if (!g->applied) {
    // kSync: never applied; its sequence numbers become holes.
    for (WriteRequest* w = g->head; w != nullptr; w = w->next) {
      MarkApplied(w->first_seq, WriteBatchRep::Count(w->rep));
    }
  }
  WriteRequest* head = g->head;
  wal_.Recycle(g);
  CompleteRequests(head, s);
  // An I/O completion, outside any fiber: a pending switch is the commit fiber's.
  if (switch_barrier_ != 0) commit_wakeup_.Set();
}

bool Shard::AckBeforeInsert(WalGroup* g) {
  // A durable kSync group: the writers parked on it are woken first and its batches
  // inserted right after, so the writers of a synced round start their next writes
  // while the shard walks the memtable. Readers that begin after an acknowledgement wait
  // for the insert (WaitForPostedWritesOf, through PendingKeys). The batches are copied
  // first (their writers reuse them once woken). Requests whose done() does more than
  // wake a thread (async callbacks, which may read on this thread) complete after the
  // insert; a group with none that may go early, or too large to copy cheaply, is
  // inserted first, as before.
  constexpr size_t kMaxCopy = 256 << 10;
  size_t bytes = 0;
  bool any_early = false;
  for (WriteRequest* w = g->head; w != nullptr; w = w->next) {
    bytes += w->rep.size();
    any_early |= w->early_ack;
  }
  if (!any_early || bytes > kMaxCopy) return false;
  copied_reps_.clear();
  copied_.clear();
  RequestList early, late;
  SequenceNumber acked = 0;
  for (WriteRequest* w = g->head; w != nullptr;) {
    WriteRequest* next = w->next;
    copied_.push_back({copied_reps_.size(), w->rep.size(), w->first_seq, w->early_ack});
    copied_reps_.append(w->rep);
    if (w->early_ack) {
      pending_keys_->Add(w->rep);
      const uint32_t count = WriteBatchRep::Count(w->rep);
      if (count > 0) acked = std::max<SequenceNumber>(acked, w->first_seq + count - 1);
    }
    (w->early_ack ? early : late).Append(w);
    w = next;
  }
  // After the keys are marked: a reader that loads this value sees them pending.
  if (acked > acked_seq_.load(std::memory_order_relaxed)) {
    acked_seq_.store(acked, std::memory_order_release);
  }
  stats_.writes += g->requests;
  stats_.wal_bytes += g->len;
  if (g->sync) stats_.wal_syncs++;
  wal_.Recycle(g);
  CompleteRequests(early.head, Status::OK());  // the wake-ups go out here, in one batch
  for (const CopiedRep& e : copied_) {
    const std::string_view rep(copied_reps_.data() + e.offset, e.size);
    const uint32_t count = WriteBatchRep::Count(rep);
    Status a = WriteBatchRep::InsertInto(rep, e.first_seq, mem_.get());
    RINGDB_ASSERT_MSG(a.ok(), "a validated batch failed to apply");
    if (e.acked && count > 0) pending_keys_->Applied(rep, e.first_seq + count - 1);
    MarkApplied(e.first_seq, count);
  }
  CompleteRequests(late.head, Status::OK());
  if (switch_barrier_ != 0) commit_wakeup_.Set();
  return true;
}

}  // namespace ringdb::lsm
