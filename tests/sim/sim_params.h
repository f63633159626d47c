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
  bool block_align = false;  // Options::block_align
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

// Findings F1-F6 (docs/testing.md "Simulator", findings) are fixed in the engine; the
// workload no longer works around them. The F4 and F6 flags are accepted and do nothing.
inline bool g_reproduce_f4 = false;
inline bool g_reproduce_f6 = false;
std::string Summarize(const Params& p);
std::string KeyName(uint32_t k);

}  // namespace ringdb::sim
