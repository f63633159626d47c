// TimerQueue: a binary min-heap of intrusive timer nodes ordered by deadline (ties in
// insertion order). Nodes know their heap slot, so cancelling is O(log n) and the
// fiber-facing timers (sleep_for, Event::WaitFor) live on the waiting fiber's stack
// and allocate nothing.
//
// Thread ownership: one per reactor; used only by its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringdb::rt {

struct TimerNode {
  static constexpr size_t kNotQueued = ~size_t{0};

  uint64_t deadline_ns = 0;  // monotonic (util::NowNanos)
  void (*fire)(TimerNode*) = nullptr;
  void* arg = nullptr;  // for fire()

  // ---- TimerQueue-private ----
  uint64_t seq_ = 0;
  size_t heap_index_ = kNotQueued;
  bool queued() const { return heap_index_ != kNotQueued; }
};

class TimerQueue {
 public:
  // REQUIRES: !n->queued(), n->fire set; n stays valid until it fires or is removed.
  void Add(TimerNode* n);
  // False if n was not queued (already fired or never added).
  bool Remove(TimerNode* n);
  // Fires every timer whose deadline is <= now_ns (at most the number queued on entry,
  // so a callback that re-arms an expired timer cannot livelock the reactor). A node
  // is unlinked before its fire() runs. Returns the number fired.
  size_t FireExpired(uint64_t now_ns);

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // REQUIRES: !empty()
  uint64_t next_deadline_ns() const { return heap_.front()->deadline_ns; }

 private:
  static bool Less(const TimerNode* a, const TimerNode* b) {
    return a->deadline_ns != b->deadline_ns ? a->deadline_ns < b->deadline_ns : a->seq_ < b->seq_;
  }
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  void Place(size_t i, TimerNode* n) {
    heap_[i] = n;
    n->heap_index_ = i;
  }

  std::vector<TimerNode*> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace ringdb::rt
