#include "bench_workload.h"

#include <algorithm>
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

// ReadOptions::iterator_chunk_bytes for a scan of `entries` entries: enough for the
// scan (plus slack for the uneven split across shards), 4..64 KiB.
size_t ChunkBytes(const Config& cfg, uint64_t entries) {
  if (cfg.iterator_chunk_bytes > 0) return static_cast<size_t>(cfg.iterator_chunk_bytes);
  if (entries == 0) return 0;  // full scans: the engine's default
  uint64_t want = (entries + 1) * static_cast<uint64_t>(cfg.key_size + cfg.value_size + 32);
  return static_cast<size_t>(std::clamp<uint64_t>(want, 4096, 65536));
}

// fillrandom/overwrite: `n` uniform keys, as one Put or one WriteBatch.
void FillRandomStep(OpGen& g, Client* c, uint64_t n, std::vector<std::string>* keys,
                    std::vector<BatchOp>* ops) {
  if (n == 1) {
    c->Put(g.Key(g.PickUniform()), g.Value(), kWrite);
    return;
  }
  keys->resize(n);
  ops->resize(n);
  for (uint64_t j = 0; j < n; j++) {
    (*keys)[j].assign(g.Key(g.PickUniform()));
    (*ops)[j] = BatchOp{false, (*keys)[j], g.Value()};
  }
  c->Write(*ops);
}

}  // namespace

void RunWorker(PhaseShared* ps, KeySpace* ks, Client* client, const WorkerSpec& w) {
  const Config& cfg = *ps->cfg;
  const Phase phase = ps->info->phase;
  OpGen g(ps, ks, w.seed);
  const auto failed = [ps] { return ps->err.failed.load(std::memory_order_relaxed); };

  if (w.background) {
    // readwhilewriting's writer: random overwrites until the readers finish.
    while (!ps->bg_stop.load(std::memory_order_relaxed) && !failed() && g.loaded()) {
      client->Put(g.Key(g.PickUniform()), g.Value(), kWrite);
      client->AfterOp();
    }
    client->Drain();
    return;
  }
  // A shard that owns no key (tiny --num) has nothing to read.
  if (!ps->info->fill && g.loaded() == 0) return;
  if (phase == Phase::kReadMissing && ks->missing_count() == 0) return;

  if (phase == Phase::kScan && cfg.scan_length == 0) {
    // Full scans: one pass per worker when counted, passes until the deadline otherwise.
    do {
      client->FullScan(ps->stop, ChunkBytes(cfg, 0));
      client->AfterOp();
    } while (!w.bounded && !ps->stop.load(std::memory_order_relaxed) && !failed());
    client->Drain();
    return;
  }

  std::vector<std::string> batch_keys;
  std::vector<BatchOp> batch_ops;
  std::vector<std::string> mg_keys(phase == Phase::kMultiGet ? cfg.multiget_batch : 0);
  std::vector<std::string_view> mg_views(mg_keys.size());
  const uint64_t seek_entries = static_cast<uint64_t>(cfg.seek_nexts) + 1;
  const uint64_t ycsb_max_scan = cfg.scan_length ? cfg.scan_length : 100;
  int get_weight = 0, put_weight = 0;

  for (uint64_t i = 0;;) {
    if (w.bounded ? i >= w.quota : ps->stop.load(std::memory_order_relaxed)) break;
    if (failed()) break;
    uint64_t step = 1;
    switch (phase) {
      case Phase::kFillSeq:
      case Phase::kFillRandom:
      case Phase::kOverwrite: {
        step = std::min<uint64_t>(cfg.batch_size, w.bounded ? w.quota - i : cfg.batch_size);
        if (phase == Phase::kFillSeq) {
          // The worker's slice of the key space, in order (KeyAt: the identity for
          // threads, the shard's own sorted list for fibers).
          if (step == 1) {
            client->Put(g.Key(ks->KeyAt(w.first + i)), g.Value(), kWrite);
          } else {
            batch_keys.resize(step);
            batch_ops.resize(step);
            for (uint64_t j = 0; j < step; j++) {
              batch_keys[j].assign(g.Key(ks->KeyAt(w.first + i + j)));
              batch_ops[j] = BatchOp{false, batch_keys[j], g.Value()};
            }
            client->Write(batch_ops);
          }
        } else {
          FillRandomStep(g, client, step, &batch_keys, &batch_ops);
        }
        break;
      }
      case Phase::kReadRandom:
      case Phase::kReadWhileWriting:
      case Phase::kYcsbC:
        client->Get(g.Key(g.Pick()));
        break;
      case Phase::kReadMissing:
        client->Get(g.MissingKey());
        break;
      case Phase::kFlush:  // handled by Trial::RunPhase; never reaches a worker
        return;
      case Phase::kReadRandomWriteRandom:
        // db_bench's schedule: in each block of 100 ops, readwritepercent reads first.
        if (get_weight == 0 && put_weight == 0) {
          get_weight = cfg.readwritepercent;
          put_weight = 100 - cfg.readwritepercent;
        }
        if (get_weight > 0) {
          get_weight--;
          client->Get(g.Key(g.Pick()));
        } else {
          put_weight--;
          client->Put(g.Key(g.Pick()), g.Value(), kWrite);
        }
        break;
      case Phase::kMixed:
        if (g.Percent(cfg.readwritepercent)) {
          client->Get(g.Key(g.Pick()));
        } else {
          client->Put(g.Key(g.Pick()), g.Value(), kWrite);
        }
        break;
      case Phase::kSeekRandom:
        client->SeekScan(g.Key(g.Pick()), seek_entries, ChunkBytes(cfg, seek_entries));
        break;
      case Phase::kScan:
        client->SeekScan(g.Key(g.Pick()), cfg.scan_length, ChunkBytes(cfg, cfg.scan_length));
        break;
      case Phase::kMultiGet:
        for (size_t j = 0; j < mg_keys.size(); j++) {
          mg_keys[j].assign(g.Key(g.Pick()));
          mg_views[j] = mg_keys[j];
        }
        client->MultiGet(mg_views);
        break;
      case Phase::kYcsbA:
      case Phase::kYcsbB:
        if (g.Percent(phase == Phase::kYcsbA ? 50 : 95)) {
          client->Get(g.Key(g.Pick()));
        } else {
          client->Put(g.Key(g.Pick()), g.Value(), kWrite);
        }
        break;
      case Phase::kYcsbD:
      case Phase::kYcsbE:
        if (g.Percent(95)) {
          if (phase == Phase::kYcsbD) {
            client->Get(g.Key(g.Pick()));
          } else {
            uint64_t len = 1 + g.rng.Uniform(ycsb_max_scan);
            client->SeekScan(g.Key(g.Pick()), len, ChunkBytes(cfg, len));
          }
        } else {
          uint64_t k = ks->ClaimInsert();
          client->Insert(g.Key(k), g.Value(), k, ks);
        }
        break;
      case Phase::kYcsbF:
        if (g.Percent(50)) {
          client->Get(g.Key(g.Pick()));
        } else {
          client->ReadModifyWrite(g.Key(g.Pick()), g.Value());
        }
        break;
    }
    i += step;
    client->AfterOp();
  }
  client->Drain();
}

}  // namespace ringdb_bench
