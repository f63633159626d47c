// Hooks for tests that need to reach below the public API: wrap each shard's I/O
// backend (fault injection, power-loss simulation) and abandon a DB the way a crash
// would. Not part of the public API.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "io/io_backend.h"
#include "ringdb/db.h"
#include "runtime/loop_driver.h"

namespace ringdb::testing {

struct OpenHooks {
  // Called once per shard with the backend the shard would use; returns the backend
  // the shard uses instead (e.g. an io::FaultBackend wrapping `inner`).
  std::function<std::unique_ptr<io::IoBackend>(std::unique_ptr<io::IoBackend> inner,
                                               unsigned shard)>
      wrap_backend;
  // Runs the shards' reactors instead of one thread per shard (a simulator;
  // runtime/loop_driver.h). Must outlive the DB.
  rt::LoopDriver* driver = nullptr;
  // DB::Checkpoint copies every table instead of hard-linking it (the fallback where a
  // link fails).
  bool checkpoint_copy_tables = false;
  // DB::Checkpoint calls this before it creates each file of the checkpoint (its path);
  // an error fails the checkpoint there, as a failed write would.
  std::function<Status(const std::string& path)> checkpoint_before_file;
};

Status OpenWithHooks(const Options& opt, const OpenHooks& hooks, std::unique_ptr<DB>* db);

// Stops every shard at once, without flushing, syncing or finishing queued work, closes
// its files and releases LOCK, as a process crash would (the process lives on). Calls
// still blocked in the DB return Aborted. After this, the backends are idle, so a
// FaultBackend's SimulatePowerLoss() may run.
void Crash(std::unique_ptr<DB> db);

}  // namespace ringdb::testing
