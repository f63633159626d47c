#include "server/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/reactor.h"
#include "util/assert.h"
#include "util/log.h"

namespace ringdb::server::net {

// ---------------------------------------------------------------- helpers

Status Listen(const std::string& addr, int port, int backlog, bool nonblock, int* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_s = std::to_string(port);
  const std::string host = addr == "localhost" ? "127.0.0.1" : addr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::InvalidArgument("bind address " + addr + ": " + gai_strerror(rc));
  }
  Status s;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                    ai->ai_protocol);
    if (fd < 0) {
      s = Status::FromErrno(errno, "socket");
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      s = Status::FromErrno(errno, "bind " + addr + ":" + port_s);
      close(fd);
      continue;
    }
    if (listen(fd, backlog) != 0) {
      s = Status::FromErrno(errno, "listen " + addr + ":" + port_s);
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    *out = fd;
    return Status::OK();
  }
  freeaddrinfo(res);
  return s.ok() ? Status::InvalidArgument("no usable address for " + addr) : s;
}

std::string PeerName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

void TuneAccepted(int fd, int keepalive_s) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (keepalive_s > 0) {
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int idle = keepalive_s, intvl = keepalive_s / 3 > 0 ? keepalive_s / 3 : 1, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
  }
}

namespace {

void PrepareIo(io::IoRequest* r) {
  rt::CurrentReactor()->PrepareIo(r);
}

void ParkFiber(rt::Fiber** slot) {
  rt::Reactor* r = rt::CurrentReactor();
  *slot = r->current_fiber();
  r->Suspend();
}

void UnparkFiber(rt::Fiber** slot) {
  if (rt::Fiber* f = *slot) {
    *slot = nullptr;
    f->reactor()->MakeReady(f);
  }
}

}  // namespace

// ---------------------------------------------------------------- Poller

Status Poller::Create(std::unique_ptr<Poller>* out) {
  std::unique_ptr<Poller> p(new Poller());
  p->epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd_ < 0) return Status::FromErrno(errno, "epoll_create1");
  *out = std::move(p);
  return Status::OK();
}

Poller::~Poller() {
  RINGDB_ASSERT_MSG(!armed_, "poller destroyed with its poll in flight");
  if (epfd_ >= 0) close(epfd_);
}

Status Poller::Add(int fd, Waiter* w) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = w;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Status::FromErrno(errno, "epoll_ctl");
  registered_++;
  Arm();
  return Status::OK();
}

void Poller::Remove(int fd) {
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) registered_--;
}

void Poller::Arm() {
  if (armed_ || stopping_) return;
  req_ = io::IoRequest();
  req_.op = io::IoOp::kPoll;
  req_.fd = epfd_;
  req_.mode = POLLIN;
  req_.done = &Poller::OnPoll;
  req_.user = this;
  armed_ = true;
  PrepareIo(&req_);
}

void Poller::OnPoll(io::IoRequest* req) {
  auto* p = static_cast<Poller*>(req->user);
  p->armed_ = false;
  epoll_event evs[64];
  for (;;) {
    const int n = epoll_wait(p->epfd_, evs, 64, 0);
    for (int i = 0; i < n; i++) {
      auto* w = static_cast<Waiter*>(evs[i].data.ptr);
      const uint32_t e = evs[i].events;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) w->readable = true;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) w->writable = true;
      UnparkFiber(&w->fiber);
    }
    if (n < 64) break;
  }
  if (p->stopping_) {
    UnparkFiber(&p->stop_waiter_);
    return;
  }
  p->Arm();
}

bool Poller::WaitReadable(Waiter* w) {
  while (!w->readable && !w->cancelled) ParkFiber(&w->fiber);
  return !w->cancelled;
}

bool Poller::WaitWritable(Waiter* w) {
  while (!w->writable && !w->cancelled) ParkFiber(&w->fiber);
  return !w->cancelled;
}

void Poller::Cancel(Waiter* w) {
  w->cancelled = true;
  UnparkFiber(&w->fiber);
}

void Poller::Stop() {
  stopping_ = true;
  if (!armed_) return;
  cancel_ = io::IoRequest();
  cancel_.op = io::IoOp::kCancel;
  cancel_.buf = &req_;
  cancel_.done = [](io::IoRequest*) {};
  PrepareIo(&cancel_);
  while (armed_) ParkFiber(&stop_waiter_);
}

// ---------------------------------------------------------------- Socket

Socket::Socket(int fd, Poller* poller) : fd_(fd), poller_(poller) {
  if (poller_ != nullptr) {
    Status s = poller_->Add(fd_, &waiter_);
    registered_ = s.ok();
    if (!s.ok()) RINGDB_LOG_WARN("server: %s", s.ToString().c_str());
  }
}

Socket::~Socket() {
  RINGDB_ASSERT_MSG(!recv_busy_ && !send_busy_ && !cancel_busy_,
                    "socket destroyed with I/O in flight");
  if (fd_ >= 0) {
    if (registered_) poller_->Remove(fd_);
    close(fd_);
  }
}

void Socket::Park() {
  ParkFiber(&parked_);
}
void Socket::Unpark() {
  UnparkFiber(&parked_);
}

int64_t Socket::Recv(char* buf, size_t len) {
  if (recv_cancelled_) return -ECANCELED;
  if (poller_ != nullptr) {
    for (;;) {
      waiter_.readable = false;
      const ssize_t n = ::recv(fd_, buf, len, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
      if (!poller_->WaitReadable(&waiter_) || recv_cancelled_) return -ECANCELED;
    }
  }
  recv_req_ = io::IoRequest();
  recv_req_.op = io::IoOp::kRecv;
  recv_req_.fd = fd_;
  recv_req_.buf = buf;
  recv_req_.len = len;
  recv_req_.done = &Socket::OnRecv;
  recv_req_.user = this;
  recv_busy_ = true;
  recv_done_ = false;
  PrepareIo(&recv_req_);
  while (!recv_done_) Park();
  recv_busy_ = false;
  return recv_req_.result;
}

void Socket::OnRecv(io::IoRequest* r) {
  auto* s = static_cast<Socket*>(r->user);
  s->recv_done_ = true;
  s->Unpark();
}

int64_t Socket::SendAll(const char* buf, size_t len) {
  if (poller_ != nullptr) {
    size_t off = 0;
    while (off < len) {
      waiter_.writable = false;
      const ssize_t n = ::send(fd_, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
      if (!poller_->WaitWritable(&waiter_)) return -ECANCELED;
    }
    return static_cast<int64_t>(len);
  }
  send_plain_ = std::string_view(buf, len);
  StartSendRaw(nullptr, nullptr);
  while (send_busy_) Park();
  return send_error_ < 0 ? send_error_ : static_cast<int64_t>(len);
}

void Socket::StartSend(const std::string* data, void (*on_done)(void*), void* arg) {
  send_plain_ = std::string_view(*data);
  StartSendRaw(on_done, arg);
}

void Socket::StartSendRaw(void (*on_done)(void*), void* arg) {
  RINGDB_ASSERT_MSG(poller_ == nullptr && !send_busy_, "StartSend: busy or readiness mode");
  send_busy_ = true;
  send_off_ = 0;
  send_error_ = 0;
  send_done_ = on_done;
  send_arg_ = arg;
  PrepareSendChunk();
}

void Socket::PrepareSendChunk() {
  send_req_ = io::IoRequest();
  send_req_.op = io::IoOp::kSend;
  send_req_.fd = fd_;
  send_req_.buf = const_cast<char*>(send_plain_.data() + send_off_);
  send_req_.len = send_plain_.size() - send_off_;
  send_req_.done = &Socket::OnSend;
  send_req_.user = this;
  PrepareIo(&send_req_);
}

void Socket::OnSend(io::IoRequest* r) {
  auto* s = static_cast<Socket*>(r->user);
  if (r->result > 0) {
    s->send_off_ += static_cast<size_t>(r->result);
    if (s->send_off_ < s->send_plain_.size()) {
      s->PrepareSendChunk();
      return;
    }
  } else if (r->result == 0 && s->send_off_ < s->send_plain_.size()) {
    s->PrepareSendChunk();  // a zero-byte send of a non-empty buffer: try again
    return;
  } else if (r->result < 0) {
    s->send_error_ = r->result;
  }
  s->send_busy_ = false;
  if (s->send_done_ != nullptr) s->send_done_(s->send_arg_);
  s->Unpark();
}

void Socket::CancelRecv() {
  recv_cancelled_ = true;
  if (poller_ != nullptr) {
    Poller::Cancel(&waiter_);
    return;
  }
  if (recv_busy_ && !recv_done_ && !cancel_busy_) {
    cancel_req_ = io::IoRequest();
    cancel_req_.op = io::IoOp::kCancel;
    cancel_req_.buf = &recv_req_;
    cancel_req_.done = &Socket::OnCancel;
    cancel_req_.user = this;
    cancel_busy_ = true;
    PrepareIo(&cancel_req_);
  }
}

void Socket::CancelSend() {
  if (poller_ != nullptr) {
    Poller::Cancel(&waiter_);
    return;
  }
  if (send_busy_ && !cancel_busy_) {
    cancel_req_ = io::IoRequest();
    cancel_req_.op = io::IoOp::kCancel;
    cancel_req_.buf = &send_req_;
    cancel_req_.done = &Socket::OnCancel;
    cancel_req_.user = this;
    cancel_busy_ = true;
    PrepareIo(&cancel_req_);
  }
}

void Socket::OnCancel(io::IoRequest* r) {
  auto* s = static_cast<Socket*>(r->user);
  s->cancel_busy_ = false;
  s->Unpark();
}

void Socket::Close() {
  recv_cancelled_ = true;
  send_done_ = nullptr;
  if (poller_ == nullptr) {
    // Shut the connection down first: a recv or send parked in the kernel completes
    // at once, and the client sees the close without waiting for the cancels.
    ::shutdown(fd_, SHUT_RDWR);
    for (;;) {
      if (cancel_busy_) {
        Park();
        continue;
      }
      io::IoRequest* target = nullptr;
      if (recv_busy_ && !recv_done_) {
        target = &recv_req_;
      } else if (send_busy_) {
        target = &send_req_;
      }
      if (target == nullptr) break;
      cancel_req_ = io::IoRequest();
      cancel_req_.op = io::IoOp::kCancel;
      cancel_req_.buf = target;
      cancel_req_.done = &Socket::OnCancel;
      cancel_req_.user = this;
      cancel_busy_ = true;
      PrepareIo(&cancel_req_);
      Park();
    }
    recv_busy_ = false;
  }
  if (registered_) {
    poller_->Remove(fd_);
    registered_ = false;
  }
  close(fd_);
  fd_ = -1;
}

// ---------------------------------------------------------------- Listener

Listener::Listener(int fd, Poller* poller) : fd_(fd), poller_(poller) {
  if (poller_ != nullptr) {
    Status s = poller_->Add(fd_, &waiter_);
    if (!s.ok()) RINGDB_LOG_ERROR("server: listener: %s", s.ToString().c_str());
  }
}

Listener::~Listener() {
  RINGDB_ASSERT_MSG(!armed_ && !cancel_busy_, "listener destroyed with I/O in flight");
  if (fd_ >= 0) close(fd_);
}

void Listener::Arm() {
  req_ = io::IoRequest();
  req_.op = io::IoOp::kAccept;
  req_.fd = fd_;
  req_.open_flags = SOCK_CLOEXEC;
  req_.flags = multishot_ ? io::IoRequest::kMultishot : 0;
  req_.done = &Listener::OnAccept;
  req_.user = this;
  armed_ = true;
  PrepareIo(&req_);
}

void Listener::OnAccept(io::IoRequest* r) {
  auto* l = static_cast<Listener*>(r->user);
  if (!r->more) l->armed_ = false;
  const int64_t res = r->result;
  if (res >= 0) {
    if (l->qlen_ < kQueue) {
      l->queue_[(l->qhead_ + l->qlen_) % kQueue] = static_cast<int>(res);
      l->qlen_++;
    } else {
      close(static_cast<int>(res));  // the acceptor is far behind: shed the connection
    }
  } else if (res == -EINVAL && l->multishot_) {
    l->multishot_ = false;  // the kernel has no multishot accept (before 5.19)
    RINGDB_LOG_INFO("server: multishot accept unavailable; accepting one at a time");
  } else if (res != -ECANCELED) {
    l->error_ = static_cast<int>(-res);
  }
  UnparkFiber(&l->parked_);
}

int Listener::Accept() {
  if (poller_ != nullptr) {
    for (;;) {
      if (stopped_) return -ECANCELED;
      waiter_.readable = false;
      const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) return fd;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
      if (!poller_->WaitReadable(&waiter_)) return -ECANCELED;
    }
  }
  for (;;) {
    if (qlen_ > 0) {
      const int fd = queue_[qhead_];
      qhead_ = (qhead_ + 1) % kQueue;
      qlen_--;
      return fd;
    }
    if (stopped_) return -ECANCELED;
    if (error_ != 0) {
      const int e = error_;
      error_ = 0;
      return -e;
    }
    if (!armed_) Arm();
    ParkFiber(&parked_);
  }
}

void Listener::Stop() {
  stopped_ = true;
  if (poller_ != nullptr) {
    Poller::Cancel(&waiter_);
    return;
  }
  if (armed_ && !cancel_busy_) {
    cancel_req_ = io::IoRequest();
    cancel_req_.op = io::IoOp::kCancel;
    cancel_req_.buf = &req_;
    cancel_req_.user = this;
    cancel_req_.done = [](io::IoRequest* r) {
      auto* l = static_cast<Listener*>(r->user);
      l->cancel_busy_ = false;
      UnparkFiber(&l->parked_);
    };
    cancel_busy_ = true;
    PrepareIo(&cancel_req_);
  }
  UnparkFiber(&parked_);
}

void Listener::Close() {
  while (armed_ || cancel_busy_) ParkFiber(&parked_);
  while (qlen_ > 0) {
    close(queue_[qhead_]);
    qhead_ = (qhead_ + 1) % kQueue;
    qlen_--;
  }
  if (poller_ != nullptr) poller_->Remove(fd_);
  close(fd_);
  fd_ = -1;
}

}  // namespace ringdb::server::net
