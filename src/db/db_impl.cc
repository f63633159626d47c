#include "db/db_impl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <latch>
#include <mutex>

#include "db/stats_render.h"
#include "db/write_batch_internal.h"
#include "lsm/write_batch_rep.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/log.h"

namespace ringdb {

Status DB::Open(const Options& opt, std::unique_ptr<DB>* db) {
  return db::DBImpl::Open(opt, nullptr, db);
}

namespace testing {
Status OpenWithHooks(const Options& opt, const OpenHooks& hooks, std::unique_ptr<DB>* db) {
  return db::DBImpl::Open(opt, &hooks, db);
}
void Crash(std::unique_ptr<DB> db) {
  if (!db) return;
  static_cast<db::DBImpl*>(db.get())->CrashForTesting();
}
}  // namespace testing

namespace db {
namespace {

Status ValidateOptions(const Options& o) {
  if (o.path.empty()) return Status::InvalidArgument("Options::path is empty");
  if (o.shards > kMaxShards) {
    return Status::InvalidArgument("Options::shards is " + std::to_string(o.shards) + "; at most " +
                                   std::to_string(kMaxShards));
  }
  if (o.memtable_bytes < (64 << 10) || o.memtable_bytes > (4ull << 30)) {
    return Status::InvalidArgument("Options::memtable_bytes must be in [64 KiB, 4 GiB]");
  }
  if (o.max_immutable_memtables < 1) {
    return Status::InvalidArgument("Options::max_immutable_memtables must be at least 1");
  }
  if (o.block_bytes < 512 || o.block_bytes > (1 << 20)) {
    return Status::InvalidArgument("Options::block_bytes must be in [512, 1 MiB]");
  }
  if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 64) {
    return Status::InvalidArgument("Options::bloom_bits_per_key must be in [0, 64]");
  }
  if (o.durability != Durability::kSync && o.durability != Durability::kPeriodic &&
      o.durability != Durability::kNone) {
    return Status::InvalidArgument("Options::durability is not a known mode");
  }
  if (o.durability == Durability::kPeriodic && o.periodic_sync_ms == 0) {
    return Status::InvalidArgument("Options::periodic_sync_ms must be > 0 in periodic mode");
  }
  if (o.io_backend != IoBackendKind::kAuto && o.io_backend != IoBackendKind::kUring &&
      o.io_backend != IoBackendKind::kAio) {
    return Status::InvalidArgument("Options::io_backend is not a known backend");
  }
  if (o.wal_preallocate_bytes > (1ull << 30)) {
    return Status::InvalidArgument("Options::wal_preallocate_bytes must be at most 1 GiB");
  }
  return Status::OK();
}

std::string ShardDir(const std::string& path, uint32_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/shard-%03u", i);
  return path + buf;
}

// A blocking request from an application thread: lives on the caller's stack.
struct WriteMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  lsm::WriteRequest req;
  rt::detail::ForeignWaiter waiter;

  static void OnShard(rt::Message* m, rt::Reactor*) {
    auto* w = static_cast<WriteMsg*>(m);
    w->shard->SubmitWrite(&w->req);
  }
  static void OnDone(lsm::WriteRequest* r) { static_cast<WriteMsg*>(r->arg)->waiter.Notify(); }
};

struct GetMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  std::string_view key;
  std::string* value = nullptr;
  lsm::SequenceNumber seq = lsm::Shard::kLatest;
  bool fill_cache = true;
  Status status;
  rt::detail::ForeignWaiter waiter;

  static void OnShard(rt::Message* m, rt::Reactor* r) {
    auto* g = static_cast<GetMsg*>(m);
    const uint64_t start = util::NowNanos();
    if (g->shard->GetFromMemtables(g->key, g->value, &g->status, g->seq)) {
      Done(g, start);
      return;
    }
    r->Spawn(
        [g, start] {
          g->status = g->shard->Get(g->key, g->value, g->seq, g->fill_cache);
          Done(g, start);
        },
        "get");
  }
  static void Done(GetMsg* g, uint64_t start) {
    g->shard->RecordOp(OpKind::kGet, start, g->status);
    if (g->status.ok()) g->shard->AddUserBytesRead(g->key.size() + g->value->size());
    g->waiter.Notify();  // last touch
  }
};

// Async requests own their data and free themselves on the shard thread.
struct AsyncWriteMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  std::string rep;
  lsm::WriteRequest req;
  DB::WriteCallback cb;

  static void OnShard(rt::Message* m, rt::Reactor*) {
    auto* w = static_cast<AsyncWriteMsg*>(m);
    w->shard->SubmitWrite(&w->req);
  }
  static void OnDone(lsm::WriteRequest* r) {
    std::unique_ptr<AsyncWriteMsg> w(static_cast<AsyncWriteMsg*>(r->arg));
    if (w->cb) w->cb(r->status);
  }
};

struct AsyncGetMsg : rt::Message {
  lsm::Shard* shard = nullptr;
  std::string key;
  std::string value;
  DB::GetCallback cb;

  static void OnShard(rt::Message* m, rt::Reactor* r) {
    auto* g = static_cast<AsyncGetMsg*>(m);
    const uint64_t start = util::NowNanos();
    Status s;
    if (g->shard->GetFromMemtables(g->key, &g->value, &s)) {
      Finish(g, s, start);
      return;
    }
    r->Spawn([g, start] { Finish(g, g->shard->Get(g->key, &g->value), start); }, "get_async");
  }
  static void Finish(AsyncGetMsg* g, const Status& s, uint64_t start) {
    std::unique_ptr<AsyncGetMsg> own(g);
    g->shard->RecordOp(OpKind::kGet, start, s);
    if (s.ok()) g->shard->AddUserBytesRead(g->key.size() + g->value.size());
    if (g->cb) g->cb(s, s.ok() ? std::string_view(g->value) : std::string_view());
  }
};

// Splits a batch's rep into one rep per shard.
class Splitter : public lsm::WriteBatchRep::Handler {
 public:
  Splitter(const DBImpl* db, std::vector<std::string>* reps) : db_(db), reps_(reps) {}
  void Put(std::string_view k, std::string_view v) override {
    std::string& r = Rep(k);
    (void)lsm::WriteBatchRep::Put(&r, k, v);
  }
  void Delete(std::string_view k) override {
    std::string& r = Rep(k);
    (void)lsm::WriteBatchRep::Delete(&r, k);
  }

 private:
  std::string& Rep(std::string_view k) {
    std::string& r = (*reps_)[db_->ShardOf(k)];
    if (r.empty()) lsm::WriteBatchRep::Clear(&r);
    return r;
  }
  const DBImpl* db_;
  std::vector<std::string>* reps_;
};

}  // namespace

Status CheckKeyValue(std::string_view key, std::string_view value) {
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) +
                                   " bytes exceeds kMaxKeyBytes (" + std::to_string(kMaxKeyBytes) +
                                   ")");
  }
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds kMaxValueBytes (" +
                                   std::to_string(kMaxValueBytes) + ")");
  }
  return Status::OK();
}

Status DBImpl::Open(const Options& opt, const testing::OpenHooks* hooks, std::unique_ptr<DB>* out) {
  Status s = ValidateOptions(opt);
  if (!s.ok()) return s;
  struct stat st;
  bool exists = ::stat(opt.path.c_str(), &st) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(opt.path + ": exists and is not a directory");
  }
  if (!exists) {
    if (!opt.create_if_missing) {
      return Status::InvalidArgument(opt.path + ": does not exist (create_if_missing is false)");
    }
    s = CreateDirs(opt.path);
    if (!s.ok()) return s;
  }
  if (exists && !opt.create_if_missing && ::access((opt.path + "/OPTIONS").c_str(), F_OK) != 0) {
    // Checked before taking LOCK, so a directory that is not a store is left untouched.
    return Status::InvalidArgument(opt.path + ": not a ringdb store (create_if_missing is false)");
  }
  std::unique_ptr<DBImpl> db(new DBImpl(opt));
  s = db->lock_.Acquire(opt.path);
  if (!s.ok()) return s;

  StoreOptions so;
  s = ReadStoreOptions(opt.path, &so);
  if (s.IsNotFound()) {
    if (!opt.create_if_missing) {
      return Status::InvalidArgument(opt.path +
                                     ": not a ringdb store (create_if_missing is false)");
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    so.shards = opt.shards != 0 ? opt.shards : static_cast<uint32_t>(ncpu > 0 ? ncpu : 1);
    if (so.shards > kMaxShards) so.shards = kMaxShards;
    s = WriteStoreOptions(opt.path, so);
    if (!s.ok()) return s;
  } else if (!s.ok()) {
    return s;
  } else {
    if (opt.error_if_exists) {
      return Status::InvalidArgument(opt.path + ": store exists (error_if_exists is true)");
    }
    if (opt.shards != 0 && opt.shards != so.shards) {
      return Status::InvalidArgument(opt.path + ": store was created with " +
                                     std::to_string(so.shards) + " shards; Options::shards is " +
                                     std::to_string(opt.shards) +
                                     " (use 0 to accept the stored count)");
    }
  }
  db->nshards_ = so.shards;

  rt::RuntimeOptions ro;
  ro.shards = so.shards;
  ro.pin_threads = opt.pin_threads;
  ro.backend.kind = static_cast<io::BackendKind>(opt.io_backend);
  ro.backend.poll_batch = opt.io_poll_batch;
  {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    bool spare_core = ncpu > static_cast<long>(so.shards);
    if (opt.idle_spin_us == Options::kAutoSpin) {
      // Measured on a 2-core VM (docs/engine.md, "Spinning"): a 20 us reactor spin
      // saves the wake-up of an idle vCPU; callers spin only with a core to spare.
      ro.spin_ns = 20'000;
      db->caller_spin_ns_ = spare_core ? 5'000 : 0;
    } else {
      ro.spin_ns = uint64_t{opt.idle_spin_us} * 1000;
      db->caller_spin_ns_ = ro.spin_ns / 4;
    }
  }
  if (hooks != nullptr && hooks->wrap_backend) ro.wrap_backend = hooks->wrap_backend;
  s = rt::Runtime::Start(ro, &db->rt_);
  if (!s.ok()) return s;
  {
    io::IoBackend* b = db->rt_->reactor(0)->backend();
    db->backend_desc_ = std::string(b->name());
    const std::string& why = db->rt_->reactor(0)->backend_choice().reason;
    if (!why.empty()) db->backend_desc_ += " (" + why + ")";
  }

  db->shards_.resize(so.shards);
  db->cursors_.resize(so.shards);
  lsm::ShardOptions base;
  base.create_if_missing = true;
  base.durability = opt.durability;
  base.periodic_sync_ms = opt.periodic_sync_ms;
  base.memtable_bytes = opt.memtable_bytes;
  base.max_immutable_memtables = opt.max_immutable_memtables;
  base.wal_preallocate_bytes = opt.wal_preallocate_bytes;
  base.block_cache_bytes = opt.block_cache_bytes / so.shards;
  base.table.block_bytes = opt.block_bytes;
  base.table.bloom_bits_per_key = opt.bloom_bits_per_key;
  base.pacer.bytes_per_sec = opt.background_io_bytes_per_sec;
  base.io_trace = opt.io_trace;
  base.io_trace_buffer_bytes = opt.io_trace_buffer_bytes;
  // L1 holds about four memtables' worth; outputs are cut near one memtable's size.
  base.compaction.max_bytes_for_level_base = std::max<uint64_t>(4 * opt.memtable_bytes, 1 << 20);
  base.compaction.target_file_size = std::max<uint64_t>(opt.memtable_bytes, 256 << 10);
  DBImpl* raw = db.get();
  s = raw->OnAllShards([raw, &base, &opt](uint32_t i) {
    lsm::ShardOptions so2 = base;
    so2.dir = ShardDir(opt.path, i);
    so2.shard_id = i;
    return lsm::Shard::Open(so2, &raw->shards_[i]);
  });
  if (!s.ok()) {
    raw->OnAllShards([raw](uint32_t i) {
      if (raw->shards_[i]) {
        raw->shards_[i]->Close();
        raw->shards_[i].reset();
      }
      return Status::OK();
    });
    raw->rt_->Stop();
    raw->closed_ = true;
    return s;
  }
  RINGDB_LOG_DEBUG("opened %s: %u shards, backend %s", opt.path.c_str(), so.shards,
                   raw->backend_desc_.c_str());
  *out = std::move(db);
  return Status::OK();
}

DBImpl::~DBImpl() {
  Close();
  for (const Snapshot* snap : snapshots_) delete static_cast<const SnapshotImpl*>(snap);
}

bool DBImpl::OnShardThread() const {
  rt::Reactor* r = rt::CurrentReactor();
  return r != nullptr && r->runtime_tag() == rt_.get();
}

Status DBImpl::CheckOpen() const {
  if (closed_.load(std::memory_order_acquire)) return Status::Shutdown("the DB is closed");
  if (OnShardThread()) {
    return Status::InvalidArgument(
        "blocking DB call from a shard thread (e.g. inside an async "
        "callback) would deadlock; use the *Async variants");
  }
  return Status::OK();
}

uint32_t DBImpl::ShardOf(std::string_view key) const {
  return util::FastRange32(util::Hash64(key), nshards_);
}

Status DBImpl::SubmitWrite(uint32_t shard, std::string_view rep, bool sync, OpKind kind) {
  WriteMsg m;
  m.req.kind = kind;
  m.handler = &WriteMsg::OnShard;
  m.shard = shards_[shard].get();
  m.req.rep = rep;
  m.req.sync = sync;
  m.req.done = &WriteMsg::OnDone;
  m.req.arg = &m;
  rt_->PushForeign(shard, &m);
  m.waiter.Wait(caller_spin_ns_);
  return m.req.status;
}

Status DBImpl::Put(const WriteOptions& wo, std::string_view key, std::string_view value) {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  s = CheckKeyValue(key, value);
  if (!s.ok()) return s;
  std::string rep;
  lsm::WriteBatchRep::Clear(&rep);
  s = lsm::WriteBatchRep::Put(&rep, key, value);
  if (!s.ok()) return s;
  return SubmitWrite(ShardOf(key), rep, wo.sync, OpKind::kPut);
}

Status DBImpl::Delete(const WriteOptions& wo, std::string_view key) {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  s = CheckKeyValue(key, {});
  if (!s.ok()) return s;
  std::string rep;
  lsm::WriteBatchRep::Clear(&rep);
  s = lsm::WriteBatchRep::Delete(&rep, key);
  if (!s.ok()) return s;
  return SubmitWrite(ShardOf(key), rep, wo.sync, OpKind::kDelete);
}

Status DBImpl::Write(const WriteOptions& wo, const WriteBatch& batch) {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  if (WriteBatchInternal::Invalid(batch)) {
    return Status::InvalidArgument("the batch holds an oversized key or value");
  }
  if (WriteBatchInternal::Count(batch) == 0) return Status::OK();
  std::vector<std::string> reps(nshards_);
  Splitter split(this, &reps);
  s = lsm::WriteBatchRep::Iterate(WriteBatchInternal::Rep(batch), &split);
  if (!s.ok()) return s;
  uint32_t parts = 0, only = 0;
  for (uint32_t i = 0; i < nshards_; i++) {
    if (!reps[i].empty()) {
      parts++;
      only = i;
    }
  }
  if (parts == 1) return SubmitWrite(only, reps[only], wo.sync);
  // One message per shard, all in flight at once; acknowledged when every part is.
  std::vector<WriteMsg> msgs(nshards_);
  for (uint32_t i = 0; i < nshards_; i++) {
    if (reps[i].empty()) continue;
    WriteMsg& m = msgs[i];
    m.handler = &WriteMsg::OnShard;
    m.shard = shards_[i].get();
    m.req.rep = reps[i];
    m.req.sync = wo.sync;
    m.req.done = &WriteMsg::OnDone;
    m.req.arg = &m;
    rt_->PushForeign(i, &m);
  }
  Status first;
  for (uint32_t i = 0; i < nshards_; i++) {
    if (reps[i].empty()) continue;
    msgs[i].waiter.Wait(caller_spin_ns_);
    if (first.ok() && !msgs[i].req.status.ok()) first = msgs[i].req.status;
  }
  return first;
}

Status DBImpl::Get(const ReadOptions& ro, std::string_view key, std::string* value) {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  if (key.size() > kMaxKeyBytes) return CheckKeyValue(key, {});
  uint32_t shard = ShardOf(key);
  GetMsg m;
  s = SeqFor(ro, shard, &m.seq);
  if (!s.ok()) return s;
  m.fill_cache = ro.fill_cache;
  m.handler = &GetMsg::OnShard;
  m.shard = shards_[shard].get();
  m.key = key;
  m.value = value;
  rt_->PushForeign(shard, &m);
  m.waiter.Wait(caller_spin_ns_);
  return m.status;
}

void DBImpl::SubmitWriteAsync(uint32_t shard, std::string rep, WriteCallback cb, OpKind kind) {
  auto* m = new AsyncWriteMsg;
  m->req.kind = kind;
  m->handler = &AsyncWriteMsg::OnShard;
  m->shard = shards_[shard].get();
  m->rep = std::move(rep);
  m->req.rep = m->rep;
  m->req.done = &AsyncWriteMsg::OnDone;
  m->req.arg = m;
  m->cb = std::move(cb);
  rt_->PushForeign(shard, m);
}

void DBImpl::PutAsync(std::string_view key, std::string_view value, WriteCallback cb) {
  Status s = closed_.load() ? Status::Shutdown("the DB is closed") : CheckKeyValue(key, value);
  if (s.ok() && OnShardThread()) s = Status::NotSupported("async calls from a shard thread");
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
  Status s = closed_.load() ? Status::Shutdown("the DB is closed") : CheckKeyValue(key, {});
  if (s.ok() && OnShardThread()) s = Status::NotSupported("async calls from a shard thread");
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
  Status s = closed_.load() ? Status::Shutdown("the DB is closed") : Status::OK();
  if (s.ok() && OnShardThread()) s = Status::NotSupported("async calls from a shard thread");
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
    SubmitWriteAsync(i, std::move(reps[i]), [join](Status st) {
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
    });
  }
}

void DBImpl::GetAsync(std::string_view key, GetCallback cb) {
  Status s = closed_.load() ? Status::Shutdown("the DB is closed") : Status::OK();
  if (s.ok() && key.size() > kMaxKeyBytes) s = CheckKeyValue(key, {});
  if (s.ok() && OnShardThread()) s = Status::NotSupported("async calls from a shard thread");
  if (!s.ok()) {
    if (cb) cb(s, {});
    return;
  }
  uint32_t shard = ShardOf(key);
  auto* m = new AsyncGetMsg;
  m->handler = &AsyncGetMsg::OnShard;
  m->shard = shards_[shard].get();
  m->key = std::string(key);
  m->cb = std::move(cb);
  rt_->PushForeign(shard, m);
}

Status DBImpl::Flush() {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  return OnAllShards([this](uint32_t i) { return shards_[i]->Flush(); });
}

Status DBImpl::Close() {
  if (closed_.exchange(true)) return Status::OK();
  if (rt_ == nullptr) {  // Open failed before the shards started
    lock_.Release();
    return Status::OK();
  }
  if (OnShardThread()) {
    RINGDB_LOG_ERROR("DB::Close called from a shard thread; leaking the store");
    return Status::InvalidArgument("Close from a shard thread");
  }
  open_->store(false, std::memory_order_release);
  Status s = OnAllShards([this](uint32_t i) {
    // Cursors of iterators still alive (they must be destroyed before the DB; if one
    // is not, it finds the DB closed and leaves the cursors to us).
    for (lsm::UserIterator* c : cursors_[i]) delete c;
    cursors_[i].clear();
    Status st = shards_[i]->Close();
    shards_[i].reset();  // freed on its own thread
    return st;
  });
  rt_->Stop();
  lock_.Release();
  return s;
}

void DBImpl::CrashForTesting() {
  if (closed_.exchange(true)) return;
  open_->store(false, std::memory_order_release);
  OnAllShards([this](uint32_t i) {
    for (lsm::UserIterator* c : cursors_[i]) delete c;
    cursors_[i].clear();
    shards_[i]->Crash();
    shards_[i].reset();
    return Status::OK();
  });
  rt_->Stop();
  lock_.Release();
}

std::vector<lsm::ShardStats> DBImpl::ShardStatsSnapshot() {
  std::vector<lsm::ShardStats> out(nshards_);
  if (closed_.load()) return out;
  OnAllShards([this, &out](uint32_t i) {
    shards_[i]->GetStats(&out[i]);
    return Status::OK();
  });
  return out;
}

Status DBImpl::GetStats(Stats* stats) {
  Status s = CheckOpen();
  if (!s.ok()) return s;
  std::vector<lsm::ShardStats> raw = ShardStatsSnapshot();
  stats->io_backend = backend_desc_;
  stats->shards.assign(nshards_, ShardStats());
  stats->total = ShardStats();
  stats->total.shard = nshards_;
  for (uint32_t i = 0; i < nshards_; i++) {
    ShardStats& o = stats->shards[i];
    o = raw[i];  // the public part
    o.shard = i;
    AccumulateShardStats(o, &stats->total);
  }
  return Status::OK();
}

}  // namespace db
}  // namespace ringdb

namespace ringdb {
std::string DB::StatsJson() {
  Stats st;
  if (!GetStats(&st).ok()) return {};
  return db::RenderStatsJson(st);
}
std::string DB::StatsPrometheus() {
  Stats st;
  if (!GetStats(&st).ok()) return {};
  return db::RenderStatsPrometheus(st);
}
}  // namespace ringdb
