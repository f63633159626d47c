#include "runtime/runtime.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unordered_map>

#include "runtime/rcu.h"
#include "util/clock.h"
#include "util/cpu_relax.h"
#include "util/log.h"

namespace ringdb::rt {

namespace {

std::atomic<uint64_t> g_next_runtime_id{1};

using util::CpuRelax;

void FutexWait(std::atomic<uint32_t>* addr, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void FutexWake(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// Spin, then yield the CPU, then sleep with exponential backoff (1 us .. 1 ms): used
// only while a ring is full, which is rare and means the shard is overloaded.
class Backoff {
 public:
  void Pause() {
    if (n_ < 256) {
      CpuRelax();
    } else if (n_ < 320) {
      sched_yield();
    } else {
      timespec ts{0, static_cast<long>(sleep_ns_)};
      nanosleep(&ts, nullptr);
      if (sleep_ns_ < 1'000'000) sleep_ns_ *= 2;
    }
    n_++;
  }

 private:
  uint32_t n_ = 0;
  uint64_t sleep_ns_ = 1'000;
};

// Per foreign thread: its rings to every shard of every runtime it has talked to.
// Destroyed at thread exit, which drops the thread's reference on each ring; the
// reactor then reclaims the ring once it has drained it.
struct ForeignThreadState {
  uint64_t cached_id = 0;
  std::vector<ForeignRing*>* cached = nullptr;
  std::unordered_map<uint64_t, std::vector<ForeignRing*>> rings;

  ~ForeignThreadState() {
    for (auto& [id, v] : rings) {
      for (ForeignRing* r : v) {
        if (r != nullptr) ForeignRing::Release(r);
      }
    }
  }

  // Forgets runtimes that are gone (their reactors dropped their references).
  void PruneDead() {
    for (auto it = rings.begin(); it != rings.end();) {
      bool dead = true;
      for (ForeignRing* r : it->second) dead &= (r == nullptr || r->Orphaned());
      if (dead) {
        for (ForeignRing* r : it->second) {
          if (r != nullptr) ForeignRing::Release(r);
        }
        it = rings.erase(it);
      } else {
        ++it;
      }
    }
    cached_id = 0;
    cached = nullptr;
  }
};

thread_local ForeignThreadState tl_foreign;
thread_local ForeignBlocker* tl_blocker = nullptr;

}  // namespace

void SetForeignBlocker(ForeignBlocker* b) {
  RINGDB_ASSERT_MSG(b == nullptr || CurrentReactor() == nullptr,
                    "a shard thread cannot wait as a foreign thread");
  tl_blocker = b;
}

ForeignBlocker* CurrentForeignBlocker() {
  return tl_blocker;
}

// ---------------------------------------------------------------- ForeignWaiter

void ForeignWaiter::Wait(uint64_t spin_ns) {
  if (ForeignBlocker* b = tl_blocker) {
    b->WaitUntil([this] { return state_.load(std::memory_order_acquire) == 1; });
    return;
  }
  if (spin_ns > 0) {
    const uint64_t start = util::NowNanos();
    for (uint32_t i = 1; state_.load(std::memory_order_acquire) != 1; i++) {
      if ((i & 63) == 0 && util::NowNanos() - start >= spin_ns) break;
      CpuRelax();
    }
  }
  uint32_t expected = 0;
  if (!state_.compare_exchange_strong(expected, 2, std::memory_order_acquire)) return;  // done
  while (state_.load(std::memory_order_acquire) != 1) FutexWait(&state_, 2);
}

namespace {
thread_local WakeBatch* tl_wake_batch = nullptr;
}  // namespace

void ForeignWaiter::Notify() {
  if (state_.exchange(1, std::memory_order_acq_rel) != 2) return;
  if (tl_wake_batch != nullptr) {
    tl_wake_batch->Add(&state_);
  } else {
    FutexWake(&state_);
  }
}

WakeBatch::WakeBatch() : outer_(tl_wake_batch) {
  RINGDB_ASSERT_MSG(CurrentReactor() != nullptr, "WakeBatch outside a shard thread");
  tl_wake_batch = this;
}

WakeBatch::~WakeBatch() {
  Flush();
  tl_wake_batch = outer_;
}

void WakeBatch::Add(std::atomic<uint32_t>* addr) {
  if (n_ == kMax) Flush();
  addrs_[n_++] = addr;
}

void WakeBatch::Flush() {
  if (n_ == 0) return;
  CurrentReactor()->backend()->WakeFutexes(addrs_, n_);
  n_ = 0;
}

// ---------------------------------------------------------------- Runtime

Runtime::Runtime(const RuntimeOptions& opt)
    : opts_(opt), id_(g_next_runtime_id.fetch_add(1, std::memory_order_relaxed)) {}

Status Runtime::Start(const RuntimeOptions& opt, std::unique_ptr<Runtime>* out) {
  if (opt.shards == 0) return Status::InvalidArgument("runtime needs at least one shard");
  if (opt.ring_capacity < 2) return Status::InvalidArgument("ring_capacity must be >= 2");
  // Before any shard thread exists, so the reclaimer takes the opening thread's nice
  // value rather than Options::shard_nice.
  rcu::StartReclaimer();
  std::unique_ptr<Runtime> rt(new Runtime(opt));
  const uint32_t n = opt.shards;
  rt->reactors_.resize(n);
  rt->create_status_.resize(n);
  rt->rings_.resize(static_cast<size_t>(n) * n);
  for (uint32_t from = 0; from < n; from++) {
    for (uint32_t to = 0; to < n; to++) {
      if (from != to) rt->rings_[from * n + to] = std::make_unique<MessageRing>(opt.ring_capacity);
    }
  }
  if (opt.driver != nullptr) {
    Status s = rt->StartDriven();
    if (s.ok()) *out = std::move(rt);
    return s;
  }
  for (uint32_t i = 0; i < n; i++)
    rt->threads_.emplace_back([r = rt.get(), i] { r->ThreadMain(i); });

  Status failed;
  {
    std::unique_lock<std::mutex> lock(rt->start_mu_);
    rt->start_cv_.wait(lock, [&] { return rt->created_ == n; });
    for (const Status& s : rt->create_status_) {
      if (!s.ok() && failed.ok()) failed = s;
    }
    if (failed.ok()) rt->Wire();  // while every reactor is parked at the barrier
    rt->go_ = failed.ok() ? Go::kRun : Go::kAbort;
  }
  rt->start_cv_.notify_all();
  if (!failed.ok()) {
    for (auto& t : rt->threads_) t.join();
    rt->threads_.clear();
    rt->stopped_ = true;
    return failed;
  }
  *out = std::move(rt);
  return Status::OK();
}

void Runtime::Wire() {
  const uint32_t n = shards();
  stop_group_.not_quiescent.store(static_cast<int>(n), std::memory_order_relaxed);
  std::vector<Reactor*> peers;
  for (auto& r : reactors_) peers.push_back(r.get());
  stop_group_.members = peers;
  for (uint32_t i = 0; i < n; i++) {
    std::vector<MessageRing*> outbound(n, nullptr);
    for (uint32_t j = 0; j < n; j++) {
      if (j == i) continue;
      outbound[j] = rings_[i * n + j].get();
      reactors_[j]->AddInbound(rings_[i * n + j].get());
    }
    reactors_[i]->SetOutbound(std::move(outbound), peers);
    reactors_[i]->SetStopGroup(&stop_group_);
    reactors_[i]->set_runtime(this);
  }
}

Status Runtime::StartDriven() {
  for (uint32_t i = 0; i < shards(); i++) {
    Status s = Reactor::Create(ReactorOptionsFor(i), &reactors_[i]);
    if (!s.ok()) {
      reactors_.clear();
      stopped_ = true;
      return s;
    }
  }
  Wire();
  std::vector<Reactor*> all;
  for (auto& r : reactors_) all.push_back(r.get());
  opts_.driver->Attach(all);
  return Status::OK();
}

ReactorOptions Runtime::ReactorOptionsFor(uint32_t shard) const {
  ReactorOptions reactor_opt;
  reactor_opt.shard_id = shard;
  reactor_opt.backend = opts_.backend;
  reactor_opt.wrap_backend = opts_.wrap_backend;
  reactor_opt.spin_ns = opts_.spin_ns;
  reactor_opt.adaptive_spin = opts_.adaptive_spin;
  reactor_opt.stack_bytes = opts_.stack_bytes;
  reactor_opt.task_quota_ns = opts_.task_quota_ns;
  reactor_opt.long_fiber_run_ns = opts_.long_fiber_run_ns;
  reactor_opt.stop_timeout_ns = opts_.stop_timeout_ns;
  return reactor_opt;
}

void Runtime::ThreadMain(uint32_t shard) {
  char name[16];
  snprintf(name, sizeof(name), "ringdb-s%u", shard);
  pthread_setname_np(pthread_self(), name);
  if (opts_.thread_nice != 0) {
    // Linux nice values are per thread; this one inherited its creator's.
    const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    const int want = std::clamp((errno == 0 ? base : 0) + opts_.thread_nice, -20, 19);
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), want) != 0) {
      RINGDB_LOG_WARN("shard %u: cannot set nice %d (errno %d)", shard, want, errno);
    }
  }
  if (opts_.pin_threads) {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const int cpu = opts_.cpus.empty() ? static_cast<int>(shard % (ncpu > 0 ? ncpu : 1))
                                       : opts_.cpus[shard % opts_.cpus.size()];
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (err != 0) RINGDB_LOG_WARN("shard %u: cannot pin to cpu %d (error %d)", shard, cpu, err);
  }

  std::unique_ptr<Reactor> reactor;
  Status s = Reactor::Create(ReactorOptionsFor(shard), &reactor);
  Reactor* r = reactor.get();
  {
    std::unique_lock<std::mutex> lock(start_mu_);
    create_status_[shard] = s;
    reactors_[shard] = std::move(reactor);
    created_++;
    start_cv_.notify_all();
    start_cv_.wait(lock, [&] { return go_ != Go::kWait; });
    if (go_ == Go::kAbort) {
      reactors_[shard].reset();  // the backend was created on this thread: free it here
      return;
    }
  }
  r->Run();
}

Runtime::~Runtime() {
  Stop();
  // Reactors drop their references on foreign rings; rings_ outlive them.
  reactors_.clear();
}

void Runtime::Stop() {
  if (stopped_) return;
  Reactor* cur = CurrentReactor();
  RINGDB_ASSERT_MSG(cur == nullptr || cur->runtime() != this,
                    "Runtime::Stop() from one of its own shards would deadlock");
  stopping_.store(true, std::memory_order_release);
  for (auto& r : reactors_) r->RequestStop();
  if (opts_.driver != nullptr) {
    std::vector<Reactor*> all;
    for (auto& r : reactors_) all.push_back(r.get());
    opts_.driver->Detach(all);
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopped_ = true;
}

ForeignRing* Runtime::ForeignRingFor(uint32_t shard) {
  ForeignThreadState& tl = tl_foreign;
  if (tl.cached_id != id_) {
    if (tl.rings.find(id_) == tl.rings.end()) tl.PruneDead();
    std::vector<ForeignRing*>& v = tl.rings[id_];
    v.resize(shards(), nullptr);
    tl.cached_id = id_;
    tl.cached = &v;
  }
  ForeignRing*& slot = (*tl.cached)[shard];
  if (slot == nullptr) {
    slot = new ForeignRing(opts_.ring_capacity);
    reactors_[shard]->RegisterForeign(slot);
  }
  return slot;
}

PostBuffer* Runtime::ForeignPostBuffer(uint32_t shard) {
  return ForeignRingFor(shard)->post.get();
}

std::atomic<uint32_t>* Runtime::ForeignOrderedInFlight(uint32_t shard) {
  return &ForeignRingFor(shard)->ordered_in_flight;
}

void Runtime::InstallPostBuffer(uint32_t shard, std::unique_ptr<PostBuffer> buffer) {
  ForeignRing* fr = ForeignRingFor(shard);
  RINGDB_ASSERT_MSG(fr->post == nullptr, "a post buffer is installed already");
  fr->post = std::move(buffer);
}

void Runtime::PushForeign(uint32_t shard, Message* msg, Wake wake) {
  RINGDB_ASSERT_MSG(shard < shards(), "SubmitTo: shard out of range");
  RINGDB_ASSERT_MSG(!stopping_.load(std::memory_order_acquire), "SubmitTo after Runtime::Stop()");
  Reactor* cur = CurrentReactor();
  RINGDB_ASSERT_MSG(cur == nullptr || cur->runtime() != this,
                    "PushForeign from one of the runtime's own shards");
  ForeignRing* fr = ForeignRingFor(shard);
  Reactor* target = reactors_[shard].get();
  if (wake != Wake::kDeferred) {  // only this thread writes it
    fr->prompt_pushes.store(fr->prompt_pushes.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  }
  if (!fr->ring.TryPush(msg)) {
    Backoff backoff;
    do {
      target->WakeIfSleeping();
      if (tl_blocker != nullptr) {
        tl_blocker->WaitUntil([fr] { return fr->ring.FreeSlots() > 0; });
      } else {
        backoff.Pause();
      }
    } while (!fr->ring.TryPush(msg));
  }
  const size_t half = fr->ring.capacity() / 2;
  if (wake != Wake::kNow && (fr->ring.FreeSlots() > half || fr->ring.FreeSlotsNow() > half)) {
    target->WakeIfSleepingLongerThan(wake == Wake::kLazy ? Reactor::kLazyDrainNs
                                                         : Reactor::kDeferredDrainNs);
    return;
  }
  target->WakeIfSleeping();
}

}  // namespace ringdb::rt
