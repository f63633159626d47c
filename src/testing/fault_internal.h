// Internals of the fault-injection library (src/testing) shared by its files: the
// rule state, the power-loss journal's records, the per-request shadow a FaultBackend
// forwards, and FaultController::Impl. Not for tests: they use fault_backend.h.
//
// Who does what:
//   fault_rules.cc        FaultRule, and Impl::Decide (which rule fires on a request);
//   fault_controller.cc   FaultController's methods, fd and path tracking;
//   powerloss_journal.cc  what a power loss could undo, and undoing it;
//   fault_backend.cc      FaultBackend: shadows, link chains, delivery.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "testing/fault_backend.h"

namespace ringdb::io {
namespace fault_detail {

inline uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline bool IsRead(IoOp op) {
  return op == IoOp::kRead || op == IoOp::kReadv;
}
inline bool IsWrite(IoOp op) {
  return op == IoOp::kWrite || op == IoOp::kWritev;
}
inline bool IsRw(IoOp op) {
  return IsRead(op) || IsWrite(op);
}
inline bool IsSync(IoOp op) {
  return op == IoOp::kFsync || op == IoOp::kFdatasync;
}

inline uint64_t RequestBytes(const IoRequest& r) {
  if (r.op == IoOp::kReadv || r.op == IoOp::kWritev) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < r.iovcnt; i++) n += r.iov[i].iov_len;
    return n;
  }
  return r.len;
}

// Calls fn(ptr, n) for the bytes [rel, rel + n) of a read/write request's data.
template <typename Fn>
inline void ForEachDataSpan(const IoRequest& r, uint64_t rel, uint64_t n, Fn fn) {
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

// Paths (fault_controller.cc).
std::string ProcFdPath(int fd);
// What /proc/self/fd/<fd> links to; empty when unknown.
std::string FdLinkPath(int fd);
// Absolute, normalized, with the parent directory's symlinks resolved, so that one
// directory always has one name.
std::string Canon(const std::string& p);
std::string ParentOf(const std::string& p);

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

}  // namespace fault_detail

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
  fault_detail::FileKey rec_key;
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
  std::vector<fault_detail::RuleState> rules;
  RuleId next_rule = 1;
  FaultCounters counters;
  std::map<int, fault_detail::FdInfo> fds;
  std::map<fault_detail::FileKey, fault_detail::FileState> files;
  std::map<uint64_t, fault_detail::DirOp> dir_ops;  // by sequence number: submission order
  uint64_t next_seq = 1;
  uint64_t trash_seq = 0;

  // ---- fd tracking (fault_controller.cc) ----
  void Untrack(int fd);
  fault_detail::FdInfo* Track(int fd, std::string path);
  fault_detail::FdInfo* LookupFd(int fd);
  void MaybeDrop(const fault_detail::FileKey& key);
  std::string Resolve(int dirfd, const char* path);

  // ---- faults (fault_rules.cc) ----
  fault_detail::Decision Decide(const IoRequest& req);

  // ---- power-loss journal (powerloss_journal.cc) ----
  void BeforeForward(Shadow* sh, fault_detail::ChainCtx* ctx);
  void AfterComplete(Shadow* sh, int64_t result);
  void PrepareSync(Shadow* sh, const fault_detail::ChainCtx& ctx);
  void MarkLost(Shadow* sh);
  void RecordWrite(Shadow* sh, fault_detail::FdInfo* fi, uint64_t off, uint64_t len, bool zeros,
                   bool size_only);
  void RecordFallocate(Shadow* sh);
  void WriteDone(Shadow* sh, int64_t result);
  void SyncDone(Shadow* sh);
  void Prune(fault_detail::FileState* f);
  void Rename(const std::string& from, const std::string& to);
  void MakeDurable(fault_detail::DirOp* op);
  std::string TrashPath(const std::string& path);
  Status RevertFile(fault_detail::FileState* f, PowerLossMode mode, uint64_t seed,
                    PowerLossReport* rep);
  Status UndoDirOp(const fault_detail::DirOp& op);
  void ForgetAll();
};

}  // namespace ringdb::io
