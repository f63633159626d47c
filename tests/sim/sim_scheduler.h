// SimScheduler: runs every reactor of the simulated store on one thread (the
// simulator's), under a seeded schedule, in virtual time. It is the runtime's
// LoopDriver (which reactors run, in which order) and the client thread's
// ForeignBlocker (a blocking DB call parks the client and lets the reactors run until
// its condition holds), so the engine runs unchanged (runtime/loop_driver.h).
//
// Exactly one of the two threads runs at any time (a baton: mutex and condition
// variable), so a seed fixes the whole interleaving:
//   - the client thread runs the workload; when a call would block, WaitUntil hands
//     the baton to the simulator thread;
//   - the simulator thread repeats rounds: every attached reactor, in an order drawn
//     from the seed, runs one RunPass(), each pass charged a drawn CPU time on the
//     virtual clock; when a whole round found nothing to do, the clock jumps to the
//     next timer or disk completion. After each round it checks the client's
//     condition and hands the baton back once it holds.
// The virtual clock replaces util::NowNanos for the whole process while a scheduler
// exists (one at a time).
//
// A schedule that cannot make progress (nothing runnable, nothing due, the client
// still waiting) or a client wait longer than max_wait_ns of virtual time is a
// liveness failure: on_stuck is called with a description.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/loop_driver.h"
#include "runtime/reactor.h"
#include "testing/sim/sim_disk.h"
#include "testing/sim/sim_random.h"

namespace ringdb::sim {

class SimScheduler final : public rt::LoopDriver, public rt::ForeignBlocker {
 public:
  struct Options {
    uint64_t pass_cost_min_ns = 500;
    uint64_t pass_cost_max_ns = 20'000;
    uint64_t max_wait_ns = 60'000'000'000;  // a virtual minute
  };
  SimScheduler(uint64_t seed, SimDisk* disk, Options opt);
  ~SimScheduler() override;

  // Runs client() on a new thread (its blocker is this scheduler) while the calling
  // thread becomes the simulator thread; returns when client() returned.
  void Run(const std::function<void()>& client);

  // Called after every round, on the simulator thread (crash injection).
  std::function<void(uint64_t round)> on_round;
  // Called on a liveness failure; if it returns, the wait goes on (it changed something).
  std::function<void(const std::string& why)> on_stuck;

  void Attach(std::span<rt::Reactor* const> reactors) override;
  void Detach(std::span<rt::Reactor* const> reactors) override;
  void WaitUntil(const std::function<bool()>& ready) override;

  static uint64_t Now();
  uint64_t rounds() const { return rounds_; }
  uint64_t passes() const { return passes_; }

 private:
  struct Entry {
    rt::Reactor* reactor;
    bool stopped;
  };
  void SimLoop();
  bool Round();  // true if anything ran
  void AdvanceToNextEvent();

  Random rng_;
  SimDisk* disk_;
  Options opt_;
  std::vector<Entry> reactors_;
  uint64_t rounds_ = 0;
  uint64_t passes_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  enum class Turn { kClient, kSim } turn_ = Turn::kClient;
  const std::function<bool()>* waiting_ = nullptr;  // the client's condition
  bool client_done_ = false;
};

}  // namespace ringdb::sim
