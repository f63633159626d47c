// PendingKeys: which keys may have a posted write that readers cannot see yet, as a
// counting filter, so that a point read waits for its shard only when its own key may
// (docs/engine.md "Posted writes").
//
// A posted write is acknowledged when it is queued for the shard; a read that begins
// later must see it. Waiting for every posted write taken before the read works, but
// under a steady writer the queue is always a few hundred writes deep and every read
// would wait for all of them. Instead each key hashes to two of kSlots counters (a
// counting Bloom filter with two probes): the writer adds one to both before the write
// is acknowledged, the shard subtracts them once the write is published (its sequence
// number is covered by the published prefix). A read that finds either of its slots
// at zero needs no wait; one whose slots are both busy (its key, or other keys that
// hash there) waits as before. With one probe, a random read waited whenever its slot
// was busy: with tens of writes pending, about one read in 5,000, each wait up to a
// scheduler slice on a busy machine (~1 ms); two probes make that about one in 10^7
// for the reads of keys nobody is writing.
//
// Memory order (per slot, so it holds for either of a key's two): Add's increment is
// sequenced before the acknowledgement, so a read that begins after the
// acknowledgement loads that increment or a later value of the slot.
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
  // 256 KiB of counters per shard: with a hundred writes in flight a random key's two
  // slots are both busy about once in 10^5 reads.
  static constexpr uint32_t kSlots = 1 << 16;

  PendingKeys();

  // Any thread, before the posted batch `rep` (a WriteBatchRep) is acknowledged.
  void Add(std::string_view rep);
  // Any thread: false when no acknowledged posted write of `key` can be unpublished.
  bool MayHave(std::string_view key) const {
    const Slots s = SlotsOf(key);
    return slots_[s.a].load(std::memory_order_acquire) != 0 &&
           slots_[s.b].load(std::memory_order_acquire) != 0;
  }

  // Shard thread: the posted batch `rep`, whose last sequence number is `last`, is in
  // the memtable; its keys are released once `last` is published (Publish).
  void Applied(std::string_view rep, SequenceNumber last);
  // Shard thread, after every advance of the published prefix to `published`.
  void Publish(SequenceNumber published);

 private:
  struct Slots {
    uint32_t a, b;  // may be equal: then that slot counts the key twice
  };
  static Slots SlotsOf(std::string_view key);

  std::unique_ptr<std::atomic<uint32_t>[]> slots_;
  // Applied, not yet published: (last sequence number of its batch, slot). Usually
  // empty between calls; it keeps its capacity (no allocation per write).
  std::vector<std::pair<SequenceNumber, uint32_t>> unpublished_;
};

}  // namespace ringdb::lsm
