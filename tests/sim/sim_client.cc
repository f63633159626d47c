// Client: the store's lifecycle under simulation (open, crash, power loss, damage at
// rest, reopen) and the check after every recovery.
#include "sim_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "db/test_hooks.h"
#include "runtime/loop_driver.h"
#include "testing/fault_backend.h"

namespace ringdb::sim {

Client::Client(uint64_t seed, const Params& p, std::string dir, SimDisk* disk,
               std::shared_ptr<io::FaultController> ctl, SimScheduler* sched, bool verbose)
    : seed_(seed),
      p_(p),
      dir_(std::move(dir)),
      disk_(disk),
      ctl_(std::move(ctl)),
      sched_(sched),
      verbose_(verbose),
      rng_(seed * 0x2545f4914f6cdd1dull + 3),
      model_(p.keys) {
  opt_.path = dir_;
  opt_.shards = p.shards;
  opt_.durability = p.durability;
  opt_.periodic_sync_ms = p.periodic_sync_ms;
  opt_.post_writes = p.post_writes;
  opt_.memtable_bytes = p.memtable_bytes;
  opt_.wal_preallocate_bytes = p.wal_preallocate_bytes;
  opt_.block_cache_bytes = p.block_cache_bytes;
  opt_.block_bytes = p.block_bytes;
  opt_.block_align = p.block_align;
  opt_.io_poll_batch = p.poll_batch;
  opt_.idle_spin_us = 0;
  opt_.clock_ms = [] { return SimScheduler::Now() / 1'000'000; };
}

void Client::Log(const char* fmt, ...) {
  if (!verbose_) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[seed %llu t=%.3fs r=%llu] %s\n", static_cast<unsigned long long>(seed_),
               (SimScheduler::Now() - 1'000'000'000'000ull) / 1e9,
               static_cast<unsigned long long>(sched_->rounds()), buf);
}

void Client::Fail(const std::string& what) {
  sim::Fail(seed_, what + "\n  params: " + Summarize(p_));
}

void Client::Mix(uint64_t x) {
  res_.digest = (res_.digest ^ x) * 0x100000001b3ull;
}

void Client::OnRound(uint64_t round) {
  if (freeze_round_ != 0 && round >= freeze_round_ && !disk_->frozen()) {
    disk_->Freeze();
    freeze_ns_ = SimScheduler::Now();
    freeze_round_ = 0;
  }
}

void Client::SetFaults(bool on) {
  faults_on_ = on && p_.faults;
  ctl_->ClearRules();
  disk_->set_misdirect(faults_on_ ? p_.misdirect_p : 0);
  if (!faults_on_) return;
  using io::FaultRule;
  const uint64_t s = rng_.Next();
  if (p_.write_err_p > 0) {
    ctl_->AddRule(FaultRule::Error(EIO).On(io::kWriteOps).WithProbability(p_.write_err_p, s + 1));
  }
  if (p_.nospc_p > 0) {
    ctl_->AddRule(FaultRule::Error(ENOSPC)
                      .On(io::kWriteOps | io::OpBit(io::IoOp::kFallocate))
                      .WithProbability(p_.nospc_p, s + 2));
  }
  if (p_.sync_err_p > 0) {
    ctl_->AddRule(FaultRule::Error(EIO).On(io::kSyncOps).WithProbability(p_.sync_err_p, s + 3));
  }
  if (p_.read_err_p > 0) {
    ctl_->AddRule(FaultRule::Error(EIO).On(io::kReadOps).WithProbability(p_.read_err_p, s + 4));
  }
  if (p_.flip_p > 0) {
    ctl_->AddRule(FaultRule::BitFlip().WithProbability(p_.flip_p, s + 5));
  }
}

Status Client::OpenOnce() {
  testing::OpenHooks hooks;
  hooks.driver = sched_;
  SimDisk* disk = disk_;
  std::shared_ptr<io::FaultController> ctl = ctl_;
  const uint32_t batch = p_.poll_batch;
  hooks.wrap_backend = [disk, ctl, batch](std::unique_ptr<io::IoBackend>, unsigned) {
    auto sim = std::make_unique<SimBackend>(disk, batch);
    // A reactor's Wait returns at once; a client thread that reads blocks itself
    // (Options::caller_block_reads) parks in the scheduler until its read is due.
    sim->set_park([](const std::function<bool()>& ready) {
      if (rt::ForeignBlocker* b = rt::CurrentForeignBlocker()) b->WaitUntil(ready);
    });
    return std::make_unique<io::FaultBackend>(std::move(sim), ctl);
  };
  res_.reopens++;
  injected_before_open_ = ctl_->counters().injected();
  return testing::OpenWithHooks(opt_, hooks, &db_);
}

// Opens the store (a crash may be planned during recovery), then checks it. False
// when the seed ends here (damage at rest detected, as it must be).
bool Client::OpenAndVerify(bool across_crash, uint64_t durable_before_ns) {
  for (int attempt = 0;; attempt++) {
    // A failed or corrupted read during recovery is read again, not kept: tables (F3)
    // and WAL segments (F6) alike.
    SetFaults(attempt == 0);
    if (attempt == 0 && rng_.Chance(0.25)) freeze_round_ = sched_->rounds() + rng_.Range(1, 400);
    Status s = OpenOnce();
    Mix(static_cast<uint64_t>(s.code()));
    if (s.ok()) break;
    Log("open failed: %s", s.ToString().c_str());
    if (disk_->frozen()) {  // crashed during recovery
      res_.crashes++;
      db_.reset();
      io::PowerLossReport rep;
      Status pl = ctl_->SimulatePowerLoss(static_cast<io::PowerLossMode>(rng_.Uniform(3)),
                                          rng_.Next(), &rep);
      if (!pl.ok()) Fail("SimulatePowerLoss: " + pl.ToString());
      disk_->Thaw();
      attempt = -1;
      continue;
    }
    if (damaged_ && (s.IsCorruption() || s.IsIOError())) {
      Log("damage at rest detected by Open: %s", s.ToString().c_str());
      return false;
    }
    if (attempt == 0 && faults_on_) continue;  // an injected fault: retry without faults
    Fail("Open failed with no fault injected: " + s.ToString());
  }
  freeze_round_ = 0;
  if (disk_->frozen()) return true;  // crashed right after Open: the epoch will notice
  return Verify(across_crash, durable_before_ns);
}

// The machine stops now: the disk freezes, the engine is abandoned, the journal rolls
// the files back, maybe some bytes rot, and the store reopens.
void Client::CrashAndRecover() {
  if (!disk_->frozen()) {
    disk_->Freeze();
    freeze_ns_ = SimScheduler::Now();
  }
  WaitPending();  // everything in flight fails now
  res_.crashes++;
  testing::Crash(std::move(db_));
  const auto mode = static_cast<io::PowerLossMode>(rng_.Uniform(3));
  io::PowerLossReport rep;
  Status pl = ctl_->SimulatePowerLoss(mode, rng_.Next(), &rep);
  if (!pl.ok()) Fail("SimulatePowerLoss: " + pl.ToString());
  Log("crash: mode %d, %llu unsynced writes kept, %llu reverted, %llu dir ops undone",
      static_cast<int>(mode), static_cast<unsigned long long>(rep.writes_kept),
      static_cast<unsigned long long>(rep.writes_reverted),
      static_cast<unsigned long long>(rep.dir_ops_undone));
  disk_->Thaw();
  if (p_.damage && rng_.Chance(0.3)) DamageAtRest();
  uint64_t durable_before = 0;
  // Periodic mode promises an fdatasync at least every periodic_sync_ms: a write
  // acknowledged well before the crash is durable, unless a sync could fail.
  if (p_.durability == Durability::kPeriodic && p_.sync_err_p == 0 && p_.write_err_p == 0 &&
      p_.nospc_p == 0) {
    const uint64_t slack_ns = 2ull * p_.periodic_sync_ms * 1'000'000 + 200'000'000;
    if (freeze_ns_ > slack_ns) durable_before = freeze_ns_ - slack_ns;
  }
  if (!OpenAndVerify(/*across_crash=*/true, durable_before)) done_ = true;
}

void Client::CloseCleanly() {
  Status s = db_->Close();
  Log("close: %s", s.ToString().c_str());
  const bool ok = s.ok() && !disk_->frozen();
  db_.reset();
  if (disk_->frozen()) {
    // The planned crash hit the close: treat it as the crash it is.
    io::PowerLossReport rep;
    Status pl = ctl_->SimulatePowerLoss(io::PowerLossMode::kDropUnsynced, rng_.Next(), &rep);
    if (!pl.ok()) Fail("SimulatePowerLoss: " + pl.ToString());
    disk_->Thaw();
  } else {
    // A clean exit: what the files hold now is what the next process finds.
    ctl_->ResetPowerLossState();
  }
  if (!OpenAndVerify(/*across_crash=*/!ok, 0)) done_ = true;
}

// Flips one bit of a random file of the store, at rest (after a crash).
void Client::DamageAtRest() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name == "LOCK" || name.find("trash") != std::string::npos) continue;
    if (e.file_size() == 0) continue;
    files.push_back(e.path().string());
  }
  if (files.empty()) return;
  std::sort(files.begin(), files.end());
  const std::string& f = files[rng_.Uniform(files.size())];
  const uint64_t size = std::filesystem::file_size(f);
  const uint64_t off = rng_.Uniform(size);
  int fd = ::open(f.c_str(), O_RDWR);
  unsigned char c = 0;
  if (fd < 0 || ::pread(fd, &c, 1, static_cast<off_t>(off)) != 1) Fail("cannot damage " + f);
  c ^= static_cast<unsigned char>(1u << rng_.Uniform(8));
  if (::pwrite(fd, &c, 1, static_cast<off_t>(off)) != 1) Fail("cannot damage " + f);
  ::close(fd);
  damaged_ = true;
  // A flipped bit in a WAL record no later record witnesses as synced reads as a torn
  // tail (docs/wal.md): that shard's acknowledged writes from there on may be lost.
  if (f.ends_with(".wal")) {
    const size_t at = f.rfind("/shard-");
    if (at != std::string::npos) damaged_wal_shard_ = std::atoi(f.c_str() + at + 7);
  }
  Log("damage at rest: %s offset %llu", f.c_str(), static_cast<unsigned long long>(off));
}

void Client::Main() {
  if (!OpenAndVerify(false, 0)) Fail("the first Open of an empty store failed");
  for (uint32_t e = 0; e < p_.epochs && !done_; e++) {
    degraded_ = false;
    if (rng_.Chance(0.5)) freeze_round_ = sched_->rounds() + rng_.Range(50, 20'000);
    Epoch();
    freeze_round_ = 0;
    if (disk_->frozen() || degraded_ || rng_.Chance(0.7)) {
      CrashAndRecover();
    } else {
      CloseCleanly();
    }
  }
  if (db_ && disk_->frozen()) {  // the planned crash came first
    WaitPending();
    testing::Crash(std::move(db_));
  } else if (db_) {
    SetFaults(false);
    Status s = db_->Close();
    // A fault injected into this store's life (its Open included) may have made a
    // shard read-only; Close reports that error.
    const bool faulted = ctl_->counters().injected() > injected_before_open_;
    const bool io_error = s.IsIOError() || s.IsNoSpace() || s.IsReadOnly();
    if (!s.ok() && !damaged_ && !(faulted && io_error)) Fail("final Close: " + s.ToString());
    db_.reset();
  }
  res_.faults = ctl_->counters().injected() + disk_->misdirected_reads;
}

}  // namespace ringdb::sim
