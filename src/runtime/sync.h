// Fiber-level synchronization: Event, Semaphore, WaitGroup.
//
// Thread ownership: each object belongs to one reactor. Its methods are called only on
// that reactor's thread (from fibers, or from timer/completion callbacks for the
// non-blocking ones: Set, Reset, Release, Done). Waiting suspends the calling fiber,
// never the thread. To signal across shards, SubmitTo the owning shard and Set there.
//
// None of them takes a lock or an atomic: they are plain intrusive lists of waiting
// fibers, whose list nodes live on the waiters' stacks.
#pragma once

#include <cstdint>

#include "runtime/fiber.h"
#include "runtime/timer_queue.h"

namespace ringdb::rt {

namespace detail {

class WaitList;

struct WaitNode {
  Fiber* fiber = nullptr;
  WaitList* list = nullptr;
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
  TimerNode* timer = nullptr;  // set while a timed wait is pending
  bool timed_out = false;
};

// Intrusive FIFO of waiting fibers.
class WaitList {
 public:
  bool empty() const { return head_ == nullptr; }
  void PushBack(WaitNode* n);
  void Remove(WaitNode* n);
  WaitNode* PopFront();
  // Forgets every waiter without waking it (reactor shutdown only).
  void Clear() { head_ = tail_ = nullptr; }

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// Suspends the current fiber on `list` until woken by WakeOne/WakeAll or, when
// timeout_ns >= 0, until the timeout passes. True if woken, false on timeout.
bool WaitOn(WaitList* list, int64_t timeout_ns);
// Makes the first waiter (or all) ready; returns how many.
int WakeOne(WaitList* list);
int WakeAll(WaitList* list);

}  // namespace detail

// A manual-reset event: Set() wakes every waiter and stays set until Reset().
class Event {
 public:
  explicit Event(bool set = false) : set_(set) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  void Set();
  void Reset() { set_ = false; }
  bool IsSet() const { return set_; }
  // REQUIRES: called from a fiber.
  void Wait();
  // True if the event is (or becomes) set within timeout_ns, false on timeout.
  bool WaitFor(uint64_t timeout_ns);

 private:
  friend class Reactor;  // clears waiters of abandoned fibers at shutdown

  bool set_;
  detail::WaitList waiters_;
};

// Counting semaphore; Release() hands permits to waiters in FIFO order.
class Semaphore {
 public:
  explicit Semaphore(int64_t permits) : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  ~Semaphore();

  // REQUIRES: called from a fiber.
  void Acquire();
  bool TryAcquire();
  void Release(int64_t n = 1);
  int64_t available() const { return permits_; }

 private:
  int64_t permits_;
  detail::WaitList waiters_;
};

// Waits for a set of fibers (or any other work) to finish: Add before starting each,
// Done when it finishes, Wait until the count is back at zero.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;
  ~WaitGroup();

  void Add(int64_t n = 1) { count_ += n; }
  void Done();
  // REQUIRES: called from a fiber.
  void Wait();
  int64_t count() const { return count_; }

 private:
  int64_t count_ = 0;
  detail::WaitList waiters_;
};

}  // namespace ringdb::rt
