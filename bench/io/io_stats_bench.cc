// io_stats_bench: what the always-on I/O accounting costs per I/O.
//
//   BM_HistogramRecord          one HistogramData::Record (the building block)
//   BM_AccountingOnIoComplete   io::IoAccounting::OnIoComplete through the IoObserver
//                               pointer, as a backend calls it for every completion
//                               (class/op/bytes counters + latency and depth histograms);
//                               mixed:0 a stream of user reads, mixed:1 every class and
//                               op at random (the worst case for caches and branches)
//   BM_AccountingWithTrace      the same with the I/O trace on (a 64-byte record per I/O
//                               into the buffer, a background write per 4 KiB block run)
//   BM_ReactorReads/observer:N  4 KiB page-cache reads by 16 fibers through a real
//                               reactor (io_uring, else libaio), with the accounting
//                               installed (1, the default) or removed (0): the
//                               end-to-end difference per I/O, within noise
//
// Requests are prepared ahead of the timed loop, with varied latencies and depths so
// that buckets are not all the same.
#include <fcntl.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "io/io_backend.h"
#include "io/io_stats.h"
#include "io/io_trace.h"
#include "ringdb/stats.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "runtime/sync.h"

namespace ringdb::io {
namespace {

// Requests cycled through: few enough to stay in L1 (as the request a backend just
// completed is), so the loop measures the accounting rather than memory.
constexpr size_t kRequests = 64;

// mixed: every class and read/write/fdatasync at random; else a steady stream of
// user reads (what a read-heavy shard completes).
std::vector<IoRequest> MakeRequests(size_t n, bool mixed = true) {
  std::vector<IoRequest> v(n);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    IoRequest& r = v[i];
    r.io_class = mixed ? static_cast<IoClass>(x % static_cast<uint64_t>(IoClass::kCount))
                       : IoClass::kUserRead;
    r.op = !mixed              ? IoOp::kRead
           : (x >> 8) % 4 == 0 ? IoOp::kWrite
           : (x >> 8) % 4 == 1 ? IoOp::kFdatasync
                               : IoOp::kRead;
    r.fd = 3;
    r.offset = (x >> 16) % (1 << 20) * 4096;
    r.len = 4096;
    r.result = 4096;
    r.submit_ns = 1'000'000;
    r.complete_ns = r.submit_ns + 20'000 + (x >> 24) % 2'000'000;  // 20 us .. 2 ms
    r.depth_at_submit = 1 + static_cast<uint32_t>((x >> 40) % 64);
  }
  return v;
}

void BM_HistogramRecord(benchmark::State& state) {
  std::vector<IoRequest> reqs = MakeRequests(kRequests);
  HistogramData h;
  size_t i = 0;
  for (auto _ : state) {
    h.Record(reqs[i].complete_ns - reqs[i].submit_ns);
    i = (i + 1) % kRequests;
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_AccountingOnIoComplete(benchmark::State& state) {
  std::vector<IoRequest> reqs = MakeRequests(kRequests, state.range(0) != 0);
  IoAccounting acct;
  IoObserver* obs = &acct;  // the backend's view: one indirect call per completion
  benchmark::DoNotOptimize(obs);
  size_t i = 0;
  for (auto _ : state) {
    obs->OnIoComplete(reqs[i]);
    i = (i + 1) % kRequests;
  }
  benchmark::DoNotOptimize(acct.stats().classes[0].count);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccountingOnIoComplete)->ArgName("mixed")->Arg(0)->Arg(1);

// Completes the trace's writes when told to (the reactor's Poll, in real life).
class SinkBackend final : public IoBackend {
 public:
  BackendKind kind() const override { return BackendKind::kAuto; }
  std::string_view name() const override { return "sink"; }
  void Prepare(IoRequest* req) override { queue_.push_back(req); }
  int Submit() override { return 0; }
  int Poll() override {
    int n = 0;
    while (!queue_.empty()) {
      IoRequest* r = queue_.front();
      queue_.pop_front();
      r->result = static_cast<int64_t>(r->len);  // pretend the disk took it
      NotifyComplete(*r);
      r->done(r);
      n++;
    }
    return n;
  }
  void Wait(int64_t) override {}
  void Wake() override {}
  uint32_t in_flight() const override { return static_cast<uint32_t>(queue_.size()); }
  const BackendCounters& counters() const override { return counters_; }

 private:
  std::deque<IoRequest*> queue_;
  BackendCounters counters_;
};

void BM_AccountingWithTrace(benchmark::State& state) {
  std::vector<IoRequest> reqs = MakeRequests(kRequests);
  SinkBackend backend;
  IoAccounting acct;
  IoTraceRecorder trace(&backend, /*fd=*/-1, 1 << 20);
  acct.set_trace(&trace);
  backend.set_observer(&acct);
  IoObserver* obs = &acct;
  benchmark::DoNotOptimize(obs);
  size_t i = 0;
  for (auto _ : state) {
    obs->OnIoComplete(reqs[i]);
    i = (i + 1) % kRequests;
    if (i == 0) backend.Poll();  // a reactor pass reaps the background write
  }
  backend.Poll();
  state.counters["dropped"] = static_cast<double>(trace.counters().dropped);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccountingWithTrace);

void BM_ReactorReads(benchmark::State& state) {
  const bool observe = state.range(0) != 0;
  char path[] = "/tmp/ringdb-io-stats-bench-XXXXXX";
  const int fd = mkstemp(path);
  std::vector<char> data(1 << 20, 'r');
  if (fd < 0 || pwrite(fd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) {
    state.SkipWithError("cannot create the data file");
    return;
  }
  unlink(path);
  std::unique_ptr<rt::Reactor> r;
  rt::ReactorOptions opt;
  opt.spin_ns = 0;
  Status s = rt::Reactor::Create(opt, &r);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  IoObserver* acct = r->backend()->observer();
  if (!observe) r->backend()->set_observer(nullptr);
  constexpr int kFibers = 16;
  const int64_t per_fiber = 20000;
  for (auto _ : state) {
    state.PauseTiming();
    rt::Reactor* rp = r.get();
    rp->Spawn([&] {
      rt::WaitGroup wg;
      for (int f = 0; f < kFibers; f++) {
        wg.Add();
        rp->Spawn([&, f] {
          char buf[4096];
          for (int64_t i = 0; i < per_fiber; i++) {
            rt::ReadFull(fd, buf, sizeof(buf), ((f * per_fiber + i) % 256) * 4096,
                         IoClass::kUserRead);
          }
          wg.Done();
        });
      }
      wg.Wait();
      rt::CurrentReactor()->RequestStop();
    });
    state.ResumeTiming();
    rp->Run();
    state.PauseTiming();
    // A stopped reactor cannot run again: make a new one (outside the timing).
    r.reset();
    rt::Reactor::Create(opt, &r);
    acct = r->backend()->observer();
    if (!observe) r->backend()->set_observer(nullptr);
    state.ResumeTiming();
  }
  benchmark::DoNotOptimize(acct);
  close(fd);
  state.SetItemsProcessed(state.iterations() * kFibers * per_fiber);
  state.SetLabel(observe ? "accounting on" : "accounting off");
}
BENCHMARK(BM_ReactorReads)
    ->ArgName("observer")
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace ringdb::io

BENCHMARK_MAIN();
