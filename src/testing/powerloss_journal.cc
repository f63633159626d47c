// The power-loss journal (FaultController::Impl): what a power loss could undo, and
// undoing it.
//
//   Recording (before a request is forwarded): each write's pre-image, each creation,
//   rename and unlink (an unlink becomes a rename into the trash), and which records a
//   sync covers.
//   Completions: records become done, durable (a successful sync of their file or
//   directory) or lost (a failed fsync: the kernel dropped the dirty pages).
//   Power loss: per file, unsynced writes are reverted or kept per PowerLossMode, then
//   unsynced directory operations are undone, newest first.
//
// Every function here runs with the controller's mutex held.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>

#include "testing/fault_internal.h"

namespace ringdb::io {

using namespace fault_detail;

namespace {

constexpr uint64_t kPageBytes = 4096;

// Stable across runs and builds, unlike std::hash: per-file choices replay by seed.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// The last two components of a path ("shard-001/000014.wal"): what names a file within
// a store, whichever directory the store lives in.
std::string_view NameInStore(std::string_view path) {
  size_t at = path.rfind('/');
  if (at != std::string_view::npos && at > 0) at = path.rfind('/', at - 1);
  return at == std::string_view::npos ? path : path.substr(at + 1);
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

}  // namespace

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
  // Not the whole path: a store in a directory named after the process id (the
  // simulator's) would make each process draw other choices for the same seed.
  uint64_t rng = seed ^ Fnv1a(NameInStore(f->path));
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

}  // namespace ringdb::io
