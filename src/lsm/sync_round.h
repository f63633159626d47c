// SyncRound: the synced group commits of all the shards of one DB, issued together in
// rounds (docs/engine.md "Synced rounds").
//
// With Durability::kSync a writer waits for its group's WAL write and cache flush, then
// returns to the application, which usually writes again. Issued as soon as anything is
// queued, a shard's groups stay small: the writers of the last group come back one by
// one, each starting a group of its own behind the one in flight, and every group costs
// the disk a write and a cache flush. So a shard holds its queued synced requests until
// the round is complete, that is, until as many are queued in all shards as there were
// synced writers in the DB when the last round was released, or until the oldest has
// waited hold_ns. Then every shard issues what it holds at once: one group per shard
// per round, and the writers of all groups return together.
//
// Counting: a request is counted when it arrives (by its sender before pushing it, or by
// the shard as it queues it), taken when its shard puts it into a group, and left when it
// is acknowledged. `queued` = arrived and not taken; `inside` = arrived and not left.
//
// Thread ownership: the counters are atomics shared by the application and shard
// threads. Kick i's `shard` and handler belong to shard i's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/message.h"

namespace ringdb::lsm {

class Shard;

class SyncRound {
 public:
  // hold_ns: the longest a synced request waits for its round (0: rounds are off; every
  // shard issues its queue at once).
  SyncRound(uint32_t shards, uint64_t hold_ns);
  SyncRound(const SyncRound&) = delete;
  SyncRound& operator=(const SyncRound&) = delete;

  bool enabled() const { return hold_ns_ != 0; }

  // Shard i's thread: the shard that kick i wakes (nullptr: none, it is closing).
  void Attach(uint32_t i, Shard* shard) { kicks_[i]->shard = shard; }

  // A sender (any thread) of a request for shard `shard`, stamped with a clock read:
  // counts it before pushing it, and says how to push it and whom to wake.
  enum class Arrival {
    kHeld,      // push it without waking the shard: the round's first request woke it
    kFirst,     // push it waking its shard, which starts the hold (hold_ns at most)
    kReleased,  // it completed the round, released now: push it waking its shard, and
                // push TakeKick(i) to every other shard i with Holding(i)
  };
  Arrival Arrive(uint32_t shard);
  // Whether shard i has counted requests not yet taken (it may hold them).
  bool Holding(uint32_t i) const { return kicks_[i]->queued.load(std::memory_order_acquire) > 0; }
  // The message that wakes shard i's commit fiber; null while it is in flight (its
  // handler will still run, after every message pushed before it).
  rt::Message* TakeKick(uint32_t i);

  // The shard's side of the counting (see above); n may be 0.
  void Queued(uint32_t shard, int64_t n) {
    Add(shard, n);
    inside_.fetch_add(n, std::memory_order_acq_rel);
  }
  void Taken(uint32_t shard, int64_t n) { Add(shard, -n); }
  void Requeued(uint32_t shard, int64_t n) { Add(shard, n); }
  void Left(int64_t n) { inside_.fetch_sub(n, std::memory_order_acq_rel); }

  // Shard `self`'s commit fiber, whose oldest queued request arrived at oldest_ns: true
  // if it may issue its queue now. That is so if the request arrived before the last
  // release; otherwise this call releases the round if it is complete or the request has
  // waited hold_ns, kicking every other shard (SendToShard, so from a fiber).
  bool MayIssue(uint32_t self, uint64_t oldest_ns, uint64_t now_ns);
  // When a shard holding a request that arrived at oldest_ns must look again at the
  // latest.
  uint64_t Deadline(uint64_t oldest_ns) const { return oldest_ns + hold_ns_; }

  // Rounds released so far, and how many of them by a hold running out.
  uint64_t releases() const { return releases_.load(std::memory_order_relaxed); }
  uint64_t timeouts() const { return timeouts_.load(std::memory_order_relaxed); }

 private:
  // Per shard, on a cache line of its own: the kick and the shard's queued count.
  struct alignas(64) Kick : rt::Message {
    Shard* shard = nullptr;              // shard thread only
    std::atomic<bool> in_flight{false};  // pushed, its handler not yet run
    std::atomic<int64_t> queued{0};      // counted and not taken, this shard
  };
  static void OnKick(rt::Message* m, rt::Reactor* r);
  void Add(uint32_t shard, int64_t n) {
    kicks_[shard]->queued.fetch_add(n, std::memory_order_acq_rel);
    queued_.fetch_add(n, std::memory_order_acq_rel);
  }
  // Records a release: the next round waits for as many requests as are inside now.
  void Release(bool timed_out);

  const uint64_t hold_ns_;
  std::vector<std::unique_ptr<Kick>> kicks_;
  alignas(64) std::atomic<int64_t> queued_{0};
  std::atomic<int64_t> inside_{0};
  std::atomic<int64_t> target_{0};        // a round is complete with this many queued
  std::atomic<uint64_t> released_ns_{0};  // when the last round was released
  std::atomic<uint64_t> releases_{0};
  std::atomic<uint64_t> timeouts_{0};
};

}  // namespace ringdb::lsm
