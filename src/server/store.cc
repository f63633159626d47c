// The engine adapter (see store.h): opening, cross-shard calls, writes, stats. Reads
// are in store_read.cc. Everything here that names DBImpl, lsm::Shard or the runtime's
// messages is what a new engine core replaces.
#include "server/store.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "db/stats_render.h"
#include "db/store_files.h"
#include "db/write_batch_internal.h"
#include "ringdb/db.h"
#include "runtime/reactor.h"
#include "server/store_internal.h"
#include "util/assert.h"

namespace ringdb::server {

static_assert(Store::kMaxValueBytes + lsm::kExpiryBytes == ringdb::kMaxValueBytes,
              "a value the server accepts must take a deadline later");

namespace {

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

// ---- write completions (on the shard's thread) ----

bool Published(const WriteCtx* c) {
  return !c->req.status.ok() || c->ps->shard->published_sequence() >= c->last_seq;
}

// Hands the result to the server and the request back to the pool.
void Finish(WriteCtx* c) {
  Store::PerShard& ps = *c->ps;
  if (c->req.status.ok() && c->last_seq > ps.acked_seq.load(std::memory_order_relaxed)) {
    ps.acked_seq.store(c->last_seq, std::memory_order_release);
  }
  Store::WriteDone fn = c->done;
  void* arg = c->arg;
  const Status st = c->req.status;
  ps.free.emplace_back(c);
  fn(arg, st);
}

// Completes held-back requests, in order, as their writes get published.
void DrainUnpublished(Store::PerShard* ps) {
  while (!ps->unpublished.empty()) {
    WriteCtx* c = ps->unpublished.front();
    if (!Published(c)) {
      rt::Yield();
      continue;
    }
    ps->unpublished.pop_front();
    Finish(c);
  }
  ps->publish_waiter = false;
}

void OnWriteDone(lsm::WriteRequest* w) {
  auto* c = static_cast<WriteCtx*>(w->arg);
  Store::PerShard& ps = *c->ps;
  // The shard gave the request its sequence numbers when it formed the group.
  c->last_seq = w->status.ok() && c->count > 0 ? w->first_seq + c->count - 1 : 0;
  if (ps.unpublished.empty() && Published(c)) return Finish(c);
  // Not visible to readers on other shards yet: the reply waits (and every later one
  // behind it, to keep the order).
  ps.held_back.store(ps.held_back.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  ps.unpublished.push_back(c);
  if (!ps.publish_waiter) {
    ps.publish_waiter = true;
    rt::CurrentReactor()->Spawn([p = &ps] { DrainUnpublished(p); }, "publish_wait");
  }
}

}  // namespace

uint32_t Store::ShardsFor(const std::string& path, uint32_t requested) {
  if (requested != 0) return requested;
  db::StoreOptions stored;
  if (db::ReadStoreOptions(path, &stored).ok() && stored.shards != 0) return stored.shards;
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<uint32_t>(std::clamp<long>(ncpu - 1, 1, kMaxShards));
}

Status Store::Open(const StoreOptions& opt, std::unique_ptr<Store>* out) {
  Options o;
  o.path = opt.path;
  o.shards = ShardsFor(opt.path, opt.shards);
  o.durability = opt.durability;
  o.periodic_sync_ms = opt.periodic_sync_ms;
  o.memtable_bytes = opt.memtable_bytes;
  o.block_cache_bytes = opt.block_cache_bytes;
  o.io_backend = opt.io_backend;
  o.io_poll_batch = opt.io_poll_batch;
  o.idle_spin_us = opt.idle_spin_us;
  o.shard_nice = 0;  // the shards are the server: nothing of ours to yield to
  o.pin_threads = opt.pin_threads;
  o.clock_ms = opt.clock_ms;
  std::unique_ptr<Store> st(new Store());
  st->opt_ = opt;
  Status s = DB::Open(o, &st->db_);
  if (!s.ok()) return s;
  st->nshards_ = st->db_->shard_count();
  st->backend_desc_ = st->db_->io_backend();
  for (uint32_t i = 0; i < st->nshards_; i++) {
    auto ps = std::make_unique<PerShard>();
    ps->shard = Impl(st->db_.get())->shard(i);
    // What recovery found is durable; nothing is in flight before the server starts.
    ps->acked_seq.store(ps->shard->published_sequence(), std::memory_order_release);
    ps->read_stats.assign(st->nshards_, nullptr);
    st->per_shard_.push_back(std::move(ps));
  }
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

// The clock the engine judges deadlines on (Options::clock_ms, else CLOCK_REALTIME as
// in lsm::ExpiryClock), without reaching into a shard (this runs after Close too).
uint64_t Store::NowMs() const {
  if (opt_.clock_ms) return opt_.clock_ms();
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
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

// ---------------------------------------------------------------- writes

Status Store::BatchPut(WriteBatch* batch, std::string_view key, std::string_view value,
                       uint64_t expire_at_ms) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxValueBytes));
  }
  batch->Put(key, value, expire_at_ms);
  return Status::OK();
}

Status Store::BatchDelete(WriteBatch* batch, std::string_view key) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  batch->Delete(key);
  return Status::OK();
}

void Store::SubmitWrite(const WriteBatch& batch, WriteDone done, void* arg) {
  PerShard& ps = *per_shard_[rt::ShardId()];
  WriteCtx* ctx;
  if (!ps.free.empty()) {
    ctx = ps.free.back().release();
    ps.free.pop_back();
  } else {
    ctx = new WriteCtx;
  }
  ctx->req = lsm::WriteRequest();
  ctx->req.rep = WriteBatchInternal::Rep(batch);
  ctx->req.kind = OpKind::kWriteBatch;
  ctx->req.arg = ctx;
  ctx->req.done = &OnWriteDone;
  ctx->done = done;
  ctx->arg = arg;
  ctx->ps = &ps;
  ctx->count = batch.Count();
  ps.shard->SubmitWrite(&ctx->req);
}

uint64_t Store::completions_held_back() const {
  uint64_t n = 0;
  for (const auto& ps : per_shard_) n += ps->held_back.load(std::memory_order_relaxed);
  return n;
}

// ---------------------------------------------------------------- stats

void Store::GetStats(ringdb::Stats* out) {
  db::DBImpl* impl = Impl(db_.get());
  std::vector<std::unique_ptr<lsm::InternalShardStats>> raw(nshards_);
  struct Arg {
    lsm::Shard* shard;
    lsm::InternalShardStats* out;
  };
  std::vector<Arg> args(nshards_);
  std::vector<ShardCall> calls(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    raw[i] = std::make_unique<lsm::InternalShardStats>();  // large: on the heap, not a fiber stack
    args[i] = {impl->shard(i), raw[i].get()};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      a->shard->GetStats(a->out);
    };
  }
  RunAll(calls.data(), calls.size());
  out->io_backend = backend_desc_;
  out->shards.assign(nshards_, ShardStats());
  out->total = ShardStats();
  out->total.shard = nshards_;
  for (uint32_t i = 0; i < nshards_; i++) {
    // The reads every thread made of shard i (the server's go through the shard
    // threads' blocks). Takes the registry's mutex briefly: off the data path.
    impl->thread_stats().AddTo(i, raw[i].get());
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
