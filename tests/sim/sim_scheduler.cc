#include "sim_scheduler.h"

#include <algorithm>
#include <atomic>

#include "util/assert.h"
#include "util/clock.h"

namespace ringdb::sim {
namespace {

// Virtual time starts far from zero: code may subtract small intervals from "now".
constexpr uint64_t kEpochNs = 1'000'000'000'000ull;
std::atomic<uint64_t> g_now_ns{kEpochNs};
std::atomic<bool> g_active{false};

void Advance(uint64_t ns) {
  g_now_ns.fetch_add(ns, std::memory_order_relaxed);
}

}  // namespace

uint64_t SimScheduler::Now() {
  return g_now_ns.load(std::memory_order_relaxed);
}

SimScheduler::SimScheduler(uint64_t seed, SimDisk* disk, Options opt)
    : rng_(seed), disk_(disk), opt_(opt) {
  RINGDB_ASSERT_MSG(!g_active.exchange(true), "one SimScheduler at a time");
  g_now_ns.store(kEpochNs, std::memory_order_relaxed);
  util::SetClockOverride(&SimScheduler::Now);
}

SimScheduler::~SimScheduler() {
  util::SetClockOverride(nullptr);
  g_active.store(false);
}

void SimScheduler::Run(const std::function<void()>& client) {
  std::thread t([this, &client] {
    rt::SetForeignBlocker(this);
    client();
    rt::SetForeignBlocker(nullptr);
    std::lock_guard<std::mutex> l(mu_);
    client_done_ = true;
    turn_ = Turn::kSim;
    cv_.notify_all();
  });
  SimLoop();
  t.join();
}

void SimScheduler::Attach(std::span<rt::Reactor* const> reactors) {
  for (rt::Reactor* r : reactors) reactors_.push_back({r, false});
}

void SimScheduler::Detach(std::span<rt::Reactor* const> reactors) {
  auto all_stopped = [this, reactors] {
    for (const Entry& e : reactors_) {
      if (!e.stopped && std::find(reactors.begin(), reactors.end(), e.reactor) != reactors.end()) {
        return false;
      }
    }
    return true;
  };
  WaitUntil(all_stopped);
  std::erase_if(reactors_, [reactors](const Entry& e) {
    return std::find(reactors.begin(), reactors.end(), e.reactor) != reactors.end();
  });
}

// Client thread: park until ready() holds, the simulator thread running meanwhile.
void SimScheduler::WaitUntil(const std::function<bool()>& ready) {
  if (ready()) return;
  std::unique_lock<std::mutex> l(mu_);
  waiting_ = &ready;
  turn_ = Turn::kSim;
  cv_.notify_all();
  cv_.wait(l, [this] { return turn_ == Turn::kClient; });
  waiting_ = nullptr;
}

void SimScheduler::SimLoop() {
  std::unique_lock<std::mutex> l(mu_);
  uint64_t idle_rounds = 0;
  uint64_t wait_start_ns = 0;
  for (;;) {
    cv_.wait(l, [this] { return turn_ == Turn::kSim; });
    if (client_done_) return;
    if (wait_start_ns == 0) wait_start_ns = Now();
    if ((*waiting_)()) {
      idle_rounds = 0;
      wait_start_ns = 0;
      turn_ = Turn::kClient;
      cv_.notify_all();
      continue;
    }
    if (Now() - wait_start_ns > opt_.max_wait_ns) {
      on_stuck("the client waited more than " + std::to_string(opt_.max_wait_ns / 1'000'000'000) +
               " virtual seconds");
      wait_start_ns = Now();  // on_stuck returned: it changed something, wait again
    }
    if (Round()) {
      idle_rounds = 0;
      continue;
    }
    const uint64_t before = Now();
    AdvanceToNextEvent();
    if (Now() == before && ++idle_rounds > 1000) {
      on_stuck("no reactor can run, nothing is due, and the client still waits");
      idle_rounds = 0;
    }
  }
}

bool SimScheduler::Round() {
  rounds_++;
  // A seeded permutation of the reactors that still run.
  std::vector<size_t> order;
  for (size_t i = 0; i < reactors_.size(); i++) {
    if (!reactors_[i].stopped) order.push_back(i);
  }
  for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[rng_.Uniform(i)]);
  bool busy = false;
  for (size_t i : order) {
    Advance(rng_.Range(opt_.pass_cost_min_ns, opt_.pass_cost_max_ns));
    passes_++;
    const rt::Reactor::PassResult r = reactors_[i].reactor->RunPass();
    if (r == rt::Reactor::PassResult::kStopped) reactors_[i].stopped = true;
    busy |= r != rt::Reactor::PassResult::kIdle;
  }
  if (on_round) on_round(rounds_);
  return busy;
}

void SimScheduler::AdvanceToNextEvent() {
  uint64_t next = disk_->next_completion_ns();
  for (const Entry& e : reactors_) {
    if (!e.stopped) next = std::min(next, e.reactor->next_timer_ns());
  }
  if (next != UINT64_MAX && next > Now()) g_now_ns.store(next, std::memory_order_relaxed);
}

}  // namespace ringdb::sim
