#include "io/fault_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>

#include "util/clock.h"
#include "util/log.h"

namespace ringdb::io {
namespace {

constexpr uint64_t kPageBytes = 4096;

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Stable across runs and builds, unlike std::hash: per-file choices replay by seed.
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

bool IsRead(IoOp op) {
  return op == IoOp::kRead || op == IoOp::kReadv;
}
bool IsWrite(IoOp op) {
  return op == IoOp::kWrite || op == IoOp::kWritev;
}
bool IsRw(IoOp op) {
  return IsRead(op) || IsWrite(op);
}
bool IsSync(IoOp op) {
  return op == IoOp::kFsync || op == IoOp::kFdatasync;
}

uint64_t RequestBytes(const IoRequest& r) {
  if (r.op == IoOp::kReadv || r.op == IoOp::kWritev) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < r.iovcnt; i++) n += r.iov[i].iov_len;
    return n;
  }
  return r.len;
}

// Calls fn(ptr, n) for the bytes [rel, rel + n) of a read/write request's data.
template <typename Fn>
void ForEachDataSpan(const IoRequest& r, uint64_t rel, uint64_t n, Fn fn) {
  if (r.op == IoOp::kRead || r.op == IoOp::kWrite) {
    fn(static_cast<char*>(r.buf) + rel, n);
    return;
  }
  for (uint32_t i = 0; i < r.iovcnt && n > 0; i++) {
    uint64_t l = r.iov[i].iov_len;
    if (rel >= l) {
      rel -= l;
      continue;
    }
    uint64_t take = std::min(l - rel, n);
    fn(static_cast<char*>(r.iov[i].iov_base) + rel, take);
    n -= take;
    rel = 0;
  }
}

// Reads [off, off + n); what lies past EOF reads as zeros.
void PreadFull(int fd, char* buf, uint64_t n, uint64_t off) {
  uint64_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<uint64_t>(r);
  }
  if (got < n) std::memset(buf + got, 0, n - got);
}

bool PwriteFull(int fd, const char* buf, uint64_t n, uint64_t off) {
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<uint64_t>(r);
  }
  return true;
}

std::string ProcFdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

std::string FdLinkPath(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(ProcFdPath(fd).c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

// Absolute, normalized, with the parent directory's symlinks resolved, so that one
// directory always has one name.
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

// Disjoint half-open byte ranges.
class IntervalSet {
 public:
  void Add(uint64_t a, uint64_t b) {
    auto it = map_.upper_bound(a);
    if (it != map_.begin() && std::prev(it)->second >= a) --it;
    while (it != map_.end() && it->first <= b) {
      a = std::min(a, it->first);
      b = std::max(b, it->second);
      it = map_.erase(it);
    }
    map_[a] = b;
  }
  // Calls fn(x, y) for each maximal sub-range of [a, b) not in the set.
  template <typename Fn>
  void ForEachGap(uint64_t a, uint64_t b, Fn fn) const {
    auto it = map_.upper_bound(a);
    if (it != map_.begin() && std::prev(it)->second > a) --it;
    for (; it != map_.end() && a < b && it->first < b; ++it) {
      if (it->first > a) fn(a, it->first);
      a = std::max(a, it->second);
    }
    if (a < b) fn(a, b);
  }

 private:
  std::map<uint64_t, uint64_t> map_;
};

struct FileKey {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const FileKey&) const = default;
};

enum class RecState : uint8_t { kInFlight, kDone, kDurable, kLost };

// One write (or fallocate) not yet known to be durable.
// Invariant: `pre` holds the bytes [offset, offset + pre.size()) as they were before
// this write, in submission order; [offset + pre.size(), offset + len) lay past EOF.
struct WriteRecord {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint64_t len = 0;
  std::vector<char> pre;
  RecState state = RecState::kInFlight;
  bool size_only = false;          // fallocate growing the file: no bytes change
  bool zeros = false;              // fallocate punching/zeroing: the new bytes are 0
  bool dsync = false;              // fd opened O_DSYNC/O_SYNC: durable on completion
  const IoRequest* src = nullptr;  // while in flight: where the new bytes are
};

struct FileState {
  std::string path;    // current name (follows renames and unlinks)
  int reader_fd = -1;  // our own buffered fd on the inode: pre-images, restores
  uint64_t synced_size = 0;
  std::deque<WriteRecord> records;  // submission order
  int fds = 0;                      // tracked fds open on this file
};

struct FdInfo {
  std::string path;
  FileKey key;
  bool is_dir = false;
  bool dsync = false;
};

enum class DirOpKind : uint8_t { kCreate, kRename, kUnlink };

// A creation, rename or unlink not yet known to be durable. Durable once the
// directories of both its names were fsynced after it completed.
struct DirOp {
  DirOpKind kind = DirOpKind::kCreate;
  std::string from, to;  // kCreate: `to`; kUnlink: `from`
  std::string trash;     // kUnlink: where the file waits; kRename: the displaced target
  std::string src_dir, dst_dir;
  bool done = false;
  bool src_synced = false;
  bool dst_synced = false;
};

struct RuleState {
  FaultController::RuleId id = 0;
  FaultRule rule;
  uint64_t matches = 0;
  uint64_t fires = 0;
  uint64_t rng = 0;
};

struct Decision {
  bool fire = false;
  FaultAction action = FaultAction::kError;
  int error = 0;
  uint64_t short_len = 0;
  uint64_t delay_ns = 0;
  uint64_t rnd = 0;
};

// Records of the requests forwarded so far in one link chain: a sync later in the chain
// runs after them, so it covers them although they have not completed at its submit.
struct ChainCtx {
  std::vector<std::pair<FileKey, uint64_t>> writes;
  std::vector<uint64_t> dir_ops;
};

}  // namespace

struct FaultBackend::Shadow {
  IoRequest inner;  // what the inner backend runs
  IoRequest* outer = nullptr;
  FaultBackend* owner = nullptr;
  Shadow* next = nullptr;  // ready queue
  Shadow* then = nullptr;  // local completions resolved after this one
  bool local = false;      // never forwarded: completes with local_result
  bool needs_full_pred = false;
  bool injected_error = false;
  bool bit_flip = false;
  int64_t result = 0;
  uint64_t flip_rnd = 0;
  uint64_t delay_ns = 0;
  uint64_t due_ns = 0;
  uint64_t expect_len = 0;
  std::vector<iovec> iov;
  std::string path_a, path_b;
  // Power-loss bookkeeping.
  bool has_rec = false;
  FileKey rec_key;
  uint64_t rec_seq = 0;
  bool sync_file = false;
  bool sync_dir = false;
  std::string dir_path;
  std::vector<uint64_t> covered;
  uint64_t dir_op_seq = 0;
  std::string open_path;

  void Reset(FaultBackend* o, IoRequest* out) {
    inner = IoRequest{};
    outer = out;
    owner = o;
    next = then = nullptr;
    local = needs_full_pred = injected_error = bit_flip = false;
    result = 0;
    flip_rnd = delay_ns = due_ns = expect_len = 0;
    iov.clear();
    path_a.clear();
    path_b.clear();
    has_rec = sync_file = sync_dir = false;
    rec_key = {};
    rec_seq = dir_op_seq = 0;
    dir_path.clear();
    covered.clear();
    open_path.clear();
  }
};

using Shadow = FaultBackend::Shadow;

struct FaultController::Impl {
  FaultControllerOptions opt;
  mutable std::mutex mu;
  // Everything below is guarded by mu.
  std::vector<RuleState> rules;
  RuleId next_rule = 1;
  FaultCounters counters;
  std::map<int, FdInfo> fds;
  std::map<FileKey, FileState> files;
  std::map<uint64_t, DirOp> dir_ops;  // by sequence number: submission order
  uint64_t next_seq = 1;
  uint64_t trash_seq = 0;

  // ---- fd tracking ----
  void Untrack(int fd);
  FdInfo* Track(int fd, std::string path);
  FdInfo* LookupFd(int fd);
  void MaybeDrop(const FileKey& key);
  std::string Resolve(int dirfd, const char* path);

  // ---- faults ----
  Decision Decide(const IoRequest& req);

  // ---- power-loss journal ----
  void BeforeForward(Shadow* sh, ChainCtx* ctx);
  void AfterComplete(Shadow* sh, int64_t result);
  void PrepareSync(Shadow* sh, const ChainCtx& ctx);
  void MarkLost(Shadow* sh);
  void RecordWrite(Shadow* sh, FdInfo* fi, uint64_t off, uint64_t len, bool zeros, bool size_only);
  void RecordFallocate(Shadow* sh);
  void WriteDone(Shadow* sh, int64_t result);
  void SyncDone(Shadow* sh);
  void Prune(FileState* f);
  void Rename(const std::string& from, const std::string& to);
  void MakeDurable(DirOp* op);
  std::string TrashPath(const std::string& path);
  Status RevertFile(FileState* f, PowerLossMode mode, uint64_t seed, PowerLossReport* rep);
  Status UndoDirOp(const DirOp& op);
  void ForgetAll();
};

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
// Fault decisions

namespace {

bool Applies(FaultAction a, const IoRequest& req) {
  switch (a) {
    case FaultAction::kShortTransfer:
      return IsRw(req.op) && RequestBytes(req) > 0;
    case FaultAction::kBitFlip:
      return IsRead(req.op);
    default:
      return true;
  }
}

}  // namespace

Decision FaultController::Impl::Decide(const IoRequest& req) {
  counters.requests_seen++;
  Decision d;
  if (rules.empty()) return d;
  std::string p1, p2;
  switch (req.op) {
    case IoOp::kOpen:
    case IoOp::kUnlink:
      p1 = Resolve(req.fd, req.path);
      break;
    case IoOp::kRename:
      p1 = Resolve(req.fd, req.path);
      p2 = Resolve(req.fd, req.path2);
      break;
    default:
      if (FdInfo* fi = LookupFd(req.fd)) p1 = fi->path;
  }
  for (RuleState& rs : rules) {
    const FaultRule& r = rs.rule;
    // A write with kDsync is a write and a sync in one: rules for either match it.
    IoOpMask bits = OpBit(req.op);
    if ((req.flags & IoRequest::kDsync) != 0 &&
        (req.op == IoOp::kWrite || req.op == IoOp::kWritev)) {
      bits |= OpBit(IoOp::kFdatasync);
    }
    if ((r.ops & bits) == 0 || !Applies(r.action, req)) continue;
    if (!r.path_substr.empty() && p1.find(r.path_substr) == std::string::npos &&
        p2.find(r.path_substr) == std::string::npos) {
      continue;
    }
    uint64_t n = ++rs.matches;
    if (n < r.first || n - r.first >= r.count || rs.fires >= r.max_fires) continue;
    if (r.probability < 1.0) {
      double u = static_cast<double>(SplitMix(&rs.rng) >> 11) * 0x1.0p-53;
      if (u >= r.probability) continue;
    }
    if (d.fire) continue;  // an earlier rule won
    rs.fires++;
    d.fire = true;
    d.action = r.action;
    d.error = r.error;
    uint64_t bytes = RequestBytes(req);
    d.short_len = std::min(r.short_len == 0 ? bytes / 2 : r.short_len, bytes - 1);
    d.delay_ns = r.delay_ns;
    d.rnd = SplitMix(&rs.rng);
  }
  return d;
}

// ---------------------------------------------------------------------------
// Power-loss journal: recording

std::string FaultController::Impl::TrashPath(const std::string& path) {
  std::string name = ".ringdb-fault-trash-" + std::to_string(::getpid()) + "-" +
                     std::to_string(++trash_seq) + "-" +
                     std::filesystem::path(path).filename().string();
  if (!opt.trash_dir.empty()) return Canon(opt.trash_dir + "/" + name);
  return ParentOf(path) + "/" + name;
}

void FaultController::Impl::RecordWrite(Shadow* sh, FdInfo* fi, uint64_t off, uint64_t len,
                                        bool zeros, bool size_only) {
  FileState& f = files[fi->key];
  if (f.reader_fd < 0) return;  // cannot read pre-images: the file counts as durable
  struct stat st;
  uint64_t model_size = ::fstat(f.reader_fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  for (const WriteRecord& r : f.records) {
    if (r.state == RecState::kInFlight) model_size = std::max(model_size, r.offset + r.len);
  }
  WriteRecord rec;
  rec.seq = next_seq++;
  rec.zeros = zeros;
  rec.size_only = size_only;
  rec.dsync = fi->dsync || (sh->inner.flags & IoRequest::kDsync) != 0;
  if (size_only) {  // only the part that grows the file matters
    uint64_t end = off + len;
    if (end <= model_size) return;
    off = model_size;
    len = end - model_size;
  } else {
    uint64_t pre_len = off < model_size ? std::min(len, model_size - off) : 0;
    rec.pre.resize(pre_len);
    PreadFull(f.reader_fd, rec.pre.data(), pre_len, off);
    // Bytes an earlier write still in flight will put there: that write lands first.
    for (const WriteRecord& r : f.records) {
      if (r.state != RecState::kInFlight || r.size_only) continue;
      uint64_t a = std::max(off, r.offset), b = std::min(off + pre_len, r.offset + r.len);
      if (a >= b) continue;
      char* dst = rec.pre.data() + (a - off);
      if (r.zeros || r.src == nullptr) {
        std::memset(dst, 0, b - a);
      } else {
        ForEachDataSpan(*r.src, a - r.offset, b - a, [&](const char* p, uint64_t n) {
          std::memcpy(dst, p, n);
          dst += n;
        });
      }
    }
  }
  rec.offset = off;
  rec.len = len;
  rec.src = zeros || size_only ? nullptr : &sh->inner;
  sh->has_rec = true;
  sh->rec_key = fi->key;
  sh->rec_seq = rec.seq;
  f.records.push_back(std::move(rec));
}

void FaultController::Impl::RecordFallocate(Shadow* sh) {
  const IoRequest& r = sh->inner;
  FdInfo* fi = LookupFd(r.fd);
  if (fi == nullptr || fi->is_dir) return;
  bool keep_size = (r.mode & FALLOC_FL_KEEP_SIZE) != 0;
  if ((r.mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) {
    uint64_t len = r.len;
    if (keep_size) {  // never grows the file
      struct stat st;
      uint64_t size = ::fstat(r.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
      len = r.offset < size ? std::min(len, size - r.offset) : 0;
    }
    if (len > 0) RecordWrite(sh, fi, r.offset, len, /*zeros=*/true, /*size_only=*/false);
  } else if (!keep_size) {
    RecordWrite(sh, fi, r.offset, r.len, /*zeros=*/false, /*size_only=*/true);
  }
}

// Which writes (or directory operations) a sync covers: those completed before it was
// submitted, and those ahead of it in its link chain.
void FaultController::Impl::PrepareSync(Shadow* sh, const ChainCtx& ctx) {
  FdInfo* fi = LookupFd(sh->outer->fd);
  if (fi == nullptr) return;
  if (fi->is_dir) {
    sh->sync_dir = true;
    sh->dir_path = fi->path;
    for (auto& [seq, op] : dir_ops) {
      if (op.done || std::find(ctx.dir_ops.begin(), ctx.dir_ops.end(), seq) != ctx.dir_ops.end())
        sh->covered.push_back(seq);
    }
    return;
  }
  auto f = files.find(fi->key);
  if (f == files.end()) return;
  sh->sync_file = true;
  sh->rec_key = fi->key;
  for (const WriteRecord& r : f->second.records) {
    bool in_chain = std::find(ctx.writes.begin(), ctx.writes.end(),
                              std::make_pair(fi->key, r.seq)) != ctx.writes.end();
    if (r.state == RecState::kDone || (in_chain && r.state == RecState::kInFlight))
      sh->covered.push_back(r.seq);
  }
}

void FaultController::Impl::BeforeForward(Shadow* sh, ChainCtx* ctx) {
  if (!opt.power_loss) return;
  IoRequest& r = sh->inner;
  switch (r.op) {
    case IoOp::kWrite:
    case IoOp::kWritev:
      if (FdInfo* fi = LookupFd(r.fd); fi != nullptr && !fi->is_dir)
        RecordWrite(sh, fi, r.offset, RequestBytes(r), false, false);
      break;
    case IoOp::kFallocate:
      RecordFallocate(sh);
      break;
    case IoOp::kFsync:
    case IoOp::kFdatasync:
      PrepareSync(sh, *ctx);
      break;
    case IoOp::kOpen: {
      sh->open_path = Resolve(r.fd, r.path);
      struct stat st;
      if ((r.open_flags & O_CREAT) != 0 && ::fstatat(r.fd, r.path, &st, 0) != 0 &&
          errno == ENOENT) {
        DirOp op;
        op.kind = DirOpKind::kCreate;
        op.to = sh->open_path;
        op.src_dir = op.dst_dir = ParentOf(op.to);
        sh->dir_op_seq = next_seq++;
        dir_ops.emplace(sh->dir_op_seq, std::move(op));
      }
      break;
    }
    case IoOp::kRename: {
      DirOp op;
      op.kind = DirOpKind::kRename;
      op.from = Resolve(r.fd, r.path);
      op.to = Resolve(r.fd, r.path2);
      op.src_dir = ParentOf(op.from);
      op.dst_dir = ParentOf(op.to);
      struct stat st;
      if (op.from != op.to && ::lstat(op.to.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        // Keep the file the rename replaces, to put it back.
        std::string trash = TrashPath(op.to);
        if (::link(op.to.c_str(), trash.c_str()) == 0) op.trash = trash;
      }
      sh->dir_op_seq = next_seq++;
      dir_ops.emplace(sh->dir_op_seq, std::move(op));
      break;
    }
    case IoOp::kUnlink: {
      // Unlink becomes a rename into the trash, so that a power loss can undo it.
      DirOp op;
      op.kind = DirOpKind::kUnlink;
      op.from = Resolve(r.fd, r.path);
      op.trash = TrashPath(op.from);
      op.src_dir = op.dst_dir = ParentOf(op.from);  // the trash is ours: no sync needed
      sh->path_a = op.from;
      sh->path_b = op.trash;
      r.op = IoOp::kRename;
      r.path = sh->path_a.c_str();
      r.path2 = sh->path_b.c_str();
      r.open_flags = 0;
      sh->dir_op_seq = next_seq++;
      dir_ops.emplace(sh->dir_op_seq, std::move(op));
      break;
    }
    default:
      break;
  }
  if (sh->has_rec) ctx->writes.emplace_back(sh->rec_key, sh->rec_seq);
  if (sh->dir_op_seq != 0) ctx->dir_ops.push_back(sh->dir_op_seq);
}

// ---------------------------------------------------------------------------
// Power-loss journal: completions

void FaultController::Impl::Prune(FileState* f) {
  while (!f->records.empty() && f->records.front().state == RecState::kDurable)
    f->records.pop_front();
}

void FaultController::Impl::WriteDone(Shadow* sh, int64_t result) {
  auto f = files.find(sh->rec_key);
  if (f == files.end()) return;
  for (WriteRecord& r : f->second.records) {
    if (r.seq != sh->rec_seq) continue;
    r.src = nullptr;
    if (sh->inner.op == IoOp::kFallocate) {
      if (result < 0) r.len = 0;
    } else {
      uint64_t moved = result < 0 ? 0 : static_cast<uint64_t>(result);
      if (moved < r.len) {  // the rest never reached the file
        r.len = moved;
        if (r.pre.size() > moved) r.pre.resize(moved);
      }
    }
    r.state = RecState::kDone;
    if (r.len == 0 || (r.dsync && result >= 0)) {
      r.state = RecState::kDurable;
      if (r.len > 0) f->second.synced_size = std::max(f->second.synced_size, r.offset + r.len);
    }
    break;
  }
  Prune(&f->second);
  MaybeDrop(sh->rec_key);
}

void FaultController::Impl::SyncDone(Shadow* sh) {
  if (sh->sync_file) {
    auto f = files.find(sh->rec_key);
    if (f == files.end()) return;
    for (WriteRecord& r : f->second.records) {
      if (r.state != RecState::kDone) continue;
      if (std::find(sh->covered.begin(), sh->covered.end(), r.seq) == sh->covered.end()) continue;
      r.state = RecState::kDurable;
      f->second.synced_size = std::max(f->second.synced_size, r.offset + r.len);
    }
    Prune(&f->second);
    MaybeDrop(sh->rec_key);
    return;
  }
  for (uint64_t seq : sh->covered) {
    auto it = dir_ops.find(seq);
    if (it == dir_ops.end()) continue;
    DirOp& op = it->second;
    if (op.src_dir == sh->dir_path) op.src_synced = true;
    if (op.dst_dir == sh->dir_path) op.dst_synced = true;
    if (op.src_synced && op.dst_synced) {
      MakeDurable(&op);
      dir_ops.erase(it);
    }
  }
}

// A failed fsync loses the dirty data it covered, as on Linux: the kernel marks the
// pages clean, so a later fsync succeeds without writing them.
void FaultController::Impl::MarkLost(Shadow* sh) {
  if (!sh->sync_file) return;
  auto f = files.find(sh->rec_key);
  if (f == files.end()) return;
  for (WriteRecord& r : f->second.records) {
    if (std::find(sh->covered.begin(), sh->covered.end(), r.seq) != sh->covered.end() &&
        r.state != RecState::kDurable) {
      r.state = RecState::kLost;
    }
  }
}

void FaultController::Impl::MakeDurable(DirOp* op) {
  if (op->trash.empty()) return;
  for (auto it = files.begin(); it != files.end();) {
    if (it->second.path == op->trash && it->second.fds == 0) {
      if (it->second.reader_fd >= 0) ::close(it->second.reader_fd);
      it = files.erase(it);
    } else {
      ++it;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(op->trash, ec);
}

// Names follow a completed rename.
void FaultController::Impl::Rename(const std::string& from, const std::string& to) {
  for (auto& [fd, fi] : fds) {
    if (fi.path == from) fi.path = to;
  }
  for (auto& [key, f] : files) {
    if (f.path == from) f.path = to;
  }
}

void FaultController::Impl::AfterComplete(Shadow* sh, int64_t result) {
  const IoRequest& r = sh->inner;
  if (r.op == IoOp::kOpen && result >= 0) Track(static_cast<int>(result), sh->open_path);
  if (r.op == IoOp::kClose && result >= 0) Untrack(r.fd);
  if (!opt.power_loss) return;
  if (sh->has_rec) WriteDone(sh, result);
  if (IsSync(r.op)) {
    if (result >= 0) {
      SyncDone(sh);
    } else if (result == -EIO || result == -ENOSPC || result == -EDQUOT) {
      MarkLost(sh);
    }
  }
  if (sh->dir_op_seq == 0) return;
  auto it = dir_ops.find(sh->dir_op_seq);
  if (it == dir_ops.end()) return;
  DirOp& op = it->second;
  if (result < 0) {
    if (op.kind == DirOpKind::kRename && !op.trash.empty()) ::unlink(op.trash.c_str());
    dir_ops.erase(it);
    return;
  }
  op.done = true;
  if (op.kind == DirOpKind::kRename) {
    if (!op.trash.empty()) Rename(op.to, op.trash);
    Rename(op.from, op.to);
  } else if (op.kind == DirOpKind::kUnlink) {
    Rename(op.from, op.trash);
  }
}

// ---------------------------------------------------------------------------
// Power loss

namespace {

struct Piece {
  uint64_t off = 0;
  uint64_t len = 0;
  const WriteRecord* rec = nullptr;
  bool keep = false;
};

}  // namespace

Status FaultController::Impl::RevertFile(FileState* f, PowerLossMode mode, uint64_t seed,
                                         PowerLossReport* rep) {
  uint64_t rng = seed ^ Fnv1a(f->path);
  uint64_t unsynced = 0;
  bool any = false;
  for (const WriteRecord& r : f->records) {
    if (r.len == 0) continue;
    if (r.state == RecState::kDone || r.state == RecState::kInFlight) unsynced++;
    if (r.state != RecState::kDurable) any = true;
  }
  if (!any) return Status::OK();
  rep->files++;
  uint64_t keep_n = mode == PowerLossMode::kKeepPrefix ? SplitMix(&rng) % (unsynced + 1) : 0;
  std::vector<Piece> pieces;
  uint64_t idx = 0;
  for (const WriteRecord& r : f->records) {
    if (r.len == 0) continue;
    if (r.state == RecState::kDurable || r.state == RecState::kLost) {
      pieces.push_back({r.offset, r.len, &r, r.state == RecState::kDurable});
      continue;
    }
    if (mode != PowerLossMode::kTearPages) {
      bool keep = mode == PowerLossMode::kKeepPrefix && idx++ < keep_n;
      pieces.push_back({r.offset, r.len, &r, keep});
      (keep ? rep->writes_kept : rep->writes_reverted)++;
      continue;
    }
    for (uint64_t a = r.offset; a < r.offset + r.len;) {
      uint64_t b = std::min(r.offset + r.len, (a / kPageBytes + 1) * kPageBytes);
      bool keep = (SplitMix(&rng) & 1) != 0;
      pieces.push_back({a, b - a, &r, keep});
      (keep ? rep->writes_kept : rep->writes_reverted)++;
      a = b;
    }
  }
  uint64_t final_size = f->synced_size;
  for (const Piece& p : pieces) {
    if (p.keep) final_size = std::max(final_size, p.off + p.len);
  }
  int fd = ::open(ProcFdPath(f->reader_fd).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "power loss: reopen " + f->path);
  bool ok = true;
  IntervalSet kept;  // bytes a newer surviving write owns
  std::vector<char> zeros;
  for (auto p = pieces.rbegin(); p != pieces.rend(); ++p) {
    if (p->keep) {
      kept.Add(p->off, p->off + p->len);
      continue;
    }
    if (p->rec->size_only) continue;
    const WriteRecord& r = *p->rec;
    kept.ForEachGap(p->off, std::min(p->off + p->len, final_size), [&](uint64_t a, uint64_t b) {
      uint64_t pre_end = std::min(b, r.offset + r.pre.size());
      if (a < pre_end) ok &= PwriteFull(fd, r.pre.data() + (a - r.offset), pre_end - a, a);
      if (std::max(a, pre_end) < b) {  // past the old EOF: a hole
        uint64_t z = std::max(a, pre_end);
        zeros.assign(b - z, 0);
        ok &= PwriteFull(fd, zeros.data(), b - z, z);
      }
    });
  }
  ok &= ::ftruncate(fd, static_cast<off_t>(final_size)) == 0;
  ok &= ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return Status::FromErrno(err, "power loss: restore " + f->path);
  return Status::OK();
}

Status FaultController::Impl::UndoDirOp(const DirOp& op) {
  int rc = 0;
  switch (op.kind) {
    case DirOpKind::kCreate:
      rc = ::unlink(op.to.c_str());
      if (rc != 0 && errno == ENOENT) rc = 0;
      break;
    case DirOpKind::kRename:
      rc = ::rename(op.to.c_str(), op.from.c_str());
      if (rc == 0 && !op.trash.empty()) rc = ::rename(op.trash.c_str(), op.to.c_str());
      break;
    case DirOpKind::kUnlink:
      rc = ::rename(op.trash.c_str(), op.from.c_str());
      break;
  }
  if (rc != 0)
    return Status::FromErrno(
        errno, "power loss: undo directory operation on " + (op.to.empty() ? op.from : op.to));
  return Status::OK();
}

void FaultController::Impl::ForgetAll() {
  for (auto& [key, f] : files) {
    if (f.reader_fd >= 0) ::close(f.reader_fd);
  }
  files.clear();
  fds.clear();
  dir_ops.clear();
}

// ---------------------------------------------------------------------------
// FaultController

FaultRule FaultRule::Error(int err) {
  FaultRule r;
  r.action = FaultAction::kError;
  r.error = err;
  return r;
}

FaultRule FaultRule::ShortTransfer(uint64_t bytes) {
  FaultRule r;
  r.action = FaultAction::kShortTransfer;
  r.short_len = bytes;
  r.ops = kReadOps | kWriteOps;
  return r;
}

FaultRule FaultRule::BitFlip() {
  FaultRule r;
  r.action = FaultAction::kBitFlip;
  r.ops = kReadOps;
  return r;
}

FaultRule FaultRule::Delay(uint64_t ns) {
  FaultRule r;
  r.action = FaultAction::kDelay;
  r.delay_ns = ns;
  return r;
}

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

// ---------------------------------------------------------------------------
// FaultBackend

FaultBackend::FaultBackend(std::unique_ptr<IoBackend> inner,
                           std::shared_ptr<FaultController> controller)
    : FaultBackend(inner.get(), std::move(controller)) {
  inner_owned_ = std::move(inner);
}

FaultBackend::FaultBackend(IoBackend* inner, std::shared_ptr<FaultController> controller)
    : ctl_(controller ? std::move(controller) : std::make_shared<FaultController>()),
      name_("fault(" + std::string(inner->name()) + ")"),
      inner_(inner) {}

FaultBackend::~FaultBackend() {
  if (outstanding_ > 0)
    RINGDB_LOG_WARN("fault: backend destroyed with %u requests in flight", outstanding_);
}

Shadow* FaultBackend::NewShadow(IoRequest* outer) {
  Shadow* sh;
  if (free_shadows_.empty()) {
    shadows_.push_back(std::make_unique<Shadow>());
    sh = shadows_.back().get();
  } else {
    sh = free_shadows_.back();
    free_shadows_.pop_back();
  }
  sh->Reset(this, outer);
  return sh;
}

void FaultBackend::FreeShadow(Shadow* sh) {
  free_shadows_.push_back(sh);
}

void FaultBackend::Prepare(IoRequest* req) {
  req->next_ = nullptr;
  if (queue_tail_ != nullptr) {
    queue_tail_->next_ = req;
  } else {
    queue_head_ = req;
  }
  queue_tail_ = req;
  outstanding_++;
}

int FaultBackend::Submit() {
  int n = 0;
  while (queue_head_ != nullptr) {
    IoRequest* head = queue_head_;
    IoRequest* last = head;
    n++;
    while ((last->flags & IoRequest::kLinkNext) != 0 && last->next_ != nullptr) {
      last = last->next_;
      n++;
    }
    queue_head_ = last->next_;
    if (queue_head_ == nullptr) queue_tail_ = nullptr;
    last->next_ = nullptr;
    SubmitChain(head);
  }
  counters_.requests_submitted += static_cast<uint64_t>(n);
  inner_->Submit();
  return n;
}

// Submits one link chain. The first member that gets an error or a short transfer
// breaks it: members before it are forwarded (still linked), an injected error
// completes locally once they all succeeded in full (else -ECANCELED, as the kernel
// would), and every member after it completes with -ECANCELED.
void FaultBackend::SubmitChain(IoRequest* head) {
  FaultController::Impl& c = *ctl_->impl_;
  std::vector<Shadow*> forward;
  {
    std::lock_guard lock(c.mu);
    DecideChain(head, &forward);
  }
  // Outside the lock: an inner backend may run completions from Prepare().
  for (Shadow* sh : forward) inner_->Prepare(&sh->inner);
}

void FaultBackend::DecideChain(IoRequest* head, std::vector<Shadow*>* forward) {
  FaultController::Impl& c = *ctl_->impl_;
  std::vector<Decision> decisions;
  IoRequest* breaker = nullptr;
  for (IoRequest* r = head; r != nullptr; r = r->next_) {
    decisions.push_back(c.Decide(*r));
    const Decision& d = decisions.back();
    if (d.fire && (d.action == FaultAction::kError || d.action == FaultAction::kShortTransfer)) {
      breaker = r;
      break;
    }
  }
  ChainCtx ctx;
  Shadow* last_fwd = nullptr;
  size_t i = 0;
  IoRequest* r = head;
  for (; r != nullptr; r = r->next_, i++) {
    const Decision& d = decisions[i];
    if (r == breaker && d.action == FaultAction::kError) break;
    Shadow* sh = NewShadow(r);
    IoRequest& in = sh->inner;
    in.op = r->op;
    in.io_class = r->io_class;
    in.flags = r->flags;
    in.fd = r->fd;
    in.offset = r->offset;
    in.len = r->len;
    in.buf = r->buf;
    in.iov = r->iov;
    in.iovcnt = r->iovcnt;
    in.path = r->path;
    in.path2 = r->path2;
    in.open_flags = r->open_flags;
    in.mode = r->mode;
    in.done = &FaultBackend::OnInnerDone;
    in.user = sh;
    sh->expect_len = IsRw(r->op) ? RequestBytes(*r) : 0;
    if (d.fire && d.action == FaultAction::kShortTransfer) {
      c.counters.short_transfers++;
      if (r->op == IoOp::kRead || r->op == IoOp::kWrite) {
        in.len = d.short_len;
      } else {
        uint64_t left = d.short_len;
        for (uint32_t k = 0; k < r->iovcnt && left > 0; k++) {
          iovec v = r->iov[k];
          v.iov_len = std::min<uint64_t>(v.iov_len, left);
          left -= v.iov_len;
          sh->iov.push_back(v);
        }
        in.iov = sh->iov.data();
        in.iovcnt = static_cast<uint32_t>(sh->iov.size());
      }
      sh->expect_len = d.short_len;
    } else if (d.fire && d.action == FaultAction::kBitFlip) {
      sh->bit_flip = true;
      sh->flip_rnd = d.rnd;
    } else if (d.fire && d.action == FaultAction::kDelay) {
      c.counters.delays++;
      sh->delay_ns = d.delay_ns;
    }
    bool next_breaks = r->next_ != nullptr && r->next_ == breaker &&
                       decisions[i + 1].action == FaultAction::kError;
    if (r == breaker || next_breaks) in.flags &= static_cast<uint8_t>(~IoRequest::kLinkNext);
    c.BeforeForward(sh, &ctx);
    forward->push_back(sh);
    last_fwd = sh;
    if (r == breaker) {
      r = r->next_;
      break;
    }
  }
  // What is left completes locally, after last_fwd (if any).
  Shadow* list = nullptr;
  Shadow** tail = &list;
  for (; r != nullptr; r = r->next_) {
    Shadow* sh = NewShadow(r);
    sh->local = true;
    sh->inner.op = r->op;
    sh->result = -ECANCELED;
    if (r == breaker) {
      sh->result = -decisions.back().error;
      sh->injected_error = true;
      sh->needs_full_pred = true;
      if (IsSync(r->op) && c.opt.power_loss) c.PrepareSync(sh, ctx);
    }
    *tail = sh;
    tail = &sh->then;
  }
  if (list == nullptr) return;
  if (last_fwd != nullptr) {
    last_fwd->then = list;
    return;
  }
  for (Shadow* sh = list; sh != nullptr;) {  // nothing ahead of them: complete now
    Shadow* nx = sh->then;
    sh->then = nullptr;
    sh->next = nullptr;
    if (ready_tail_ != nullptr) {
      ready_tail_->next = sh;
    } else {
      ready_head_ = sh;
    }
    ready_tail_ = sh;
    sh = nx;
  }
}

void FaultBackend::OnInnerDone(IoRequest* ireq) {
  Shadow* sh = static_cast<Shadow*>(ireq->user);
  sh->owner->Complete(sh, ireq->result);
}

void FaultBackend::Complete(Shadow* sh, int64_t result) {
  if (sh->bit_flip && result > 0) {
    uint64_t bit = sh->flip_rnd % (static_cast<uint64_t>(result) * 8);
    ForEachDataSpan(*sh->outer, bit / 8, 1,
                    [&](char* p, uint64_t) { *p = static_cast<char>(*p ^ (1 << (bit % 8))); });
  }
  {
    FaultController::Impl& c = *ctl_->impl_;
    std::lock_guard lock(c.mu);
    if (sh->bit_flip && result > 0) c.counters.bit_flips++;
    c.AfterComplete(sh, result);
  }
  sh->result = result;
  if (sh->delay_ns > 0) {
    sh->due_ns = util::NowNanos() + sh->delay_ns;
    delayed_.push_back(sh);
    return;
  }
  Deliver(sh);
}

void FaultBackend::Deliver(Shadow* sh) {
  IoRequest* out = sh->outer;
  out->result = sh->result;
  if (sh->local) {
    out->submit_ns = out->complete_ns = util::NowNanos();
    out->depth_at_submit = outstanding_;
    if (sh->injected_error && sh->result != -ECANCELED) {
      FaultController::Impl& c = *ctl_->impl_;
      std::lock_guard lock(c.mu);
      c.counters.errors++;
      if (sh->sync_file) c.MarkLost(sh);
    }
  } else {
    out->submit_ns = sh->inner.submit_ns;
    out->complete_ns = sh->inner.complete_ns;
    out->depth_at_submit = sh->inner.depth_at_submit;
  }
  // Local completions chained behind this one: an injected error needs its
  // predecessor to have succeeded in full; the rest of a broken chain is cancelled.
  bool full = sh->result >= 0 &&
              (!IsRw(sh->inner.op) || static_cast<uint64_t>(sh->result) == sh->expect_len);
  for (Shadow* d = sh->then; d != nullptr;) {
    Shadow* nx = d->then;
    d->then = nullptr;
    d->next = nullptr;
    if (d->needs_full_pred && !full) d->result = -ECANCELED;
    if (ready_tail_ != nullptr) {
      ready_tail_->next = d;
    } else {
      ready_head_ = d;
    }
    ready_tail_ = d;
    d = nx;
  }
  FreeShadow(sh);
  outstanding_--;
  delivered_++;
  counters_.requests_completed++;
  NotifyComplete(*out);
  if (out->done != nullptr) out->done(out);
}

void FaultBackend::DrainReady() {
  while (ready_head_ != nullptr) {
    Shadow* sh = ready_head_;
    ready_head_ = sh->next;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    Deliver(sh);
  }
}

void FaultBackend::DeliverDueDelayed() {
  if (delayed_.empty()) return;
  uint64_t now = util::NowNanos();
  std::vector<Shadow*> due;
  auto keep = std::stable_partition(delayed_.begin(), delayed_.end(),
                                    [&](Shadow* s) { return s->due_ns > now; });
  due.assign(keep, delayed_.end());
  delayed_.erase(keep, delayed_.end());
  for (Shadow* sh : due) Deliver(sh);
}

int FaultBackend::Poll() {
  uint64_t before = delivered_;
  inner_->Poll();
  DeliverDueDelayed();
  DrainReady();
  return static_cast<int>(delivered_ - before);
}

void FaultBackend::Wait(int64_t timeout_ns) {
  Submit();
  if (ready_head_ != nullptr) return;
  if (!delayed_.empty()) {
    uint64_t now = util::NowNanos();
    uint64_t due = UINT64_MAX;
    for (Shadow* s : delayed_) due = std::min(due, s->due_ns);
    if (due <= now) return;
    int64_t left = static_cast<int64_t>(due - now);
    timeout_ns = timeout_ns < 0 ? left : std::min(timeout_ns, left);
  }
  inner_->Wait(timeout_ns);
}

const BackendCounters& FaultBackend::counters() const {
  const BackendCounters& in = inner_->counters();
  counters_.submit_calls = in.submit_calls;
  counters_.max_batch = in.max_batch;
  counters_.wakeups = in.wakeups;
  return counters_;
}

BackendWrapper MakeFaultWrapper(std::shared_ptr<FaultController> controller) {
  return [controller](std::unique_ptr<IoBackend> inner,
                      unsigned /*shard*/) -> std::unique_ptr<IoBackend> {
    return std::make_unique<FaultBackend>(std::move(inner), controller);
  };
}

}  // namespace ringdb::io
