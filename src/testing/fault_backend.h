// FaultBackend: an IoBackend for tests. It wraps a real backend (UringBackend or
// AioBackend) and
//   1. injects the errors a disk can produce, chosen by rules (testing/fault_rules.h):
//      -EIO, -ENOSPC or any errno, short reads/writes (a shorter I/O is really
//      performed and its length reported), fsync failures (the dirty data is then lost,
//      as on Linux), bit flips in the data a read returns, and completion delays;
//   2. tells its FaultController (testing/fault_controller.h) every write, sync and
//      directory operation, so that the controller can roll the disk back to a state a
//      machine could hold after losing power (SimulatePowerLoss).
//
// The rules and the power-loss journal live in the FaultController, which the backends
// of all shards may share (MakeFaultWrapper); see docs/fault-injection.md.
//
// Usage:
//   auto ctl = std::make_shared<FaultController>();
//   FaultBackend fb(std::move(real_backend), ctl);
//   ctl->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).File(".wal").Nth(3));
//   ... run I/O through fb ...
//   ctl->SimulatePowerLoss(PowerLossMode::kDropUnsynced, /*seed=*/1);
//
// Test-only: this folder (src/testing) builds the ringdb_testing library, which tests,
// benchmarks and the tools' tests link; libringdb carries no fault injection. The
// engine reaches a FaultBackend only through the generic rt::BackendWrapFn (the
// runtime's "wrap each shard's backend" hook). The namespace stays ringdb::io: it is an
// IoBackend like the others.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/io_backend.h"
#include "testing/fault_controller.h"
#include "testing/fault_rules.h"
#include "testing/prepared_queue.h"

namespace ringdb::io {

// The fault-injecting backend. Thread ownership: like every IoBackend, one reactor
// thread; Wake() from any thread.
class FaultBackend final : public IoBackend {
 public:
  // Owns `inner`. A null controller gets a private one.
  explicit FaultBackend(std::unique_ptr<IoBackend> inner,
                        std::shared_ptr<FaultController> controller = nullptr);
  // Borrows `inner`, which must outlive this backend.
  explicit FaultBackend(IoBackend* inner, std::shared_ptr<FaultController> controller = nullptr);
  ~FaultBackend() override;
  FaultBackend(const FaultBackend&) = delete;
  FaultBackend& operator=(const FaultBackend&) = delete;

  FaultController& controller() { return *ctl_; }
  const std::shared_ptr<FaultController>& shared_controller() const { return ctl_; }
  IoBackend* inner() const { return inner_; }

  BackendKind kind() const override { return inner_->kind(); }  // the inner backend's
  std::string_view name() const override { return name_; }      // "fault(<inner>)"
  void Prepare(IoRequest* req) override;
  int Submit() override;
  int Poll() override;
  void Wait(int64_t timeout_ns) override;
  void Wake() override { inner_->Wake(); }
  uint32_t in_flight() const override { return outstanding_; }
  // Requests as the caller sees them; submit_calls, max_batch, wakeups: the inner's.
  const BackendCounters& counters() const override;

  struct Shadow;

 private:
  struct ChainDecisions;

  static void OnInnerDone(IoRequest* ireq);
  void SubmitChain(IoRequest* head);
  // REQUIRES (these three): the controller's lock held.
  void DecideChain(IoRequest* head, std::vector<Shadow*>* forward);
  Shadow* ForwardShadow(IoRequest* r, const ChainDecisions& cd, size_t i);
  void CompleteRestLocally(IoRequest* r, const ChainDecisions& cd, Shadow* last_fwd);
  void PushReady(Shadow* sh);
  void Complete(Shadow* sh, int64_t result);
  void Deliver(Shadow* sh);
  void DrainReady();
  void DeliverDueDelayed();
  Shadow* NewShadow(IoRequest* outer);
  void FreeShadow(Shadow* sh);

  std::shared_ptr<FaultController> ctl_;
  std::vector<std::unique_ptr<Shadow>> shadows_;  // every shadow ever made; reused
  std::vector<Shadow*> free_shadows_;
  PreparedQueue queue_;           // Prepare()d, not yet Submit()ted
  Shadow* ready_head_ = nullptr;  // completed locally, done() not yet run
  Shadow* ready_tail_ = nullptr;
  std::vector<Shadow*> delayed_;  // completed, held back by a kDelay rule
  uint32_t outstanding_ = 0;
  uint64_t delivered_ = 0;
  mutable BackendCounters counters_;
  std::string name_;
  std::unique_ptr<IoBackend> inner_owned_;  // destroyed first: it may still hold shadows
  IoBackend* inner_ = nullptr;
};

// How a test hands the runtime one FaultBackend per reactor: the runtime creates each
// shard's real backend, then passes it through the wrapper and uses what comes back.
// Called on the shard's thread at reactor start-up.
using BackendWrapper =
    std::function<std::unique_ptr<IoBackend>(std::unique_ptr<IoBackend> inner, unsigned shard)>;

// A wrapper giving every shard a FaultBackend sharing `controller`.
BackendWrapper MakeFaultWrapper(std::shared_ptr<FaultController> controller);

}  // namespace ringdb::io
