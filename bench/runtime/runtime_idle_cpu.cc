// Starts a Runtime with N idle shards (default 2) for S seconds (default 3) and
// reports the CPU time the process used, as a percentage of one core. An idle
// runtime must stay well under 1%: reactors sleep in the kernel, they do not poll.
//
//   build-rt/bench/runtime/runtime_idle_cpu [shards] [seconds]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "runtime/runtime.h"
#include "util/log.h"

namespace {

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  ringdb::util::SetLogLevel(ringdb::util::LogLevel::kWarn);
  ringdb::rt::RuntimeOptions opt;
  opt.shards = argc > 1 ? static_cast<uint32_t>(atoi(argv[1])) : 2;
  const double seconds = argc > 2 ? atof(argv[2]) : 3.0;
  std::unique_ptr<ringdb::rt::Runtime> rt;
  ringdb::Status s = ringdb::rt::Runtime::Start(opt, &rt);
  if (!s.ok()) {
    fprintf(stderr, "runtime start failed: %s\n", s.ToString().c_str());
    return 1;
  }
  // One round trip per shard so every reactor has been active, then leave them idle.
  for (uint32_t i = 0; i < opt.shards; i++) rt->SubmitTo(i, [] {});
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  uint64_t sleeps = 0, loops = 0;
  rt->Stop();
  for (uint32_t i = 0; i < opt.shards; i++) {
    sleeps += rt->reactor(i)->stats().sleeps;
    loops += rt->reactor(i)->stats().loops;
  }
  printf(
      "idle runtime: %u shards, %.2f s wall, %.4f s cpu = %.3f%% of one core "
      "(reactor loops %llu, sleeps %llu)\n",
      opt.shards, wall, cpu, 100.0 * cpu / wall, static_cast<unsigned long long>(loops),
      static_cast<unsigned long long>(sleeps));
  return cpu / wall < 0.01 ? 0 : 2;
}
