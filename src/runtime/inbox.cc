// Reactor: the inbox and the outbox. Draining the inbound rings (other shards', then
// the registered foreign threads', reclaiming a foreign ring once its thread is gone),
// SendToShard with its FIFO of fibers waiting for room, and the wake-up a producer
// gives a sleeping consumer (see reactor.h for the sleep/wake protocol).
#include "runtime/reactor.h"
#include "runtime/sanitizer.h"
#include "util/assert.h"

namespace ringdb::rt {

void Reactor::SendToShard(uint32_t to, Message* msg) {
  RINGDB_ASSERT(to < outbound_.size() && outbound_[to] != nullptr);
  MessageRing* ring = outbound_[to];
  Reactor* peer = peers_[to];
  // FIFO: a sender never overtakes fibers already waiting for this ring.
  if (send_waiters_[to].empty() && ring->TryPush(msg)) {
    peer->WakeIfSleeping();
    return;
  }
  RINGDB_ASSERT_MSG(current_ != nullptr, "SendToShard on a full ring outside a fiber");
  stats_.ring_full_waits++;
  do {
    // The peer is behind: make sure it is awake, then park until the loop sees room.
    // Our loop keeps draining the reverse rings meanwhile, so two shards sending to
    // each other never deadlock.
    peer->WakeIfSleeping();
    send_waiting_++;
    detail::WaitOn(&send_waiters_[to], -1);
    send_waiting_--;
  } while (!ring->TryPush(msg));
  peer->WakeIfSleeping();
}

// Lets as many queued senders go as their ring has free slots. They run in the same
// pass (this is called just before RunReady), so nobody is woken for a slot that
// another woken sender will take.
bool Reactor::ServiceSendWaiters() {
  if (send_waiting_ == 0) return false;
  bool woke = false;
  for (size_t to = 0; to < send_waiters_.size(); to++) {
    if (send_waiters_[to].empty()) continue;
    size_t free_slots = outbound_[to]->FreeSlots();
    while (free_slots > 0 && detail::WakeOne(&send_waiters_[to]) == 1) {
      free_slots--;
      woke = true;
    }
    if (!send_waiters_[to].empty()) peers_[to]->WakeIfSleeping();
  }
  return woke;
}

bool Reactor::SendWaitersCanGo() {
  if (send_waiting_ == 0) return false;
  for (size_t to = 0; to < send_waiters_.size(); to++) {
    if (!send_waiters_[to].empty() && outbound_[to]->FreeSlots() > 0) return true;
  }
  return false;
}

void Reactor::RegisterForeign(ForeignRing* r) {
  ForeignRing* head = foreign_head_.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!foreign_head_.compare_exchange_weak(head, r, std::memory_order_release,
                                                std::memory_order_relaxed));
}

void Reactor::WakeIfSleeping() {
  san::FullFence();
  if (sleeping_.load(std::memory_order_relaxed) &&
      sleeping_.exchange(false, std::memory_order_acq_rel)) {
    backend_->Wake();
  }
}

void Reactor::WakeIfSleepingLongerThan(int64_t max_wait_ns) {
  san::FullFence();
  if (sleeping_.load(std::memory_order_relaxed) &&
      sleep_bound_ns_.load(std::memory_order_relaxed) > max_wait_ns &&
      sleeping_.exchange(false, std::memory_order_acq_rel)) {
    backend_->Wake();
  }
}

void Reactor::UnlinkForeign(ForeignRing* prev, ForeignRing* node) {
  if (prev != nullptr) {
    prev->next = node->next;
    return;
  }
  ForeignRing* expected = node;
  if (foreign_head_.compare_exchange_strong(expected, node->next, std::memory_order_acq_rel)) {
    return;
  }
  // New rings were pushed in front of `node`; it is now interior and only we edit
  // interior links.
  ForeignRing* p = foreign_head_.load(std::memory_order_acquire);
  while (p->next != node) p = p->next;
  p->next = node->next;
}

bool Reactor::DrainInbound() {
  size_t handled = 0;
  Message** buf = drain_buf_.data();
  const size_t burst = drain_buf_.size();
  size_t waiting = 0;
  for (MessageRing* ring : inbound_) {
    const size_t k = ring->PopN(buf, burst, &waiting);
    if (k == 0) continue;
    ring_occupancy_.Record(waiting);
    for (size_t i = 0; i < k; i++) buf[i]->handler(buf[i], this);
    handled += k;
  }
  ForeignRing* prev = nullptr;
  uint64_t foreign = 0;
  bool foreign_handled = false;
  bool prompt_handled = false;
  for (ForeignRing* n = foreign_head_.load(std::memory_order_acquire); n != nullptr;) {
    ForeignRing* next = n->next;
    const size_t k = n->ring.PopN(buf, burst, &waiting);
    if (k > 0) ring_occupancy_.Record(waiting);
    foreign_handled |= k > 0;
    if (k > 0) {
      // Read after the pop: a count raised before a push we popped is visible.
      const uint64_t prompt = n->prompt_pushes.load(std::memory_order_relaxed);
      prompt_handled |= prompt != n->prompt_seen;
      n->prompt_seen = prompt;
    }
    for (size_t i = 0; i < k; i++) buf[i]->handler(buf[i], this);
    handled += k;
    // The producer thread exited (it dropped its reference) and everything it sent has
    // been handled: reclaim the ring.
    // Posted messages may still be queued in the engine (their bytes live in the ring's
    // post buffer), and counted ones point at the node: wait for those too.
    if (k == 0 && n->Orphaned() && n->ring.Empty() && n->PostsDrained()) {
      UnlinkForeign(prev, n);
      ForeignRing::Release(n);
    } else {
      prev = n;
      foreign++;
    }
    n = next;
  }
  stats_.foreign_rings = foreign;
  stats_.messages += handled;
  if (foreign_handled)
    (prompt_handled ? last_foreign_ns_ : last_deferred_ns_) = now_ns_ != 0 ? now_ns_ : 1;
  return handled > 0;
}

bool Reactor::InboundEmpty() {
  for (MessageRing* ring : inbound_) {
    if (!ring->Empty()) return false;
  }
  for (ForeignRing* n = foreign_head_.load(std::memory_order_acquire); n != nullptr; n = n->next) {
    if (!n->ring.Empty()) return false;
  }
  return true;
}

}  // namespace ringdb::rt
