// DBImpl: Open (validation, option mapping, spin policy, starting the shards), Close,
// the crash hook for tests, and stats.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "db/db_impl.h"
#include "db/stats_render.h"
#include "util/assert.h"
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

// The public backend kinds mirror io::BackendKind value for value.
static_assert(static_cast<int>(IoBackendKind::kAuto) == static_cast<int>(io::BackendKind::kAuto));
static_assert(static_cast<int>(IoBackendKind::kUring) == static_cast<int>(io::BackendKind::kUring));
static_assert(static_cast<int>(IoBackendKind::kAio) == static_cast<int>(io::BackendKind::kAio));

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
  if (o.block_align && o.block_bytes > 4096) {
    return Status::InvalidArgument("Options::block_align requires block_bytes <= 4096");
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
  if (o.caller_read_sqpoll != SqpollReads::kAuto && o.caller_read_sqpoll != SqpollReads::kNever &&
      o.caller_read_sqpoll != SqpollReads::kAlways) {
    return Status::InvalidArgument("Options::caller_read_sqpoll is not a known mode");
  }
  if (o.io_backend != IoBackendKind::kAuto && o.io_backend != IoBackendKind::kUring &&
      o.io_backend != IoBackendKind::kAio) {
    return Status::InvalidArgument("Options::io_backend is not a known backend");
  }
  if (o.wal_preallocate_bytes > (1ull << 30)) {
    return Status::InvalidArgument("Options::wal_preallocate_bytes must be at most 1 GiB");
  }
  if (o.shard_nice < 0 || o.shard_nice > 19) {
    return Status::InvalidArgument("Options::shard_nice must be in [0, 19]");
  }
  if (o.sync_round_hold_us > 100'000) {
    return Status::InvalidArgument("Options::sync_round_hold_us must be at most 100000 (100 ms)");
  }
  return Status::OK();
}

// The shard folders (shard-NNN) in `path`, whatever OPTIONS says.
std::vector<std::string> ShardFolders(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    unsigned n = 0;
    char rest = 0;
    if (std::sscanf(e->d_name, "shard-%3u%c", &n, &rest) == 1) out.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// OPTIONS is missing: a directory that holds shard folders is a store that lost it, and
// must never be taken for a new one (another shard count would hide every key).
Status MissingOptions(const std::string& path) {
  const std::vector<std::string> shards = ShardFolders(path);
  if (shards.empty()) return Status::OK();
  return Status::Corruption(path + "/OPTIONS is missing, but " + path + " holds " +
                            std::to_string(shards.size()) + " shard folder(s) (" + shards[0] +
                            (shards.size() > 1 ? " ... " + shards.back() : std::string()) +
                            "): refusing to create a new store over an existing one");
}

// The directory exists (created when allowed) and is not something else.
Status PrepareDirectory(const Options& opt) {
  struct stat st;
  const bool exists = ::stat(opt.path.c_str(), &st) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(opt.path + ": exists and is not a directory");
  }
  if (!exists) {
    if (!opt.create_if_missing) {
      return Status::InvalidArgument(opt.path + ": does not exist (create_if_missing is false)");
    }
    return CreateDirs(opt.path);
  }
  if (!opt.create_if_missing && ::access((opt.path + "/OPTIONS").c_str(), F_OK) != 0) {
    // Checked before taking LOCK, so a directory that is not a store is left untouched.
    Status s = MissingOptions(opt.path);
    if (!s.ok()) return s;
    return Status::InvalidArgument(opt.path + ": not a ringdb store (create_if_missing is false)");
  }
  return Status::OK();
}

// Reads OPTIONS, or writes it for a new store; *so gets the shard count.
Status LoadStoreOptions(const Options& opt, StoreOptions* so) {
  Status s = ReadStoreOptions(opt.path, so);
  if (s.IsNotFound()) {
    s = MissingOptions(opt.path);
    if (!s.ok()) return s;
    if (!opt.create_if_missing) {
      return Status::InvalidArgument(opt.path +
                                     ": not a ringdb store (create_if_missing is false)");
    }
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    so->shards = opt.shards != 0 ? opt.shards : static_cast<uint32_t>(ncpu > 0 ? ncpu : 1);
    so->shards = std::min(so->shards, kMaxShards);
    RINGDB_ASSERT(so->shards >= 1);
    return WriteStoreOptions(opt.path, *so);
  }
  if (!s.ok()) return s;
  if (opt.error_if_exists) {
    return Status::InvalidArgument(opt.path + ": store exists (error_if_exists is true)");
  }
  if (opt.shards != 0 && opt.shards != so->shards) {
    return Status::InvalidArgument(opt.path + ": store was created with " +
                                   std::to_string(so->shards) + " shards; Options::shards is " +
                                   std::to_string(opt.shards) +
                                   " (use 0 to accept the stored count)");
  }
  return Status::OK();
}

// The runtime's options. Spin policy, measured on a 2-core VM (docs/engine.md,
// "Spinning"): a shard spins 20 us when idle (cheaper than waking an idle vCPU); a
// caller waiting for a shard spins 5 us only when the machine has a core to spare
// beyond the shards (else its spinning steals the shards' CPU).
rt::RuntimeOptions RuntimeOptionsFor(const Options& opt, uint32_t shards,
                                     uint64_t* caller_spin_ns) {
  RINGDB_ASSERT(shards >= 1 && shards <= kMaxShards);
  rt::RuntimeOptions rt_opt;
  rt_opt.shards = shards;
  rt_opt.pin_threads = opt.pin_threads;
  rt_opt.thread_nice = opt.shard_nice;
  rt_opt.backend.kind = static_cast<io::BackendKind>(opt.io_backend);
  rt_opt.backend.poll_batch = opt.io_poll_batch;
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const bool spare_core = ncpu > static_cast<long>(shards);
  if (opt.idle_spin_us == Options::kAutoSpin) {
    rt_opt.spin_ns = 20'000;
    rt_opt.adaptive_spin = true;
    *caller_spin_ns = spare_core ? 5'000 : 0;
  } else {
    rt_opt.spin_ns = uint64_t{opt.idle_spin_us} * 1000;
    *caller_spin_ns = rt_opt.spin_ns / 4;
  }
  return rt_opt;
}

lsm::ShardOptions ShardOptionsFor(const Options& opt, uint32_t shards) {
  RINGDB_ASSERT(shards >= 1);  // divides the cache budget
  lsm::ShardOptions base;
  base.create_if_missing = true;
  base.durability = opt.durability;
  base.periodic_sync_ms = opt.periodic_sync_ms;
  base.memtable_bytes = opt.memtable_bytes;
  base.max_immutable_memtables = opt.max_immutable_memtables;
  base.wal_preallocate_bytes = opt.wal_preallocate_bytes;
  base.block_cache_bytes = opt.block_cache_bytes / shards;
  base.warm_cache = opt.warm_cache_on_open;
  base.table.block_bytes = opt.block_bytes;
  base.table.block_align = opt.block_align;
  base.table.bloom_bits_per_key = opt.bloom_bits_per_key;
  base.pacer.bytes_per_sec = opt.background_io_bytes_per_sec;
  base.io_trace = opt.io_trace;
  base.io_trace_buffer_bytes = opt.io_trace_buffer_bytes;
  base.clock = lsm::ExpiryClock(opt.clock_ms);
  // L1 holds about four memtables' worth; outputs are cut near one memtable's size.
  base.compaction.max_bytes_for_level_base = std::max<uint64_t>(4 * opt.memtable_bytes, 1 << 20);
  base.compaction.target_file_size = std::max<uint64_t>(opt.memtable_bytes, 256 << 10);
  return base;
}

}  // namespace

// Options::caller_read_sqpoll: the DB's submission thread for application threads'
// reads, and from how many of them in flight a read uses it. A kernel that refuses
// SQPOLL leaves every read on its thread's own ring (logged at Open).
void DBImpl::SetUpCallerSqpoll(const Options& opt, DBImpl* db) {
  CallerIoConfig& io = db->caller_io_;
  if (opt.caller_read_sqpoll == SqpollReads::kNever || !opt.caller_block_reads ||
      io.backend.kind != io::BackendKind::kUring) {
    return;
  }
  Status s = io::SqpollThread::Create(/*idle_ms=*/2, &db->caller_sqpoll_);
  if (!s.ok()) {
    RINGDB_LOG_WARN("caller reads without a submission thread: %s", s.ToString().c_str());
    return;
  }
  io.sqpoll_fd = db->caller_sqpoll_->fd();
  // Measured on a 2-vCPU VM (docs/engine.md "Reads on any thread"): 8 threads of cold
  // reads were faster without it, 12 even, 16 faster with it.
  const long ncpu = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  io.sqpoll_from =
      opt.caller_read_sqpoll == SqpollReads::kAlways ? 1 : static_cast<uint32_t>(6 * ncpu + 1);
  // Only kAuto needs the count (an atomic add on a shared line per call that misses).
  if (io.sqpoll_from > 1) io.in_flight = &db->caller_reads_in_flight_;
}

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
  if (s.ok()) s = PrepareDirectory(opt);
  if (!s.ok()) return s;
  std::unique_ptr<DBImpl> db(new DBImpl(opt));
  s = db->lock_.Acquire(opt.path);
  if (!s.ok()) return s;
  StoreOptions so;
  s = LoadStoreOptions(opt, &so);
  if (!s.ok()) return s;
  // DecodeStoreOptions and LoadStoreOptions guarantee it; every shard index relies on it.
  RINGDB_ASSERT(so.shards >= 1 && so.shards <= kMaxShards);
  db->nshards_ = so.shards;
  db->stats_ = std::make_unique<StatsRegistry>(so.shards);
  db->post_writes_ = opt.post_writes && opt.durability != Durability::kSync;
  db->caller_block_reads_ = opt.caller_block_reads;
  if (hooks != nullptr) {
    db->checkpoint_copy_tables_ = hooks->checkpoint_copy_tables;
    db->checkpoint_before_file_ = hooks->checkpoint_before_file;
  }

  rt::RuntimeOptions rt_opt = RuntimeOptionsFor(opt, so.shards, &db->caller_spin_ns_);
  if (hooks != nullptr && hooks->wrap_backend) rt_opt.wrap_backend = hooks->wrap_backend;
  if (hooks != nullptr) rt_opt.driver = hooks->driver;
  s = rt::Runtime::Start(rt_opt, &db->rt_);
  if (!s.ok()) return s;
  RINGDB_ASSERT(db->rt_->shards() == so.shards);
  {
    io::IoBackend* b = db->rt_->reactor(0)->backend();
    db->backend_desc_ = std::string(b->name());
    static std::atomic<uint64_t> next_db_id{1};
    db->caller_io_.db_id = next_db_id.fetch_add(1, std::memory_order_relaxed);
    db->caller_io_.backend.kind = b->kind();
    db->caller_io_.backend.queue_depth = 64;
    db->caller_io_.backend.register_buffers = true;  // the thread's read buffer
    db->caller_io_.backend.poll_batch = 0;
    db->caller_io_.backend.quiet = true;
    db->caller_io_.backend.register_ring_fd = true;  // each thread's own, made and freed there
    db->caller_io_.wrap = rt_opt.wrap_backend;
    db->caller_io_.stats = db->stats_.get();
    db->caller_io_.reads_to_shard = opt.io_trace;  // the shard traces every read
    DBImpl::SetUpCallerSqpoll(opt, db.get());
    const std::string& why = db->rt_->reactor(0)->backend_choice().reason;
    if (!why.empty()) db->backend_desc_ += " (" + why + ")";
  }

  db->shards_.resize(so.shards);
  lsm::ShardOptions base = ShardOptionsFor(opt, so.shards);
  if (opt.durability == Durability::kSync && opt.sync_round_hold_us > 0) {
    db->sync_round_ =
        std::make_unique<lsm::SyncRound>(so.shards, uint64_t{opt.sync_round_hold_us} * 1000);
    base.sync_round = db->sync_round_.get();
  }
  DBImpl* raw = db.get();
  s = raw->OnAllShards([raw, &base, &opt](uint32_t i) {
    lsm::ShardOptions shard_opt = base;
    shard_opt.dir = ShardDir(opt.path, i);
    shard_opt.shard_id = i;
    return lsm::Shard::Open(shard_opt, &raw->shards_[i]);
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
    raw->open_->store(false);
    return s;
  }
  for (const auto& shard : raw->shards_) RINGDB_ASSERT(shard != nullptr);
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
  return r != nullptr && r->runtime() == rt_.get();
}

Status DBImpl::CheckCall(const CallGate& gate) const {
  if (!gate.open()) return Status::Shutdown("the DB is closed");
  if (OnShardThread()) {
    return Status::InvalidArgument(
        "blocking DB call from a shard thread (e.g. inside an async "
        "callback) would deadlock; use the *Async variants");
  }
  return Status::OK();
}

Status DBImpl::CheckAsyncCall(const CallGate& gate) const {
  if (!gate.open()) return Status::Shutdown("the DB is closed");
  if (OnShardThread()) return Status::NotSupported("async calls from a shard thread");
  return Status::OK();
}

void DBImpl::WaitForAllPostedWrites() const {
  for (const auto& sh : shards_) sh->WaitForPostedWrites();
}

uint32_t DBImpl::ShardOf(std::string_view key) const {
  return util::FastRange32(util::Hash64(key), nshards_);
}

Status DBImpl::Flush() {
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok()) return s;
  WaitForAllPostedWrites();  // an acknowledged write is in the memtable the flush writes
  return OnAllShards([this](uint32_t i) { return shards_[i]->Flush(); });
}

Status DBImpl::Resume() {
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok()) return s;
  return OnAllShards([this](uint32_t i) { return shards_[i]->Resume(); });
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
  // Every call that saw the DB open has left its gate once this returns (see the
  // header); later ones see it closed.
  rt::rcu::Synchronize();
  Status s = OnAllShards([this](uint32_t i) {
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
  rt::rcu::Synchronize();
  OnAllShards([this](uint32_t i) {
    shards_[i]->Crash();
    shards_[i].reset();
    return Status::OK();
  });
  rt_->Stop();
  lock_.Release();
}

std::vector<lsm::InternalShardStats> DBImpl::ShardStatsSnapshot() {
  std::vector<lsm::InternalShardStats> out(nshards_);
  CallGate gate(*open_);
  if (!gate.open()) return out;
  OnAllShards([this, &out](uint32_t i) {
    shards_[i]->GetStats(&out[i]);
    return Status::OK();
  });
  for (uint32_t i = 0; i < nshards_; i++) stats_->AddTo(i, &out[i]);
  return out;
}

Status DBImpl::GetStats(Stats* stats) {
  CallGate gate(*open_);
  Status s = CheckCall(gate);
  if (!s.ok()) return s;
  std::vector<lsm::InternalShardStats> raw = ShardStatsSnapshot();
  stats->io_backend = backend_desc_;
  stats->sync_rounds = sync_round_ != nullptr ? sync_round_->releases() : 0;
  stats->sync_round_timeouts = sync_round_ != nullptr ? sync_round_->timeouts() : 0;
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
