#include "runtime/rcu.h"

// liburcu's membarrier flavour, called through the library (no _LGPL_SOURCE: ringdb is
// Apache-2.0, so the read-side functions are not inlined; measured 11 ns per
// lock/unlock pair on the 2-core VM, next to a 1-3 us Get).
#include <urcu/urcu-memb.h>

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

}  // namespace

void EnsureRegistered() {
  Registration& r = tl_reg;
  if (__builtin_expect(r.registered, 1)) return;
  urcu_memb_register_thread();
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
