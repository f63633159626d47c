// FaultBackend: an IoBackend for tests. It wraps a real backend (UringBackend or
// AioBackend) and
//   1. injects the errors a disk can produce, chosen by rules (FaultRule): -EIO,
//      -ENOSPC or any errno, short reads/writes (a shorter I/O is really performed and
//      its length reported), fsync failures (the dirty data is then lost, as on Linux),
//      bit flips in the data a read returns, and completion delays;
//   2. records what a power loss could undo -- writes not yet covered by a successful
//      fsync/fdatasync of their file (with the pre-image of the bytes they overwrote),
//      and creations, renames and unlinks not yet covered by an fsync of their
//      directory -- and can roll the disk back to a state a machine could hold after
//      losing power (SimulatePowerLoss).
//
// The rules and the power-loss journal live in a FaultController, which the backends of
// all shards may share (MakeFaultWrapper); see docs/fault-injection.md.
//
// Usage:
//   auto ctl = std::make_shared<FaultController>();
//   FaultBackend fb(std::move(real_backend), ctl);
//   ctl->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).File(".wal").Nth(3));
//   ... run I/O through fb ...
//   ctl->SimulatePowerLoss(PowerLossMode::kDropUnsynced, /*seed=*/1);
//
// Not modelled (treated as immediately durable): O_TRUNC on open, truncation done
// outside the backend, I/O on fds the backend never sees. Writes that overlap a write
// still in flight are assumed to land in submission order (the kernel promises no
// order, so engine code must not depend on one anyway).
#pragma once

#include <cerrno>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "io/io_backend.h"

namespace ringdb::io {

// A set of IoOp values.
using IoOpMask = uint32_t;
constexpr IoOpMask OpBit(IoOp op) {
  return IoOpMask{1} << static_cast<unsigned>(op);
}
constexpr IoOpMask kAllOps = (IoOpMask{1} << (static_cast<unsigned>(IoOp::kUnlink) + 1)) - 1;
constexpr IoOpMask kReadOps = OpBit(IoOp::kRead) | OpBit(IoOp::kReadv);
constexpr IoOpMask kWriteOps = OpBit(IoOp::kWrite) | OpBit(IoOp::kWritev);
constexpr IoOpMask kSyncOps = OpBit(IoOp::kFsync) | OpBit(IoOp::kFdatasync);
constexpr IoOpMask kDirOps = OpBit(IoOp::kOpen) | OpBit(IoOp::kRename) | OpBit(IoOp::kUnlink);

enum class FaultAction : uint8_t {
  kError,          // complete with -error; the request never reaches the disk
  kShortTransfer,  // read/write: transfer only a prefix, report its length
  kBitFlip,        // read: flip one bit of the data returned (media corruption)
  kDelay,          // complete delay_ns after the disk did (a latency spike)
};

// One fault rule: what to inject, into which requests, and when.
//
// A rule numbers the requests it matches (op in `ops`, file path containing
// `path_substr`) 1, 2, 3, ... in submission order, and fires on the match numbers in
// [first, first + count), each with `probability` (drawn from a generator seeded with
// `seed`, so a seed replays the same choices for the same request sequence), at most
// `max_fires` times. A request an action cannot apply to (a bit flip on a write) does
// not match. When several rules fire on one request, the first one added wins.
struct FaultRule {
  static constexpr uint64_t kForever = std::numeric_limits<uint64_t>::max();

  FaultAction action = FaultAction::kError;
  int error = EIO;         // kError: a positive errno, reported as -error
  uint64_t short_len = 0;  // kShortTransfer: bytes to transfer (0: half); always < len
  uint64_t delay_ns = 0;   // kDelay
  IoOpMask ops = kAllOps;
  std::string path_substr;  // "" matches every request, including ones with no path
  uint64_t first = 1;
  uint64_t count = kForever;
  double probability = 1.0;
  uint64_t seed = 0;
  uint64_t max_fires = kForever;

  static FaultRule Error(int err);                     // all ops
  static FaultRule ShortTransfer(uint64_t bytes = 0);  // read and write ops
  static FaultRule BitFlip();                          // read ops
  static FaultRule Delay(uint64_t ns);                 // all ops

  FaultRule& On(IoOp op) {
    ops = OpBit(op);
    return *this;
  }
  FaultRule& On(IoOpMask mask) {
    ops = mask;
    return *this;
  }
  FaultRule& File(std::string substr) {
    path_substr = std::move(substr);
    return *this;
  }
  FaultRule& Nth(uint64_t n) {
    first = n;
    count = 1;
    return *this;
  }  // only the nth
  FaultRule& AfterN(uint64_t n) {
    first = n + 1;
    count = kForever;
    return *this;
  }
  FaultRule& WithProbability(double p, uint64_t s) {
    probability = p;
    seed = s;
    return *this;
  }
  FaultRule& Times(uint64_t n) {
    max_fires = n;
    return *this;
  }
};

// What has been injected so far (all backends sharing the controller).
struct FaultCounters {
  uint64_t requests_seen = 0;  // requests submitted through a FaultBackend
  uint64_t errors = 0;         // requests completed with an injected errno
  uint64_t short_transfers = 0;
  uint64_t bit_flips = 0;
  uint64_t delays = 0;
  uint64_t injected() const { return errors + short_transfers + bit_flips + delays; }
};

enum class PowerLossMode : uint8_t {
  kDropUnsynced,  // every unsynced write is lost
  kKeepPrefix,    // per file, a random-length prefix (submission order) survives
  kTearPages,     // per 4 KiB page of every unsynced write, new or old content survives
};

// What SimulatePowerLoss did.
struct PowerLossReport {
  uint64_t files = 0;            // files that had unsynced writes
  uint64_t writes_kept = 0;      // unsynced writes (or, kTearPages, pages) kept
  uint64_t writes_reverted = 0;  // ... and reverted
  uint64_t dir_ops_undone = 0;   // creations, renames and unlinks undone
};

struct FaultControllerOptions {
  // Record writes and directory operations for SimulatePowerLoss. Costs a pread of
  // each overwritten range; off, the controller only injects faults.
  bool power_loss = true;
  // Where unlinked files wait until their unlink is durable. Empty: beside the file,
  // as ".ringdb-fault-trash-*" (it must be on the same file system).
  std::string trash_dir;
};

// Rules, counters and the power-loss journal, shared by any number of FaultBackends.
// Thread-safe: every method may be called from any thread; backends of several
// reactors may share one controller (one mutex; this is a test tool).
class FaultController {
 public:
  using RuleId = uint64_t;

  explicit FaultController(FaultControllerOptions opt = {});
  // Forgets the journal (ResetPowerLossState): unlinked files are really deleted.
  ~FaultController();
  FaultController(const FaultController&) = delete;
  FaultController& operator=(const FaultController&) = delete;

  RuleId AddRule(FaultRule rule);
  bool RemoveRule(RuleId id);
  void ClearRules();
  uint64_t RuleFires(RuleId id) const;  // 0 for an unknown id
  FaultCounters counters() const;

  // Tells the controller the path of a file opened outside the backend (fds the
  // backend never saw opened are otherwise resolved through /proc/self/fd). A file is
  // considered durable as it is when first seen.
  void TrackFd(int fd, std::string path);
  void UntrackFd(int fd);

  // Rolls the files back to what could survive a power loss, then forgets the journal
  // and every fd (the process is considered restarted). Unsynced writes are treated
  // per `mode` (seeded by `seed`); writes whose fsync failed are always lost; then
  // unsynced directory operations are undone, newest first.
  // REQUIRES: no I/O in flight on any backend of this controller (the engine is closed
  // or abandoned).
  Status SimulatePowerLoss(PowerLossMode mode, uint64_t seed, PowerLossReport* report = nullptr);
  // Declares everything done so far durable: forgets unsynced writes and directory
  // operations and deletes the files kept for undoing unlinks.
  // REQUIRES: no I/O in flight.
  void ResetPowerLossState();

  uint64_t unsynced_writes() const;   // recorded writes not yet durable
  uint64_t unsynced_dir_ops() const;  // recorded directory operations not yet durable

  struct Impl;

 private:
  friend class FaultBackend;
  std::unique_ptr<Impl> impl_;
};

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
  static void OnInnerDone(IoRequest* ireq);
  void SubmitChain(IoRequest* head);
  void DecideChain(IoRequest* head, std::vector<Shadow*>* forward);  // REQUIRES: lock held
  void Complete(Shadow* sh, int64_t result);
  void Deliver(Shadow* sh);
  void DrainReady();
  void DeliverDueDelayed();
  Shadow* NewShadow(IoRequest* outer);
  void FreeShadow(Shadow* sh);

  std::shared_ptr<FaultController> ctl_;
  std::vector<std::unique_ptr<Shadow>> shadows_;  // every shadow ever made; reused
  std::vector<Shadow*> free_shadows_;
  IoRequest* queue_head_ = nullptr;  // Prepare()d, not yet Submit()ted
  IoRequest* queue_tail_ = nullptr;
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
