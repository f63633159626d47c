// The simulated client: a seeded workload against the public API (writes single and
// batched, waited and async, reads, MultiGet, iterators, snapshots, flushes), crashes
// at any step (the disk freezes, then the power-loss journal rolls it back), reopens,
// and a Model checking every answer and every recovery. Runs on the client thread of
// a SimScheduler; the async callbacks run on the simulator thread, never at the same
// time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ringdb/db.h"
#include "sim_model.h"
#include "sim_params.h"
#include "sim_scheduler.h"
#include "simulation.h"
#include "testing/fault_controller.h"
#include "testing/sim/sim_disk.h"

namespace ringdb::sim {

class Client {
 public:
  Client(uint64_t seed, const Params& p, std::string dir, SimDisk* disk,
         std::shared_ptr<io::FaultController> ctl, SimScheduler* sched, bool verbose);
  void Main();
  const SimResult& result() const { return res_; }
  // On the simulator thread after each round: the planned crash instant.
  void OnRound(uint64_t round);

 private:
  // ---- store lifecycle (sim_client.cc) ----
  bool OpenAndVerify(bool across_crash, uint64_t durable_before_ns);
  Status OpenOnce();
  void CrashAndRecover();
  void CloseCleanly();
  void DamageAtRest();
  // Injects the seed's faults from now on (`on`), or none.
  void SetFaults(bool on);
  // ---- workload (sim_workload.cc) ----
  void Epoch();
  void Burst();
  void IssueWrite();
  void IssueBatch(bool wait);
  void WaitPending();
  void Reads();
  void CheckGet(uint32_t k, const Status& s, const std::string& v);
  void CheckMultiGet();
  void CheckScan(const Snapshot* snap, const std::vector<Value>* expected);
  void CheckSnapshot();
  // ---- verification ----
  // Reads every key (Get, then a scan) with faults off; false when damage at rest was
  // detected (the seed ends there).
  bool Verify(bool across_crash, uint64_t durable_before_ns);
  void CheckWriteStatus(const Status& s, const char* what);
  void CheckReadStatus(const Status& s, const char* what);
  std::string NewValue();
  void Mix(uint64_t x);
  void Log(const char* fmt, ...);
  [[noreturn]] void Fail(const std::string& what);

  uint64_t seed_;
  Params p_;
  std::string dir_;
  SimDisk* disk_;
  std::shared_ptr<io::FaultController> ctl_;
  SimScheduler* sched_;
  bool verbose_;
  Random rng_;
  Model model_;
  std::unique_ptr<DB> db_;
  Options opt_;
  SimResult res_;
  uint64_t freeze_round_ = 0;  // 0: no crash planned
  uint64_t freeze_ns_ = 0;     // when the disk froze
  uint64_t next_value_ = 0;
  bool degraded_ = false;  // a write failed this epoch: crash and reopen
  bool damaged_ = false;   // bytes were flipped at rest
  int damaged_wal_shard_ = -1;
  uint64_t injected_before_open_ = 0;  // the fault controller's count at the last Open  // the
                                       // shard whose WAL segment was damaged at rest, if any
  bool faults_on_ = false;
  bool done_ = false;  // the seed ended early (damage detected)
};

}  // namespace ringdb::sim
