// The engine adapter (see store.h). Everything here that names DBImpl, lsm::Shard or
// the runtime's messages is what a new engine core replaces.
#include "server/store.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "db/db_impl.h"
#include "db/stats_render.h"
#include "lsm/shard.h"
#include "lsm/write_batch_rep.h"
#include "ringdb/db.h"
#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/coding.h"
#include "util/hash.h"

namespace ringdb::server {
namespace {

// The value header (until the engine stores deadlines itself):
//   value := 0x00 payload | 0x01 fixed64(expire_at_ms) payload
constexpr char kNoDeadline = 0;
constexpr char kDeadline = 1;
constexpr size_t kDeadlineHeader = 9;

db::DBImpl* Impl(DB* db) {
  return static_cast<db::DBImpl*>(db);
}

// Splits a stored value into payload and deadline. False: not written by this adapter.
bool DecodeValue(std::string_view stored, size_t* header, uint64_t* expire_at_ms) {
  if (stored.empty()) return false;
  if (stored[0] == kNoDeadline) {
    *header = 1;
    *expire_at_ms = 0;
    return true;
  }
  if (stored[0] == kDeadline && stored.size() >= kDeadlineHeader) {
    *header = kDeadlineHeader;
    *expire_at_ms = util::DecodeFixed64(stored.data() + 1);
    return true;
  }
  return false;
}

bool Expired(uint64_t expire_at_ms, uint64_t now_ms) {
  return expire_at_ms != 0 && expire_at_ms <= now_ms;
}

Status NotOurs(std::string_view key) {
  return Status::Corruption("the value of '" + std::string(key.substr(0, 64)) +
                            "' was not written by ringdb-server (no value header)");
}

// RunAll's rendezvous, on the calling fiber's stack.
struct Join {
  uint32_t remaining = 0;
  bool waiting = false;  // the fiber is suspended in RunAll (and for no other reason)
  rt::Fiber* fiber = nullptr;
};

void OnCallReply(rt::Message* m, rt::Reactor* r) {
  auto* j = static_cast<Join*>(static_cast<ShardCall*>(m)->join_);
  if (--j->remaining == 0 && j->waiting) r->MakeReady(j->fiber);
}

void OnCallTarget(rt::Message* m, rt::Reactor* r) {
  r->Spawn(
      [m] {
        auto* c = static_cast<ShardCall*>(m);
        c->fn(c->arg);
        c->handler = &OnCallReply;
        rt::CurrentReactor()->SendToShard(c->origin_, c);  // last touch of *c
      },
      "shard_call");
}

struct PostMsg : rt::Message {
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
};

void OnPost(rt::Message* m, rt::Reactor* r) {
  auto* p = static_cast<PostMsg*>(m);
  void (*fn)(void*) = p->fn;
  void* arg = p->arg;
  delete p;
  r->Spawn([fn, arg] { fn(arg); }, "posted");
}

}  // namespace

// A pooled engine write request and the server's callback.
struct WriteCtx {
  lsm::WriteRequest req;
  Store::WriteDone done = nullptr;
  void* arg = nullptr;
  std::vector<std::unique_ptr<WriteCtx>>* pool = nullptr;
};

struct Store::PerShard {
  // Touched only on the shard's thread. A request in flight is owned by the engine
  // until its callback, which puts it back here.
  std::vector<std::unique_ptr<WriteCtx>> free;
};

Status Store::Open(const StoreOptions& opt, std::unique_ptr<Store>* out) {
  Options o;
  o.path = opt.path;
  o.shards = opt.shards;
  o.durability = opt.durability;
  o.periodic_sync_ms = opt.periodic_sync_ms;
  o.memtable_bytes = opt.memtable_bytes;
  o.block_cache_bytes = opt.block_cache_bytes;
  o.io_backend = opt.io_backend;
  o.io_poll_batch = opt.io_poll_batch;
  o.idle_spin_us = opt.idle_spin_us;
  o.pin_threads = opt.pin_threads;
  std::unique_ptr<Store> st(new Store());
  st->opt_ = opt;
  Status s = DB::Open(o, &st->db_);
  if (!s.ok()) return s;
  st->nshards_ = st->db_->shard_count();
  st->backend_desc_ = st->db_->io_backend();
  for (uint32_t i = 0; i < st->nshards_; i++)
    st->per_shard_.push_back(std::make_unique<PerShard>());
  *out = std::move(st);
  return Status::OK();
}

Store::~Store() {
  Close();
}

Status Store::Close() {
  if (db_ == nullptr) return Status::OK();
  Status s = db_->Close();
  db_.reset();
  return s;
}

uint32_t Store::ShardOf(std::string_view key) const {
  return Impl(db_.get())->ShardOf(key);
}

uint64_t Store::NowMs() const {
  if (opt_.clock_ms) return opt_.clock_ms();
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

Status Store::RunOnEveryShard(const std::function<void(uint32_t shard)>& fn) {
  return db_->RunOnShards(1, [&fn](ShardContext& ctx, uint32_t) { fn(ctx.shard()); });
}

void Store::RunAll(ShardCall* calls, size_t n) {
  rt::Reactor* r = rt::CurrentReactor();
  RINGDB_ASSERT_MSG(r != nullptr && r->current_fiber() != nullptr, "RunAll outside a fiber");
  const uint32_t self = r->shard_id();
  Join join;
  join.fiber = r->current_fiber();
  for (size_t i = 0; i < n; i++) {
    ShardCall& c = calls[i];
    if (c.shard == self) continue;
    c.origin_ = self;
    c.join_ = &join;
    c.handler = &OnCallTarget;
    join.remaining++;
    r->SendToShard(c.shard, &c);
  }
  for (size_t i = 0; i < n; i++) {
    if (calls[i].shard == self) calls[i].fn(calls[i].arg);
  }
  while (join.remaining > 0) {
    join.waiting = true;
    r->Suspend();
    join.waiting = false;
  }
}

void Store::Post(uint32_t shard, void (*fn)(void* arg), void* arg) {
  rt::Reactor* r = rt::CurrentReactor();
  if (shard == r->shard_id()) {
    r->Spawn([fn, arg] { fn(arg); }, "posted");
    return;
  }
  auto* p = new PostMsg;
  p->fn = fn;
  p->arg = arg;
  p->handler = &OnPost;
  r->SendToShard(shard, p);
}

Status Store::Get(std::string_view key, std::string* value, uint64_t* expire_at_ms) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  lsm::Shard* shard = Impl(db_.get())->shard(rt::ShardId());
  const uint64_t start = util::NowNanos();
  Status s;
  if (!shard->GetFromMemtables(key, value, &s)) s = shard->Get(key, value);
  shard->RecordOp(OpKind::kGet, start, s);
  if (!s.ok()) return s;
  shard->AddUserBytesRead(key.size() + value->size());
  size_t header = 0;
  if (!DecodeValue(*value, &header, expire_at_ms)) return NotOurs(key);
  if (Expired(*expire_at_ms, NowMs())) {
    *expire_at_ms = 0;
    return Status::NotFound("expired");
  }
  value->erase(0, header);
  return Status::OK();
}

void Store::BatchClear(std::string* rep) {
  lsm::WriteBatchRep::Clear(rep);
}

bool Store::BatchEmpty(const std::string& rep) {
  return lsm::WriteBatchRep::Empty(rep);
}

Status Store::BatchPut(std::string* rep, std::string_view key, std::string_view value,
                       uint64_t expire_at_ms) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxValueBytes));
  }
  // The header and the payload go in as one value.
  char header[kDeadlineHeader];
  size_t hlen = 1;
  header[0] = kNoDeadline;
  if (expire_at_ms != 0) {
    header[0] = kDeadline;
    util::EncodeFixed64(header + 1, expire_at_ms);
    hlen = kDeadlineHeader;
  }
  thread_local std::string buf;
  buf.assign(header, hlen);
  buf.append(value);
  return lsm::WriteBatchRep::Put(rep, key, buf);
}

Status Store::BatchDelete(std::string* rep, std::string_view key) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  return lsm::WriteBatchRep::Delete(rep, key);
}

void Store::SubmitWrite(std::string_view rep, WriteDone done, void* arg) {
  const uint32_t sh = rt::ShardId();
  PerShard& ps = *per_shard_[sh];
  WriteCtx* ctx;
  if (!ps.free.empty()) {
    ctx = ps.free.back().release();
    ps.free.pop_back();
  } else {
    ctx = new WriteCtx;
  }
  ctx->req = lsm::WriteRequest();
  ctx->req.rep = rep;
  ctx->req.kind = OpKind::kWriteBatch;
  ctx->req.arg = ctx;
  ctx->req.done = [](lsm::WriteRequest* w) {
    auto* c = static_cast<WriteCtx*>(w->arg);
    Store::WriteDone fn = c->done;
    void* a = c->arg;
    const Status st = w->status;
    c->pool->emplace_back(c);
    fn(a, st);
  };
  ctx->done = done;
  ctx->arg = arg;
  ctx->pool = &ps.free;
  Impl(db_.get())->shard(sh)->SubmitWrite(&ctx->req);
}

Status Store::ScanLocal(std::string_view after, bool first, size_t max,
                        std::vector<std::string>* keys, bool* end) {
  keys->clear();
  *end = false;
  lsm::Shard* shard = Impl(db_.get())->shard(rt::ShardId());
  std::optional<std::string> lower;
  if (!first) lower = std::string(after);
  std::unique_ptr<lsm::UserIterator> it =
      shard->NewIterator(lsm::Shard::kLatest, lower, std::nullopt, /*fill_cache=*/false);
  it->SeekToFirst();
  const uint64_t now = NowMs();
  for (; it->Valid() && keys->size() < max; it->Next()) {
    if (!first && it->key() == after) continue;
    size_t header = 0;
    uint64_t deadline = 0;
    if (DecodeValue(it->value(), &header, &deadline) && Expired(deadline, now)) continue;
    keys->emplace_back(it->key());
    rt::MaybeYield();
  }
  if (!it->Valid()) *end = it->status().ok();
  return it->status();
}

Status Store::CountLocal(uint64_t* keys, uint64_t* with_deadline) {
  *keys = *with_deadline = 0;
  lsm::Shard* shard = Impl(db_.get())->shard(rt::ShardId());
  std::unique_ptr<lsm::UserIterator> it =
      shard->NewIterator(lsm::Shard::kLatest, std::nullopt, std::nullopt, /*fill_cache=*/false);
  const uint64_t now = NowMs();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    size_t header = 0;
    uint64_t deadline = 0;
    if (DecodeValue(it->value(), &header, &deadline)) {
      if (Expired(deadline, now)) continue;
      if (deadline != 0) ++*with_deadline;
    }
    ++*keys;
    rt::MaybeYield();
  }
  return it->status();
}

void Store::GetStats(ringdb::Stats* out) {
  db::DBImpl* impl = Impl(db_.get());
  std::vector<std::unique_ptr<lsm::ShardStats>> raw(nshards_);
  struct Arg {
    db::DBImpl* impl;
    uint32_t shard;
    lsm::ShardStats* out;
  };
  std::vector<Arg> args(nshards_);
  std::vector<ShardCall> calls(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    raw[i] = std::make_unique<lsm::ShardStats>();  // large: on the heap, not a fiber stack
    args[i] = {impl, i, raw[i].get()};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      a->impl->shard(a->shard)->GetStats(a->out);
    };
  }
  RunAll(calls.data(), calls.size());
  out->io_backend = backend_desc_;
  out->shards.assign(nshards_, ShardStats());
  out->total = ShardStats();
  out->total.shard = nshards_;
  for (uint32_t i = 0; i < nshards_; i++) {
    ShardStats& o = out->shards[i];
    o = *raw[i];  // the public part
    o.shard = i;
    AccumulateShardStats(o, &out->total);
  }
}

std::string Store::RenderPrometheus(const ringdb::Stats& st) {
  return db::RenderStatsPrometheus(st);
}

}  // namespace ringdb::server
