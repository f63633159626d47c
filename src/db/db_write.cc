// DBImpl: writes. Each key's shard applies it (one writer per shard). A write either
// is posted (kPeriodic/kNone without WriteOptions::sync: queued for the shard and
// acknowledged at once, see docs/engine.md "Posted writes") or waits for its shard
// (kSync: until fdatasync'ed; otherwise until its WAL write reached the kernel).
#include "db/db_impl.h"
#include "db/shard_messages.h"
#include "db/write_batch_internal.h"
#include "lsm/expiry.h"
#include "lsm/post_log.h"
#include "lsm/write_batch_rep.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::db {
namespace {

// Bytes of each (thread, shard) post log's ring: about 500 posted 100-byte writes in
// flight per thread and shard before a writer falls back to waiting.
constexpr size_t kPostBufferBytes = 128 << 10;

// The calling thread's scratch rep for waited writes (no allocation per call once it
// has grown; trimmed after a huge one).
std::string& ScratchRep() {
  thread_local std::string rep;
  if (rep.capacity() > (1 << 20)) std::string().swap(rep);
  rep.clear();
  return rep;
}

// Splits a batch's rep into one rep per shard.
class Splitter : public lsm::WriteBatchRep::Handler {
 public:
  Splitter(const DBImpl* db, std::vector<std::string>* reps) : db_(db), reps_(reps) {}
  void Put(std::string_view k, std::string_view v) override {
    (void)lsm::WriteBatchRep::Put(&Rep(k), k, v);
  }
  void PutExpiring(std::string_view k, std::string_view stored) override {
    uint64_t deadline = 0;
    std::string_view v;
    lsm::SplitExpiring(stored, &deadline, &v);  // Iterate checked the length
    (void)lsm::WriteBatchRep::Put(&Rep(k), k, v, deadline);
  }
  void Delete(std::string_view k) override { (void)lsm::WriteBatchRep::Delete(&Rep(k), k); }

 private:
  std::string& Rep(std::string_view k) {
    std::string& r = (*reps_)[db_->ShardOf(k)];
    if (r.empty()) lsm::WriteBatchRep::Clear(&r);
    return r;
  }
  const DBImpl* db_;
  std::vector<std::string>* reps_;
};

Status NoDeadlineHere(const char* call) {
  return Status::InvalidArgument(std::string("WriteOptions::expire_at_unix_ms applies to Put only, "
                                             "not to ") +
                                 call + " (a WriteBatch carries its deadlines per Put)");
}

}  // namespace

rt::PostBuffer* DBImpl::PostBufferFor(uint32_t shard) {
  if (rt::PostBuffer* pb = rt_->ForeignPostBuffer(shard)) return pb;
  lsm::PostLogFile f;
  Status s = lsm::CreatePostLog(shards_[shard]->dir(), shard, kPostBufferBytes, &f);
  if (!s.ok()) {
    // The write waits instead (and meets the same disk).
    RINGDB_LOG_WARN("cannot post writes to shard %u: %s", shard, s.ToString().c_str());
    return nullptr;
  }
  rt::PostBuffer::Memory m;
  m.ring = f.ring;
  m.capacity = f.capacity;
  m.produced = f.produced;
  m.released = f.released;
  auto file = std::make_shared<lsm::PostLogFile>(std::move(f));
  // A drained log goes with its buffer; one with unreleased records (its shard failed)
  // stays for the next Open to replay.
  m.release = [file](bool drained) { lsm::DestroyPostLog(file.get(), drained); };
  rt_->InstallPostBuffer(shard, std::make_unique<rt::PostBuffer>(std::move(m)));
  return rt_->ForeignPostBuffer(shard);
}

bool DBImpl::PostRecord(uint32_t shard, size_t rep_bytes, OpKind kind,
                        const std::function<uint32_t(char*)>& fill) {
  lsm::Shard* sh = shards_[shard].get();
  if (!sh->AcceptingPosts()) return false;
  // This thread's async writes to the shard take their sequence numbers there, when
  // the shard gets to them; this write would take its own now, before them, and a
  // later read would show theirs. It waits instead: behind them on the same ring, it
  // is ordered after them (program order, docs/engine.md "Posted writes").
  if (rt_->ForeignOrderedInFlight(shard)->load(std::memory_order_acquire) != 0) return false;
  rt::PostBuffer* pb = PostBufferFor(shard);
  if (pb == nullptr) return false;
  const size_t record_bytes = PostedWrite::RecordBytes(rep_bytes);
  uint64_t pos = 0, token = 0;
  char* rec = static_cast<char*>(pb->Reserve(record_bytes, &pos, &token));
  if (rec == nullptr) return false;  // the shard is behind: this write waits instead
  char* rep = rec + lsm::kPostRecordHeaderBytes;
  const uint32_t count = fill(rep);
  // Its keys are pending (point reads of them wait) before it can be acknowledged.
  sh->NotePostedKeys(std::string_view(rep, rep_bytes));
  // The sequence numbers are taken last, right before the record is sealed and pushed:
  // a memtable switch waits for every number taken (Shard::RequestSwitch).
  const lsm::SequenceNumber seq = sh->AllocateSequences(count);
  lsm::SealPostRecord(rec, pos, seq, count, static_cast<uint32_t>(rep_bytes),
                      static_cast<uint32_t>(record_bytes));
  auto* m = new (rec + PostedWrite::MessageOffset(rep_bytes)) PostedWrite;
  m->handler = &PostedWrite::OnShard;
  m->shard = sh;
  m->buffer = pb;
  m->token = token;
  m->req.rep = std::string_view(rep, rep_bytes);
  m->req.posted = true;
  m->req.first_seq = seq;
  m->req.kind = kind;
  m->req.done = &PostedWrite::OnDone;
  m->req.arg = m;
  rt_->PushForeign(shard, m);
  return true;
}

bool DBImpl::PostEntry(uint32_t shard, bool is_put, std::string_view key, std::string_view value,
                       uint64_t expire_at_ms, OpKind kind) {
  const size_t rep_bytes = lsm::WriteBatchRep::SingleBytes(is_put, key, value, expire_at_ms);
  return PostRecord(shard, rep_bytes, kind, [&](char* rep) {
    lsm::WriteBatchRep::EncodeSingle(rep, is_put, key, value, expire_at_ms);
    return uint32_t{1};
  });
}

bool DBImpl::PostRep(uint32_t shard, std::string_view rep, OpKind kind) {
  if (lsm::WriteBatchRep::Empty(rep)) return false;
  return PostRecord(shard, rep.size(), kind, [&](char* dst) {
    std::memcpy(dst, rep.data(), rep.size());
    return lsm::WriteBatchRep::Count(rep);
  });
}

Status DBImpl::SubmitWrite(uint32_t shard, std::string_view rep, bool sync, OpKind kind,
                           CallGate* gate) {
  WriteMsg m;
  m.shard = shards_[shard].get();
  m.req.kind = kind;
  m.req.rep = rep;
  m.req.sync = sync;
  if (sync_round_ != nullptr && sync_round_->enabled()) {
    // The shard holds the request until its round is complete (docs/engine.md "Synced
    // rounds"): only the round's first request (which starts the hold) and the one that
    // completes it wake shards.
    m.req.round_ns = util::NowNanos();
    const lsm::SyncRound::Arrival a = sync_round_->Arrive(shard);
    rt_->PushForeign(
        shard, &m,
        a == lsm::SyncRound::Arrival::kHeld ? rt::Runtime::Wake::kLazy : rt::Runtime::Wake::kNow);
    if (a == lsm::SyncRound::Arrival::kReleased) {
      for (uint32_t i = 0; i < nshards_; i++) {
        if (i == shard || !sync_round_->Holding(i)) continue;
        if (rt::Message* kick = sync_round_->TakeKick(i)) rt_->PushForeign(i, kick);
      }
    }
  } else {
    rt_->PushForeign(shard, &m);
  }
  gate->Leave();  // queued: the shard completes it even if Close starts now
  m.waiter.Wait(caller_spin_ns_);
  return m.req.status;
}

Status DBImpl::Put(const WriteOptions& wo, std::string_view key, std::string_view value) {
  Status s = CheckKeyValue(key, value);
  if (!s.ok()) return s;
  CallGate gate(*open_);
  s = CheckCall(gate);
  if (!s.ok()) return s;
  const uint32_t shard = ShardOf(key);
  const uint64_t deadline = wo.expire_at_unix_ms;
  if (Posting(wo) && PostEntry(shard, true, key, value, deadline, OpKind::kPut)) {
    return Status::OK();
  }
  std::string& rep = ScratchRep();
  lsm::WriteBatchRep::Clear(&rep);
  s = lsm::WriteBatchRep::Put(&rep, key, value, deadline);
  if (!s.ok()) return s;
  return SubmitWrite(shard, rep, wo.sync, OpKind::kPut, &gate);
}

Status DBImpl::Delete(const WriteOptions& wo, std::string_view key) {
  if (wo.expire_at_unix_ms != 0) return NoDeadlineHere("Delete");
  Status s = CheckKeyValue(key, {});
  if (!s.ok()) return s;
  CallGate gate(*open_);
  s = CheckCall(gate);
  if (!s.ok()) return s;
  const uint32_t shard = ShardOf(key);
  if (Posting(wo) && PostEntry(shard, false, key, {}, 0, OpKind::kDelete)) return Status::OK();
  std::string& rep = ScratchRep();
  lsm::WriteBatchRep::Clear(&rep);
  s = lsm::WriteBatchRep::Delete(&rep, key);
  if (!s.ok()) return s;
  return SubmitWrite(shard, rep, wo.sync, OpKind::kDelete, &gate);
}

Status DBImpl::Write(const WriteOptions& wo, const WriteBatch& batch) {
  if (wo.expire_at_unix_ms != 0) return NoDeadlineHere("Write");
  if (WriteBatchInternal::Invalid(batch)) {
    return Status::InvalidArgument("the batch holds an oversized key or value");
  }
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok() || WriteBatchInternal::Count(batch) == 0) return s;
  std::vector<std::string> reps(nshards_);
  Splitter split(this, &reps);
  s = lsm::WriteBatchRep::Iterate(WriteBatchInternal::Rep(batch), &split);
  if (!s.ok()) return s;
  return WriteParts(wo, reps, &gate);
}

Status DBImpl::WriteParts(const WriteOptions& wo, std::vector<std::string>& reps, CallGate* gate) {
  // Parts that can be posted are; the others go as waited messages, all in flight at
  // once, acknowledged when every one is. Each shard's part is atomic on its own.
  std::vector<WriteMsg> msgs(nshards_);
  std::vector<uint32_t> waited;
  for (uint32_t i = 0; i < nshards_; i++) {
    if (reps[i].empty()) continue;
    if (Posting(wo) && PostRep(i, reps[i], OpKind::kWriteBatch)) continue;
    WriteMsg& m = msgs[i];
    m.shard = shards_[i].get();
    m.req.kind = OpKind::kWriteBatch;
    m.req.rep = reps[i];
    m.req.sync = wo.sync;
    rt_->PushForeign(i, &m);
    waited.push_back(i);
  }
  gate->Leave();
  Status first;
  for (uint32_t i : waited) {
    msgs[i].waiter.Wait(caller_spin_ns_);
    if (first.ok() && !msgs[i].req.status.ok()) first = msgs[i].req.status;
  }
  return first;
}

void DBImpl::SubmitWriteAsync(uint32_t shard, std::string rep, WriteCallback cb, OpKind kind) {
  auto* m = new AsyncWriteMsg;
  m->shard = shards_[shard].get();
  m->rep = std::move(rep);
  m->req.kind = kind;
  m->req.rep = m->rep;
  m->cb = std::move(cb);
  if (post_writes_) {
    m->in_flight = rt_->ForeignOrderedInFlight(shard);
    m->in_flight->fetch_add(1, std::memory_order_relaxed);
  }
  rt_->PushForeign(shard, m);
}

void DBImpl::PutAsync(std::string_view key, std::string_view value, WriteCallback cb) {
  CallGate gate(*open_);
  Status s = CheckAsyncCall(gate);
  if (s.ok()) s = CheckKeyValue(key, value);
  if (!s.ok()) {
    if (cb) cb(s);
    return;
  }
  std::string rep;
  lsm::WriteBatchRep::Clear(&rep);
  (void)lsm::WriteBatchRep::Put(&rep, key, value);
  SubmitWriteAsync(ShardOf(key), std::move(rep), std::move(cb), OpKind::kPut);
}

void DBImpl::DeleteAsync(std::string_view key, WriteCallback cb) {
  CallGate gate(*open_);
  Status s = CheckAsyncCall(gate);
  if (s.ok()) s = CheckKeyValue(key, {});
  if (!s.ok()) {
    if (cb) cb(s);
    return;
  }
  std::string rep;
  lsm::WriteBatchRep::Clear(&rep);
  (void)lsm::WriteBatchRep::Delete(&rep, key);
  SubmitWriteAsync(ShardOf(key), std::move(rep), std::move(cb), OpKind::kDelete);
}

void DBImpl::WriteAsync(const WriteBatch& batch, WriteCallback cb) {
  CallGate gate(*open_);
  Status s = CheckAsyncCall(gate);
  if (s.ok() && WriteBatchInternal::Invalid(batch)) {
    s = Status::InvalidArgument("the batch holds an oversized key or value");
  }
  std::vector<std::string> reps(nshards_);
  if (s.ok() && WriteBatchInternal::Count(batch) > 0) {
    Splitter split(this, &reps);
    s = lsm::WriteBatchRep::Iterate(WriteBatchInternal::Rep(batch), &split);
  }
  uint32_t parts = 0;
  for (const std::string& r : reps) parts += r.empty() ? 0 : 1;
  if (!s.ok() || parts == 0) {
    if (cb) cb(s);
    return;
  }
  // Parts complete on different shard threads: the last one reports.
  struct Join {
    std::atomic<uint32_t> remaining;
    std::mutex mu;  // guards first (error path only)
    Status first;
    WriteCallback cb;
  };
  auto join = std::make_shared<Join>();
  join->remaining.store(parts);
  join->cb = std::move(cb);
  for (uint32_t i = 0; i < nshards_; i++) {
    if (reps[i].empty()) continue;
    SubmitWriteAsync(
        i, std::move(reps[i]),
        [join](Status st) {
          if (!st.ok()) {
            std::lock_guard<std::mutex> g(join->mu);
            if (join->first.ok()) join->first = st;
          }
          if (join->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 && join->cb) {
            Status result;
            {
              std::lock_guard<std::mutex> g(join->mu);
              result = join->first;
            }
            join->cb(result);
          }
        },
        OpKind::kWriteBatch);
  }
}

}  // namespace ringdb::db
