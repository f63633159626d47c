#include "bench_workload.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace ringdb_bench {

uint64_t ShardKeySpace::ClaimInsert() {
  std::string key(static_cast<size_t>(key_size_), '0');
  for (;;) {
    uint64_t n = next_candidate_++;
    FormatKey(n, key.data(), key_size_);
    if (engine_->ShardForKey(key) == shard_) return n;
  }
}

void BuildShardKeySpaces(const Engine& engine, const Config& cfg, bool need_keys, bool need_missing,
                         std::vector<std::unique_ptr<ShardKeySpace>>* spaces) {
  const uint32_t shards = engine.shard_count();
  if (spaces->empty()) {
    for (uint32_t s = 0; s < shards; s++) {
      spaces->push_back(std::make_unique<ShardKeySpace>(&engine, s, cfg.key_size, cfg.num));
    }
  }
  if (!need_keys && !need_missing) return;
  // Chunks of [0, num) hashed in parallel; concatenated in order, so lists stay sorted.
  const unsigned workers =
      std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 64));
  std::vector<std::vector<std::vector<uint64_t>>> part_keys(workers), part_missing(workers);
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; w++) {
    threads.emplace_back([&, w] {
      uint64_t lo = cfg.num * w / workers, hi = cfg.num * (w + 1) / workers;
      std::string key(static_cast<size_t>(cfg.key_size), '0');
      if (need_keys) part_keys[w].resize(shards);
      if (need_missing) part_missing[w].resize(shards);
      for (uint64_t n = lo; n < hi; n++) {
        if (need_keys) {
          FormatKey(n, key.data(), cfg.key_size);
          part_keys[w][engine.ShardForKey(key)].push_back(n);
        }
        if (need_missing) {
          FormatKey(n, key.data(), cfg.key_size - 1);
          key[static_cast<size_t>(cfg.key_size - 1)] = '.';
          part_missing[w][engine.ShardForKey(key)].push_back(n);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (uint32_t s = 0; s < shards; s++) {
    for (unsigned w = 0; w < workers; w++) {
      if (need_keys) {
        auto& v = part_keys[w][s];
        (*spaces)[s]->keys.insert((*spaces)[s]->keys.end(), v.begin(), v.end());
      }
      if (need_missing) {
        auto& v = part_missing[w][s];
        (*spaces)[s]->missing.insert((*spaces)[s]->missing.end(), v.begin(), v.end());
      }
    }
  }
}

void ErrorState::Report(const Status& s, const char* what) {
  std::lock_guard<std::mutex> g(mu);
  if (first.empty()) first = std::string(what) + ": " + s.ToString();
  failed.store(true, std::memory_order_release);
}

uint64_t WorkerSeed(uint64_t seed, uint64_t phase_index, uint64_t id) {
  return seed * 0x100000001b3ull ^ (phase_index << 40) ^ (id << 20) ^ 0x9e3779b9ull;
}

namespace {

// Per-worker generation state: picks keys by the phase's distribution and formats them.
class OpGen {
 public:
  OpGen(PhaseShared* ps, KeySpace* ks, uint64_t seed)
      : rng(seed),
        cfg_(*ps->cfg),
        ks_(ks),
        dist_(ps->dist),
        values_(ps->values),
        loaded_(ks->loaded()),
        latest_(ps->dist == Dist::kLatest ? ks->latest_items : 1,
                ps->dist == Dist::kLatest ? ks->latest_zetan : 1.0),
        key_(static_cast<size_t>(cfg_.key_size), '0') {}

  uint64_t loaded() const { return loaded_; }

  // An existing key number.
  uint64_t Pick() {
    switch (dist_) {
      case Dist::kUniform:
        return ks_->KeyAt(rng.Uniform(loaded_));
      case Dist::kZipfian:
        return ks_->KeyAt(zipf_.Next(rng, loaded_));
      case Dist::kLatest:
        return ks_->LatestKeyAt(latest_.Next(rng, ks_->latest_count() - 1));
    }
    return 0;
  }
  uint64_t PickUniform() { return ks_->KeyAt(rng.Uniform(loaded_)); }

  std::string_view Key(uint64_t n) {
    FormatKey(n, key_.data(), cfg_.key_size);
    return key_;
  }
  // Same prefix as key n, but '.' where its last digit would be: never present.
  std::string_view MissingKey() {
    uint64_t n = ks_->MissingAt(rng.Uniform(ks_->missing_count()));
    FormatKey(n, key_.data(), cfg_.key_size - 1);
    key_[static_cast<size_t>(cfg_.key_size - 1)] = '.';
    return key_;
  }
  std::string_view Value() { return values_->Get(rng); }
  bool Percent(int p) { return rng.Uniform(100) < static_cast<uint64_t>(p); }

  Rng rng;

 private:
  const Config& cfg_;
  KeySpace* ks_;
  Dist dist_;
  const ValuePool* values_;
  uint64_t loaded_;
  ScrambledZipfian zipf_;
  SkewedLatest latest_;
  std::string key_;
};

bool Failed(const PhaseShared* ps) {
  return ps->err.failed.load(std::memory_order_relaxed);
}

// ReadOptions::iterator_chunk_bytes for a scan of `entries` entries: enough for the
// scan (plus slack for the uneven split across shards), 4..64 KiB.
size_t ChunkBytes(const Config& cfg, uint64_t entries) {
  if (cfg.iterator_chunk_bytes > 0) return static_cast<size_t>(cfg.iterator_chunk_bytes);
  if (entries == 0) return 0;  // full scans: the engine's default
  uint64_t want = (entries + 1) * static_cast<uint64_t>(cfg.key_size + cfg.value_size + 32);
  return static_cast<size_t>(std::clamp<uint64_t>(want, 4096, 65536));
}

// One foreground worker of a phase: issues the phase's operations through its Client
// until its quota is done (bounded) or `stop` is set, one Step() per operation (or per
// batch of --batch_size writes).
class Worker {
 public:
  Worker(PhaseShared* ps, KeySpace* ks, Client* client, const WorkerSpec& w)
      : cfg_(*ps->cfg),
        phase_(ps->info->phase),
        ks_(ks),
        client_(client),
        w_(w),
        g_(ps, ks, w.seed),
        mg_keys_(phase_ == Phase::kMultiGet ? cfg_.multiget_batch : 0),
        mg_views_(mg_keys_.size()) {}

  OpGen& gen() { return g_; }

  // Issues the operation(s) at index i of the worker's quota; returns how many.
  uint64_t Step(uint64_t i) {
    switch (phase_) {
      case Phase::kFillSeq:
      case Phase::kFillRandom:
      case Phase::kOverwrite:
        return Fill(i);
      case Phase::kReadRandom:
      case Phase::kReadWhileWriting:
      case Phase::kYcsbC:
        client_->Get(g_.Key(g_.Pick()));
        break;
      case Phase::kReadMissing:
        client_->Get(g_.MissingKey());
        break;
      case Phase::kFlush:  // handled by Trial::RunPhase; never reaches a worker
        break;
      case Phase::kReadRandomWriteRandom:
        ReadRandomWriteRandom();
        break;
      case Phase::kMixed:
        GetOrPut(cfg_.readwritepercent);
        break;
      case Phase::kSeekRandom: {
        const uint64_t entries = static_cast<uint64_t>(cfg_.seek_nexts) + 1;
        client_->SeekScan(g_.Key(g_.Pick()), entries, ChunkBytes(cfg_, entries));
        break;
      }
      case Phase::kScan:
        client_->SeekScan(g_.Key(g_.Pick()), cfg_.scan_length, ChunkBytes(cfg_, cfg_.scan_length));
        break;
      case Phase::kMultiGet:
        MultiGet();
        break;
      case Phase::kYcsbA:
        GetOrPut(50);
        break;
      case Phase::kYcsbB:
        GetOrPut(95);
        break;
      case Phase::kYcsbD:
      case Phase::kYcsbE:
        YcsbReadOrInsert();
        break;
      case Phase::kYcsbF:
        if (g_.Percent(50)) {
          client_->Get(g_.Key(g_.Pick()));
        } else {
          client_->ReadModifyWrite(g_.Key(g_.Pick()), g_.Value());
        }
        break;
    }
    return 1;
  }

 private:
  // fillseq, fillrandom, overwrite: one Put, or --batch_size entries as one WriteBatch.
  uint64_t Fill(uint64_t i) {
    const uint64_t n =
        std::min<uint64_t>(cfg_.batch_size, w_.bounded ? w_.quota - i : cfg_.batch_size);
    if (n == 1) {
      client_->Put(g_.Key(phase_ == Phase::kFillSeq ? ks_->KeyAt(w_.first + i) : g_.PickUniform()),
                   g_.Value(), kWrite);
      return 1;
    }
    batch_keys_.resize(n);
    batch_ops_.resize(n);
    for (uint64_t j = 0; j < n; j++) {
      // fillseq: the worker's slice of the key space, in order (KeyAt: the identity for
      // threads, the shard's own sorted list for fibers).
      const uint64_t k =
          phase_ == Phase::kFillSeq ? ks_->KeyAt(w_.first + i + j) : g_.PickUniform();
      batch_keys_[j].assign(g_.Key(k));
      batch_ops_[j] = BatchOp{false, batch_keys_[j], g_.Value()};
    }
    client_->Write(batch_ops_);
    return n;
  }

  // db_bench's schedule: in each block of 100 ops, readwritepercent reads first.
  void ReadRandomWriteRandom() {
    if (get_weight_ == 0 && put_weight_ == 0) {
      get_weight_ = cfg_.readwritepercent;
      put_weight_ = 100 - cfg_.readwritepercent;
    }
    if (get_weight_ > 0) {
      get_weight_--;
      client_->Get(g_.Key(g_.Pick()));
    } else {
      put_weight_--;
      client_->Put(g_.Key(g_.Pick()), g_.Value(), kWrite);
    }
  }

  // A Get with probability read_percent, else a Put.
  void GetOrPut(int read_percent) {
    if (g_.Percent(read_percent)) {
      client_->Get(g_.Key(g_.Pick()));
    } else {
      client_->Put(g_.Key(g_.Pick()), g_.Value(), kWrite);
    }
  }

  void MultiGet() {
    for (size_t j = 0; j < mg_keys_.size(); j++) {
      mg_keys_[j].assign(g_.Key(g_.Pick()));
      mg_views_[j] = mg_keys_[j];
    }
    client_->MultiGet(mg_views_);
  }

  // YCSB D (reads) and E (short scans): 95% of the time, else an insert of a new key.
  void YcsbReadOrInsert() {
    if (!g_.Percent(95)) {
      uint64_t k = ks_->ClaimInsert();
      client_->Insert(g_.Key(k), g_.Value(), k, ks_);
    } else if (phase_ == Phase::kYcsbD) {
      client_->Get(g_.Key(g_.Pick()));
    } else {
      const uint64_t max_scan = cfg_.scan_length ? cfg_.scan_length : 100;
      uint64_t len = 1 + g_.rng.Uniform(max_scan);
      client_->SeekScan(g_.Key(g_.Pick()), len, ChunkBytes(cfg_, len));
    }
  }

  const Config& cfg_;
  const Phase phase_;
  KeySpace* ks_;
  Client* client_;
  const WorkerSpec& w_;
  OpGen g_;
  std::vector<std::string> batch_keys_;
  std::vector<BatchOp> batch_ops_;
  std::vector<std::string> mg_keys_;
  std::vector<std::string_view> mg_views_;
  int get_weight_ = 0, put_weight_ = 0;
};

// --benchmark_write_rate_limit, paced as db_bench paces its writer: RocksDB's
// GenericRateLimiter with its default 100 ms refill period. A refill adds a period's
// worth of bytes (a tenth of the rate) when fewer than that are left; a write that
// finds too few sleeps until the next refill. So the writer runs in bursts of up to a
// tenth of a second's writes and then sleeps, as db_bench's does (pacing each write
// instead wakes the writer thousands of times a second, and each wake-up takes a core
// from a reader).
class WriteRateLimiter {
 public:
  static constexpr std::chrono::milliseconds kRefillPeriod{100};

  explicit WriteRateLimiter(uint64_t bytes_per_sec) : per_period_(bytes_per_sec / 10) {}

  void Request(uint64_t bytes) {
    while (available_ < bytes) {
      const auto now = std::chrono::steady_clock::now();
      if (started_ && now < next_refill_) std::this_thread::sleep_until(next_refill_);
      started_ = true;
      next_refill_ = std::chrono::steady_clock::now() + kRefillPeriod;
      // A rate below one write per period still lets one write through per refill.
      const uint64_t refill = std::max(per_period_, bytes);
      if (available_ < refill) available_ += refill;
    }
    available_ -= bytes;
  }

 private:
  const uint64_t per_period_;
  uint64_t available_ = 0;
  bool started_ = false;
  std::chrono::steady_clock::time_point next_refill_;
};

// readwhilewriting's writer: random overwrites until the readers finish, paced by
// --benchmark_write_rate_limit (threads load only) when given.
void RunBackgroundWriter(PhaseShared* ps, KeySpace* ks, Client* client, const WorkerSpec& w) {
  OpGen g(ps, ks, w.seed);
  const Config& cfg = *ps->cfg;
  const uint64_t op_bytes = cfg.key_size + cfg.value_size;
  WriteRateLimiter limiter(cfg.write_rate_limit);
  while (!ps->bg_stop.load(std::memory_order_relaxed) && !Failed(ps) && g.loaded()) {
    if (cfg.write_rate_limit != 0) limiter.Request(op_bytes);
    client->Put(g.Key(g.PickUniform()), g.Value(), kWrite);
    client->AfterOp();
  }
  client->Drain();
}

}  // namespace

void RunWorker(PhaseShared* ps, KeySpace* ks, Client* client, const WorkerSpec& w) {
  if (w.background) return RunBackgroundWriter(ps, ks, client, w);
  const Config& cfg = *ps->cfg;
  const Phase phase = ps->info->phase;
  Worker worker(ps, ks, client, w);
  // A shard that owns no key (tiny --num) has nothing to read.
  if (!ps->info->fill && worker.gen().loaded() == 0) return;
  if (phase == Phase::kReadMissing && ks->missing_count() == 0) return;
  if (phase == Phase::kFlush) return;  // handled by Trial::RunPhase
  if (phase == Phase::kScan && cfg.scan_length == 0) {
    // Full scans: one pass per worker when counted, passes until the deadline otherwise.
    do {
      client->FullScan(ps->stop, ChunkBytes(cfg, 0));
      client->AfterOp();
    } while (!w.bounded && !ps->stop.load(std::memory_order_relaxed) && !Failed(ps));
    client->Drain();
    return;
  }
  for (uint64_t i = 0;;) {
    if (w.bounded ? i >= w.quota : ps->stop.load(std::memory_order_relaxed)) break;
    if (Failed(ps)) break;
    i += worker.Step(i);
    client->AfterOp();
  }
  client->Drain();
}

}  // namespace ringdb_bench
