// Sockets for fibers on a shard reactor, over the shard's I/O backend.
//
// Two ways, chosen per shard by the backend:
//   - io_uring (completion-based): accept (multishot where the kernel has it), recv and
//     send are io_uring requests on blocking sockets; the reactor's one submit per loop
//     pass carries every connection's requests.
//   - libaio (readiness-based): native AIO has no socket I/O, so sockets are
//     non-blocking, registered edge-triggered in one epoll set per shard, and that
//     epoll fd is polled through the backend (IOCB_CMD_POLL); fibers call recv/send/
//     accept4 themselves and suspend on EAGAIN until the poller reports readiness.
//
// Thread ownership: a Poller, a Socket and a Listener belong to one shard's thread.
// Blocking-style calls (Recv, SendAll, Accept, Close) run in fibers there; the others
// may also run from completion callbacks and timers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/io_backend.h"
#include "ringdb/status.h"
#include "runtime/fiber.h"

namespace ringdb::server::net {

// Creates a listening TCP socket bound to addr:port (IPv4 or IPv6 literal, or
// "localhost"), SO_REUSEADDR. nonblock for the readiness mode.
Status Listen(const std::string& addr, int port, int backlog, bool nonblock, int* fd);
// "ip:port" of the peer, or "?".
std::string PeerName(int fd);
// TCP_NODELAY and keepalive on an accepted connection.
void TuneAccepted(int fd, int keepalive_s);

// The readiness poller of one shard (libaio mode only).
class Poller {
 public:
  // What a registered fd's fiber waits on. Edge-triggered: the flags are set by the
  // poller and cleared by the fiber before it retries the syscall.
  struct Waiter {
    rt::Fiber* fiber = nullptr;  // set while suspended in Wait
    bool readable = true;        // optimistic: try the syscall first
    bool writable = true;
    bool cancelled = false;
  };

  static Status Create(std::unique_ptr<Poller>* out);
  ~Poller();
  Status Add(int fd, Waiter* w);
  void Remove(int fd);
  // Suspends until w->readable (or writable) or cancelled. False when cancelled.
  bool WaitReadable(Waiter* w);
  bool WaitWritable(Waiter* w);
  // Wakes w's fiber with `cancelled` set.
  static void Cancel(Waiter* w);
  // Cancels the poll request and waits for it (shutdown; in a fiber).
  void Stop();

 private:
  Poller() = default;
  void Arm();
  static void OnPoll(io::IoRequest* req);
  int epfd_ = -1;
  io::IoRequest req_;
  io::IoRequest cancel_;
  bool armed_ = false;
  bool stopping_ = false;
  uint32_t registered_ = 0;
  rt::Fiber* stop_waiter_ = nullptr;
};

// A connected socket used by one fiber at a time.
class Socket {
 public:
  // poller: nullptr in io_uring mode.
  Socket(int fd, Poller* poller);
  ~Socket();  // closes the fd; REQUIRES: nothing in flight (Close() waited for that)
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool completion_mode() const { return poller_ == nullptr; }

  // Suspends until some bytes arrived into buf[0..len): >0 bytes, 0 the peer closed,
  // <0 -errno; -ECANCELED after CancelRecv().
  int64_t Recv(char* buf, size_t len);
  // Sends all of buf[0..len): returns len, or -errno. Suspends while the socket is full.
  int64_t SendAll(const char* buf, size_t len);

  // io_uring mode only: starts sending *data (which must not change until the send
  // is over) and returns; on_done(arg) runs when all of it went out or it failed
  // (send_error()); it may start the next send. One send at a time.
  void StartSend(const std::string* data, void (*on_done)(void*), void* arg);
  bool sending() const { return send_busy_; }
  int64_t send_error() const { return send_error_; }

  // Makes a Recv in progress (or the next one) return -ECANCELED. Any context.
  void CancelRecv();
  // Makes a send in progress fail with -ECANCELED (io_uring mode; in readiness mode
  // CancelRecv already stops both). Any context; a no-op while another cancel runs.
  void CancelSend();
  // Cancels whatever is in flight, waits for it, closes the fd. In the socket's fiber.
  void Close();

 private:
  static void OnRecv(io::IoRequest* r);
  static void OnSend(io::IoRequest* r);
  static void OnCancel(io::IoRequest* r);
  void StartSendRaw(void (*on_done)(void*), void* arg);
  void PrepareSendChunk();
  void Park();    // suspends the calling fiber until Unpark
  void Unpark();  // from callbacks

  int fd_;
  Poller* poller_;
  Poller::Waiter waiter_;  // readiness mode
  bool registered_ = false;

  io::IoRequest recv_req_;
  bool recv_busy_ = false;
  bool recv_done_ = false;
  bool recv_cancelled_ = false;

  io::IoRequest send_req_;
  bool send_busy_ = false;
  std::string_view send_plain_;
  size_t send_off_ = 0;
  int64_t send_error_ = 0;
  void (*send_done_)(void*) = nullptr;
  void* send_arg_ = nullptr;

  io::IoRequest cancel_req_;
  bool cancel_busy_ = false;

  rt::Fiber* parked_ = nullptr;
};

// A listening socket: Accept() hands out connected fds (blocking mode in io_uring
// mode, non-blocking in readiness mode, close-on-exec either way).
class Listener {
 public:
  Listener(int fd, Poller* poller);
  ~Listener();
  // Suspends until a connection arrives: its fd, or -errno; -ECANCELED after Stop().
  int Accept();
  // Makes Accept return -ECANCELED from now on (any context), and cancels what is in
  // flight. Call Close() from the fiber afterwards.
  void Stop();
  void Close();
  // True when the kernel delivers connections through one multishot accept.
  bool multishot() const { return multishot_; }

 private:
  static void OnAccept(io::IoRequest* r);
  void Arm();
  int fd_;
  Poller* poller_;
  Poller::Waiter waiter_;
  io::IoRequest req_;
  io::IoRequest cancel_req_;
  bool armed_ = false;
  bool multishot_ = true;  // until the kernel says otherwise
  bool stopped_ = false;
  bool cancel_busy_ = false;
  // Accepted fds not yet handed out (multishot completes whenever clients connect).
  static constexpr size_t kQueue = 256;
  int queue_[kQueue];
  size_t qhead_ = 0, qlen_ = 0;
  int error_ = 0;
  rt::Fiber* parked_ = nullptr;
};

}  // namespace ringdb::server::net
