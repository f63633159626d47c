#include "io/sqpoll_thread.h"

#include "io/uring_backend.h"

namespace ringdb::io {

Status SqpollThread::Create(uint32_t idle_ms, std::unique_ptr<SqpollThread>* out) {
  std::unique_ptr<SqpollThread> t(new SqpollThread());
  io_uring_params p{};
  p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_CLAMP;
  p.sq_thread_idle = idle_ms;
  // The owning ring submits nothing itself: one entry is enough.
  if (int r = io_uring_queue_init_params(1, &t->ring_, &p); r < 0)
    return Status::IOError("io_uring submission thread: " + UringSetupErrorText(r, 1));
  *out = std::move(t);
  return Status::OK();
}

SqpollThread::~SqpollThread() {
  io_uring_queue_exit(&ring_);
}

}  // namespace ringdb::io
