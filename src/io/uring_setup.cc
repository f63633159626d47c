// The ring's setup as words: the message for an io_uring_setup failure (what blocks
// io_uring for this process and how to lift it: the text Open and the probe report;
// UringBackend::Init), the RLIMIT_MEMLOCK it names, and UringBackend::Describe.
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "io/uring_backend.h"

namespace ringdb::io {

std::string MemlockText() {
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return "unknown";
  if (rl.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(static_cast<unsigned long long>(rl.rlim_cur)) + " bytes";
}

std::string UringSetupErrorText(int neg_err, unsigned entries) {
  char buf[512];
  switch (-neg_err) {
    case EPERM:
      std::snprintf(buf, sizeof(buf),
                    "io_uring_setup: EPERM: io_uring is blocked for this process (a "
                    "seccomp profile, e.g. the default one of Docker/containerd, or "
                    "kernel.io_uring_disabled=1 and the process is neither in "
                    "kernel.io_uring_group nor CAP_SYS_ADMIN)");
      break;
    case ENOSYS:
      std::snprintf(buf, sizeof(buf),
                    "io_uring_setup: ENOSYS: the kernel has no io_uring (built without "
                    "CONFIG_IO_URING, or the syscall is filtered)");
      break;
    case ENOMEM:
      std::snprintf(buf, sizeof(buf),
                    "io_uring_setup(entries=%u): ENOMEM: not enough lockable memory for "
                    "the rings (RLIMIT_MEMLOCK is %s; raise it with ulimit -l / "
                    "LimitMEMLOCK=, or lower queue_depth)",
                    entries, MemlockText().c_str());
      break;
    default:
      std::snprintf(buf, sizeof(buf), "io_uring_setup(entries=%u): %s", entries,
                    std::strerror(-neg_err));
  }
  return buf;
}

std::string UringBackend::Describe() const {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "io_uring: sq=%u cq=%u%s%s%s%s%s%s%s fixed_buffer_regions=%d",
                ring_.sq.ring_entries, kernel_cap_,
                (setup_flags_ & IORING_SETUP_SQPOLL) ? " SQPOLL(shared)" : "",
                (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) ? " SINGLE_ISSUER" : "",
                (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) ? " DEFER_TASKRUN" : "",
                (setup_flags_ & IORING_SETUP_COOP_TASKRUN) ? " COOP_TASKRUN" : "",
                (setup_flags_ & IORING_SETUP_SUBMIT_ALL) ? " SUBMIT_ALL" : "",
                (setup_flags_ & IORING_SETUP_R_DISABLED) ? " R_DISABLED(lazy enable)" : "",
                ring_fd_owner_ != 0 ? " REGISTERED_FD" : "", nregions_);
  return buf;
}

}  // namespace ringdb::io
