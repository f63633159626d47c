#include "runtime/timer_queue.h"

#include "util/assert.h"

namespace ringdb::rt {

void TimerQueue::Add(TimerNode* n) {
  RINGDB_ASSERT(!n->queued() && n->fire != nullptr);
  n->seq_ = next_seq_++;
  heap_.push_back(n);
  n->heap_index_ = heap_.size() - 1;
  SiftUp(heap_.size() - 1);
}

bool TimerQueue::Remove(TimerNode* n) {
  if (!n->queued()) return false;
  const size_t i = n->heap_index_;
  RINGDB_ASSERT(i < heap_.size() && heap_[i] == n);
  TimerNode* last = heap_.back();
  heap_.pop_back();
  n->heap_index_ = TimerNode::kNotQueued;
  if (last != n) {
    Place(i, last);
    SiftUp(i);
    SiftDown(last->heap_index_);
  }
  return true;
}

size_t TimerQueue::FireExpired(uint64_t now_ns) {
  size_t fired = 0;
  const size_t limit = heap_.size();
  while (fired < limit && !heap_.empty() && heap_.front()->deadline_ns <= now_ns) {
    TimerNode* n = heap_.front();
    Remove(n);
    fired++;
    n->fire(n);  // may Add/Remove other timers, or free n
  }
  return fired;
}

void TimerQueue::SiftUp(size_t i) {
  TimerNode* n = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Less(n, heap_[parent])) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, n);
}

void TimerQueue::SiftDown(size_t i) {
  TimerNode* n = heap_[i];
  const size_t size = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && Less(heap_[child + 1], heap_[child])) child++;
    if (!Less(heap_[child], n)) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, n);
}

}  // namespace ringdb::rt
