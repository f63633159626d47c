// Server: ringdb-server's process-wide state and its per-shard halves.
//
// Start-up (main thread): open the store, bind the sockets, then Run(), which runs
// ShardServer::Run as a fiber on every shard thread and returns once all of them
// have stopped. Shard 0 accepts and hands connections out round-robin (over the
// shard rings); each connection is a fiber on its shard for its whole life (conn.h).
// A metrics endpoint, when configured, runs on the last shard.
//
// Stop (SIGTERM, SIGINT, SHUTDOWN): RequestStop() sets a flag the shards' housekeeping
// fibers poll; they stop accepting, cancel idle reads, let every connection finish the
// burst it is executing and send its replies, and return. Then main closes the store
// (WAL synced), so every acknowledged write survives in every durability mode.
//
// Thread ownership: Server's fields are set before Run and then read-only, except the
// atomics and the config (under config_mu_, off the data path). A ShardServer belongs
// to its shard's thread; its counters are single-writer atomics other shards read
// (INFO) without a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/config.h"
#include "server/keyspace.h"
#include "server/net.h"
#include "server/store.h"

namespace ringdb::server {

class Conn;
class Server;

// One writer (the shard's thread), any reader.
struct Counter {
  std::atomic<uint64_t> v{0};
  void Add(uint64_t n = 1) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

struct ShardCounters {
  Counter connections;  // currently connected (gauge, may go down)
  Counter connections_closed;
  Counter commands;
  Counter net_input_bytes;
  Counter net_output_bytes;
  Counter keyspace_hits;
  Counter keyspace_misses;
  Counter error_replies;
  Counter bursts;          // groups of pipelined commands processed together
  Counter remote_calls;    // hops to other shards (one per burst and target shard)
  Counter reads_in_place;  // reads of other shards' keys answered here, without a hop
  Counter idle_closed;
};

class ShardServer {
 public:
  ShardServer(Server* server, uint32_t shard);
  ~ShardServer();

  // Readiness mode (libaio): the shard's epoll set. Before any shard runs (Server::Start).
  Status CreatePoller();
  // The shard's server fiber: housekeeping, and the acceptors this shard owns.
  // Returns when the server stops and every connection of this shard has closed.
  void Run();

  uint32_t shard() const { return shard_; }
  Server* server() const { return server_; }
  Keyspace& keyspace() { return keyspace_; }
  net::Poller* poller() const { return poller_.get(); }
  ShardCounters& counters() { return counters_; }
  const ShardCounters& counters() const { return counters_; }

  // Connections of this shard (intrusive list); shard thread only.
  void Attach(Conn* c);
  void Detach(Conn* c);
  Conn* conns() const { return conns_; }

  // SCAN cursors of this shard: cursor id -> the last key returned.
  uint64_t SaveCursor(std::string last_key);
  bool LoadCursor(uint64_t id, std::string* last_key);

 private:
  void Housekeeping();
  void AcceptLoop(int listen_fd);
  void MetricsLoop(int listen_fd);
  void ServeMetrics(int fd);

  Server* const server_;
  const uint32_t shard_;
  Keyspace keyspace_;
  std::unique_ptr<net::Poller> poller_;  // readiness mode only
  ShardCounters counters_;
  Conn* conns_ = nullptr;
  uint32_t nconns_ = 0;
  net::Listener* listener_ = nullptr;
  net::Listener* metrics_listener_ = nullptr;
  struct MetricsSock {
    net::Socket* sock;
    uint64_t start_ms;
  };
  std::vector<MetricsSock> metrics_socks_;  // scrapes being read (cut after 10 s)
  bool stopping_seen_ = false;
  uint32_t next_target_ = 0;
  // Cursors: bounded, oldest evicted first.
  std::unordered_map<uint64_t, std::string> cursors_;
  std::vector<uint64_t> cursor_order_;
  uint64_t next_cursor_ = 1;
};

class Server {
 public:
  explicit Server(ServerConfig cfg);
  ~Server();

  // Opens the store and binds the sockets. Errors name what failed.
  Status Start();
  // Serves until stopped. REQUIRES: Start() succeeded; on the main thread.
  Status Run();
  // Async-signal-safe: asks every shard to stop.
  void RequestStop() { stop_.store(true, std::memory_order_release); }
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  // Syncs and closes the store.
  Status Close();

  Store* store() const { return store_.get(); }
  ShardServer* shard(uint32_t i) const { return shards_[i].get(); }
  uint32_t shard_count() const { return static_cast<uint32_t>(shards_.size()); }
  bool completion_io() const { return completion_io_; }
  const std::string& io_mode() const { return io_mode_; }

  // ---- settings read on the data path (CONFIG SET updates them) ----
  uint32_t maxclients() const { return maxclients_.load(std::memory_order_relaxed); }
  uint32_t timeout_s() const { return timeout_s_.load(std::memory_order_relaxed); }
  uint64_t proto_max_bulk_len() const { return max_bulk_.load(std::memory_order_relaxed); }
  uint64_t max_multibulk_len() const { return max_multibulk_.load(std::memory_order_relaxed); }
  uint64_t query_buffer_limit() const { return qbuf_limit_.load(std::memory_order_relaxed); }
  uint64_t output_buffer_limit() const { return obuf_limit_.load(std::memory_order_relaxed); }
  bool auth_required() const { return auth_required_.load(std::memory_order_relaxed); }
  int config_keepalive_s() const { return keepalive_s_.load(std::memory_order_relaxed); }
  bool reads_in_place() const { return reads_in_place_.load(std::memory_order_relaxed); }
  uint64_t ops_per_sec() const { return ops_per_sec_.load(std::memory_order_relaxed); }
  void set_ops_per_sec(uint64_t v) { ops_per_sec_.store(v, std::memory_order_relaxed); }
  // Constant-time comparison with requirepass.
  bool CheckPassword(std::string_view pass);

  // ---- config (not on the data path) ----
  ServerConfig config();
  Status ConfigSet(std::string_view name, std::string_view value);

  // ---- clients ----
  uint64_t NextClientId() { return next_client_id_.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<int64_t>& clients() { return clients_; }
  std::atomic<int64_t>& pending_handoffs() { return pending_handoffs_; }
  uint64_t total_connections() const { return total_connections_.load(std::memory_order_relaxed); }
  void CountConnection() { total_connections_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  void CountRejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t start_unix_s() const { return start_unix_s_; }
  int listen_fd() const { return listen_fd_; }
  int metrics_fd() const { return metrics_fd_; }
  uint32_t metrics_shard() const { return shard_count() - 1; }

 private:
  void ApplyTunables(const ServerConfig& c);

  std::mutex config_mu_;
  ServerConfig cfg_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<ShardServer>> shards_;
  bool completion_io_ = true;
  std::string io_mode_;
  int listen_fd_ = -1;
  int metrics_fd_ = -1;
  uint64_t start_unix_s_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> maxclients_{0};
  std::atomic<uint32_t> timeout_s_{0};
  std::atomic<uint64_t> max_bulk_{0};
  std::atomic<uint64_t> max_multibulk_{0};
  std::atomic<uint64_t> qbuf_limit_{0};
  std::atomic<uint64_t> obuf_limit_{0};
  std::atomic<bool> auth_required_{false};
  std::atomic<int> keepalive_s_{0};
  std::atomic<bool> reads_in_place_{true};
  std::atomic<uint64_t> ops_per_sec_{0};
  std::atomic<uint64_t> next_client_id_{1};
  std::atomic<int64_t> clients_{0};
  std::atomic<int64_t> pending_handoffs_{0};
  std::atomic<uint64_t> total_connections_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace ringdb::server
