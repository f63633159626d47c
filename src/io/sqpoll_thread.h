// SqpollThread: one kernel submission thread (IORING_SETUP_SQPOLL) for many rings to
// share. A ring made with BackendOptions::sqpoll_attach_fd = fd() hands its submissions
// to this thread: submitting is a store to shared memory while the thread polls (a
// system call only to wake it after idle_ms with nothing to do), and waiting for a
// completion is the ring's one system call. docs/engine.md "Reads on any thread" says
// when ringdb uses one and what it measured.
//
// The thread belongs to the process that made it (rings of other processes cannot
// attach). It lives while this object or any ring attached to it does.
//
// Thread ownership: Create and the destructor on any one thread; fd() from any thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "ringdb/status.h"

namespace ringdb::io {

class SqpollThread {
 public:
  // idle_ms: how long the thread polls with nothing to submit before it sleeps.
  // Fails (IOError) where the kernel refuses SQPOLL (old kernels, io_uring disabled by
  // sysctl or seccomp, no memory).
  static Status Create(uint32_t idle_ms, std::unique_ptr<SqpollThread>* out);
  ~SqpollThread();
  SqpollThread(const SqpollThread&) = delete;
  SqpollThread& operator=(const SqpollThread&) = delete;

  int fd() const { return ring_.ring_fd; }

 private:
  SqpollThread() = default;
  io_uring ring_{};
};

}  // namespace ringdb::io
