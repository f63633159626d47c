#include "simulation.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sim_client.h"
#include "sim_params.h"
#include "sim_scheduler.h"
#include "testing/fault_controller.h"
#include "testing/sim/sim_disk.h"

namespace ringdb::sim {
namespace {

std::string g_replay = "ringdb-sim";

}  // namespace

void SetReplayCommand(const std::string& argv0) {
  g_replay = argv0;
}

void Fail(uint64_t seed, const std::string& what) {
  std::fprintf(stderr,
               "\nSIMULATOR FAILURE (seed %llu)\n  %s\n  replay: %s --seed %llu --verbose\n",
               static_cast<unsigned long long>(seed), what.c_str(), g_replay.c_str(),
               static_cast<unsigned long long>(seed));
  std::fflush(stderr);
  std::_Exit(1);
}

SimResult RunSeed(uint64_t seed, const std::string& dir_root, bool verbose) {
  Random r(seed);
  const Params p = Draw(r);
  const std::string dir = dir_root + "/seed-" + std::to_string(seed);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  SimDiskOptions dopt;
  dopt.latency_max_ns = r.Range(20'000, 2'000'000);
  SimDisk disk(r.Next(), dopt);
  auto ctl = std::make_shared<io::FaultController>();
  SimScheduler sched(r.Next(), &disk, SimScheduler::Options());
  Client client(seed, p, dir + "/db", &disk, ctl, &sched, verbose);
  sched.on_round = [&client](uint64_t round) { client.OnRound(round); };
  sched.on_stuck = [seed, &p](const std::string& why) {
    Fail(seed, "stuck: " + why + "\n  params: " + Summarize(p));
  };
  sched.Run([&client] { client.Main(); });
  SimResult res = client.result();
  res.rounds = sched.rounds();
  res.virtual_ms = (SimScheduler::Now() - 1'000'000'000'000ull) / 1'000'000;
  res.summary = Summarize(p);
  ctl.reset();
  std::filesystem::remove_all(dir);
  return res;
}

}  // namespace ringdb::sim
