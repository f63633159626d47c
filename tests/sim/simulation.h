// One simulated run of ringdb, driven by a seed (docs/testing.md "Simulator"): the
// store's shards run on one thread under SimScheduler, its disk is SimDisk under a
// FaultBackend (faults and the power-loss journal), and a client thread runs a seeded
// workload against the public API, crashing and reopening the store, while a Model
// checks every answer and every recovery.
#pragma once

#include <cstdint>
#include <string>

namespace ringdb::sim {

struct SimResult {
  uint64_t digest = 0;  // hash of everything the client saw: same seed, same digest
  uint64_t ops = 0;
  uint64_t crashes = 0;
  uint64_t reopens = 0;
  uint64_t rounds = 0;
  uint64_t faults = 0;
  uint64_t virtual_ms = 0;
  std::string summary;  // the seed's parameters, one line
};

// Runs one seed in `dir_root` (a tmpfs directory). A failed check prints the seed,
// what failed and the command that replays it, then exits the process with status 1.
SimResult RunSeed(uint64_t seed, const std::string& dir_root, bool verbose);

// The command that replays `seed` (set by main from argv[0]).
void SetReplayCommand(const std::string& argv0);
[[noreturn]] void Fail(uint64_t seed, const std::string& what);

}  // namespace ringdb::sim
