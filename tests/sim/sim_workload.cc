// Client: the seeded workload and the checks of every answer.
#include <map>
#include <optional>
#include <span>

#include "runtime/loop_driver.h"
#include "sim_client.h"

namespace ringdb::sim {

std::string Client::NewValue() {
  const uint64_t id = ++next_value_;
  std::string v = "v";  // (appends: GCC 12's -Wrestrict misfires on "literal" + string)
  v.append(std::to_string(seed_)).append(".").append(std::to_string(id)).append(".");
  const size_t len = rng_.Uniform(p_.value_max);
  for (size_t i = 0; i < len; i++) v.push_back(static_cast<char>('a' + (id + i) % 26));
  return v;
}

// Documented write errors: the disk failed (IOError, NoSpace), the shard is read-only
// after a failure, or the store is stopping.
void Client::CheckWriteStatus(const Status& s, const char* what) {
  Mix(static_cast<uint64_t>(s.code()));
  if (s.ok()) return;
  degraded_ = true;
  if (s.IsIOError() || s.IsNoSpace() || s.IsReadOnly() || s.IsAborted() || s.IsShutdown()) {
    if (faults_on_ || disk_->frozen()) return;
  }
  // A flush or compaction reads back what it wrote: a corrupted read is detected. A
  // table damaged at rest fails its compactions: a write stopped behind L0 gets that.
  if (s.IsCorruption() && (faults_on_ || damaged_)) return;
  Fail(std::string(what) + " failed with no fault injected: " + s.ToString());
}

void Client::CheckReadStatus(const Status& s, const char* what) {
  if (s.ok() || s.IsNotFound()) return;
  if ((s.IsIOError() || s.IsCorruption()) && (faults_on_ || damaged_ || disk_->frozen())) return;
  Fail(std::string(what) + " failed with no fault injected: " + s.ToString());
}

// Until every write issued has its answer (even with the disk gone: a write stalled
// behind L0 gets the compaction's lasting error after a bounded stall; F4, fixed).
void Client::WaitPending() {
  rt::CurrentForeignBlocker()->WaitUntil([this] { return model_.pending() == 0; });
}

void Client::IssueWrite() {
  const uint32_t k = static_cast<uint32_t>(rng_.Uniform(p_.keys));
  const std::string key = KeyName(k);
  const uint32_t shard = db_->ShardForKey(key);
  const bool del = rng_.Chance(0.2);
  Value v = del ? Value() : Value(NewValue());
  const bool async = rng_.Chance(0.75);
  const bool sync = !async && rng_.Chance(0.5);
  const size_t id = model_.Issue(k, v, shard, -1, async ? "async" : sync ? "sync" : "waited");
  const bool sync_mode = p_.durability == Durability::kSync;
  if (async) {  // async: many in flight, acknowledged on the shard
    auto cb = [this, id, gen = model_.generation(), sync_mode](Status s) {
      if (gen != model_.generation()) return;  // answered after the crash
      CheckWriteStatus(s, "async write");
      model_.Ack(id, s.ok(), sync_mode, SimScheduler::Now());
    };
    if (del) {
      db_->DeleteAsync(key, cb);
    } else {
      db_->PutAsync(key, *v, cb);
    }
    return;
  }
  WriteOptions wo;
  wo.sync = sync;
  Status s = del ? db_->Delete(wo, key) : db_->Put(wo, key, *v);
  CheckWriteStatus(s, wo.sync ? "sync write" : "write");
  model_.Ack(id, s.ok(), sync_mode || wo.sync, SimScheduler::Now());
}

// A batch of distinct keys, often spanning shards; each shard's part is atomic.
void Client::IssueBatch(bool wait) {
  const uint32_t n = static_cast<uint32_t>(rng_.Range(2, 8));
  const bool sync = wait && rng_.Chance(0.5);
  const char* how = !wait ? "async batch" : sync ? "sync batch" : "batch";
  WriteBatch b;
  std::map<uint32_t, int64_t> part;  // shard -> batch part id
  std::vector<size_t> ids;
  std::vector<uint32_t> used;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t k = static_cast<uint32_t>(rng_.Uniform(p_.keys));
    if (std::find(used.begin(), used.end(), k) != used.end()) continue;
    used.push_back(k);
    const std::string key = KeyName(k);
    const uint32_t shard = db_->ShardForKey(key);
    if (!part.count(shard)) part[shard] = model_.NewBatch();
    Value v = rng_.Chance(0.2) ? Value() : Value(NewValue());
    ids.push_back(model_.Issue(k, v, shard, part[shard], how));
    if (v) {
      b.Put(key, *v);
    } else {
      b.Delete(key);
    }
  }
  const bool sync_mode = p_.durability == Durability::kSync;
  if (!wait) {
    db_->WriteAsync(b, [this, ids, gen = model_.generation(), sync_mode](Status s) {
      if (gen != model_.generation()) return;  // answered after the crash
      CheckWriteStatus(s, "async batch");
      for (size_t id : ids) model_.Ack(id, s.ok(), sync_mode, SimScheduler::Now());
    });
    return;
  }
  WriteOptions wo;
  wo.sync = sync;
  Status s = db_->Write(wo, b);
  CheckWriteStatus(s, "batch");
  for (size_t id : ids) {
    model_.Ack(id, s.ok(), sync_mode || wo.sync, SimScheduler::Now());
  }
}

void Client::Burst() {
  const uint32_t n = static_cast<uint32_t>(rng_.Range(1, 12));
  for (uint32_t i = 0; i < n && !disk_->frozen(); i++) {
    const uint64_t r = rng_.Uniform(100);
    if (r < 80) {
      IssueWrite();
    } else {
      IssueBatch(/*wait=*/r >= 95);
    }
    res_.ops++;
  }
  WaitPending();
}

void Client::Epoch() {
  for (uint32_t i = 0; i < p_.bursts && !disk_->frozen() && !degraded_; i++) {
    Burst();
    if (disk_->frozen() || degraded_) break;
    const uint64_t r = rng_.Uniform(100);
    if (r < 40) {
      Reads();
    } else if (r < 48) {
      CheckMultiGet();
    } else if (r < 54) {
      CheckScan(nullptr, nullptr);
    } else if (r < 58) {
      CheckSnapshot();
    } else if (r < 63) {
      Status s = db_->Flush();
      CheckWriteStatus(s, "Flush");
    } else if (r < 66 && rng_.Chance(0.3)) {  // a crash with writes in flight
      for (int j = 0; j < 6; j++) IssueWrite();
      disk_->Freeze();
      freeze_ns_ = SimScheduler::Now();
      WaitPending();
    }
  }
}

void Client::CheckGet(uint32_t k, const Status& s, const std::string& v) {
  CheckReadStatus(s, "Get");
  Mix(static_cast<uint64_t>(s.code()) + v.size());
  if (!s.ok() && !s.IsNotFound()) return;
  const Value got = s.ok() ? Value(v) : Value();
  std::string why = model_.CheckKey(k, got, /*across_crash=*/false);
  if (!why.empty()) Fail("read: " + why);
}

void Client::Reads() {
  for (int i = 0; i < 6; i++) {
    const uint32_t k = static_cast<uint32_t>(rng_.Uniform(p_.keys));
    std::string v;
    Status s = db_->Get(ReadOptions(), KeyName(k), &v);
    CheckGet(k, s, v);
  }
}

void Client::CheckMultiGet() {
  std::vector<std::string> names;
  std::vector<uint32_t> ks;
  for (int i = 0; i < 10; i++) {
    ks.push_back(static_cast<uint32_t>(rng_.Uniform(p_.keys)));
    names.push_back(KeyName(ks.back()));
  }
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<std::string> values;
  std::vector<Status> st = db_->MultiGet(ReadOptions(), views, &values);
  if (st.size() != ks.size() || values.size() != ks.size()) Fail("MultiGet: wrong result count");
  for (size_t i = 0; i < ks.size(); i++) CheckGet(ks[i], st[i], values[i]);
}

// Scans [lo, hi) (a random range, or everything); with `expected` (a snapshot's
// state), every key must match it exactly.
void Client::CheckScan(const Snapshot* snap, const std::vector<Value>* expected) {
  ReadOptions ro;
  ro.snapshot = snap;
  uint32_t lo = 0, hi = p_.keys;
  if (rng_.Chance(0.5)) {
    lo = static_cast<uint32_t>(rng_.Uniform(p_.keys));
    hi = static_cast<uint32_t>(rng_.Range(lo, p_.keys));
    ro.lower_bound = KeyName(lo);
    ro.upper_bound = KeyName(hi);
  }
  std::vector<Value> seen(p_.keys);
  std::unique_ptr<Iterator> it = db_->NewIterator(ro);
  std::string prev;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key(it->key());
    if (!prev.empty() && key <= prev) Fail("scan: keys out of order at " + key);
    prev = key;
    uint32_t k = 0;
    if (key.size() != 6 || key[0] != 'k' || (k = std::stoul(key.substr(1))) < lo || k >= hi) {
      Fail("scan: a key nobody wrote or outside the bounds: " + key);
    }
    seen[k] = std::string(it->value());
  }
  CheckReadStatus(it->status(), "scan");
  if (!it->status().ok()) return;
  for (uint32_t k = lo; k < hi; k++) {
    Mix(seen[k] ? seen[k]->size() + 1 : 0);
    if (expected != nullptr) {
      if (seen[k] != (*expected)[k]) {
        std::string v;
        ReadOptions sro;
        sro.snapshot = snap;
        Status gs = db_->Get(sro, KeyName(k), &v);
        Fail("snapshot scan of [" + std::to_string(lo) + ", " + std::to_string(hi) + "): key " +
             std::to_string(k) + " shows " + Describe(seen[k]) + ", the snapshot holds " +
             Describe((*expected)[k]) + "; a snapshot Get finds " +
             (gs.ok() ? Describe(v) : gs.ToString()));
      }
      continue;
    }
    std::string why = model_.CheckKey(k, seen[k], /*across_crash=*/false);
    if (!why.empty()) Fail("scan: " + why);
  }
}

// A snapshot taken while nothing is in flight keeps showing that state while more
// writes land.
void Client::CheckSnapshot() {
  std::vector<Value> state(p_.keys);
  for (uint32_t k = 0; k < p_.keys; k++) {
    if (!model_.Exact(k, &state[k])) return;  // failed writes: nothing exact to compare
  }
  const Snapshot* snap = db_->GetSnapshot();
  Burst();
  if (!disk_->frozen() && !degraded_) {
    for (int i = 0; i < 4; i++) {
      const uint32_t k = static_cast<uint32_t>(rng_.Uniform(p_.keys));
      ReadOptions ro;
      ro.snapshot = snap;
      std::string v;
      Status s = db_->Get(ro, KeyName(k), &v);
      CheckReadStatus(s, "snapshot Get");
      if ((s.ok() || s.IsNotFound()) && (s.ok() ? Value(v) : Value()) != state[k]) {
        Fail("snapshot Get: key " + std::to_string(k) + " differs from the snapshot's " +
             Describe(state[k]));
      }
    }
    CheckScan(snap, &state);
  }
  db_->ReleaseSnapshot(snap);
}

// After a recovery: every key, by Get and by a full scan, with faults off.
bool Client::Verify(bool across_crash, uint64_t durable_before_ns) {
  SetFaults(false);
  std::vector<Value> state(p_.keys);
  for (uint32_t k = 0; k < p_.keys; k++) {
    std::string v;
    Status s = db_->Get(ReadOptions(), KeyName(k), &v);
    if (!s.ok() && !s.IsNotFound()) {
      if (damaged_ && (s.IsCorruption() || s.IsIOError())) return false;
      Fail("Get after recovery: " + s.ToString());
    }
    state[k] = s.ok() ? Value(v) : Value();
    Mix(state[k] ? state[k]->size() + 7 : 3);
    const bool tail_lost =
        damaged_wal_shard_ >= 0 && db_->ShardForKey(KeyName(k)) == uint32_t(damaged_wal_shard_);
    std::string why = model_.CheckKey(k, state[k], across_crash, durable_before_ns, tail_lost);
    if (!why.empty()) Fail("after recovery: " + why);
  }
  // Posted writes also live in the writer's post log, an mmap'd file the power-loss
  // journal cannot see (it survives whole), so after a crash in posting mode a later
  // posted batch may come back while an earlier WAL group is lost: not checked there.
  const bool posting = p_.post_writes && p_.durability != Durability::kSync;
  std::string why = across_crash && posting ? "" : model_.CheckBatches(state);
  if (!why.empty()) Fail("after recovery: " + why);
  model_.Rebase(state);
  damaged_wal_shard_ = -1;  // what recovery kept is the new base
  CheckScan(nullptr, nullptr);
  SetFaults(true);
  return true;
}

}  // namespace ringdb::sim
