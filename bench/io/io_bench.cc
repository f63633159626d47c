// io_bench: 4 KiB O_DIRECT random reads through an IoBackend at a constant queue depth.
//
// Each completion immediately queues the next read from its done() callback, so the
// device always sees `qd` reads; each benchmark iteration is one reactor-loop pass:
// Submit() of what the last reap queued, then Poll() (reap + re-queue), spinning up to
// 20 us like the reactor before Wait() sleeps in the kernel (io_uring_enter; for libaio
// ppoll on the eventfd).
//
// File: $RINGDB_BENCH_FILE (used as is, any size >= 1 MiB), else
// /var/tmp/ringdb-io-bench.dat, created with 1 GiB of non-zero data on first use
// (written, not fallocated: reads of unwritten extents never reach the device).
//
// Counters: IOPS (completions per wall-clock second), lat_us (mean submit->reap),
// batch (requests per submit syscall), cpu_us_per_io (process CPU time per read).
//
// Poll() hands back at most BackendOptions::poll_batch completions, as in the reactor
// (RINGDB_BENCH_POLL_BATCH overrides it; the *_pollall variants reap everything).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "io/uring_backend.h"
#include "util/clock.h"

namespace ringdb::io {
namespace {

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kDefaultFileBytes = 1ull << 30;

struct BenchFile {
  std::string path;
  uint64_t bytes = 0;
  std::string error;
};

// Returns the file to read, creating the default one if needed.
const BenchFile& GetBenchFile() {
  static BenchFile f = [] {
    BenchFile bf;
    const char* env = std::getenv("RINGDB_BENCH_FILE");
    bf.path = env != nullptr && *env != '\0' ? env : "/var/tmp/ringdb-io-bench.dat";
    struct stat st;
    if (stat(bf.path.c_str(), &st) == 0 &&
        (env != nullptr || st.st_size >= (off_t)kDefaultFileBytes)) {
      bf.bytes = static_cast<uint64_t>(st.st_size) / kBlock * kBlock;
      if (bf.bytes < (1u << 20)) {
        bf.error = bf.path;
        bf.error += ": smaller than 1 MiB";
      }
      return bf;
    }
    if (env != nullptr) {
      bf.error = bf.path;
      bf.error.append(": ").append(std::strerror(errno));
      return bf;
    }
    std::fprintf(stderr, "io_bench: creating %s (1 GiB)...\n", bf.path.c_str());
    int fd = open(bf.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      bf.error = bf.path;
      bf.error.append(": ").append(std::strerror(errno));
      return bf;
    }
    std::vector<uint64_t> chunk((8u << 20) / sizeof(uint64_t));
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint64_t off = 0; off < kDefaultFileBytes; off += chunk.size() * 8) {
      for (auto& w : chunk) w = (x = x * 6364136223846793005ull + 1442695040888963407ull);
      if (pwrite(fd, chunk.data(), chunk.size() * 8, static_cast<off_t>(off)) < 0) {
        bf.error = bf.path;
        bf.error.append(": write: ").append(std::strerror(errno));
        break;
      }
    }
    fsync(fd);
    close(fd);
    bf.bytes = kDefaultFileBytes;
    return bf;
  }();
  return f;
}

struct Ctx {
  IoBackend* backend;
  uint64_t rng;
  uint64_t blocks;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t lat_ns_sum = 0;
  bool stop = false;
};

uint64_t NextOffset(Ctx* c) {
  // xorshift64*: cheap and uniform enough to spread reads over the file.
  c->rng ^= c->rng >> 12;
  c->rng ^= c->rng << 25;
  c->rng ^= c->rng >> 27;
  return ((c->rng * 2685821657736338717ull) % c->blocks) * kBlock;
}

// snprintf rather than std::string operator+: GCC 12 reports a false -Wrestrict on
// chained string concatenation at -O3.
void SkipWithErrorf(benchmark::State& state, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
void SkipWithErrorf(benchmark::State& state, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  state.SkipWithError(buf);
}

double ProcessCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void OnRead(IoRequest* r) {
  auto* c = static_cast<Ctx*>(r->user);
  c->completed++;
  c->lat_ns_sum += r->complete_ns - r->submit_ns;
  if (r->result != static_cast<int64_t>(kBlock)) c->failed++;
  if (c->stop) return;
  r->offset = NextOffset(c);
  c->backend->Prepare(r);
}

// The backend RandRead reads through, or null once the benchmark is skipped.
// poll_batch < 0: the backend's default (BackendOptions::poll_batch), unless
// RINGDB_BENCH_POLL_BATCH overrides it; 0: reap everything ready in one Poll().
std::unique_ptr<IoBackend> OpenBackend(benchmark::State& state, BackendKind kind, int qd,
                                       int poll_batch) {
  BackendOptions opt;
  opt.kind = kind;
  opt.queue_depth = static_cast<uint32_t>(qd);
  if (poll_batch >= 0) {
    opt.poll_batch = static_cast<uint32_t>(poll_batch);
  } else if (const char* pb = std::getenv("RINGDB_BENCH_POLL_BATCH"); pb != nullptr) {
    opt.poll_batch = static_cast<uint32_t>(std::strtoul(pb, nullptr, 10));
  }
  std::unique_ptr<IoBackend> backend;
  Status s = CreateBackend(opt, &backend);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return nullptr;
  }
  return backend;
}

// The timed loop. The reactor's idle policy: after reaping and resubmitting, poll for
// completions for up to a spin of 20 us before sleeping in the kernel
// (RINGDB_BENCH_SPIN_NS overrides it; 0: sleep at once, as fio does).
void RunReadPasses(benchmark::State& state, IoBackend* backend) {
  const char* spin_env = std::getenv("RINGDB_BENCH_SPIN_NS");
  const uint64_t kSpinNs = spin_env != nullptr ? std::strtoull(spin_env, nullptr, 10) : 20'000;
  // Every pass submits what the previous pass's completions queued (their done()
  // callbacks Prepare() the next reads), then waits for the next completions. (An
  // earlier version submitted only after a reap at the top of the pass, so reads
  // queued by a reap inside the spin sat unsubmitted until the next completion.)
  for (auto _ : state) {
    backend->Submit();
    if (backend->Poll() > 0) continue;
    const uint64_t spin_until = util::NowNanos() + kSpinNs;
    bool got = false;
    while (!got && util::NowNanos() < spin_until) got = backend->Poll() > 0;
    if (!got) {
      backend->Wait(-1);
      backend->Poll();
    }
  }
}

void RandRead(benchmark::State& state, BackendKind kind, int qd, bool fixed, int poll_batch) {
  const BenchFile& file = GetBenchFile();
  if (!file.error.empty()) {
    state.SkipWithError(file.error.c_str());
    return;
  }
  std::unique_ptr<IoBackend> backend = OpenBackend(state, kind, qd, poll_batch);
  if (backend == nullptr) return;
  int fd = open(file.path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    SkipWithErrorf(state, "%s: O_DIRECT open: %s", file.path.c_str(), std::strerror(errno));
    return;
  }
  AlignedBuffer bufs(kBlock * qd);
  if (fixed) {
    int idx =
        static_cast<UringBackend*>(backend.get())->RegisterBuffer(bufs.data(), bufs.capacity());
    if (idx < 0) {
      close(fd);
      SkipWithErrorf(state, "RegisterBuffer: %s", std::strerror(-idx));
      return;
    }
  }
  Ctx ctx{backend.get(), 0x2545f4914f6cdd1dull ^ static_cast<uint64_t>(qd), file.bytes / kBlock};
  std::vector<IoRequest> reqs(qd);
  for (int i = 0; i < qd; i++) {
    IoRequest& r = reqs[i];
    r.op = IoOp::kRead;
    r.io_class = IoClass::kUserRead;
    r.fd = fd;
    r.buf = bufs.data() + kBlock * i;
    r.len = kBlock;
    r.offset = NextOffset(&ctx);
    r.done = OnRead;
    r.user = &ctx;
    backend->Prepare(&r);
  }
  const BackendCounters before = backend->counters();
  const double cpu_before = ProcessCpuNanos();
  RunReadPasses(state, backend.get());
  const uint64_t completed = ctx.completed, lat = ctx.lat_ns_sum;
  const BackendCounters after = backend->counters();
  const double cpu_after = ProcessCpuNanos();
  ctx.stop = true;
  while (backend->in_flight() > 0) {
    if (backend->Poll() == 0) backend->Wait(-1);
  }
  close(fd);
  if (ctx.failed != 0) {
    SkipWithErrorf(state, "%llu reads failed or were short",
                   static_cast<unsigned long long>(ctx.failed));
    return;
  }
  const double calls = static_cast<double>(after.submit_calls - before.submit_calls);
  state.counters["IOPS"] =
      benchmark::Counter(static_cast<double>(completed), benchmark::Counter::kIsRate);
  state.counters["lat_us"] = completed ? lat / 1e3 / static_cast<double>(completed) : 0;
  state.counters["cpu_us_per_io"] =
      completed ? (cpu_after - cpu_before) / 1e3 / static_cast<double>(completed) : 0;
  state.counters["batch"] =
      calls > 0 ? (after.requests_submitted - before.requests_submitted) / calls : 0;
}

void RegisterAll() {
  for (int qd : {1, 32, 128}) {
    struct Variant {
      const char* name;
      BackendKind kind;
      bool fixed;
      int poll_batch;
    };
    // *_pollall: every ready completion in one Poll(), so the reads they queue go out
    // in one cohort (what the default poll_batch avoids; see BackendOptions).
    for (Variant v : {Variant{"uring", BackendKind::kUring, false, -1},
                      Variant{"uring_fixed", BackendKind::kUring, true, -1},
                      Variant{"uring_pollall", BackendKind::kUring, false, 0},
                      Variant{"aio", BackendKind::kAio, false, -1},
                      Variant{"aio_pollall", BackendKind::kAio, false, 0}}) {
      std::string name = std::string("randread4k/") + v.name + "/qd" + std::to_string(qd);
      benchmark::RegisterBenchmark(name.c_str(), RandRead, v.kind, qd, v.fixed, v.poll_batch)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace ringdb::io

int main(int argc, char** argv) {
  ringdb::io::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
