// DBImpl: snapshots, MultiGet, iterators and shard-local tasks (RunOnShards).
#include <latch>

#include "db/db_impl.h"
#include "db/db_iterator.h"
#include "db/shard_call.h"
#include "lsm/write_batch_rep.h"
#include "runtime/sync.h"

namespace ringdb::db {

Status DBImpl::ReadSeqs(const ReadOptions& ro, std::vector<lsm::SequenceNumber>* seqs) const {
  seqs->resize(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    Status s = SeqFor(ro, i, &(*seqs)[i]);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

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

const Snapshot* DBImpl::GetSnapshot() {
  if (!CheckOpen().ok()) return nullptr;
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

void DBImpl::ReleaseSnapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  {
    std::lock_guard<std::mutex> g(snapshots_mu_);
    if (snapshots_.erase(snapshot) == 0) return;  // not ours, or released twice
  }
  const auto* snap = static_cast<const SnapshotImpl*>(snapshot);
  if (!closed_.load(std::memory_order_acquire) && !OnShardThread()) {
    OnAllShards([this, snap](uint32_t i) {
      shards_[i]->ReleaseSnapshot(snap->seqs[i]);
      return Status::OK();
    });
  }
  delete snap;
}

std::vector<Status> DBImpl::MultiGet(const ReadOptions& ro, std::span<const std::string_view> keys,
                                     std::vector<std::string>* values) {
  const size_t n = keys.size();
  values->assign(n, std::string());
  std::vector<Status> statuses(n);
  Status s = CheckOpen();
  std::vector<lsm::SequenceNumber> seqs;
  if (s.ok()) s = ReadSeqs(ro, &seqs);
  if (!s.ok()) {
    statuses.assign(n, s);
    return statuses;
  }
  // One request per shard with the keys it owns, all in flight at once.
  struct Part {
    std::vector<size_t> index;
    std::vector<std::string_view> keys;
    std::vector<std::string> values;
    std::vector<Status> statuses;
    std::unique_ptr<ShardCall> call;
  };
  std::vector<Part> parts(nshards_);
  for (size_t i = 0; i < n; i++) {
    if (keys[i].size() > kMaxKeyBytes) {
      statuses[i] = CheckKeyValue(keys[i], {});
      continue;
    }
    Part& p = parts[ShardOf(keys[i])];
    p.index.push_back(i);
    p.keys.push_back(keys[i]);
  }
  const bool fill_cache = ro.fill_cache;
  for (uint32_t sh = 0; sh < nshards_; sh++) {
    Part& p = parts[sh];
    if (p.keys.empty()) continue;
    p.values.resize(p.keys.size());
    p.statuses.resize(p.keys.size());
    lsm::Shard* shard = shards_[sh].get();
    const lsm::SequenceNumber seq = seqs[sh];
    p.call = std::make_unique<ShardCall>([&p, shard, seq, fill_cache] {
      shard->MultiGet(p.keys.data(), p.keys.size(), p.values.data(), p.statuses.data(), seq,
                      fill_cache);
    });
    rt_->PushForeign(sh, p.call.get());
  }
  for (Part& p : parts) {
    if (p.call == nullptr) continue;
    p.call->waiter.Wait(caller_spin_ns_);
    for (size_t j = 0; j < p.index.size(); j++) {
      (*values)[p.index[j]] = std::move(p.values[j]);
      statuses[p.index[j]] = std::move(p.statuses[j]);
    }
  }
  return statuses;
}

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
  Status s = CheckOpen();
  std::vector<lsm::SequenceNumber> seqs;
  if (s.ok()) s = ReadSeqs(ro, &seqs);
  if (s.ok() && ro.lower_bound && ro.upper_bound && *ro.upper_bound < *ro.lower_bound) {
    s = Status::InvalidArgument("ReadOptions::upper_bound is below lower_bound");
  }
  if (!s.ok()) return std::make_unique<ErrorIterator>(s);
  return std::make_unique<DBIterator>(this, std::move(seqs), ro);
}

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
    s = lsm::WriteBatchRep::Put(&rep, key, value);
    return s.ok() ? Write(rep, wo.sync, OpKind::kPut) : s;
  }
  Status Delete(const WriteOptions& wo, std::string_view key) override {
    Status s = Check(key, {});
    if (!s.ok()) return s;
    std::string rep;
    lsm::WriteBatchRep::Clear(&rep);
    s = lsm::WriteBatchRep::Delete(&rep, key);
    return s.ok() ? Write(rep, wo.sync, OpKind::kDelete) : s;
  }
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value) override {
    Status s = Check(key, {});
    if (!s.ok()) return s;
    lsm::SequenceNumber seq;
    s = db_->SeqFor(ro, index_, &seq);
    if (!s.ok()) return s;
    const uint64_t start = util::NowNanos();
    if (!shard_->GetFromMemtables(key, value, &s, seq))
      s = shard_->Get(key, value, seq, ro.fill_cache);
    shard_->RecordOp(OpKind::kGet, start, s);
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
  Status s = CheckOpen();
  if (!s.ok()) return s;
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
