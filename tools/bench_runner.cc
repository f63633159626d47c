// Trial: runs the phases of one trial (one opened engine) with either load source --
// application threads (RunThreads) or fibers on the shards (RunReactor) -- while
// Monitor prints progress, then reports each phase (bench_report.h).
#include "bench_runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <thread>

#include "bench_clients.h"
#include "bench_report.h"
#include "ringdb/db.h"
#include "ringdb/shard_context.h"

namespace ringdb_bench {

namespace {

// Waits until done() while printing a progress line every --report_interval seconds
// and setting `stop` at the deadline.
void Monitor(PhaseShared* ps, const std::string& label, uint64_t start, bool bounded,
             const std::vector<const Recorder*>& fg, uint32_t shards,
             const std::function<bool()>& done) {
  const Config& cfg = *ps->cfg;
  const uint64_t deadline = bounded ? ~0ull : start + static_cast<uint64_t>(cfg.duration * 1e9);
  const uint64_t interval = static_cast<uint64_t>(cfg.report_interval * 1e9);
  uint64_t next_report = interval ? start + interval : ~0ull;
  uint64_t last_ops = 0, last_t = start;
  const bool tty = isatty(STDERR_FILENO);
  bool printed = false;
  while (!done()) {
    uint64_t now = NowNs();
    if (now >= deadline) ps->stop.store(true, std::memory_order_relaxed);
    if (now >= next_report) {
      Agg a = Aggregate(fg, shards);
      uint64_t ops = a.all.ops;
      double el = static_cast<double>(now - start) / 1e9;
      double cur = static_cast<double>(ops - last_ops) / (static_cast<double>(now - last_t) / 1e9);
      std::fprintf(stderr,
                   "%s%-12s: %6.1fs %10" PRIu64 " ops  %9.0f ops/s (now %9.0f)  p99 %.1f us%s",
                   tty ? "\r" : "", label.c_str(), el, ops, static_cast<double>(ops) / el, cur,
                   Us(a.all.latency.Percentile(0.99)), tty ? "   " : "\n");
      std::fflush(stderr);
      printed = true;
      last_ops = ops;
      last_t = now;
      next_report += interval;
    }
    uint64_t wake = std::min(deadline, next_report);
    now = NowNs();
    uint64_t sleep_ns = wake > now ? std::min<uint64_t>(wake - now, 10000000) : 0;
    if (sleep_ns) std::this_thread::sleep_for(std::chrono::nanoseconds(sleep_ns));
  }
  if (tty && printed) std::fprintf(stderr, "\n");
}

std::vector<const Recorder*> Views(const std::vector<std::unique_ptr<Recorder>>& v) {
  std::vector<const Recorder*> out;
  for (const auto& r : v) out.push_back(r.get());
  return out;
}

uint64_t LastFinish(const std::vector<std::unique_ptr<Recorder>>& v, uint64_t start) {
  uint64_t f = start;
  for (const auto& r : v) f = std::max(f, r->finish_ns.load(std::memory_order_relaxed));
  return f;
}

// The "flush" phase: no workers, only Engine::Flush, timed.
bool RunFlushPhase(Engine* engine) {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = engine->Flush();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
    return false;
  }
  std::printf("%-12s : flushed every memtable in %.3f s\n", "flush", secs);
  return true;
}

}  // namespace

Trial::Trial(const Config& cfg, Engine* engine, const ValuePool& values, int run)
    : cfg_(cfg), engine_(engine), values_(values), run_(run), global_(cfg.num) {}

// The state of one running phase.
struct Trial::PhaseRun {
  PhaseShared ps;
  uint32_t shards = 0;
  bool bounded = true;       // count-based (else until the deadline)
  uint64_t total = 0;        // ops of a count-based phase
  bool with_writer = false;  // readwhilewriting's background writer(s)
  std::vector<std::unique_ptr<Recorder>> fg, bg;
};

bool Trial::RunPhase(const PhaseInfo& info, uint64_t phase_index, json* phases_json,
                     PhaseSummary* summary) {
  if (info.phase == Phase::kFlush) return RunFlushPhase(engine_);
  const bool reactor = cfg_.load == Load::kReactor;
  if (reactor && !engine_->ringdb_db()) {
    std::fprintf(stderr, "%s: --load=reactor needs ringdb\n", info.name);
    return false;
  }
  PhaseRun r;
  PreparePhase(info, phase_index, &r);
  engine_->PhaseBegin();
  const uint64_t start = reactor ? RunReactor(&r) : RunThreads(&r);
  json j = ReportPhase(MakeReportInput(info, r, start), summary);
  const bool failed = r.ps.err.failed.load();
  j["ok"] = !failed;
  if (failed) {
    j["error"] = r.ps.err.first;
    std::fprintf(stderr, "%s: stopped on error: %s\n", info.name, r.ps.err.first.c_str());
  }
  summary->ok = !failed;
  phases_json->push_back(std::move(j));
  return !failed;
}

// Fills *r for the phase: its parameters, the key spaces (built once per store for
// --load=reactor), and one recorder per thread, or per shard (its fibers share it: one
// thread), plus the background writers' when the phase has them.
void Trial::PreparePhase(const PhaseInfo& info, uint64_t phase_index, PhaseRun* r) {
  const Config& cfg = cfg_;
  const bool reactor = cfg.load == Load::kReactor;
  r->shards = engine_->shard_count();
  r->with_writer = info.phase == Phase::kReadWhileWriting;
  r->bounded = cfg.duration <= 0 || info.fill;
  r->total = info.fill ? cfg.num : (cfg.ops ? cfg.ops : cfg.num);
  r->ps.cfg = &cfg;
  r->ps.info = &info;
  r->ps.dist = PhaseDist(cfg, info);
  r->ps.phase_index = phase_index;
  r->ps.values = &values_;

  std::vector<KeySpace*> spaces;
  if (reactor) {
    const bool with_missing = info.phase == Phase::kReadMissing && !shard_missing_built_;
    BuildShardKeySpaces(*engine_, cfg, !shard_keys_built_, with_missing, &shard_spaces_);
    shard_keys_built_ = true;
    shard_missing_built_ = shard_missing_built_ || with_missing;
    for (auto& s : shard_spaces_) spaces.push_back(s.get());
  } else {
    spaces.push_back(&global_);
  }
  if (r->ps.dist == Dist::kLatest) {
    for (KeySpace* ks : spaces) ks->PrepareLatest();
  }
  const uint32_t fg_contexts = reactor ? r->shards : static_cast<uint32_t>(cfg.threads);
  for (uint32_t i = 0; i < fg_contexts; i++) {
    r->fg.push_back(std::make_unique<Recorder>(r->shards));
  }
  const uint32_t bg_contexts = r->with_writer ? (reactor ? r->shards : 1) : 0;
  for (uint32_t i = 0; i < bg_contexts; i++) {
    r->bg.push_back(std::make_unique<Recorder>(r->shards));
  }
}

PhaseReportInput Trial::MakeReportInput(const PhaseInfo& info, const PhaseRun& r,
                                        uint64_t start) const {
  const bool reactor = cfg_.load == Load::kReactor;
  PhaseReportInput in;
  in.cfg = &cfg_;
  in.info = &info;
  in.engine = engine_;
  in.shards = r.shards;
  in.run = run_;
  in.dist = r.ps.dist;
  in.workers = reactor ? r.shards : static_cast<uint32_t>(cfg_.threads);
  in.fg = Aggregate(Views(r.fg), r.shards);
  in.secs = std::max(1e-9, static_cast<double>(LastFinish(r.fg, start) - start) / 1e9);
  in.has_bg = r.with_writer;
  if (r.with_writer) {
    in.bg = Aggregate(Views(r.bg), r.shards);
    in.bg_secs = std::max(1e-9, static_cast<double>(LastFinish(r.bg, start) - start) / 1e9);
  }
  return in;
}

// Application threads: `threads` foreground workers (+1 background writer), started
// together. Returns the start time.
uint64_t Trial::RunThreads(PhaseRun* r) {
  PhaseShared& ps = r->ps;
  std::atomic<bool> go{false};
  const int nfg = cfg_.threads;
  ps.fg_running.store(nfg);
  std::vector<std::thread> threads;
  uint64_t next_first = 0;
  for (int t = 0; t <= nfg; t++) {
    const bool background = t == nfg;
    if (background && !r->with_writer) break;
    WorkerSpec w;
    w.background = background;
    w.bounded = r->bounded;
    const uint64_t n = static_cast<uint64_t>(nfg);
    w.quota = background ? 0 : r->total / n + (static_cast<uint64_t>(t) < r->total % n);
    w.first = next_first;
    next_first += w.quota;
    w.seed = WorkerSeed(cfg_.seed, ps.phase_index, static_cast<uint64_t>(t));
    Recorder* rec = background ? r->bg[0].get() : r->fg[static_cast<size_t>(t)].get();
    threads.emplace_back([this, &ps, &go, w, rec] {
      EngineClient client(&ps, engine_, rec, cfg_.async);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      RunWorker(&ps, &global_, &client, w);
      rec->Finished(NowNs());
      if (!w.background) ps.fg_running.fetch_sub(1, std::memory_order_release);
    });
  }
  const uint64_t start = NowNs();
  go.store(true, std::memory_order_release);
  Monitor(&ps, ps.info->name, start, r->bounded, Views(r->fg), r->shards,
          [&] { return ps.fg_running.load(std::memory_order_acquire) == 0; });
  ps.bg_stop.store(true, std::memory_order_relaxed);
  for (auto& t : threads) t.join();
  return start;
}

// Shard fibers: fibers_per_shard closed-loop workers per shard (+1 background writer),
// each over its shard's own keys, started by DB::RunOnShards from a launcher thread
// while this thread reports progress. A shard's share of a counted phase is
// proportional to the keys it owns. Returns the start time.
uint64_t Trial::RunReactor(PhaseRun* r) {
  PhaseShared& ps = r->ps;
  const uint32_t nf = cfg_.fibers_per_shard;
  std::vector<std::vector<WorkerSpec>> specs(r->shards);
  for (uint32_t s = 0; s < r->shards; s++) {
    const uint64_t owned = shard_spaces_[s]->loaded();
    const uint64_t shard_total =
        ps.info->fill
            ? owned
            : static_cast<uint64_t>(static_cast<unsigned __int128>(r->total) * owned / cfg_.num);
    uint64_t first = 0;
    for (uint32_t f = 0; f <= nf; f++) {
      WorkerSpec w;
      w.background = f == nf;
      w.bounded = r->bounded;
      w.quota = w.background ? 0 : shard_total / nf + (f < shard_total % nf);
      w.first = first;
      first += w.quota;
      w.seed = WorkerSeed(cfg_.seed, ps.phase_index, (static_cast<uint64_t>(s) << 13) | f);
      specs[s].push_back(w);
    }
  }
  auto task = [&](ringdb::ShardContext& ctx, uint32_t fiber) {
    const uint32_t s = ctx.shard();
    const WorkerSpec& w = specs[s][std::min(fiber, nf)];
    Recorder* rec = w.background ? r->bg[s].get() : r->fg[s].get();
    ShardClient client(&ps, &ctx, rec);
    RunWorker(&ps, shard_spaces_[s].get(), &client, w);
    rec->Finished(NowNs());
    if (!w.background) ps.fg_running.fetch_sub(1, std::memory_order_release);
  };
  ps.fg_running.store(static_cast<int>(r->shards * nf));
  std::atomic<bool> launcher_done{false};
  Status status;
  const uint64_t start = NowNs();
  std::thread launcher([&] {
    status = engine_->ringdb_db()->RunOnShards(nf + (r->with_writer ? 1 : 0), task);
    launcher_done.store(true, std::memory_order_release);
  });
  Monitor(&ps, ps.info->name, start, r->bounded, Views(r->fg), r->shards, [&] {
    return ps.fg_running.load(std::memory_order_acquire) <= 0 ||
           launcher_done.load(std::memory_order_acquire);
  });
  ps.bg_stop.store(true, std::memory_order_relaxed);
  launcher.join();
  if (!status.ok()) {
    std::string why = status.ToString();
    if (status.IsNotSupported()) {
      why +=
          " (this ringdb build does not implement DB::RunOnShards yet: --load=reactor "
          "cannot run)";
    }
    ps.err.Report(Status::Aborted(why), "DB::RunOnShards");
  }
  return start;
}

}  // namespace ringdb_bench
