// The parameters a seed draws before a simulated run (shards, durability, sizes,
// fault rates), and their one-line summary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ringdb/options.h"
#include "testing/sim/sim_random.h"

namespace ringdb::sim {

// What a seed decides before the run starts.
struct Params {
  uint32_t shards = 1;
  Durability durability = Durability::kSync;
  bool post_writes = true;
  size_t memtable_bytes = 64 << 10;
  size_t wal_preallocate_bytes = 0;
  size_t block_cache_bytes = 256 << 10;
  size_t block_bytes = 4096;
  uint32_t poll_batch = 4;
  uint32_t keys = 200;
  uint32_t epochs = 4;
  uint32_t bursts = 40;  // per epoch
  uint32_t value_max = 300;
  bool faults = false;  // errors, bit flips and misdirected reads while running
  bool damage = false;  // bytes flipped at rest after some crashes
  double write_err_p = 0, sync_err_p = 0, read_err_p = 0, flip_p = 0, nospc_p = 0;
  double misdirect_p = 0;
  uint32_t periodic_sync_ms = 100;
};

Params Draw(Random& r);

// Finding F1 (docs/testing.md "Simulator", findings): a posted write takes its
// sequence number on the calling thread, a waited or async write on the shard, so a
// posted write issued after an async write of the same thread can be ordered before
// it. Until that is fixed the workload waits for its async writes before posting one
// (false); true reproduces the bug (ringdb-sim --reproduce-f1).
inline bool g_reproduce_f1 = false;
// Finding F2: in kPeriodic/kNone a synced group's linked fdatasync does not cover an
// earlier group whose write is still in flight; if that one is lost at a crash,
// recovery stops at the hole and the synced group after it is lost too. The workload
// waits for its async writes before a synced write (false); true reproduces it.
inline bool g_reproduce_f2 = false;
// Finding F3: a read error injected while Open runs can stay with the store until the
// next reopen. Open runs without injected errors (false); true reproduces it.
inline bool g_reproduce_f3 = false;
// Finding F4 (fixed): with the disk gone, a write stalled behind a full L0 never
// returned. The workload has no workaround left; the flag is accepted and does nothing.
inline bool g_reproduce_f4 = false;
std::string Summarize(const Params& p);
std::string KeyName(uint32_t k);

}  // namespace ringdb::sim
