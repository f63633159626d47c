#include "lsm/sync_round.h"

#include "lsm/shard.h"
#include "runtime/reactor.h"
#include "util/clock.h"

namespace ringdb::lsm {

SyncRound::SyncRound(uint32_t shards, uint64_t hold_ns) : hold_ns_(hold_ns) {
  kicks_.reserve(shards);
  for (uint32_t i = 0; i < shards; i++) {
    kicks_.push_back(std::make_unique<Kick>());
    kicks_.back()->handler = &SyncRound::OnKick;
  }
}

void SyncRound::Release(bool timed_out) {
  // Complete: every synced writer inside the DB is queued, unless some were still in
  // flight, in which case the next round waits for them too. Timed out: a writer of the
  // last round did not come back in time, and the rounds are smaller from now on.
  target_.store(inside_.load(std::memory_order_acquire), std::memory_order_relaxed);
  // Read after the counters: every request they counted was stamped before this.
  released_ns_.store(util::NowNanos(), std::memory_order_release);
  releases_.fetch_add(1, std::memory_order_relaxed);
  if (timed_out) timeouts_.fetch_add(1, std::memory_order_relaxed);
}

SyncRound::Arrival SyncRound::Arrive(uint32_t shard) {
  inside_.fetch_add(1, std::memory_order_acq_rel);
  kicks_[shard]->queued.fetch_add(1, std::memory_order_acq_rel);
  const int64_t queued = queued_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (queued >= target_.load(std::memory_order_relaxed)) {
    Release(/*timed_out=*/false);
    return Arrival::kReleased;
  }
  return queued == 1 ? Arrival::kFirst : Arrival::kHeld;
}

rt::Message* SyncRound::TakeKick(uint32_t i) {
  Kick* k = kicks_[i].get();
  return k->in_flight.exchange(true, std::memory_order_acq_rel) ? nullptr : k;
}

bool SyncRound::MayIssue(uint32_t self, uint64_t oldest_ns, uint64_t now_ns) {
  if (hold_ns_ == 0 || oldest_ns <= released_ns_.load(std::memory_order_acquire)) return true;
  const bool complete =
      queued_.load(std::memory_order_acquire) >= target_.load(std::memory_order_relaxed);
  if (!complete && now_ns - oldest_ns < hold_ns_) return false;
  Release(/*timed_out=*/!complete);
  rt::Reactor* r = rt::CurrentReactor();
  for (uint32_t i = 0; i < kicks_.size(); i++) {
    if (i == self || !Holding(i)) continue;
    if (rt::Message* k = TakeKick(i)) r->SendToShard(i, k);
  }
  return true;
}

void SyncRound::OnKick(rt::Message* m, rt::Reactor*) {
  auto* k = static_cast<Kick*>(m);
  k->in_flight.store(false, std::memory_order_release);
  if (k->shard != nullptr) k->shard->KickCommit();
}

}  // namespace ringdb::lsm
