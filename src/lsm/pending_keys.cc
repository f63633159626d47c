#include "lsm/pending_keys.h"

#include "lsm/write_batch_rep.h"
#include "util/assert.h"
#include "util/hash.h"

namespace ringdb::lsm {
namespace {

// Calls fn(key) for every key of a validated rep.
template <typename Fn>
class KeyVisitor final : public WriteBatchRep::Handler {
 public:
  explicit KeyVisitor(Fn fn) : fn_(std::move(fn)) {}
  void Put(std::string_view key, std::string_view) override { fn_(key); }
  void PutExpiring(std::string_view key, std::string_view) override { fn_(key); }
  void Delete(std::string_view key) override { fn_(key); }

 private:
  Fn fn_;
};

template <typename Fn>
void ForEachKey(std::string_view rep, Fn fn) {
  KeyVisitor<Fn> v(std::move(fn));
  Status s = WriteBatchRep::Iterate(rep, &v);
  RINGDB_ASSERT_MSG(s.ok(), "a posted batch failed to parse");
}

// A seed of its own: the shard is chosen from the same key's Hash64 with seed 0.
constexpr uint64_t kSlotSeed = 0x9e3779b97f4a7c15ull;

}  // namespace

PendingKeys::PendingKeys() : slots_(new std::atomic<uint32_t>[kSlots]) {
  for (uint32_t i = 0; i < kSlots; i++) slots_[i].store(0, std::memory_order_relaxed);
}

PendingKeys::Slots PendingKeys::SlotsOf(std::string_view key) {
  const uint64_t h = util::Hash64(key, kSlotSeed);
  return {static_cast<uint32_t>(h) & (kSlots - 1), static_cast<uint32_t>(h >> 32) & (kSlots - 1)};
}

void PendingKeys::Add(std::string_view rep) {
  ForEachKey(rep, [this](std::string_view key) {
    const Slots s = SlotsOf(key);
    slots_[s.a].fetch_add(1, std::memory_order_relaxed);
    slots_[s.b].fetch_add(1, std::memory_order_relaxed);
  });
}

void PendingKeys::Applied(std::string_view rep, SequenceNumber last) {
  ForEachKey(rep, [this, last](std::string_view key) {
    const Slots s = SlotsOf(key);
    unpublished_.emplace_back(last, s.a);
    unpublished_.emplace_back(last, s.b);
  });
}

void PendingKeys::Publish(SequenceNumber published) {
  size_t kept = 0;
  for (const auto& [last, slot] : unpublished_) {
    if (last <= published) {
      const uint32_t before = slots_[slot].fetch_sub(1, std::memory_order_release);
      RINGDB_ASSERT_MSG(before > 0, "a pending key was released twice");
    } else {
      unpublished_[kept++] = {last, slot};
    }
  }
  unpublished_.resize(kept);
}

}  // namespace ringdb::lsm
