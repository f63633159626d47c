// PendingKeys: which keys may have a posted write that readers cannot see yet, as a
// counting filter, so that a point read waits for its shard only when its own key may
// (docs/engine.md "Posted writes").
//
// A posted write is acknowledged when it is queued for the shard; a read that begins
// later must see it. Waiting for every posted write taken before the read works, but
// under a steady writer the queue is always a few hundred writes deep and every read
// would wait for all of them. Instead each key hashes to one of kSlots counters: the
// writer adds one per key before the write is acknowledged, the shard subtracts it once
// the write is published (its sequence number is covered by the published prefix). A
// read whose slot reads zero needs no wait; one whose slot is busy (its key, or another
// key that hashes there) waits as before.
//
// Memory order: Add's increment is sequenced before the acknowledgement, so a read that
// begins after the acknowledgement loads that increment or a later value of the slot.
// Every later value is written by a read-modify-write, and each release decrement heads
// a release sequence that those continue; so a read that loads zero with acquire has
// synchronized with the decrement of every earlier increment, which the shard made
// after publishing that write: the read sees it.
//
// Thread ownership: Add from any thread (writers, before acknowledging); MayHave from
// any thread; Applied and Publish from the shard thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "lsm/dbformat.h"

namespace ringdb::lsm {

class PendingKeys {
 public:
  // 256 KiB of counters per shard: with a few hundred writes in flight a random key's
  // slot is busy well under 1% of the time.
  static constexpr uint32_t kSlots = 1 << 16;

  PendingKeys();

  // Any thread, before the posted batch `rep` (a WriteBatchRep) is acknowledged.
  void Add(std::string_view rep);
  // Any thread: false when no acknowledged posted write of `key` can be unpublished.
  bool MayHave(std::string_view key) const {
    return slots_[SlotOf(key)].load(std::memory_order_acquire) != 0;
  }

  // Shard thread: the posted batch `rep`, whose last sequence number is `last`, is in
  // the memtable; its keys are released once `last` is published (Publish).
  void Applied(std::string_view rep, SequenceNumber last);
  // Shard thread, after every advance of the published prefix to `published`.
  void Publish(SequenceNumber published);

 private:
  static uint32_t SlotOf(std::string_view key);

  std::unique_ptr<std::atomic<uint32_t>[]> slots_;
  // Applied, not yet published: (last sequence number of its batch, slot). Usually
  // empty between calls; it keeps its capacity (no allocation per write).
  std::vector<std::pair<SequenceNumber, uint32_t>> unpublished_;
};

}  // namespace ringdb::lsm
