#include "runtime/sync.h"

#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/clock.h"

namespace ringdb::rt {
namespace detail {

void WaitList::PushBack(WaitNode* n) {
  n->list = this;
  n->next = nullptr;
  n->prev = tail_;
  if (tail_ != nullptr) {
    tail_->next = n;
  } else {
    head_ = n;
  }
  tail_ = n;
}

void WaitList::Remove(WaitNode* n) {
  RINGDB_ASSERT(n->list == this);
  if (n->prev != nullptr) {
    n->prev->next = n->next;
  } else {
    head_ = n->next;
  }
  if (n->next != nullptr) {
    n->next->prev = n->prev;
  } else {
    tail_ = n->prev;
  }
  n->prev = n->next = nullptr;
  n->list = nullptr;
}

WaitNode* WaitList::PopFront() {
  WaitNode* n = head_;
  if (n != nullptr) Remove(n);
  return n;
}

bool WaitOn(WaitList* list, int64_t timeout_ns) {
  RINGDB_ASSERT_MSG(InFiber(), "waiting outside a fiber would block the reactor");
  Reactor* r = CurrentReactor();
  WaitNode w;
  w.fiber = r->current_fiber();
  list->PushBack(&w);
  TimerNode timer;
  if (timeout_ns >= 0) {
    timer.deadline_ns = util::NowNanos() + static_cast<uint64_t>(timeout_ns);
    timer.arg = &w;
    timer.fire = [](TimerNode* t) {
      auto* wn = static_cast<WaitNode*>(t->arg);
      wn->list->Remove(wn);
      wn->timer = nullptr;
      wn->timed_out = true;
      wn->fiber->reactor()->MakeReady(wn->fiber);
    };
    w.timer = &timer;
    r->AddTimerNode(&timer);
  }
  r->Suspend();
  return !w.timed_out;
}

static void Wake(WaitNode* w) {
  Reactor* r = w->fiber->reactor();
  if (w->timer != nullptr) {
    r->RemoveTimerNode(w->timer);
    w->timer = nullptr;
  }
  r->MakeReady(w->fiber);
}

int WakeOne(WaitList* list) {
  WaitNode* w = list->PopFront();
  if (w == nullptr) return 0;
  Wake(w);
  return 1;
}

int WakeAll(WaitList* list) {
  int n = 0;
  while (WaitNode* w = list->PopFront()) {
    Wake(w);
    n++;
  }
  return n;
}

}  // namespace detail

Event::~Event() {
  RINGDB_ASSERT_MSG(waiters_.empty(), "Event destroyed with waiting fibers");
}

void Event::Set() {
  set_ = true;
  detail::WakeAll(&waiters_);
}

void Event::Wait() {
  if (!set_) detail::WaitOn(&waiters_, -1);
}

bool Event::WaitFor(uint64_t timeout_ns) {
  if (set_) return true;
  return detail::WaitOn(&waiters_, static_cast<int64_t>(timeout_ns));
}

Semaphore::~Semaphore() {
  RINGDB_ASSERT_MSG(waiters_.empty(), "Semaphore destroyed with waiting fibers");
}

void Semaphore::Acquire() {
  if (TryAcquire()) return;
  detail::WaitOn(&waiters_, -1);  // Release() handed us a permit directly
}

bool Semaphore::TryAcquire() {
  if (permits_ > 0 && waiters_.empty()) {
    permits_--;
    return true;
  }
  return false;
}

void Semaphore::Release(int64_t n) {
  while (n > 0 && detail::WakeOne(&waiters_) == 1) n--;
  permits_ += n;
}

WaitGroup::~WaitGroup() {
  RINGDB_ASSERT_MSG(waiters_.empty(), "WaitGroup destroyed with waiting fibers");
}

void WaitGroup::Done() {
  RINGDB_ASSERT_MSG(count_ > 0, "WaitGroup::Done without a matching Add");
  if (--count_ == 0) detail::WakeAll(&waiters_);
}

void WaitGroup::Wait() {
  if (count_ != 0) detail::WaitOn(&waiters_, -1);
}

}  // namespace ringdb::rt
