// Micro-benchmarks of the runtime's hot paths:
//   fiber switch, SPSC ring push/pop (same core, cross core), and SubmitTo round
//   trips (foreign thread -> spinning shard, -> sleeping shard; fiber -> fiber).
//
//   build-rt/bench/runtime/runtime_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "runtime/reactor.h"
#include "runtime/runtime.h"
#include "runtime/spsc_ring.h"
#include "util/log.h"

namespace ringdb::rt {
namespace {

void PinSelf(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void Unpin() {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < CPU_SETSIZE; i++) CPU_SET(i, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// Two fibers yielding to each other: each iteration is one Yield by the measured fiber,
// i.e. two fiber switches (A -> B -> A), each through the reactor's scheduler.
void BM_FiberSwitch(benchmark::State& state) {
  std::unique_ptr<Reactor> r;
  Status s = Reactor::Create(ReactorOptions{}, &r);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  bool done = false;
  r->Spawn([&] {
    while (!done) Yield();
  });
  r->Spawn([&] {
    for (auto _ : state) Yield();
    done = true;
    CurrentReactor()->RequestStop();
  });
  r->Run();
  state.counters["ns_per_switch"] = benchmark::Counter(
      2.0 * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FiberSwitch);

// Spawn + run + destroy of an empty fiber (stack from the pool).
void BM_FiberSpawn(benchmark::State& state) {
  std::unique_ptr<Reactor> r;
  Status s = Reactor::Create(ReactorOptions{}, &r);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  r->Spawn([&] {
    Reactor* re = CurrentReactor();
    for (auto _ : state) {
      re->Spawn([] {});
      Yield();
    }
    re->RequestStop();
  });
  r->Run();
}
BENCHMARK(BM_FiberSpawn);

void BM_RingPushPopSameThread(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  SpscRing<uint64_t> ring(1024);
  uint64_t in[64], out[64];
  for (size_t i = 0; i < 64; i++) in[i] = i;
  for (auto _ : state) {
    if (batch == 1) {
      ring.TryPush(in[0]);
      ring.TryPop(out);
    } else {
      ring.TryPushN(in, batch);
      ring.PopN(out, batch);
    }
    benchmark::DoNotOptimize(out[0]);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_RingPushPopSameThread)->Arg(1)->Arg(32);

// Throughput: producer pinned to cpu 1, consumer (this thread) pinned to cpu 0.
void BM_RingThroughputCrossCore(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  SpscRing<uint64_t> ring(4096);
  std::atomic<bool> stop{false};
  PinSelf(0);
  std::thread producer([&] {
    PinSelf(1);
    uint64_t buf[64] = {};
    while (!stop.load(std::memory_order_relaxed)) ring.TryPushN(buf, batch);
  });
  uint64_t out[64];
  int64_t items = 0;
  for (auto _ : state) {
    size_t n;
    while ((n = ring.PopN(out, batch)) == 0) {
    }
    items += static_cast<int64_t>(n);
  }
  stop = true;
  producer.join();
  Unpin();
  state.SetItemsProcessed(items);
}
BENCHMARK(BM_RingThroughputCrossCore)->Arg(1)->Arg(32)->UseRealTime();

// Latency: ping over one ring, pong over another, threads on cpu 0 and cpu 1.
void BM_RingRoundTripCrossCore(benchmark::State& state) {
  SpscRing<uint64_t> ping(64), pong(64);
  std::atomic<bool> stop{false};
  PinSelf(0);
  std::thread echo([&] {
    PinSelf(1);
    uint64_t v;
    while (!stop.load(std::memory_order_relaxed)) {
      if (ping.TryPop(&v)) {
        while (!pong.TryPush(v)) {
        }
      }
    }
  });
  uint64_t v = 0;
  for (auto _ : state) {
    while (!ping.TryPush(v)) {
    }
    while (!pong.TryPop(&v)) {
    }
    v++;
  }
  stop = true;
  echo.join();
  Unpin();
}
BENCHMARK(BM_RingRoundTripCrossCore)->UseRealTime();

std::unique_ptr<Runtime> StartBenchRuntime(uint32_t shards, uint64_t spin_ns) {
  RuntimeOptions opt;
  opt.shards = shards;
  opt.spin_ns = spin_ns;
  opt.pin_threads = true;
  opt.cpus = {1, 0};  // shard 0 on cpu 1: the foreign caller (below) runs on cpu 0
  std::unique_ptr<Runtime> rt;
  Status s = Runtime::Start(opt, &rt);
  if (!s.ok()) return nullptr;
  return rt;
}

// Foreign thread (cpu 0) -> shard 0 (cpu 1) blocking SubmitTo round trip.
// Arg 0: the shard spins when idle (spin_ns = 1 s: it never sleeps between calls).
// Arg 1: spin_ns = 0 and the caller pauses 200 us (untimed) before each call, so every
//        call has to wake a shard that sleeps in the kernel (eventfd -> io_uring wait).
void BM_SubmitToForeign(benchmark::State& state) {
  const bool sleeping = state.range(0) == 1;
  auto rt = StartBenchRuntime(1, sleeping ? 0 : 1'000'000'000);
  if (!rt) {
    state.SkipWithError("runtime start failed");
    return;
  }
  PinSelf(0);
  int64_t sum = 0;
  const uint64_t sleeps0 = rt->SubmitTo(0, [] { return CurrentReactor()->stats().sleeps; });
  for (auto _ : state) {
    if (sleeping) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const auto t0 = std::chrono::steady_clock::now();
    sum += rt->SubmitTo(0, [] { return 1; });
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  benchmark::DoNotOptimize(sum);
  const uint64_t sleeps = rt->SubmitTo(0, [] { return CurrentReactor()->stats().sleeps; });
  rt->Stop();
  Unpin();
  state.SetLabel(sleeping ? "sleeping target" : "spinning target");
  state.counters["target_sleeps_per_call"] =
      static_cast<double>(sleeps - sleeps0) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SubmitToForeign)->Arg(0)->Arg(1)->UseManualTime();

// Fire-and-forget SubmitToAsync throughput (callback counts completions).
void BM_SubmitToAsyncForeign(benchmark::State& state) {
  auto rt = StartBenchRuntime(1, 50'000);
  if (!rt) {
    state.SkipWithError("runtime start failed");
    return;
  }
  PinSelf(0);
  std::atomic<int64_t> done{0};
  int64_t sent = 0;
  for (auto _ : state) {
    rt->SubmitToAsync(
        0, [] { return 1; }, [&done](int v) { done.fetch_add(v, std::memory_order_relaxed); });
    sent++;
  }
  while (done.load() < sent) std::this_thread::yield();
  rt->Stop();
  Unpin();
  state.SetItemsProcessed(sent);
}
BENCHMARK(BM_SubmitToAsyncForeign)->UseRealTime();

// Fiber on shard 0 -> shard 1 -> back. Arg 0: both shards spin when idle. Arg 1:
// spin_ns = 0 and the caller sleeps 200 us (untimed) before each call, so shard 1 is
// asleep when the request arrives and shard 0 sleeps while waiting for the reply.
void BM_SubmitToFiberToFiber(benchmark::State& state) {
  const bool sleeping = state.range(0) == 1;
  auto rt = StartBenchRuntime(2, sleeping ? 0 : 1'000'000'000);
  if (!rt) {
    state.SkipWithError("runtime start failed");
    return;
  }
  rt->SubmitTo(0, [&state, sleeping] {
    int64_t sum = 0;
    for (auto _ : state) {
      if (sleeping) SleepFor(200'000);
      const auto t0 = std::chrono::steady_clock::now();
      sum += rt::SubmitTo(1, [] { return 1; });
      state.SetIterationTime(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    benchmark::DoNotOptimize(sum);
  });
  rt->Stop();
  state.SetLabel(sleeping ? "sleeping target" : "spinning target");
}
BENCHMARK(BM_SubmitToFiberToFiber)->Arg(0)->Arg(1)->UseManualTime();

}  // namespace
}  // namespace ringdb::rt

int main(int argc, char** argv) {
  ringdb::util::SetLogLevel(ringdb::util::LogLevel::kWarn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
