// FaultController: the rules, the counters and the power-loss journal that any number
// of FaultBackends share (one per reactor, all shards of a store), and
// SimulatePowerLoss, which rolls the files back to what a machine could hold after
// losing power (docs/fault-injection.md "Power loss").
//
// What the journal records: writes not yet covered by a successful fsync/fdatasync of
// their file (with the pre-image of the bytes they overwrote), and creations, renames
// and unlinks not yet covered by an fsync of their directory.
//
// Not modelled (treated as immediately durable): O_TRUNC on open, truncation done
// outside the backend, I/O on fds the backend never sees. Writes that overlap a write
// still in flight are assumed to land in submission order (the kernel promises no
// order, so engine code must not depend on one anyway).
//
// Test-only (library ringdb_testing); never linked into libringdb.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringdb/status.h"
#include "testing/fault_rules.h"

namespace ringdb::io {

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

  struct Impl;  // testing/fault_internal.h

 private:
  friend class FaultBackend;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringdb::io
