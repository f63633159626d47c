#include "bench_clients.h"

#include <algorithm>

namespace ringdb_bench {

namespace {

uint64_t EntryBytes(std::string_view k, std::string_view v) {
  return k.size() + v.size();
}

}  // namespace

// ---------------------------------------------------------------- EngineClient

void EngineClient::Get(std::string_view key) {
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

void EngineClient::ReadModifyWrite(std::string_view key, std::string_view value) {
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

void EngineClient::Write(std::span<const BatchOp> ops) {
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

void EngineClient::MultiGet(std::span<const std::string_view> keys) {
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

void EngineClient::SeekScan(std::string_view start, uint64_t entries, size_t chunk_bytes) {
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

void EngineClient::FullScan(const std::atomic<bool>& stop, size_t chunk_bytes) {
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

void EngineClient::Drain() {
  uint32_t cur;
  while ((cur = rec_->inflight.load(std::memory_order_acquire)) != 0) {
    rec_->inflight.wait(cur, std::memory_order_acquire);
  }
}

void EngineClient::DoPut(std::string_view key, std::string_view value, Kind kind, uint64_t keynum,
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

void EngineClient::Throttle() {
  uint32_t depth = std::max<uint32_t>(1, ps_->cfg->async_depth);
  uint32_t cur;
  while ((cur = rec_->inflight.load(std::memory_order_acquire)) >= depth) {
    rec_->inflight.wait(cur, std::memory_order_acquire);
  }
  rec_->inflight.fetch_add(1, std::memory_order_relaxed);
}

void EngineClient::Done(Recorder* rec) {
  rec->inflight.fetch_sub(1, std::memory_order_release);
  rec->inflight.notify_one();
}

// ---------------------------------------------------------------- ShardClient

void ShardClient::Put(std::string_view key, std::string_view value, Kind kind) {
  uint64_t t0 = NowNs();
  Status s = ctx_->Put(wo_, key, value);
  uint64_t t1 = NowNs();
  if (!s.ok()) return ps_->err.Report(s, "ShardContext::Put");
  rec_->at(kind, shard_).Record(t1 - t0, 1, EntryBytes(key, value));
}

void ShardClient::Insert(std::string_view key, std::string_view value, uint64_t keynum,
                         KeySpace* ks) {
  Put(key, value, kInsert);
  if (!ps_->err.failed.load(std::memory_order_relaxed)) ks->AckInsert(keynum);
}

void ShardClient::Get(std::string_view key) {
  uint64_t t0 = NowNs();
  Status s = ctx_->Get(ro_, key, &value_);
  uint64_t t1 = NowNs();
  if (!s.ok() && !s.IsNotFound()) return ps_->err.Report(s, "ShardContext::Get");
  Slot& slot = rec_->at(kRead, shard_);
  slot.Record(t1 - t0, 1, s.ok() ? EntryBytes(key, value_) : 0);
  if (s.ok()) Bump(slot.found, 1);
}

void ShardClient::ReadModifyWrite(std::string_view key, std::string_view value) {
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

void ShardClient::Unsupported(const char* what) {
  ps_->err.Report(Status::NotSupported(std::string(what) + " on a shard fiber"), "--load=reactor");
}

}  // namespace ringdb_bench
