// ringdb-sim: runs seeds of the deterministic simulator (docs/testing.md "Simulator").
//   ringdb-sim --seed S [--verbose]        one seed (replay)
//   ringdb-sim --seeds N [--from S]        N seeds from S (default 1)
//   --check-replay                         run each seed twice, compare the digests
//   --dir D                                where the stores live (default /dev/shm)
// Exit status 0: every seed passed. A failure prints its seed and replay command.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "sim_params.h"
#include "simulation.h"

int main(int argc, char** argv) {
  uint64_t from = 1, count = 1;
  bool verbose = false, check_replay = false;
  std::string dir = "/dev/shm";
  for (int i = 1; i < argc; i++) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) std::exit(2);
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--seed")) {
      from = std::strtoull(next(), nullptr, 10);
      count = 1;
    } else if (!std::strcmp(argv[i], "--seeds")) {
      count = std::strtoull(next(), nullptr, 10);
    } else if (!std::strcmp(argv[i], "--from")) {
      from = std::strtoull(next(), nullptr, 10);
    } else if (!std::strcmp(argv[i], "--dir")) {
      dir = next();
    } else if (!std::strcmp(argv[i], "--verbose")) {
      verbose = true;
    } else if (!std::strcmp(argv[i], "--reproduce-f4")) {
      ringdb::sim::g_reproduce_f4 = true;
    } else if (!std::strcmp(argv[i], "--reproduce-f6")) {
      ringdb::sim::g_reproduce_f6 = true;
    } else if (!std::strcmp(argv[i], "--check-replay")) {
      check_replay = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seed S | --seeds N [--from S]] [--check-replay] "
                   "[--dir D] [--verbose] [--reproduce-f4] [--reproduce-f6]\n",
                   argv[0]);
      return 2;
    }
  }
  ringdb::sim::SetReplayCommand(argv[0]);
  dir += "/ringdb-sim-" + std::to_string(getpid());
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t ops = 0, crashes = 0, faults = 0;
  for (uint64_t seed = from; seed < from + count; seed++) {
    ringdb::sim::SimResult r = ringdb::sim::RunSeed(seed, dir, verbose);
    if (check_replay) {
      ringdb::sim::SimResult again = ringdb::sim::RunSeed(seed, dir, false);
      if (again.digest != r.digest || again.rounds != r.rounds) {
        ringdb::sim::Fail(seed, "the seed did not replay: digest " + std::to_string(r.digest) +
                                    " then " + std::to_string(again.digest) + ", rounds " +
                                    std::to_string(r.rounds) + " then " +
                                    std::to_string(again.rounds));
      }
    }
    ops += r.ops;
    crashes += r.crashes;
    faults += r.faults;
    if (verbose || count <= 20) {
      std::printf(
          "seed %llu ok: %llu ops, %llu crashes, %llu reopens, %llu faults, %llu rounds, "
          "%llu virtual ms, digest %016llx; %s\n",
          (unsigned long long)seed, (unsigned long long)r.ops, (unsigned long long)r.crashes,
          (unsigned long long)r.reopens, (unsigned long long)r.faults, (unsigned long long)r.rounds,
          (unsigned long long)r.virtual_ms, (unsigned long long)r.digest, r.summary.c_str());
    } else if ((seed - from + 1) % 100 == 0) {
      std::printf("%llu seeds ok\n", (unsigned long long)(seed - from + 1));
    }
    std::fflush(stdout);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu seeds from %llu passed in %.1f s: %llu ops, %llu crashes, %llu faults\n",
              (unsigned long long)count, (unsigned long long)from, secs, (unsigned long long)ops,
              (unsigned long long)crashes, (unsigned long long)faults);
  std::filesystem::remove_all(dir);
  return 0;
}
