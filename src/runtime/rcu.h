// rcu: read-copy-update, the reclamation scheme behind "one writer per shard, readers
// anywhere" (DESIGN.md rule 1). Built on liburcu's membarrier flavour (urcu-memb): a
// read-side section costs a thread-local store and compiler barriers, no atomic
// read-modify-write and no shared cache line; the cost sits with the writer, whose
// grace periods use sys_membarrier.
//
// The pattern (STYLE.md items 20 and 21):
//   reader (any thread)                    writer (the shard thread)
//   rcu::ReadLock l;                        next = new View(...);          // fill it
//   View* v = p.load(acquire);              old = p.exchange(next, acq_rel); // publish
//   ...use v, never after ~ReadLock...      retire.Add(&DeleteView, old);   // free later
// A retired object is freed only after every read-side section that could have seen it
// has ended. A reader that must keep an object past its section takes a reference
// (the objects that allow it are reference counted) before leaving the section.
//
// Rules:
//   - A fiber never suspends inside a read-side section: the section belongs to the
//     thread, and other fibers would then run inside it for as long as the first one
//     waits, stalling every grace period (Reactor::Suspend asserts this in debug).
//   - Application threads may block (e.g. wait for a disk read) inside a section;
//     that only delays reclamation.
//   - Synchronize() blocks: never call it on a shard thread or inside a section.
//
// Thread ownership: ReadLock and InReadSection are per thread; RetireList belongs to
// one thread (its owner adds and flushes); everything else is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ringdb::rt::rcu {

// The name of the thread that runs retired objects' callbacks: ringdb's reclaimer, one
// per process. It lets retirements gather and then waits for one grace period for all of
// them (rcu.cc says why not liburcu's call_rcu): up to 50 ms (or 2048 items) after the
// first one, or for items retired as deferrable (small ones: evicted cache blocks), up
// to 1 s or until 8 MiB of them wait.
inline constexpr char kReclaimerThreadName[] = "ringdb-rcu";

// Starts that thread now, from the calling thread, whose nice value it inherits
// (Runtime::Start calls it on the thread that opens the database, before any shard
// thread exists). Idempotent; Retire() starts it on first use otherwise.
void StartReclaimer();

// Registers the calling thread as an RCU reader. Idempotent and cheap after the first
// call (a thread_local flag); the thread is unregistered when it exits.
void EnsureRegistered();

namespace detail {
void Lock();
void Unlock();
}  // namespace detail

// A read-side section for the lifetime of the object. Sections nest.
class ReadLock {
 public:
  ReadLock() {
    EnsureRegistered();
    detail::Lock();
  }
  ~ReadLock() { detail::Unlock(); }
  ReadLock(const ReadLock&) = delete;
  ReadLock& operator=(const ReadLock&) = delete;
};

// True while the calling thread is inside a read-side section.
bool InReadSection();

// Blocks until every read-side section that was running when it was called has ended.
// REQUIRES: not inside a read-side section; not on a shard thread (it sleeps).
void Synchronize();

// Runs fn(arg) on the reclaimer thread (kReclaimerThreadName) after a grace period, up
// to about 50 ms later. One allocation and one locked hand-off per call: batch with
// RetireList where items are frequent.
void Retire(void (*fn)(void*), void* arg);

// How long a retired item may wait for its grace period.
//  - kPrompt: up to kPromptWaitMs (memtables, versions: whatever may hold much memory).
//  - kDeferrable: up to kDeferrableWaitMs, or until kDeferrableBytes of such items wait.
//    For items that are many, small, and whose bytes the caller knows (cache entries
//    evicted while cold reads run: each grace period then costs the reading threads,
//    which sit in read-side sections while they wait for the disk, a wake-up each).
enum class Wait { kPrompt, kDeferrable };
inline constexpr uint32_t kPromptWaitMs = 50;
inline constexpr uint32_t kDeferrableWaitMs = 1000;
inline constexpr size_t kDeferrableBytes = size_t{8} << 20;

// Waits until every callback handed to Retire() so far (by any thread) has run, without
// the reclaimer's usual wait (tests; Close).
// REQUIRES: as Synchronize(), and not inside a retired callback.
void Barrier();

// Objects retired in a batch: Add() is a vector push; Flush() hands the whole batch to
// the reclaimer at once. The owner flushes when it likes (the shard: every kFlushItems
// items and at the end of each write group, flush and compaction); the destructor
// flushes. A batch waits as its most urgent item asks (Wait).
class RetireList {
 public:
  static constexpr size_t kFlushItems = 64;
  RetireList() = default;
  ~RetireList() { Flush(); }
  RetireList(const RetireList&) = delete;
  RetireList& operator=(const RetireList&) = delete;

  void Add(void (*fn)(void*), void* arg) {
    prompt_ = true;
    Push(fn, arg);
  }
  // An item that may wait as Wait::kDeferrable allows; `bytes`: about what it frees.
  void AddDeferrable(void (*fn)(void*), void* arg, size_t bytes) {
    deferrable_bytes_ += bytes;
    Push(fn, arg);
  }
  // Deletes `p` (a T*) after a grace period.
  template <class T>
  void AddDelete(T* p) {
    Add(&DeleteAs<T>, p);
  }
  template <class T>
  void AddDeleteDeferrable(T* p, size_t bytes) {
    AddDeferrable(&DeleteAs<T>, p, bytes);
  }
  void Flush();
  size_t pending() const { return items_.size(); }
  uint64_t retired() const { return retired_; }

 private:
  using Item = std::pair<void (*)(void*), void*>;
  template <class T>
  static void DeleteAs(void* q) {
    delete static_cast<T*>(q);
  }
  void Push(void (*fn)(void*), void* arg) {
    items_.push_back({fn, arg});
    if (items_.size() >= kFlushItems) Flush();
  }
  std::vector<Item> items_;
  bool prompt_ = false;          // items_ holds a kPrompt item
  size_t deferrable_bytes_ = 0;  // what items_' kDeferrable items free
  uint64_t retired_ = 0;
};

}  // namespace ringdb::rt::rcu
