// Fiber: a cooperatively scheduled thread of control with its own stack, run by one
// Reactor. Built on boost.context's fcontext primitives (make_fcontext/jump_fcontext)
// with stacks from the reactor's StackPool.
//
// Layout: the Fiber control block and (when it fits) the fiber's callable are placed
// at the top of the fiber's own stack, so spawning allocates nothing once the pool is
// warm:
//   [guard page][ ... stack grows down ... | callable | Fiber ]
//
// Thread ownership: a Fiber belongs to the reactor that spawned it and is touched only
// by that reactor's thread. It is destroyed (its stack returned to the pool) by the
// reactor right after its function returns, so a Fiber* must not be kept by anyone
// who cannot prove the fiber is still alive (e.g. the waiter of an event it waits on).
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "runtime/stack_pool.h"

namespace ringdb::rt {

class Reactor;

namespace detail {

struct FiberFnBase {
  virtual void Run() = 0;
  virtual ~FiberFnBase() = default;
};

template <class F>
struct FiberFn final : FiberFnBase {
  explicit FiberFn(F&& f) : fn(std::move(f)) {}
  explicit FiberFn(const F& f) : fn(f) {}
  void Run() override { fn(); }
  F fn;
};

}  // namespace detail

class Fiber {
 public:
  enum class State : uint8_t {
    kReady,      // in the reactor's ready queue
    kRunning,    // the reactor's current fiber
    kSuspended,  // parked; exactly one waker (I/O completion, timer, event, reply)
                 // will make it ready
    kDone,       // function returned; about to be destroyed
  };

  uint64_t id() const { return id_; }
  const char* name() const { return name_; }
  State state() const { return state_; }
  Reactor* reactor() const { return reactor_; }

 private:
  friend class Reactor;

  boost::context::detail::fcontext_t ctx_ = nullptr;
  Stack stack_;
  detail::FiberFnBase* fn_ = nullptr;
  bool fn_on_heap_ = false;
  State state_ = State::kReady;
  Reactor* reactor_ = nullptr;
  const char* name_ = "fiber";
  uint64_t id_ = 0;
  Fiber* next_ready_ = nullptr;  // ready queue link
  Fiber* all_prev_ = nullptr;    // reactor's list of live fibers
  Fiber* all_next_ = nullptr;
  void* asan_fake_stack_ = nullptr;  // ASan bookkeeping while switched out
  void* tsan_fiber_ = nullptr;       // TSan fiber context
};

}  // namespace ringdb::rt
