#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "runtime/reactor.h"
#include "runtime/sync.h"
#include "server/conn.h"
#include "server/info.h"
#include "util/log.h"

namespace ringdb::server {

namespace {

constexpr uint64_t kTickNs = 100'000'000;  // housekeeping period
constexpr uint64_t kStopGraceMs = 2000;    // then connections still sending are cut
constexpr uint64_t kMetricsTimeoutMs = 10000;
constexpr size_t kMaxCursors = 4096;  // SCAN cursors kept per shard

struct Handoff {
  Server* server;
  int fd;
};

// Runs in a fresh fiber on the shard the connection was handed to, for its whole life.
void StartConn(void* arg) {
  std::unique_ptr<Handoff> h(static_cast<Handoff*>(arg));
  Server* s = h->server;
  ShardServer* sh = s->shard(rt::ShardId());
  if (s->stopping()) {
    close(h->fd);
    s->clients().fetch_sub(1, std::memory_order_relaxed);
    s->pending_handoffs().fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  net::TuneAccepted(h->fd, s->config_keepalive_s());
  auto* c = new Conn(sh, h->fd, s->NextClientId());
  // Counted as pending until the connection is on its shard's list (Run attaches it
  // before it first suspends), so a stopping shard never misses it.
  s->pending_handoffs().fetch_sub(1, std::memory_order_acq_rel);
  c->Run();
  delete c;
  s->clients().fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

// ---------------------------------------------------------------- ShardServer

ShardServer::ShardServer(Server* server, uint32_t shard)
    : server_(server), shard_(shard), keyspace_(server->store(), shard) {}

ShardServer::~ShardServer() = default;

void ShardServer::Attach(Conn* c) {
  c->prev = nullptr;
  c->next = conns_;
  if (conns_ != nullptr) conns_->prev = c;
  conns_ = c;
  nconns_++;
  counters_.connections.Add();
}

void ShardServer::Detach(Conn* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
  c->next = c->prev = nullptr;
  nconns_--;
  counters_.connections.v.store(counters_.connections.Get() - 1, std::memory_order_relaxed);
  counters_.connections_closed.Add();
}

uint64_t ShardServer::SaveCursor(std::string last_key) {
  const uint64_t id = (next_cursor_++ << 8) | shard_;
  cursors_.emplace(id, std::move(last_key));
  cursor_order_.push_back(id);
  if (cursor_order_.size() > kMaxCursors) {
    cursors_.erase(cursor_order_.front());
    cursor_order_.erase(cursor_order_.begin());
  }
  return id;
}

bool ShardServer::LoadCursor(uint64_t id, std::string* last_key) {
  auto it = cursors_.find(id);
  if (it == cursors_.end()) return false;
  *last_key = it->second;
  return true;
}

Status ShardServer::CreatePoller() {
  return net::Poller::Create(&poller_);
}

void ShardServer::Run() {
  rt::Reactor* r = rt::CurrentReactor();
  rt::WaitGroup wg;
  if (shard_ == 0 && server_->listen_fd() >= 0) {
    wg.Add();
    r->Spawn(
        [this, &wg] {
          AcceptLoop(server_->listen_fd());
          wg.Done();
        },
        "acceptor");
  }
  if (shard_ == server_->metrics_shard() && server_->metrics_fd() >= 0) {
    wg.Add();
    r->Spawn(
        [this, &wg] {
          MetricsLoop(server_->metrics_fd());
          wg.Done();
        },
        "metrics");
  }
  Housekeeping();
  wg.Wait();
  if (poller_ != nullptr) poller_->Stop();
}

void ShardServer::Housekeeping() {
  Store* store = server_->store();
  uint64_t stop_began_ms = 0;
  uint64_t last_rate_ms = store->NowMs(), last_commands = 0;
  for (;;) {
    rt::SleepFor(kTickNs);
    const uint64_t now = store->NowMs();
    if (server_->stopping()) {
      if (!stopping_seen_) {
        stopping_seen_ = true;
        stop_began_ms = now;
        if (listener_ != nullptr) listener_->Stop();
        if (metrics_listener_ != nullptr) metrics_listener_->Stop();
      }
      for (Conn* c = conns_; c != nullptr; c = c->next) {
        if (now - stop_began_ms > kStopGraceMs) {
          c->Kill();
        } else {
          c->CancelRead();
        }
      }
      for (MetricsSock& m : metrics_socks_) m.sock->CancelRecv();
      if (nconns_ == 0 && metrics_socks_.empty() && listener_ == nullptr &&
          metrics_listener_ == nullptr &&
          server_->pending_handoffs().load(std::memory_order_acquire) == 0) {
        return;
      }
      continue;
    }
    if (const uint64_t t = server_->timeout_s(); t > 0) {
      const uint64_t limit_ms = t * 1000;
      for (Conn* c = conns_; c != nullptr; c = c->next) {
        if (c->reading() && now - std::min(now, c->last_active_ms()) > limit_ms) {
          counters_.idle_closed.Add();
          c->CancelRead();
        } else if (c->SendStalledMs(now) > limit_ms) {
          counters_.idle_closed.Add();
          c->Kill();  // a client that stopped reading its replies
        }
      }
    }
    for (MetricsSock& m : metrics_socks_) {
      if (now - m.start_ms > kMetricsTimeoutMs) m.sock->CancelRecv();
    }
    if (shard_ == 0 && now - last_rate_ms >= 1000) {
      uint64_t total = 0;
      for (uint32_t i = 0; i < server_->shard_count(); i++)
        total += server_->shard(i)->counters().commands.Get();
      server_->set_ops_per_sec((total - last_commands) * 1000 / (now - last_rate_ms));
      last_commands = total;
      last_rate_ms = now;
    }
  }
}

void ShardServer::AcceptLoop(int listen_fd) {
  net::Listener l(listen_fd, poller_.get());
  listener_ = &l;
  Store* store = server_->store();
  uint64_t last_error_log_ms = 0;
  for (;;) {
    const int fd = l.Accept();
    if (fd == -ECANCELED) break;
    if (fd < 0) {
      const uint64_t now = store->NowMs();
      if (now - last_error_log_ms > 1000) {
        RINGDB_LOG_WARN("server: accepting a connection: %s", std::strerror(-fd));
        last_error_log_ms = now;
      }
      rt::SleepFor(10'000'000);  // EMFILE and friends: let connections close first
      continue;
    }
    server_->CountConnection();
    if (server_->clients().load(std::memory_order_relaxed) >=
        static_cast<int64_t>(server_->maxclients())) {
      static const char kMsg[] = "-ERR max number of clients reached\r\n";
      ssize_t n = ::send(fd, kMsg, sizeof(kMsg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)n;
      close(fd);
      server_->CountRejected();
      continue;
    }
    server_->clients().fetch_add(1, std::memory_order_relaxed);
    server_->pending_handoffs().fetch_add(1, std::memory_order_acq_rel);
    const uint32_t target = next_target_++ % server_->shard_count();
    store->Post(target, &StartConn, new Handoff{server_, fd});
  }
  l.Close();
  listener_ = nullptr;
}

void ShardServer::MetricsLoop(int listen_fd) {
  net::Listener l(listen_fd, poller_.get());
  metrics_listener_ = &l;
  rt::WaitGroup wg;
  for (;;) {
    const int fd = l.Accept();
    if (fd == -ECANCELED) break;
    if (fd < 0) {
      rt::SleepFor(10'000'000);
      continue;
    }
    wg.Add();
    rt::CurrentReactor()->Spawn(
        [this, fd, &wg] {
          ServeMetrics(fd);
          wg.Done();
        },
        "metrics_conn");
  }
  l.Close();
  wg.Wait();
  metrics_listener_ = nullptr;
}

void ShardServer::ServeMetrics(int fd) {
  net::Socket sock(fd, poller_.get());
  metrics_socks_.push_back({&sock, server_->store()->NowMs()});
  char buf[8192];
  size_t got = 0;
  bool complete = false;
  while (got < sizeof(buf)) {
    const int64_t n = sock.Recv(buf + got, sizeof(buf) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (memmem(buf, got, "\r\n\r\n", 4) != nullptr || memmem(buf, got, "\n\n", 2) != nullptr) {
      complete = true;
      break;
    }
  }
  for (size_t i = 0; i < metrics_socks_.size(); i++) {
    if (metrics_socks_[i].sock == &sock) {
      metrics_socks_.erase(metrics_socks_.begin() + static_cast<long>(i));
      break;
    }
  }
  if (complete) {
    const std::string_view req(buf, got);
    std::string status = "200 OK", body;
    if (req.rfind("GET ", 0) != 0 && req.rfind("HEAD ", 0) != 0) {
      status = "405 Method Not Allowed";
      body = "only GET /metrics\n";
    } else if (req.find(" /metrics") == std::string_view::npos &&
               req.find(" / ") == std::string_view::npos) {
      status = "404 Not Found";
      body = "metrics are at /metrics\n";
    } else {
      auto st = std::make_unique<ringdb::Stats>();
      server_->store()->GetStats(st.get());
      body = Store::RenderPrometheus(*st) + RenderServerPrometheus(server_);
    }
    std::string resp = "HTTP/1.1 " + status +
                       "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (req.rfind("HEAD ", 0) != 0) resp += body;
    (void)sock.SendAll(resp.data(), resp.size());
  }
  sock.Close();
}

// ---------------------------------------------------------------- Server

Server::Server(ServerConfig cfg) : cfg_(std::move(cfg)) {
  ApplyTunables(cfg_);
}

Server::~Server() {
  if (listen_fd_ >= 0 && shards_.empty()) close(listen_fd_);
  if (metrics_fd_ >= 0 && shards_.empty()) close(metrics_fd_);
}

void Server::ApplyTunables(const ServerConfig& c) {
  maxclients_.store(c.maxclients, std::memory_order_relaxed);
  timeout_s_.store(c.timeout_s, std::memory_order_relaxed);
  max_bulk_.store(c.proto_max_bulk_len, std::memory_order_relaxed);
  max_multibulk_.store(c.max_multibulk_len, std::memory_order_relaxed);
  qbuf_limit_.store(c.client_query_buffer_limit, std::memory_order_relaxed);
  obuf_limit_.store(c.client_output_buffer_limit, std::memory_order_relaxed);
  auth_required_.store(!c.requirepass.empty(), std::memory_order_relaxed);
  keepalive_s_.store(c.tcp_keepalive_s, std::memory_order_relaxed);
  reads_in_place_.store(c.reads_in_place != 0, std::memory_order_relaxed);
}

ServerConfig Server::config() {
  std::lock_guard<std::mutex> g(config_mu_);
  return cfg_;
}

Status Server::ConfigSet(std::string_view name, std::string_view value) {
  std::lock_guard<std::mutex> g(config_mu_);
  ServerConfig c = cfg_;
  Status s = SetOption(&c, name, value, /*at_runtime=*/true);
  if (!s.ok()) return s;
  if (c.proto_max_bulk_len > Store::kMaxValueBytes + (1 << 20)) {
    return Status::InvalidArgument("proto-max-bulk-len above what the store accepts (" +
                                   std::to_string(Store::kMaxValueBytes) + " bytes per value)");
  }
  cfg_ = c;
  ApplyTunables(cfg_);
  return Status::OK();
}

bool Server::CheckPassword(std::string_view pass) {
  std::lock_guard<std::mutex> g(config_mu_);
  const std::string& want = cfg_.requirepass;
  // Constant time in the length of what was sent.
  unsigned diff = want.size() == pass.size() ? 0 : 1;
  for (size_t i = 0; i < pass.size(); i++) {
    diff |=
        static_cast<unsigned>(static_cast<unsigned char>(pass[i]) ^
                              static_cast<unsigned char>(want.empty() ? 0 : want[i % want.size()]));
  }
  return diff == 0 && !want.empty();
}

Status Server::Start() {
  ServerConfig c = config();
  if (c.db_path.empty()) return Status::InvalidArgument("no store directory: give --db PATH");
  if (c.proto_max_bulk_len > Store::kMaxValueBytes + (1 << 20)) {
    return Status::InvalidArgument("proto-max-bulk-len above what the store accepts (" +
                                   std::to_string(Store::kMaxValueBytes) + " bytes per value)");
  }
  StoreOptions so;
  so.path = c.db_path;
  so.shards = Store::ShardsFor(c.db_path, c.shards);
  so.durability = c.durability;
  so.periodic_sync_ms = c.periodic_sync_ms;
  so.memtable_bytes = c.memtable_bytes;
  so.block_cache_bytes = c.block_cache_bytes;
  so.io_backend = c.io_backend;
  so.io_poll_batch = c.io_poll_batch;
  if (c.idle_spin_us >= 0) {
    so.idle_spin_us = static_cast<uint32_t>(c.idle_spin_us);
  } else {
    // auto: a shard that spins while idle burns a CPU the clients, the kernel's network
    // work and the other shards want whenever the shards take every CPU. Measured on 2
    // vCPUs at redis-benchmark -P 1 with two shards: ~25% fewer SETs/s with a 20 us spin
    // than with none (docs/server.md "Performance").
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (static_cast<long>(so.shards) >= ncpu) so.idle_spin_us = 0;
  }
  Status s = Store::Open(so, &store_);
  if (!s.ok()) return s;
  completion_io_ = store_->io_backend().rfind("io_uring", 0) == 0;
  if (completion_io_) {
    io_mode_ = "io_uring";
  } else {
    io_mode_ = "epoll+libaio";
    RINGDB_LOG_WARN(
        "server: the libaio backend has no socket operations: connections use non-blocking "
        "sockets, with readiness from an epoll set polled through the backend (IOCB_CMD_POLL)");
  }
  // Right after a crash the previous process's listening socket may outlive it for a
  // moment (the kernel tears its io_uring down asynchronously): retry for a while.
  for (int attempt = 0;; attempt++) {
    s = net::Listen(c.bind, c.port, c.tcp_backlog, !completion_io_, &listen_fd_);
    if (s.ok() || attempt == 100 ||
        s.ToString().find("Address already in use") == std::string::npos)
      break;
    if (attempt == 0) RINGDB_LOG_WARN("server: port %d in use; retrying for 10 s", c.port);
    usleep(100'000);
  }
  if (!s.ok()) return s;
  if (c.metrics_port > 0) {
    s = net::Listen(c.metrics_bind.empty() ? c.bind : c.metrics_bind, c.metrics_port, c.tcp_backlog,
                    !completion_io_, &metrics_fd_);
    if (!s.ok()) return s;
  }
  for (uint32_t i = 0; i < store_->shard_count(); i++) {
    shards_.push_back(std::make_unique<ShardServer>(this, i));
    // Every shard's epoll set exists before any shard runs: shard 0 accepts as soon as it
    // starts and may hand a connection to a shard whose Run has not begun yet (the socket
    // would otherwise be set up without readiness, and its first recv fail).
    if (!completion_io_) {
      s = shards_.back()->CreatePoller();
      if (!s.ok()) return s;
    }
  }
  start_unix_s_ = static_cast<uint64_t>(time(nullptr));
  return Status::OK();
}

Status Server::Run() {
  const ServerConfig c = config();
  RINGDB_LOG_INFO(
      "server: ringdb-server %s ready: %s:%d, %u shards, durability %s, socket I/O %s, store "
      "%s (%s)%s",
      kRingdbVersion, c.bind.c_str(), c.port, store_->shard_count(),
      c.durability == Durability::kSync       ? "sync"
      : c.durability == Durability::kPeriodic ? "periodic"
                                              : "none",
      io_mode_.c_str(), c.db_path.c_str(), store_->io_backend().c_str(),
      c.metrics_port > 0 ? (", metrics on port " + std::to_string(c.metrics_port)).c_str() : "");
  return store_->RunOnEveryShard([this](uint32_t i) { shards_[i]->Run(); });
}

Status Server::Close() {
  if (store_ == nullptr) return Status::OK();
  Status s = store_->Close();
  return s;
}

}  // namespace ringdb::server
