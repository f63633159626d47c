// The simulator's model of what the store must hold: every write the client issued,
// in issue order per key, with what the engine answered. After a recovery (or for a
// read while nothing is in flight) it says which values a key may show:
//   - never a value nobody wrote;
//   - never one older than the newest write whose acknowledgement promised it (a
//     durable acknowledgement across a crash, any acknowledgement otherwise);
//   - writes that failed or were in flight at the crash may or may not show.
// Batches are checked per shard part: all of its keys, or none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ringdb::sim {

using Value = std::optional<std::string>;  // nullopt: absent (deleted)

struct ModelWrite {
  enum class State : uint8_t { kPending, kOk, kFailed };
  uint32_t key = 0;
  Value value;
  uint32_t shard = 0;
  int64_t batch = -1;  // index of its batch part, -1 for a single write
  State state = State::kPending;
  bool durable = false;  // its acknowledgement promised durability
  uint64_t ack_ns = 0;
  const char* how = "";  // which API call issued it (failure reports)
};

class Model {
 public:
  explicit Model(uint32_t keys) : base_(keys), history_(keys) {}

  // Records a write about to be issued; returns its id.
  size_t Issue(uint32_t key, Value v, uint32_t shard, int64_t batch, const char* how);
  // The key's writes, one per line (failure reports).
  std::string History(uint32_t key) const;
  int64_t NewBatch() { return next_batch_++; }
  void Ack(size_t id, bool ok, bool durable, uint64_t now_ns);
  ModelWrite& write(size_t id) { return writes_[id]; }
  size_t pending() const { return pending_; }
  // Changes at every Rebase: answers that arrive later belong to a forgotten past.
  uint64_t generation() const { return generation_; }

  // The values key may show. `across_crash`: only durable acknowledgements count;
  // `periodic_durable_before_ns`: OK acknowledgements before this time count as durable
  // too (0: none). `tail_lost`: across a crash even durable acknowledgements may be
  // lost (the key's WAL was damaged at rest where no later record witnesses it as
  // synced, docs/wal.md: indistinguishable from a torn tail); any value written counts.
  std::vector<Value> Candidates(uint32_t key, bool across_crash,
                                uint64_t periodic_durable_before_ns = 0,
                                bool tail_lost = false) const;
  // Empty if `got` is allowed, else why not.
  std::string CheckKey(uint32_t key, const Value& got, bool across_crash,
                       uint64_t periodic_durable_before_ns = 0, bool tail_lost = false) const;
  // Empty if every batch part is all-or-nothing in `state` (key -> value).
  std::string CheckBatches(const std::vector<Value>& state) const;
  // The recovered state becomes the new starting point (the journal forgot the past).
  void Rebase(const std::vector<Value>& state);
  // The value the key must show when nothing failed and nothing is in flight, or
  // false when several are possible.
  bool Exact(uint32_t key, Value* out) const;
  uint32_t keys() const { return static_cast<uint32_t>(base_.size()); }

 private:
  std::vector<Value> base_;
  std::vector<std::vector<size_t>> history_;  // per key: write ids in issue order
  std::vector<ModelWrite> writes_;
  size_t pending_ = 0;
  int64_t next_batch_ = 0;
  uint64_t generation_ = 0;
};

std::string Describe(const Value& v);

}  // namespace ringdb::sim
