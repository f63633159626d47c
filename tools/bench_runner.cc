#include "bench_runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <thread>

#include "bench_report.h"
#include "ringdb/db.h"
#include "ringdb/shard_context.h"

namespace ringdb_bench {

namespace {

uint64_t EntryBytes(std::string_view k, std::string_view v) {
  return k.size() + v.size();
}

// --load=threads: an application thread calling the Engine, blocking or async.
class EngineClient final : public Client {
 public:
  EngineClient(PhaseShared* ps, Engine* engine, Recorder* rec, bool async)
      : ps_(ps), engine_(engine), rec_(rec), async_(async && engine->SupportsAsync()) {}

  void Put(std::string_view key, std::string_view value, Kind kind) override {
    DoPut(key, value, kind, 0, nullptr);
  }
  void Insert(std::string_view key, std::string_view value, uint64_t keynum,
              KeySpace* ks) override {
    DoPut(key, value, kInsert, keynum, ks);
  }

  void Get(std::string_view key) override {
    Slot* slot = &rec_->at(kRead, engine_->ShardForKey(key));
    const uint64_t key_bytes = key.size();
    if (async_) {
      Throttle();
      uint64_t t0 = NowNs();
      PhaseShared* ps = ps_;
      Recorder* rec = rec_;
      engine_->GetAsync(key, [ps, rec, slot, t0, key_bytes](Status s, std::string_view v) {
        if (s.ok() || s.IsNotFound()) {
          slot->Record(NowNs() - t0, 1, s.ok() ? key_bytes + v.size() : 0);
          if (s.ok()) Bump(slot->found, 1);
        } else {
          ps->err.Report(s, "GetAsync");
        }
        Done(rec);
      });
      return;
    }
    uint64_t t0 = NowNs();
    Status s = engine_->Get(key, &value_);
    uint64_t t1 = NowNs();
    if (!s.ok() && !s.IsNotFound()) return ps_->err.Report(s, "Get");
    slot->Record(t1 - t0, 1, s.ok() ? key_bytes + value_.size() : 0);
    if (s.ok()) Bump(slot->found, 1);
  }

  void ReadModifyWrite(std::string_view key, std::string_view value) override {
    Slot* slot = &rec_->at(kRmw, engine_->ShardForKey(key));
    uint64_t t0 = NowNs();
    Status s = engine_->Get(key, &value_);
    if (!s.ok() && !s.IsNotFound()) return ps_->err.Report(s, "Get (read-modify-write)");
    bool found = s.ok();
    // The "modification": the new value is a fresh slice; YCSB writes new random bytes.
    s = engine_->Put(key, value);
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "Put (read-modify-write)");
    slot->Record(t1 - t0, 1, 2 * key.size() + value.size() + (found ? value_.size() : 0));
    if (found) Bump(slot->found, 1);
  }

  void Write(std::span<const BatchOp> ops) override {
    uint32_t shard = ops.empty() ? 0 : engine_->ShardForKey(ops[0].key);
    uint64_t bytes = 0;
    for (const BatchOp& op : ops) {
      bytes += EntryBytes(op.key, op.value);
      if (engine_->ShardForKey(op.key) != shard) shard = rec_->cross_shard();
    }
    uint64_t t0 = NowNs();
    Status s = engine_->Write(ops);
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "Write");
    rec_->at(kWrite, shard).Record(t1 - t0, ops.size(), bytes);
  }

  void MultiGet(std::span<const std::string_view> keys) override {
    uint64_t t0 = NowNs();
    engine_->MultiGet(keys, &mg_values_, &mg_status_);
    uint64_t t1 = NowNs();
    if (mg_status_.size() != keys.size()) {
      return ps_->err.Report(
          Status::Corruption("MultiGet returned " + std::to_string(mg_status_.size()) +
                             " statuses for " + std::to_string(keys.size()) + " keys"),
          "MultiGet");
    }
    // The call's latency once (cross-shard slot); keys, found and bytes per owning shard.
    rec_->at(kMultiGet, rec_->cross_shard()).latency.Get()->Record(t1 - t0);
    for (size_t i = 0; i < keys.size(); i++) {
      const Status& s = mg_status_[i];
      if (!s.ok() && !s.IsNotFound()) {
        return ps_->err.Report(s, s.IsNotSupported() ? "MultiGet (this ringdb build does not "
                                                       "implement DB::MultiGet yet)"
                                                     : "MultiGet");
      }
      Slot& slot = rec_->at(kMultiGet, engine_->ShardForKey(keys[i]));
      Bump(slot.ops, 1);
      if (s.ok()) {
        Bump(slot.found, 1);
        Bump(slot.bytes, keys[i].size() + (i < mg_values_.size() ? mg_values_[i].size() : 0));
      }
    }
  }

  void SeekScan(std::string_view start, uint64_t entries, size_t chunk_bytes) override {
    uint64_t t0 = NowNs();
    Status err;
    std::unique_ptr<EngineIterator> it = engine_->NewIterator(chunk_bytes, &err);
    if (!it) return ps_->err.Report(err, "NewIterator");
    uint64_t n = 0, bytes = 0;
    for (it->Seek(start); it->Valid() && n < entries; it->Next()) {
      bytes += EntryBytes(it->key(), it->value());
      n++;
    }
    Status s = it->status();
    it.reset();  // destroying the iterator is part of the operation
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "iterator");
    Slot& slot = rec_->at(kScan, rec_->cross_shard());
    slot.Record(t1 - t0, 1, bytes);
    Bump(slot.entries, n);
  }

  void FullScan(const std::atomic<bool>& stop, size_t chunk_bytes) override {
    Status err;
    uint64_t t0 = NowNs();
    std::unique_ptr<EngineIterator> it = engine_->NewIterator(chunk_bytes, &err);
    if (!it) return ps_->err.Report(err, "NewIterator");
    Slot& slot = rec_->at(kScan, rec_->cross_shard());
    it->SeekToFirst();
    // Each entry is an op: the time to reach it (SeekToFirst for the first, Next after).
    while (it->Valid()) {
      uint64_t t1 = NowNs();
      slot.Record(t1 - t0, 1, EntryBytes(it->key(), it->value()));
      Bump(slot.entries, 1);
      if (stop.load(std::memory_order_relaxed) || ps_->err.failed.load(std::memory_order_relaxed))
        break;
      t0 = NowNs();
      it->Next();
    }
    if (!it->status().ok()) ps_->err.Report(it->status(), "iterator");
  }

  void Drain() override {
    uint32_t cur;
    while ((cur = rec_->inflight.load(std::memory_order_acquire)) != 0) {
      rec_->inflight.wait(cur, std::memory_order_acquire);
    }
  }

 private:
  void DoPut(std::string_view key, std::string_view value, Kind kind, uint64_t keynum,
             KeySpace* ks) {
    Slot* slot = &rec_->at(kind, engine_->ShardForKey(key));
    const uint64_t bytes = EntryBytes(key, value);
    if (async_) {
      Throttle();
      uint64_t t0 = NowNs();
      PhaseShared* ps = ps_;
      Recorder* rec = rec_;
      engine_->PutAsync(key, value, [ps, rec, slot, t0, bytes, keynum, ks](Status s) {
        if (s.ok()) {
          slot->Record(NowNs() - t0, 1, bytes);
          if (ks) ks->AckInsert(keynum);
        } else {
          ps->err.Report(s, "PutAsync");
        }
        Done(rec);
      });
      return;
    }
    uint64_t t0 = NowNs();
    Status s = engine_->Put(key, value);
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "Put");
    slot->Record(t1 - t0, 1, bytes);
    if (ks) ks->AckInsert(keynum);
  }
  void Throttle() {
    uint32_t depth = std::max<uint32_t>(1, ps_->cfg->async_depth);
    uint32_t cur;
    while ((cur = rec_->inflight.load(std::memory_order_acquire)) >= depth) {
      rec_->inflight.wait(cur, std::memory_order_acquire);
    }
    rec_->inflight.fetch_add(1, std::memory_order_relaxed);
  }
  static void Done(Recorder* rec) {
    rec->inflight.fetch_sub(1, std::memory_order_release);
    rec->inflight.notify_one();
  }

  PhaseShared* ps_;
  Engine* engine_;
  Recorder* rec_;
  bool async_;
  std::string value_;
  std::vector<std::string> mg_values_;
  std::vector<Status> mg_status_;
};

// --load=reactor: a fiber on a shard's own thread, calling its ShardContext. Every key
// it is given is owned by the shard (ShardKeySpace), so every op stays on this core.
class ShardClient final : public Client {
 public:
  // Fibers yield every kYieldEvery ops: a Get served from the memtable or cache never
  // suspends, and a fiber that never suspends would starve the shard's other fibers
  // (and its commits, flushes and incoming requests).
  static constexpr uint32_t kYieldEvery = 16;

  ShardClient(PhaseShared* ps, ringdb::ShardContext* ctx, Recorder* rec)
      : ps_(ps), ctx_(ctx), rec_(rec), shard_(ctx->shard()) {}

  void Put(std::string_view key, std::string_view value, Kind kind) override {
    uint64_t t0 = NowNs();
    Status s = ctx_->Put(wo_, key, value);
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "ShardContext::Put");
    rec_->at(kind, shard_).Record(t1 - t0, 1, EntryBytes(key, value));
  }
  void Insert(std::string_view key, std::string_view value, uint64_t keynum,
              KeySpace* ks) override {
    Put(key, value, kInsert);
    if (!ps_->err.failed.load(std::memory_order_relaxed)) ks->AckInsert(keynum);
  }
  void Get(std::string_view key) override {
    uint64_t t0 = NowNs();
    Status s = ctx_->Get(ro_, key, &value_);
    uint64_t t1 = NowNs();
    if (!s.ok() && !s.IsNotFound()) return ps_->err.Report(s, "ShardContext::Get");
    Slot& slot = rec_->at(kRead, shard_);
    slot.Record(t1 - t0, 1, s.ok() ? EntryBytes(key, value_) : 0);
    if (s.ok()) Bump(slot.found, 1);
  }
  void ReadModifyWrite(std::string_view key, std::string_view value) override {
    uint64_t t0 = NowNs();
    Status s = ctx_->Get(ro_, key, &value_);
    if (!s.ok() && !s.IsNotFound()) return ps_->err.Report(s, "ShardContext::Get (rmw)");
    bool found = s.ok();
    s = ctx_->Put(wo_, key, value);
    uint64_t t1 = NowNs();
    if (!s.ok()) return ps_->err.Report(s, "ShardContext::Put (rmw)");
    Slot& slot = rec_->at(kRmw, shard_);
    slot.Record(t1 - t0, 1, 2 * key.size() + value.size() + (found ? value_.size() : 0));
    if (found) Bump(slot.found, 1);
  }
  // Not offered by ShardContext; Config validation keeps these phases off the reactor.
  void Write(std::span<const BatchOp>) override { Unsupported("WriteBatch"); }
  void MultiGet(std::span<const std::string_view>) override { Unsupported("MultiGet"); }
  void SeekScan(std::string_view, uint64_t, size_t) override { Unsupported("iterators"); }
  void FullScan(const std::atomic<bool>&, size_t) override { Unsupported("iterators"); }

  void AfterOp() override {
    if (++ops_ % kYieldEvery == 0) ctx_->Yield();
  }

 private:
  void Unsupported(const char* what) {
    ps_->err.Report(Status::NotSupported(std::string(what) + " on a shard fiber"),
                    "--load=reactor");
  }

  PhaseShared* ps_;
  ringdb::ShardContext* ctx_;
  Recorder* rec_;
  uint32_t shard_;
  ringdb::WriteOptions wo_;
  ringdb::ReadOptions ro_;
  std::string value_;
  uint64_t ops_ = 0;
};

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
  const Config& cfg = cfg_;
  const bool reactor = cfg.load == Load::kReactor;
  if (info.phase == Phase::kFlush) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = engine_->Flush();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
      return false;
    }
    std::printf("%-12s : flushed every memtable in %.3f s\n", "flush", secs);
    (void)phase_index;
    (void)phases_json;
    (void)summary;
    return true;
  }
  PhaseRun r;
  r.shards = engine_->shard_count();
  r.with_writer = info.phase == Phase::kReadWhileWriting;
  r.bounded = cfg.duration <= 0 || info.fill;
  r.total = info.fill ? cfg.num : (cfg.ops ? cfg.ops : cfg.num);
  r.ps.cfg = &cfg;
  r.ps.info = &info;
  r.ps.dist = PhaseDist(cfg, info);
  r.ps.phase_index = phase_index;
  r.ps.values = &values_;
  if (reactor && !engine_->ringdb_db()) {
    std::fprintf(stderr, "%s: --load=reactor needs ringdb\n", info.name);
    return false;
  }

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
  if (r.ps.dist == Dist::kLatest) {
    for (KeySpace* ks : spaces) ks->PrepareLatest();
  }
  // One recorder per thread, or per shard (its fibers share it: one thread).
  const uint32_t fg_contexts = reactor ? r.shards : static_cast<uint32_t>(cfg.threads);
  for (uint32_t i = 0; i < fg_contexts; i++) r.fg.push_back(std::make_unique<Recorder>(r.shards));
  const uint32_t bg_contexts = r.with_writer ? (reactor ? r.shards : 1) : 0;
  for (uint32_t i = 0; i < bg_contexts; i++) r.bg.push_back(std::make_unique<Recorder>(r.shards));

  engine_->PhaseBegin();
  const uint64_t start = reactor ? RunReactor(&r) : RunThreads(&r);

  PhaseReportInput in;
  in.cfg = &cfg;
  in.info = &info;
  in.engine = engine_;
  in.shards = r.shards;
  in.run = run_;
  in.dist = r.ps.dist;
  in.workers = reactor ? r.shards : static_cast<uint32_t>(cfg.threads);
  in.fg = Aggregate(Views(r.fg), r.shards);
  in.secs = std::max(1e-9, static_cast<double>(LastFinish(r.fg, start) - start) / 1e9);
  in.has_bg = r.with_writer;
  if (r.with_writer) {
    in.bg = Aggregate(Views(r.bg), r.shards);
    in.bg_secs = std::max(1e-9, static_cast<double>(LastFinish(r.bg, start) - start) / 1e9);
  }
  json j = ReportPhase(in, summary);
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
