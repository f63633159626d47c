// SimDisk and SimBackend: the simulator's disk (docs/testing.md "Simulator").
//
// SimBackend is an IoBackend that performs every request with an ordinary system
// call on files that live on tmpfs (memory), but at a simulated time: Submit()
// gives each request a latency drawn from the seed, Poll() performs and completes
// the requests whose time has come, earliest first (so independent requests complete
// out of submission order). A kLinkNext chain starts its next request only after the
// previous one completed in full; a failed or short link cancels the rest.
// Misdirected reads (the data of a neighbouring page) are injected here; errors,
// bit flips and the power-loss journal come from the FaultBackend stacked on top.
//
// SimDisk is shared by the backends of all shards: the seed's generator, the
// virtual clock and the crash switch. Freeze() is the instant of a crash: from then on
// nothing reaches the files, every request still pending or submitted later fails
// with -EIO, and the FaultController's journal decides what of the unsynced past
// survives (SimulatePowerLoss).
//
// Thread ownership: everything runs on the simulator's one thread (or on the client
// thread while the simulator is parked), never both at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "io/io_backend.h"
#include "testing/prepared_queue.h"
#include "testing/sim/sim_random.h"

namespace ringdb::sim {

class SimBackend;

struct SimDiskOptions {
  uint64_t latency_min_ns = 2'000;
  uint64_t latency_max_ns = 400'000;
  double slow_p = 0.02;  // a request takes up to 50x latency_max_ns
  double misdirected_read_p = 0;
};

class SimDisk {
 public:
  SimDisk(uint64_t seed, SimDiskOptions opt) : rng_(seed), opt_(opt) {}
  uint64_t DrawLatencyNs();
  bool DrawMisdirected() {
    return opt_.misdirected_read_p > 0 && rng_.Chance(opt_.misdirected_read_p);
  }
  Random& rng() { return rng_; }
  void set_misdirect(double p) { opt_.misdirected_read_p = p; }
  void Freeze() { frozen_ = true; }
  void Thaw() { frozen_ = false; }
  bool frozen() const { return frozen_; }
  // Virtual time of the earliest completion pending on any backend, UINT64_MAX if none.
  uint64_t next_completion_ns() const;
  uint64_t misdirected_reads = 0;
  uint64_t requests = 0;

 private:
  Random rng_;
  SimDiskOptions opt_;
  bool frozen_ = false;
  friend class SimBackend;
  std::vector<const SimBackend*> backends_;
};

class SimBackend final : public io::IoBackend {
 public:
  SimBackend(SimDisk* disk, uint32_t poll_batch);
  ~SimBackend() override;

  io::BackendKind kind() const override { return io::BackendKind::kAuto; }
  std::string_view name() const override { return "sim"; }
  void Prepare(io::IoRequest* req) override;
  int Submit() override;
  int Poll() override;
  // The simulator never sleeps a reactor: without a park function Wait returns at once.
  // A thread outside the reactors (a DB call reading blocks on the calling thread) must
  // not spin on Poll while virtual time stands still: `park` hands it to the scheduler
  // until ready() (a completion is due) holds.
  void Wait(int64_t) override;
  using Park = std::function<void(const std::function<bool()>& ready)>;
  void set_park(Park park) { park_ = std::move(park); }
  void Wake() override {}
  uint32_t in_flight() const override { return in_flight_; }
  const io::BackendCounters& counters() const override { return counters_; }
  // Virtual time of the earliest pending completion, UINT64_MAX if none.
  uint64_t next_completion_ns() const;

 private:
  struct Pending {
    uint64_t due_ns;
    uint64_t order;  // tie-break: submission order
    io::IoRequest* req;
  };
  void Schedule(io::IoRequest* req);
  int64_t Perform(io::IoRequest* req);
  void Complete(io::IoRequest* req, int64_t result);

  SimDisk* disk_;
  uint32_t poll_batch_;
  io::PreparedQueue queue_;       // Prepare()d, not yet Submit()ted
  std::vector<Pending> pending_;  // submitted heads of chains (and single requests)
  uint64_t next_order_ = 0;
  uint32_t in_flight_ = 0;
  io::BackendCounters counters_;
  Park park_;
};

}  // namespace ringdb::sim
