// DBImpl: reads on the caller's thread (Get, MultiGet, iterators), snapshots, async
// reads, and shard-local tasks (RunOnShards).
#include "db/db_impl.h"
#include "db/db_iterator.h"
#include "db/shard_messages.h"
#include "lsm/write_batch_rep.h"
#include "runtime/sync.h"
#include "util/clock.h"

namespace ringdb::db {

Status DBImpl::SeqFor(const ReadOptions& ro, uint32_t shard, lsm::SequenceNumber* seq) const {
  if (ro.snapshot == nullptr) {
    *seq = lsm::Shard::kLatest;
    return Status::OK();
  }
  const auto* snap = static_cast<const SnapshotImpl*>(ro.snapshot);
  if (snap->db != this) return Status::InvalidArgument("the snapshot belongs to another DB");
  *seq = snap->seqs[shard];
  return Status::OK();
}

Status DBImpl::Get(const ReadOptions& ro, std::string_view key, std::string* value,
                   uint64_t* expire_at_unix_ms) {
  if (key.size() > kMaxKeyBytes) return CheckKeyValue(key, {});
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok()) return s;
  const uint64_t start = util::FastNanos();
  const uint32_t shard = ShardOf(key);
  lsm::SequenceNumber seq;
  s = SeqFor(ro, shard, &seq);
  if (!s.ok()) return s;
  lsm::Shard* sh = shards_[shard].get();
  sh->WaitForPostedWritesOf(key);
  lsm::ReadCounters rc;
  ThreadBlockReader reader(rt_.get(), sh, shard, caller_spin_ns_, caller_io());
  s = sh->GetWith(key, value, seq, ro.fill_cache, &reader, &rc, expire_at_unix_ms);
  ThreadShardStats& ts = stats_->ForThisThread().shard(shard);
  ts.AddReads(rc);
  if (s.ok()) ts.user_bytes_read.Add(key.size() + value->size());
  ts.get.Record(util::FastElapsed(start), s, 1);
  return s;
}

namespace {

// MultiGet's work for one shard: the keys it owns and their lookup state.
struct MultiGetPart {
  std::vector<size_t> index;  // positions in the caller's arrays
  std::vector<std::string_view> keys;
  std::vector<std::string> values;
  std::vector<Status> statuses;
  lsm::ReadCounters rc;
  std::unique_ptr<lsm::BatchLookup> batch;
};

// Every round sends each shard's missing blocks at once and waits for all of them, so
// the misses of every shard are in flight together.
void RunMultiGetRounds(rt::Runtime* rt, const std::vector<std::unique_ptr<lsm::Shard>>& shards,
                       std::vector<MultiGetPart>& parts, uint64_t spin_ns,
                       const CallerIoConfig* io) {
  for (;;) {
    if (io != nullptr) {
      // This thread reads every shard's missing blocks, all in one submission.
      std::vector<CallerRead> all;
      for (uint32_t sh = 0; sh < parts.size(); sh++) {
        MultiGetPart& p = parts[sh];
        if (p.batch == nullptr || p.batch->done()) continue;
        for (lsm::BlockRead& r : p.batch->reads()) all.push_back({sh, shards[sh].get(), &r});
      }
      if (all.empty()) return;
      if (!ReadOnCaller(rt, *io, all.data(), all.size())) {
        io = nullptr;  // no backend on this thread: the shards read them
        continue;
      }
      for (uint32_t sh = 0; sh < parts.size(); sh++) {
        MultiGetPart& p = parts[sh];
        if (p.batch != nullptr && !p.batch->done()) p.batch->Resume(&shards[sh]->block_cache());
      }
      continue;
    }
    std::vector<std::unique_ptr<ReadBlocksMsg>> msgs;
    for (uint32_t sh = 0; sh < parts.size(); sh++) {
      MultiGetPart& p = parts[sh];
      if (p.batch == nullptr || p.batch->done()) continue;
      auto m = std::make_unique<ReadBlocksMsg>();
      m->shard = shards[sh].get();
      m->reads = p.batch->reads().data();
      m->n = p.batch->reads().size();
      rt->PushForeign(sh, m.get());
      msgs.push_back(std::move(m));
    }
    if (msgs.empty()) return;
    for (auto& m : msgs) m->waiter.Wait(spin_ns);
    for (uint32_t sh = 0; sh < parts.size(); sh++) {
      MultiGetPart& p = parts[sh];
      if (p.batch != nullptr && !p.batch->done()) p.batch->Resume(&shards[sh]->block_cache());
    }
  }
}

// Moves each shard's results into the caller's arrays and records the shard's stats.
void FinishMultiGet(std::vector<MultiGetPart>& parts, uint64_t latency, ThreadStats& ts,
                    std::vector<std::string>* values, std::vector<Status>* statuses) {
  for (uint32_t sh = 0; sh < parts.size(); sh++) {
    MultiGetPart& p = parts[sh];
    if (p.batch == nullptr) continue;
    Status first;
    uint64_t bytes = 0;
    for (size_t j = 0; j < p.index.size(); j++) {
      if (p.statuses[j].ok()) bytes += p.keys[j].size() + p.values[j].size();
      if (first.ok() && !p.statuses[j].ok() && !p.statuses[j].IsNotFound()) first = p.statuses[j];
      (*values)[p.index[j]] = std::move(p.values[j]);
      (*statuses)[p.index[j]] = std::move(p.statuses[j]);
    }
    ThreadShardStats& st = ts.shard(sh);
    st.AddReads(p.rc);
    st.user_bytes_read.Add(bytes);
    st.multiget.Record(latency, first, p.index.size());
  }
}

}  // namespace

std::vector<Status> DBImpl::MultiGet(const ReadOptions& ro, std::span<const std::string_view> keys,
                                     std::vector<std::string>* values) {
  const size_t n = keys.size();
  values->assign(n, std::string());
  std::vector<Status> statuses(n);
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok()) {
    statuses.assign(n, s);
    return statuses;
  }
  const uint64_t start = util::FastNanos();
  std::vector<MultiGetPart> parts(nshards_);
  for (size_t i = 0; i < n; i++) {
    if (keys[i].size() > kMaxKeyBytes) {
      statuses[i] = CheckKeyValue(keys[i], {});
      continue;
    }
    MultiGetPart& p = parts[ShardOf(keys[i])];
    p.index.push_back(i);
    p.keys.push_back(keys[i]);
  }
  for (uint32_t sh = 0; sh < nshards_; sh++) {
    MultiGetPart& p = parts[sh];
    if (p.keys.empty()) continue;
    lsm::SequenceNumber seq;
    s = SeqFor(ro, sh, &seq);
    if (!s.ok()) {
      statuses.assign(n, s);
      return statuses;
    }
    lsm::Shard* shard = shards_[sh].get();
    for (std::string_view k : p.keys) shard->WaitForPostedWritesOf(k);
    if (seq == lsm::Shard::kLatest) seq = shard->published_sequence();
    p.values.resize(p.keys.size());
    p.statuses.resize(p.keys.size());
    p.batch = std::make_unique<lsm::BatchLookup>(p.keys.data(), p.keys.size(), p.values.data(),
                                                 p.statuses.data(), seq, ro.fill_cache,
                                                 &shard->clock(), &p.rc);
    p.batch->Start(*shard->view(), &shard->block_cache());  // inside the gate's section
  }
  RunMultiGetRounds(rt_.get(), shards_, parts, caller_spin_ns_, caller_io());
  FinishMultiGet(parts, util::FastElapsed(start), stats_->ForThisThread(), values, &statuses);
  return statuses;
}

void DBImpl::GetAsync(std::string_view key, GetCallback cb) {
  CallGate gate(*open_);
  Status s = CheckAsyncCall(gate);
  if (s.ok()) s = CheckKeyValue(key, {});
  if (!s.ok()) {
    if (cb) cb(s, {});
    return;
  }
  const uint32_t shard = ShardOf(key);
  auto* m = new AsyncGetMsg;
  m->shard = shards_[shard].get();
  m->key = std::string(key);
  m->cb = std::move(cb);
  rt_->PushForeign(shard, m);
}

// ---------------------------------------------------------------------------------
// Iterators and snapshots

std::unique_ptr<Iterator> DBImpl::NewIterator(const ReadOptions& ro) {
  class ErrorIterator final : public Iterator {
   public:
    explicit ErrorIterator(Status s) : s_(std::move(s)) {}
    bool Valid() const override { return false; }
    void SeekToFirst() override {}
    void SeekToLast() override {}
    void Seek(std::string_view) override {}
    void SeekForPrev(std::string_view) override {}
    void Next() override {}
    void Prev() override {}
    std::string_view key() const override { return {}; }
    std::string_view value() const override { return {}; }
    Status status() const override { return s_; }

   private:
    Status s_;
  };
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (s.ok() && ro.lower_bound && ro.upper_bound && *ro.upper_bound < *ro.lower_bound) {
    s = Status::InvalidArgument("ReadOptions::upper_bound is below lower_bound");
  }
  std::vector<DBIterator::Child> children(nshards_);
  for (uint32_t i = 0; i < nshards_ && s.ok(); i++) {
    lsm::SequenceNumber seq;
    s = SeqFor(ro, i, &seq);
    if (!s.ok()) break;
    lsm::Shard* sh = shards_[i].get();
    sh->WaitForPostedWrites();
    if (seq == lsm::Shard::kLatest) seq = sh->published_sequence();
    DBIterator::Child& c = children[i];
    c.shard = i;
    c.reader = std::make_unique<ThreadBlockReader>(rt_.get(), sh, i, caller_spin_ns_, caller_io());
    lsm::ReadViewRef view(sh->view());  // inside the gate's section
    c.it = sh->NewIterator(std::move(view), seq, ro.lower_bound, ro.upper_bound, ro.fill_cache,
                           c.reader.get());
  }
  if (!s.ok()) return std::make_unique<ErrorIterator>(s);
  return std::make_unique<DBIterator>(this, std::move(children));
}

const Snapshot* DBImpl::GetSnapshot() {
  CallGate gate(*open_);
  if (!CheckCall(gate).ok()) return nullptr;
  WaitForAllPostedWrites();  // every acknowledged write is in the view
  std::vector<lsm::SequenceNumber> seqs(nshards_);
  OnAllShards([this, &seqs](uint32_t i) {
    seqs[i] = shards_[i]->AcquireSnapshot();
    return Status::OK();
  });
  auto* snap = new SnapshotImpl(this, std::move(seqs));
  std::lock_guard<std::mutex> g(snapshots_mu_);
  snapshots_.insert(snap);
  return snap;
}

Status DBImpl::ReleaseSnapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return Status::InvalidArgument("ReleaseSnapshot(nullptr)");
  {
    std::lock_guard<std::mutex> g(snapshots_mu_);
    if (snapshots_.erase(snapshot) == 0) {
      return Status::InvalidArgument(
          "ReleaseSnapshot: snapshot released already, or not from this DB");
    }
  }
  const auto* snap = static_cast<const SnapshotImpl*>(snapshot);
  {
    CallGate gate(*open_);
    if (gate.open() && !OnShardThread()) {
      OnAllShards([this, snap](uint32_t i) {
        shards_[i]->ReleaseSnapshot(snap->seqs[i]);
        return Status::OK();
      });
    }
  }
  delete snap;
  return Status::OK();
}

// ---------------------------------------------------------------------------------
// Shard-local tasks

namespace {

// What a RunOnShards task sees: the shard it runs on, operations that suspend its fiber.
class ShardContextImpl final : public ShardContext {
 public:
  ShardContextImpl(const DBImpl* db, lsm::Shard* shard, uint32_t index)
      : db_(db), shard_(shard), index_(index) {}

  uint32_t shard() const override { return index_; }
  uint32_t shard_count() const override { return db_->shard_count(); }
  bool Owns(std::string_view key) const override { return db_->ShardOf(key) == index_; }

  Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) override {
    Status s = Check(key, value);
    if (!s.ok()) return s;
    std::string rep;
    lsm::WriteBatchRep::Clear(&rep);
    s = lsm::WriteBatchRep::Put(&rep, key, value, wo.expire_at_unix_ms);
    return s.ok() ? Write(rep, wo.sync, OpKind::kPut) : s;
  }
  Status Delete(const WriteOptions& wo, std::string_view key) override {
    if (wo.expire_at_unix_ms != 0) {
      return Status::InvalidArgument("WriteOptions::expire_at_unix_ms applies to Put only");
    }
    Status s = Check(key, {});
    if (!s.ok()) return s;
    std::string rep;
    lsm::WriteBatchRep::Clear(&rep);
    s = lsm::WriteBatchRep::Delete(&rep, key);
    return s.ok() ? Write(rep, wo.sync, OpKind::kDelete) : s;
  }
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value,
             uint64_t* expire_at_unix_ms) override {
    Status s = Check(key, {});
    if (!s.ok()) return s;
    lsm::SequenceNumber seq;
    s = db_->SeqFor(ro, index_, &seq);
    if (!s.ok()) return s;
    const uint64_t start = util::FastNanos();
    s = shard_->Get(key, value, seq, ro.fill_cache, expire_at_unix_ms);
    shard_->RecordOpElapsed(OpKind::kGet, util::FastElapsed(start), s);
    if (s.ok()) shard_->AddUserBytesRead(key.size() + value->size());
    return s;
  }
  void Yield() override { rt::Yield(); }

 private:
  Status Check(std::string_view key, std::string_view value) const {
    Status s = CheckKeyValue(key, value);
    if (!s.ok()) return s;
    if (!Owns(key)) {
      return Status::InvalidArgument("ShardContext: key belongs to shard " +
                                     std::to_string(db_->ShardOf(key)) + ", not " +
                                     std::to_string(index_));
    }
    return Status::OK();
  }
  Status Write(std::string_view rep, bool sync, OpKind kind) {
    struct Waiter {
      rt::Event done;
    } waiter;
    lsm::WriteRequest req;
    req.rep = rep;
    req.sync = sync;
    req.kind = kind;
    req.arg = &waiter;
    req.done = [](lsm::WriteRequest* r) { static_cast<Waiter*>(r->arg)->done.Set(); };
    shard_->SubmitWrite(&req);
    waiter.done.Wait();
    return req.status;
  }

  const DBImpl* db_;
  lsm::Shard* shard_;
  uint32_t index_;
};

}  // namespace

Status DBImpl::RunOnShards(uint32_t fibers_per_shard, const ShardTask& task) {
  {
    CallGate gate(*open_);
    Status s = CheckCall(gate);
    if (!s.ok()) return s;
  }
  if (!task) return Status::InvalidArgument("RunOnShards: empty task");
  if (fibers_per_shard == 0) return Status::OK();
  return OnAllShards([this, fibers_per_shard, &task](uint32_t i) {
    ShardContextImpl ctx(this, shards_[i].get(), i);
    rt::WaitGroup wg;
    rt::Reactor* r = rt::CurrentReactor();
    for (uint32_t f = 0; f < fibers_per_shard; f++) {
      wg.Add(1);
      r->Spawn(
          [&task, &ctx, &wg, f] {
            task(ctx, f);
            wg.Done();
          },
          "shard_task");
    }
    wg.Wait();
    return shards_[i]->background_error();
  });
}

}  // namespace ringdb::db
