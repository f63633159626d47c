// FaultController's methods (every one takes the controller's mutex), and the fd and
// path tracking they and the journal rely on: which file an fd names, under which
// canonical path, so that rules can match by path and the journal can find a file's
// records by inode.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include "testing/fault_internal.h"
#include "util/log.h"

namespace ringdb::io {
namespace fault_detail {

std::string ProcFdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

std::string FdLinkPath(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(ProcFdPath(fd).c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

std::string Canon(const std::string& p) {
  std::filesystem::path lp = std::filesystem::path(p).lexically_normal();
  if (!lp.has_filename()) lp = lp.parent_path();
  char buf[PATH_MAX];
  if (::realpath(lp.parent_path().c_str(), buf) == nullptr) return lp.string();
  std::string out(buf);
  if (out != "/") out += '/';
  return out + lp.filename().string();
}

std::string ParentOf(const std::string& p) {
  std::string parent = std::filesystem::path(p).parent_path().string();
  return parent.empty() ? "/" : parent;
}

}  // namespace fault_detail

using namespace fault_detail;

// ---------------------------------------------------------------------------
// fd tracking

void FaultController::Impl::Untrack(int fd) {
  auto it = fds.find(fd);
  if (it == fds.end()) return;
  FileKey key = it->second.key;
  bool is_dir = it->second.is_dir;
  fds.erase(it);
  if (is_dir) return;
  auto f = files.find(key);
  if (f != files.end()) {
    f->second.fds--;
    MaybeDrop(key);
  }
}

FdInfo* FaultController::Impl::Track(int fd, std::string path) {
  Untrack(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return nullptr;
  FdInfo info;
  info.key = {st.st_dev, st.st_ino};
  info.is_dir = S_ISDIR(st.st_mode);
  info.path = path.empty() ? FdLinkPath(fd) : Canon(path);
  int fl = ::fcntl(fd, F_GETFL);
  info.dsync = fl >= 0 && (fl & O_DSYNC) != 0;
  if (!info.is_dir) {
    auto [it, fresh] = files.try_emplace(info.key);
    FileState& f = it->second;
    if (fresh) {
      if (opt.power_loss) f.reader_fd = ::open(ProcFdPath(fd).c_str(), O_RDONLY | O_CLOEXEC);
      f.synced_size = static_cast<uint64_t>(st.st_size);
    }
    f.path = info.path;
    f.fds++;
  }
  return &(fds[fd] = std::move(info));
}

// The fd's info, re-tracked when the fd number now names another file (it was closed
// and reused outside the backend).
FdInfo* FaultController::Impl::LookupFd(int fd) {
  if (fd < 0) return nullptr;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Untrack(fd);
    return nullptr;
  }
  auto it = fds.find(fd);
  if (it != fds.end() && it->second.key == FileKey{st.st_dev, st.st_ino}) return &it->second;
  return Track(fd, {});
}

void FaultController::Impl::MaybeDrop(const FileKey& key) {
  auto it = files.find(key);
  if (it == files.end() || it->second.fds > 0 || !it->second.records.empty()) return;
  if (it->second.reader_fd >= 0) ::close(it->second.reader_fd);
  files.erase(it);
}

std::string FaultController::Impl::Resolve(int dirfd, const char* path) {
  if (path == nullptr) return {};
  if (path[0] == '/') return Canon(path);
  std::string base;
  if (dirfd == AT_FDCWD) {
    char buf[PATH_MAX];
    if (::getcwd(buf, sizeof(buf)) != nullptr) base = buf;
  } else if (FdInfo* fi = LookupFd(dirfd)) {
    base = fi->path;
  }
  return Canon(base + "/" + path);
}

// ---------------------------------------------------------------------------
// FaultController

FaultController::FaultController(FaultControllerOptions opt) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(opt);
}

FaultController::~FaultController() {
  ResetPowerLossState();
  impl_->ForgetAll();
}

FaultController::RuleId FaultController::AddRule(FaultRule rule) {
  std::lock_guard lock(impl_->mu);
  RuleState rs;
  rs.id = impl_->next_rule++;
  rs.rng = rule.seed;
  rs.rule = std::move(rule);
  impl_->rules.push_back(std::move(rs));
  return impl_->rules.back().id;
}

bool FaultController::RemoveRule(RuleId id) {
  std::lock_guard lock(impl_->mu);
  auto& rules = impl_->rules;
  auto it = std::find_if(rules.begin(), rules.end(), [&](auto& r) { return r.id == id; });
  if (it == rules.end()) return false;
  rules.erase(it);
  return true;
}

void FaultController::ClearRules() {
  std::lock_guard lock(impl_->mu);
  impl_->rules.clear();
}

uint64_t FaultController::RuleFires(RuleId id) const {
  std::lock_guard lock(impl_->mu);
  for (const RuleState& r : impl_->rules) {
    if (r.id == id) return r.fires;
  }
  return 0;
}

FaultCounters FaultController::counters() const {
  std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

void FaultController::TrackFd(int fd, std::string path) {
  std::lock_guard lock(impl_->mu);
  impl_->Track(fd, std::move(path));
}

void FaultController::UntrackFd(int fd) {
  std::lock_guard lock(impl_->mu);
  impl_->Untrack(fd);
}

Status FaultController::SimulatePowerLoss(PowerLossMode mode, uint64_t seed,
                                          PowerLossReport* report) {
  std::lock_guard lock(impl_->mu);
  PowerLossReport rep;
  Status first;
  // By path, so that a seed replays the same choices whatever the inode numbers.
  std::vector<FileState*> files;
  for (auto& [key, f] : impl_->files) files.push_back(&f);
  std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->path < b->path; });
  for (FileState* f : files) {
    Status s = impl_->RevertFile(f, mode, seed, &rep);
    if (first.ok() && !s.ok()) first = s;
  }
  for (auto it = impl_->dir_ops.rbegin(); it != impl_->dir_ops.rend(); ++it) {
    Status s = impl_->UndoDirOp(it->second);
    if (s.ok()) rep.dir_ops_undone++;
    if (first.ok() && !s.ok()) first = s;
  }
  impl_->ForgetAll();
  RINGDB_LOG_INFO(
      "fault: power loss (mode %d, seed %llu): %llu files, %llu kept, %llu reverted, "
      "%llu directory operations undone",
      static_cast<int>(mode), static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(rep.files), static_cast<unsigned long long>(rep.writes_kept),
      static_cast<unsigned long long>(rep.writes_reverted),
      static_cast<unsigned long long>(rep.dir_ops_undone));
  if (report != nullptr) *report = rep;
  return first;
}

void FaultController::ResetPowerLossState() {
  std::lock_guard lock(impl_->mu);
  for (auto& [seq, op] : impl_->dir_ops) impl_->MakeDurable(&op);
  impl_->dir_ops.clear();
  std::vector<FileKey> keys;
  for (auto& [key, f] : impl_->files) {
    f.records.clear();
    struct stat st;
    if (f.reader_fd >= 0 && ::fstat(f.reader_fd, &st) == 0)
      f.synced_size = static_cast<uint64_t>(st.st_size);
    keys.push_back(key);
  }
  for (const FileKey& k : keys) impl_->MaybeDrop(k);
}

uint64_t FaultController::unsynced_writes() const {
  std::lock_guard lock(impl_->mu);
  uint64_t n = 0;
  for (auto& [key, f] : impl_->files) {
    for (const WriteRecord& r : f.records) n += r.state != RecState::kDurable && r.len > 0;
  }
  return n;
}

uint64_t FaultController::unsynced_dir_ops() const {
  std::lock_guard lock(impl_->mu);
  return impl_->dir_ops.size();
}

}  // namespace ringdb::io
