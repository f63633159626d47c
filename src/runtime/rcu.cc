#include "runtime/rcu.h"

// liburcu's membarrier flavour, called through the library (no _LGPL_SOURCE: ringdb is
// Apache-2.0, so the read-side functions are not inlined; measured 11 ns per
// lock/unlock pair on the 2-core VM, next to a 1-3 us Get).
#include <pthread.h>
#include <urcu/urcu-memb.h>

#include <mutex>

#include "runtime/sanitizer.h"
#include "util/assert.h"

namespace ringdb::rt::rcu {
namespace {

// ThreadSanitizer cannot see liburcu's grace periods (liburcu is not instrumented):
// every read-side section releases this token as it ends, and reclamation acquires it
// after the grace period, which is the order liburcu guarantees. No-ops without TSan.
char g_grace_token;
#ifdef RINGDB_TSAN
void TsanRelease(void* p) {
  __tsan_release(p);
}
void TsanAcquire(void* p) {
  __tsan_acquire(p);
}
#else
void TsanRelease(void*) {}
void TsanAcquire(void*) {}
#endif

// Registration lives as long as the thread: liburcu requires a registered reader to
// unregister before it exits (a dead reader would otherwise stall grace periods).
struct Registration {
  bool registered = false;
  int depth = 0;  // read-side nesting, for InReadSection and the debug checks
  ~Registration() {
    if (registered) urcu_memb_unregister_thread();
  }
};
thread_local Registration tl_reg;

struct Batch {
  rcu_head head;
  std::vector<std::pair<void (*)(void*), void*>> items;
};

struct Single {
  rcu_head head;
  void (*fn)(void*);
  void* arg;
};

// ringdb's own call_rcu thread. liburcu would otherwise create its default one from
// whichever thread first calls call_rcu, usually a shard thread, and the thread would
// inherit that thread's name ("ringdb-s1": profiles charged reclamation to a shard) and
// nice value (Options::shard_nice). This one is named kReclaimerThreadName and runs at
// the priority of the thread that opened the database, so freeing keeps pace with the
// application threads whose reads fill the cache.
std::once_flag g_reclaimer_once;
call_rcu_data* g_reclaimer = nullptr;

call_rcu_data* Reclaimer() {
  std::call_once(g_reclaimer_once, [] {
    g_reclaimer = urcu_memb_create_call_rcu_data(0, -1);
    RINGDB_ASSERT_MSG(g_reclaimer != nullptr, "liburcu could not start its call_rcu thread");
    pthread_setname_np(urcu_memb_get_call_rcu_thread(g_reclaimer), kReclaimerThreadName);
  });
  return g_reclaimer;
}

}  // namespace

void StartReclaimer() {
  Reclaimer();
}

void EnsureRegistered() {
  Registration& r = tl_reg;
  if (__builtin_expect(r.registered, 1)) return;
  urcu_memb_register_thread();
  // Every call_rcu of this thread goes to ringdb's reclaimer thread.
  urcu_memb_set_thread_call_rcu_data(Reclaimer());
  r.registered = true;
}

void detail::Lock() {
  tl_reg.depth++;
  urcu_memb_read_lock();
}

void detail::Unlock() {
  TsanRelease(&g_grace_token);  // everything this section read happens before reclamation
  urcu_memb_read_unlock();
  tl_reg.depth--;
}

bool InReadSection() {
  return tl_reg.depth > 0;
}

void Synchronize() {
  RINGDB_ASSERT_MSG(!InReadSection(), "rcu::Synchronize inside a read-side section");
  urcu_memb_synchronize_rcu();
  TsanAcquire(&g_grace_token);
}

void Retire(void (*fn)(void*), void* arg) {
  EnsureRegistered();  // liburcu: call_rcu from registered threads
  auto* s = new Single{{}, fn, arg};
  TsanRelease(s);  // the retirer's last writes happen before the callback
  urcu_memb_call_rcu(&s->head, [](rcu_head* h) {
    auto* single = caa_container_of(h, Single, head);
    TsanAcquire(single);
    TsanAcquire(&g_grace_token);
    single->fn(single->arg);
    delete single;
  });
}

void Barrier() {
  RINGDB_ASSERT_MSG(!InReadSection(), "rcu::Barrier inside a read-side section");
  urcu_memb_barrier();
}

void RetireList::Flush() {
  if (items_.empty()) return;
  EnsureRegistered();
  auto* b = new Batch;
  b->items.reserve(items_.size());
  for (const Item& i : items_) b->items.emplace_back(i.fn, i.arg);
  retired_ += items_.size();
  items_.clear();
  TsanRelease(b);  // the retirer's last writes happen before the callback
  urcu_memb_call_rcu(&b->head, [](rcu_head* h) {
    auto* batch = caa_container_of(h, Batch, head);
    TsanAcquire(batch);
    TsanAcquire(&g_grace_token);
    for (auto& [fn, arg] : batch->items) fn(arg);
    delete batch;
  });
}

}  // namespace ringdb::rt::rcu
