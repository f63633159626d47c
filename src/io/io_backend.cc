// Backend naming, probing and selection. See docs/io.md for the fallback rules.
#include "io/io_backend.h"

#include <liburing.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/uring_backend.h"
#include "ringdb/stats.h"
#include "ringdb_config.h"
#include "util/log.h"

#if RINGDB_HAVE_AIO
#include <libaio.h>

#include "io/aio_backend.h"
#endif

namespace ringdb::io {

// One table of names: the public stats enum has the same values (io/io_stats.h checks).
const char* IoClassName(IoClass c) {
  return ringdb::IoClassName(static_cast<ringdb::IoClass>(c));
}

const char* IoOpName(IoOp op) {
  switch (op) {
    case IoOp::kRead:
      return "read";
    case IoOp::kWrite:
      return "write";
    case IoOp::kReadv:
      return "readv";
    case IoOp::kWritev:
      return "writev";
    case IoOp::kFsync:
      return "fsync";
    case IoOp::kFdatasync:
      return "fdatasync";
    case IoOp::kFallocate:
      return "fallocate";
    case IoOp::kOpen:
      return "open";
    case IoOp::kClose:
      return "close";
    case IoOp::kRename:
      return "rename";
    case IoOp::kUnlink:
      return "unlink";
    case IoOp::kAccept:
      return "accept";
    case IoOp::kRecv:
      return "recv";
    case IoOp::kSend:
      return "send";
    case IoOp::kPoll:
      return "poll";
    case IoOp::kCancel:
      return "cancel";
  }
  return "unknown";
}

const char* BackendKindName(BackendKind k) {
  switch (k) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kUring:
      return "io_uring";
    case BackendKind::kAio:
      return "libaio";
  }
  return "unknown";
}

bool ParseBackendKind(std::string_view s, BackendKind* out) {
  if (s == "auto") {
    *out = BackendKind::kAuto;
  } else if (s == "uring" || s == "io_uring") {
    *out = BackendKind::kUring;
  } else if (s == "aio" || s == "libaio") {
    *out = BackendKind::kAio;
  } else {
    return false;
  }
  return true;
}

namespace {

// kernel.io_uring_disabled (Linux 6.6+): 0 enabled, 1 only for kernel.io_uring_group
// members and CAP_SYS_ADMIN, 2 disabled. -1 if the sysctl does not exist.
int ReadIoUringDisabled() {
  FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (f == nullptr) return -1;
  int v = -1;
  if (std::fscanf(f, "%d", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

struct NeededOp {
  int op;
  const char* name;
};
// Every opcode ringdb issues. READ also serves the wake-up read of the eventfd.
constexpr NeededOp kNeededOps[] = {
    {IORING_OP_READ, "READ"},         {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_READV, "READV"},       {IORING_OP_WRITEV, "WRITEV"},
    {IORING_OP_FSYNC, "FSYNC"},       {IORING_OP_FALLOCATE, "FALLOCATE"},
    {IORING_OP_OPENAT, "OPENAT"},     {IORING_OP_CLOSE, "CLOSE"},
    {IORING_OP_RENAMEAT, "RENAMEAT"}, {IORING_OP_UNLINKAT, "UNLINKAT"},
};

Status MakeUring(const BackendOptions& opt, std::unique_ptr<IoBackend>* out) {
  std::unique_ptr<UringBackend> b;
  Status s = UringBackend::Create(opt, &b);
  if (s.ok()) *out = std::move(b);
  return s;
}

Status MakeAio(const BackendOptions& opt, std::unique_ptr<IoBackend>* out) {
#if RINGDB_HAVE_AIO
  std::unique_ptr<AioBackend> b;
  Status s = AioBackend::Create(opt, &b);
  if (s.ok()) *out = std::move(b);
  return s;
#else
  (void)opt;
  (void)out;
  return Status::NotSupported("libaio backend not built (libaio-dev was missing at configure)");
#endif
}

}  // namespace

Status ProbeUring() {
  const int disabled = ReadIoUringDisabled();
  if (disabled == 2) {
    return Status::NotSupported(
        "io_uring disabled by sysctl kernel.io_uring_disabled=2 (set it to 0 to enable)");
  }
  io_uring ring;
  int ret = io_uring_queue_init(8, &ring, 0);
  if (ret < 0) {
    std::string msg = UringSetupErrorText(ret, 8);
    if (ret == -EPERM && disabled == 1) {
      msg += "; kernel.io_uring_disabled=1 restricts io_uring to kernel.io_uring_group";
    }
    return ret == -ENOSYS || ret == -EPERM ? Status::NotSupported(msg) : Status::IOError(msg);
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    io_uring_queue_exit(&ring);
    return Status::NotSupported(
        "io_uring opcode probe (IORING_REGISTER_PROBE) unsupported: kernel older than 5.6");
  }
  std::string missing;
  for (const NeededOp& op : kNeededOps) {
    if (!io_uring_opcode_supported(probe, op.op)) {
      if (!missing.empty()) missing += ",";
      missing += op.name;
    }
  }
  io_uring_free_probe(probe);
  io_uring_queue_exit(&ring);
  if (!missing.empty()) {
    return Status::NotSupported("io_uring lacks opcodes ringdb needs: " + missing +
                                " (RENAMEAT/UNLINKAT need Linux 5.11+)");
  }
  return Status::OK();
}

Status ProbeAio() {
#if RINGDB_HAVE_AIO
  io_context_t ctx = nullptr;
  int ret = io_setup(1, &ctx);
  if (ret < 0) {
    if (ret == -EAGAIN)
      return Status::IOError("io_setup: EAGAIN: system-wide AIO limit fs.aio-max-nr exhausted");
    if (ret == -ENOSYS)
      return Status::NotSupported("io_setup: ENOSYS: kernel built without CONFIG_AIO");
    return Status::FromErrno(-ret, "io_setup");
  }
  io_destroy(ctx);
  return Status::OK();
#else
  return Status::NotSupported("libaio backend not built (libaio-dev was missing at configure)");
#endif
}

Status CreateBackend(const BackendOptions& opt, std::unique_ptr<IoBackend>* out,
                     BackendChoice* choice) {
  BackendChoice local;
  BackendChoice* ch = choice != nullptr ? choice : &local;
  BackendKind kind = opt.kind;
  std::string why;
  if (kind == BackendKind::kAuto) {
    if (const char* env = std::getenv("RINGDB_IO_BACKEND"); env != nullptr && *env != '\0') {
      if (!ParseBackendKind(env, &kind)) {
        return Status::InvalidArgument(std::string("RINGDB_IO_BACKEND=") + env +
                                       ": expected uring, io_uring, aio, libaio or auto");
      }
      if (kind != BackendKind::kAuto) why = std::string("RINGDB_IO_BACKEND=") + env;
    }
  }

  Status s;
  switch (kind) {
    case BackendKind::kUring:
      s = MakeUring(opt, out);
      if (why.empty()) why = "requested in BackendOptions";
      break;
    case BackendKind::kAio:
      s = MakeAio(opt, out);
      if (why.empty()) why = "requested in BackendOptions";
      break;
    case BackendKind::kAuto: {
      Status probe = ProbeUring();
      if (probe.ok()) probe = MakeUring(opt, out);
      if (probe.ok()) {
        kind = BackendKind::kUring;
        why = "auto: io_uring probe passed";
        break;
      }
      kind = BackendKind::kAio;
      why = "auto: io_uring unusable (" + probe.ToString() + "); falling back to libaio";
      RINGDB_LOG_WARN("io backend: %s", why.c_str());
      s = MakeAio(opt, out);
      if (!s.ok()) {
        s = Status::NotSupported("no usable I/O backend: io_uring: " + probe.ToString() +
                                 "; libaio: " + s.ToString());
      }
      break;
    }
  }
  ch->chosen = kind;
  ch->reason = why;
  if (!s.ok()) {
    RINGDB_LOG_ERROR("io backend %s: %s", BackendKindName(kind), s.ToString().c_str());
    return s;
  }
  if (!opt.quiet) {
    RINGDB_LOG_INFO("io backend: %s (%s, queue_depth=%u)", BackendKindName(kind), why.c_str(),
                    opt.queue_depth);
  }
  return Status::OK();
}

void IoBackend::WakeFutexes(std::atomic<uint32_t>* const* addrs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(addrs[i]), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
  }
}

}  // namespace ringdb::io
