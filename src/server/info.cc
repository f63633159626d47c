#include "server/info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <ctime>

#include "server/config.h"
#include "server/conn.h"
#include "server/server.h"

namespace ringdb::server {

namespace {

struct Totals {
  uint64_t connections = 0, commands = 0, in = 0, out = 0, hits = 0, misses = 0, errors = 0,
           bursts = 0, remote = 0, in_place = 0, idle_closed = 0, expired = 0;
};

Totals Sum(Server* s) {
  Totals t;
  for (uint32_t i = 0; i < s->shard_count(); i++) {
    const ShardCounters& c = s->shard(i)->counters();
    t.connections += c.connections.Get();
    t.commands += c.commands.Get();
    t.in += c.net_input_bytes.Get();
    t.out += c.net_output_bytes.Get();
    t.hits += c.keyspace_hits.Get();
    t.misses += c.keyspace_misses.Get();
    t.errors += c.error_replies.Get();
    t.bursts += c.bursts.Get();
    t.remote += c.remote_calls.Get();
    t.in_place += c.reads_in_place.Get();
    t.idle_closed += c.idle_closed.Get();
    t.expired += s->shard(i)->keyspace().expired_keys();
  }
  return t;
}

void Line(std::string* o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Line(std::string* o, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n > 0) o->append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  o->append("\r\n");
}

// Sections are separated by an empty line, as in Redis.
void Begin(std::string* o, const char* header) {
  if (!o->empty()) o->append("\r\n");
  o->append(header);
  o->append("\r\n");
}

bool Wants(const std::vector<std::string>& sections, const char* name, bool in_default) {
  if (sections.empty()) return in_default;
  for (const std::string& s : sections) {
    if (s == name || s == "all" || s == "everything" || (s == "default" && in_default)) return true;
  }
  return false;
}

void ServerSection(std::string* out, Conn& c, const ServerConfig& cfg) {
  std::string& o = *out;
  Server* s = c.server();
  const uint64_t now_s = static_cast<uint64_t>(time(nullptr));
  utsname u{};
  uname(&u);
  const uint64_t up = now_s - std::min(now_s, s->start_unix_s());
  Begin(&o, "# Server");
  Line(&o, "redis_version:%s", kRedisCompatVersion);
  Line(&o, "ringdb_version:%s", kRingdbVersion);
  Line(&o, "redis_mode:standalone");
  Line(&o, "os:%s %s %s", u.sysname, u.release, u.machine);
  Line(&o, "arch_bits:%d", static_cast<int>(sizeof(void*) * 8));
  Line(&o, "multiplexing_api:%s", s->io_mode().c_str());
  Line(&o, "process_id:%d", static_cast<int>(getpid()));
  Line(&o, "tcp_port:%d", cfg.port);
  Line(&o, "server_time_usec:%" PRIu64, c.store()->NowMs() * 1000);
  Line(&o, "uptime_in_seconds:%" PRIu64, up);
  Line(&o, "uptime_in_days:%" PRIu64, up / 86400);
  Line(&o, "config_file:%s", cfg.config_file.c_str());
  Line(&o, "shards:%u", s->shard_count());
}

void StatsSection(std::string* out, Server* s, const ringdb::Stats& st) {
  std::string& o = *out;
  const Totals t = Sum(s);
  Begin(&o, "# Stats");
  Line(&o, "total_connections_received:%" PRIu64, s->total_connections());
  Line(&o, "total_commands_processed:%" PRIu64, t.commands);
  Line(&o, "instantaneous_ops_per_sec:%" PRIu64, s->ops_per_sec());
  Line(&o, "total_net_input_bytes:%" PRIu64, t.in);
  Line(&o, "total_net_output_bytes:%" PRIu64, t.out);
  Line(&o, "rejected_connections:%" PRIu64, s->rejected());
  // As Redis: keys deleted because their deadline passed. Found by a command (lazy
  // expiry, the tombstone written then) plus expired values compactions dropped
  // without anyone reading them (docs/server.md "Expiry").
  Line(&o, "expired_keys:%" PRIu64, t.expired + st.total.compaction_expired);
  Line(&o, "expired_keys_on_access:%" PRIu64, t.expired);
  Line(&o, "expired_keys_by_compaction:%" PRIu64, st.total.compaction_expired);
  Line(&o, "evicted_keys:0");  // no maxmemory eviction: the store is on disk
  Line(&o, "keyspace_hits:%" PRIu64, t.hits);
  Line(&o, "keyspace_misses:%" PRIu64, t.misses);
  Line(&o, "total_error_replies:%" PRIu64, t.errors);
  Line(&o, "pipelined_bursts:%" PRIu64, t.bursts);
  Line(&o, "cross_shard_calls:%" PRIu64, t.remote);
  Line(&o, "cross_shard_reads_in_place:%" PRIu64, t.in_place);
  Line(&o, "idle_clients_closed:%" PRIu64, t.idle_closed);
}

void PersistenceSection(std::string* out, const ServerConfig& cfg, const ringdb::Stats& st) {
  std::string& o = *out;
  Begin(&o, "# Persistence");
  // Constants that are true of ringdb: it listens only once recovery is over, the WAL
  // is always on, and it has no AOF rewrite or RDB snapshot (compactions are its
  // background work: `compactions` below).
  Line(&o, "loading:0");
  Line(&o, "aof_enabled:1");
  Line(&o, "aof_rewrite_in_progress:0");
  Line(&o, "rdb_bgsave_in_progress:0");
  Line(&o, "appendfsync:%s", AppendFsyncName(cfg.durability));
  Line(&o, "ringdb_durability:%s",
       cfg.durability == Durability::kSync       ? "sync"
       : cfg.durability == Durability::kPeriodic ? "periodic"
                                                 : "none");
  Line(&o, "wal_bytes:%" PRIu64, st.total.wal_bytes);
  Line(&o, "wal_syncs:%" PRIu64, st.total.wal_syncs);
  Line(&o, "write_groups:%" PRIu64, st.total.write_groups);
  Line(&o, "flushes:%" PRIu64, st.total.flushes);
  Line(&o, "compactions:%" PRIu64, st.total.compactions);
}

void RingdbSection(std::string* out, Server* s, const ringdb::Stats& st) {
  std::string& o = *out;
  Begin(&o, "# Ringdb");
  Line(&o, "shards:%u", s->shard_count());
  Line(&o, "io_backend:%s", st.io_backend.c_str());
  Line(&o, "socket_io:%s", s->io_mode().c_str());
  for (uint32_t i = 0; i < s->shard_count() && i < st.shards.size(); i++) {
    const ShardCounters& sc = s->shard(i)->counters();
    const ShardStats& sh = st.shards[i];
    Line(&o,
         "shard%u:connections=%" PRIu64 ",commands=%" PRIu64 ",bursts=%" PRIu64
         ",cross_shard_calls=%" PRIu64 ",reads_in_place=%" PRIu64 ",writes=%" PRIu64
         ",write_groups=%" PRIu64 ",wal_syncs=%" PRIu64 ",memtable_bytes=%" PRIu64
         ",l0_files=%" PRIu64 ",stall_ns=%" PRIu64,
         i, sc.connections.Get(), sc.commands.Get(), sc.bursts.Get(), sc.remote_calls.Get(),
         sc.reads_in_place.Get(), sh.writes, sh.write_groups, sh.wal_syncs, sh.memtable_bytes,
         sh.l0_files, sh.stall_ns);
  }
}

void KeyspaceSection(std::string* out, Store* store) {
  std::string& o = *out;
  Begin(&o, "# Keyspace");
  const uint32_t n = store->shard_count();
  std::vector<uint64_t> keys(n), exp(n), ttl_sum(n);
  std::vector<ShardCall> calls(n);
  struct Arg {
    Store* store;
    uint64_t* keys;
    uint64_t* exp;
    uint64_t* ttl_sum;
  };
  std::vector<Arg> args(n);
  for (uint32_t i = 0; i < n; i++) {
    args[i] = {store, &keys[i], &exp[i], &ttl_sum[i]};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      (void)a->store->CountLocal(a->keys, a->exp, a->ttl_sum);
    };
  }
  store->RunAll(calls.data(), calls.size());
  uint64_t k = 0, e = 0, sum = 0;
  for (uint32_t i = 0; i < n; i++) {
    k += keys[i];
    e += exp[i];
    sum += ttl_sum[i];
  }
  // avg_ttl: the mean remaining time to live (ms) of the keys with a deadline, exact
  // (Redis estimates it from samples).
  if (k > 0) {
    Line(&o, "db0:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=%" PRIu64, k, e,
         e > 0 ? sum / e : 0);
  }
}

}  // namespace

std::string RenderInfo(Conn& c, const std::vector<std::string>& sections) {
  Server* s = c.server();
  const ServerConfig cfg = s->config();
  std::string o;
  if (Wants(sections, "server", true)) ServerSection(&o, c, cfg);
  if (Wants(sections, "clients", true)) {
    Begin(&o, "# Clients");
    Line(&o, "connected_clients:%" PRId64, s->clients().load());
    Line(&o, "maxclients:%u", s->maxclients());
    Line(&o, "blocked_clients:0");  // no blocking commands (BLPOP...)
  }
  const bool want_stats = Wants(sections, "stats", true);
  const bool want_persist = Wants(sections, "persistence", true);
  const bool want_ringdb = Wants(sections, "ringdb", true);
  ringdb::Stats st;
  if (want_stats || want_persist || want_ringdb) c.store()->GetStats(&st);
  if (want_stats) StatsSection(&o, s, st);
  if (want_persist) PersistenceSection(&o, cfg, st);
  if (want_ringdb) RingdbSection(&o, s, st);
  if (Wants(sections, "keyspace", true)) KeyspaceSection(&o, c.store());
  return o;
}

std::string RenderServerPrometheus(Server* s) {
  const Totals t = Sum(s);
  std::string o;
  auto metric = [&o](const char* name, const char* type, const char* help, uint64_t v) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help,
                  name, type, name, v);
    o += buf;
  };
  metric("ringdb_server_connected_clients", "gauge", "Clients connected now.",
         static_cast<uint64_t>(std::max<int64_t>(0, s->clients().load())));
  metric("ringdb_server_connections_total", "counter", "Connections accepted.",
         s->total_connections());
  metric("ringdb_server_rejected_connections_total", "counter", "Connections refused (maxclients).",
         s->rejected());
  metric("ringdb_server_commands_total", "counter", "Commands processed.", t.commands);
  metric("ringdb_server_error_replies_total", "counter", "Error replies sent.", t.errors);
  metric("ringdb_server_net_input_bytes_total", "counter", "Bytes received from clients.", t.in);
  metric("ringdb_server_net_output_bytes_total", "counter", "Bytes sent to clients.", t.out);
  metric("ringdb_server_keyspace_hits_total", "counter", "Reads that found their key.", t.hits);
  metric("ringdb_server_keyspace_misses_total", "counter", "Reads that did not.", t.misses);
  metric("ringdb_server_expired_keys_total", "counter",
         "Keys deleted when a command found them past their deadline (lazy expiry).", t.expired);
  metric("ringdb_server_bursts_total", "counter", "Pipelined bursts processed.", t.bursts);
  metric("ringdb_server_cross_shard_calls_total", "counter",
         "Hops to other shards (one per burst and shard).", t.remote);
  metric("ringdb_server_cross_shard_reads_in_place_total", "counter",
         "Reads of other shards' keys answered without a hop.", t.in_place);
  return o;
}

}  // namespace ringdb::server
