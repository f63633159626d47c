// LoopDriver and ForeignBlocker: the two seams through which something other than
// "one OS thread per shard, futexes for everyone else" can run a Runtime. The engine
// has no simulation branch; a simulator (src/testing/sim/) plugs in here.
//
//   - LoopDriver: who gives the reactors their CPU time. Without one (the default),
//     Runtime::Start creates one thread per shard and each runs Reactor::Run(). With
//     one, Runtime::Start creates every reactor on the calling thread, wires the rings,
//     and hands them to Attach(); the driver then calls Reactor::RunPass() on them, on
//     threads and in an order of its choosing, until each returns kStopped.
//     Runtime::Stop() requests the stop and calls Detach(), which returns once every
//     reactor of that runtime has stopped.
//   - ForeignBlocker: how a thread outside the runtime waits for a shard. Normally it
//     spins and then sleeps (futex, sched_yield, nanosleep). A thread that installed a
//     blocker hands every such wait to it instead: ForeignWaiter::Wait, a full foreign
//     ring in Runtime::PushForeign, lsm::Shard::WaitForPostedWrites.
//
// Thread ownership: a driver is called from the threads that start and stop runtimes;
// a blocker belongs to the thread that installed it.
#pragma once

#include <functional>
#include <span>

namespace ringdb::rt {

class Reactor;

class LoopDriver {
 public:
  virtual ~LoopDriver() = default;
  // Takes over reactors that are created and wired but have not run. The driver runs
  // RunPass() on each until it returns kStopped; it must not destroy them.
  virtual void Attach(std::span<Reactor* const> reactors) = 0;
  // Called after RequestStop() on every one of `reactors`: returns once all of them
  // returned kStopped, and forgets them.
  virtual void Detach(std::span<Reactor* const> reactors) = 0;
};

class ForeignBlocker {
 public:
  // Returns once ready() is true. ready() only reads (atomics, ring indices) and may be
  // called on another thread while this one is parked inside WaitUntil.
  virtual void WaitUntil(const std::function<bool()>& ready) = 0;

 protected:
  ~ForeignBlocker() = default;
};

// The calling thread's blocker (null: spin and sleep as usual). Installing one on a
// thread that is a shard is a bug.
void SetForeignBlocker(ForeignBlocker* b);
ForeignBlocker* CurrentForeignBlocker();

}  // namespace ringdb::rt
