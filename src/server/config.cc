#include "server/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "server/glob.h"

namespace ringdb::server {

namespace {

enum class Kind { kString, kInt, kMemory, kDurability, kBackend, kSpin };

struct OptionDef {
  const char* name;
  Kind kind;
  bool runtime;  // CONFIG SET may change it
  const char* help;
  // Exactly one of these points into ServerConfig (by offset-free accessors).
  std::string ServerConfig::*str = nullptr;
  uint32_t ServerConfig::*u32 = nullptr;
  int ServerConfig::*i32 = nullptr;
  uint64_t ServerConfig::*u64 = nullptr;
  int64_t ServerConfig::*i64 = nullptr;
};

OptionDef S(const char* n, std::string ServerConfig::*f, bool rt, const char* h) {
  OptionDef d{n, Kind::kString, rt, h};
  d.str = f;
  return d;
}
OptionDef U(const char* n, uint32_t ServerConfig::*f, bool rt, const char* h) {
  OptionDef d{n, Kind::kInt, rt, h};
  d.u32 = f;
  return d;
}
OptionDef I(const char* n, int ServerConfig::*f, bool rt, const char* h) {
  OptionDef d{n, Kind::kInt, rt, h};
  d.i32 = f;
  return d;
}
OptionDef M(const char* n, uint64_t ServerConfig::*f, bool rt, const char* h) {
  OptionDef d{n, Kind::kMemory, rt, h};
  d.u64 = f;
  return d;
}

const std::vector<OptionDef>& Table() {
  static const std::vector<OptionDef> t = {
      S("db", &ServerConfig::db_path, false, "store directory (required)"),
      U("shards", &ServerConfig::shards, false,
        "shards of a new store (0: one per CPU but one, at least 1; an existing store keeps its "
        "count)"),
      OptionDef{"durability", Kind::kDurability, false,
                "sync | periodic | none (like appendfsync always | everysec | no)"},
      U("periodic-sync-ms", &ServerConfig::periodic_sync_ms, false,
        "periodic durability: fdatasync at least this often"),
      M("memtable-size", &ServerConfig::memtable_bytes, false, "per shard memtable"),
      M("block-cache-size", &ServerConfig::block_cache_bytes, false,
        "block cache, all shards together"),
      OptionDef{"io-backend", Kind::kBackend, false, "auto | io_uring | libaio"},
      U("io-poll-batch", &ServerConfig::io_poll_batch, false,
        "I/O completions a shard reaps per loop pass (0: all)"),
      OptionDef{"idle-spin-us", Kind::kSpin, false,
                "how long an idle shard spins before sleeping (auto: the engine's choice)"},
      S("bind", &ServerConfig::bind, false, "address to listen on"),
      I("port", &ServerConfig::port, false, "TCP port"),
      I("tcp-backlog", &ServerConfig::tcp_backlog, false, "listen backlog"),
      I("tcp-keepalive", &ServerConfig::tcp_keepalive_s, false,
        "TCP keepalive period in seconds (0: off)"),
      I("metrics-port", &ServerConfig::metrics_port, false,
        "HTTP port serving Prometheus metrics at /metrics (0: off)"),
      S("metrics-bind", &ServerConfig::metrics_bind, false,
        "address of the metrics endpoint (default: bind)"),
      S("pidfile", &ServerConfig::pidfile, false, "write the process id here"),
      S("loglevel", &ServerConfig::loglevel, false, "debug | verbose | notice | warning"),
      S("requirepass", &ServerConfig::requirepass, true,
        "password clients must AUTH with (empty: none)"),
      U("maxclients", &ServerConfig::maxclients, true, "most connected clients"),
      U("timeout", &ServerConfig::timeout_s, true,
        "close clients idle this many seconds (0: never)"),
      M("proto-max-bulk-len", &ServerConfig::proto_max_bulk_len, true,
        "largest bulk string a client may send"),
      M("proto-max-multibulk-len", &ServerConfig::max_multibulk_len, true,
        "most arguments in one command"),
      M("client-query-buffer-limit", &ServerConfig::client_query_buffer_limit, true,
        "largest unprocessed input of one client (closed beyond it)"),
      M("client-output-buffer-limit", &ServerConfig::client_output_buffer_limit, true,
        "replies a client may leave unread before its commands wait"),
      U("reads-in-place", &ServerConfig::reads_in_place, true,
        "1: read other shards' keys on the connection's shard, lock-free; 0: hop to the owner"),
  };
  return t;
}

std::string Canonical(std::string_view name) {
  std::string n;
  for (char c : name) n.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(c)));
  return n;
}

const OptionDef* Find(std::string_view name) {
  const std::string n = Canonical(name);
  for (const OptionDef& d : Table()) {
    if (n == d.name) return &d;
  }
  return nullptr;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string MemoryText(uint64_t v) {
  return std::to_string(v);
}

std::string ValueOf(const ServerConfig& cfg, const OptionDef& d) {
  switch (d.kind) {
    case Kind::kString:
      return cfg.*d.str;
    case Kind::kInt:
      if (d.u32) return std::to_string(cfg.*d.u32);
      return std::to_string(cfg.*d.i32);
    case Kind::kMemory:
      return MemoryText(cfg.*d.u64);
    case Kind::kDurability:
      return cfg.durability == Durability::kSync       ? "sync"
             : cfg.durability == Durability::kPeriodic ? "periodic"
                                                       : "none";
    case Kind::kBackend:
      return cfg.io_backend == IoBackendKind::kUring ? "io_uring"
             : cfg.io_backend == IoBackendKind::kAio ? "libaio"
                                                     : "auto";
    case Kind::kSpin:
      return cfg.idle_spin_us < 0 ? "auto" : std::to_string(cfg.idle_spin_us);
  }
  return "";
}

Status Invalid(std::string_view name, std::string_view value, const char* why) {
  return Status::InvalidArgument("option '" + std::string(name) + "' value '" + std::string(value) +
                                 "': " + why);
}

}  // namespace

bool ParseMemory(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
  uint64_t n = 0;
  if (i == 0 || !ParseU64(s.substr(0, i), &n)) return false;
  std::string unit = Canonical(s.substr(i));
  uint64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000ull * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024ull * 1024 * 1024;
  } else {
    return false;
  }
  if (n > UINT64_MAX / mul) return false;
  *out = n * mul;
  return true;
}

const char* AppendFsyncName(Durability d) {
  switch (d) {
    case Durability::kSync:
      return "always";
    case Durability::kPeriodic:
      return "everysec";
    case Durability::kNone:
      return "no";
  }
  return "always";
}

namespace {

// Parses `value` into the field option d names.
Status Assign(ServerConfig* cfg, const OptionDef* d, std::string_view name,
              std::string_view value) {
  switch (d->kind) {
    case Kind::kString:
      cfg->*d->str = std::string(value);
      return Status::OK();
    case Kind::kInt: {
      uint64_t v = 0;
      if (!ParseU64(value, &v) || v > INT32_MAX) return Invalid(name, value, "not a number");
      if (d->u32) cfg->*d->u32 = static_cast<uint32_t>(v);
      if (d->i32) cfg->*d->i32 = static_cast<int>(v);
      return Status::OK();
    }
    case Kind::kMemory: {
      uint64_t v = 0;
      if (!ParseMemory(value, &v)) return Invalid(name, value, "not a size");
      cfg->*d->u64 = v;
      return Status::OK();
    }
    case Kind::kDurability:
      if (value == "sync" || value == "always") {
        cfg->durability = Durability::kSync;
      } else if (value == "periodic" || value == "everysec") {
        cfg->durability = Durability::kPeriodic;
      } else if (value == "none" || value == "no") {
        cfg->durability = Durability::kNone;
      } else {
        return Invalid(name, value, "expected sync, periodic or none");
      }
      return Status::OK();
    case Kind::kBackend:
      if (value == "auto") {
        cfg->io_backend = IoBackendKind::kAuto;
      } else if (value == "io_uring" || value == "uring") {
        cfg->io_backend = IoBackendKind::kUring;
      } else if (value == "libaio" || value == "aio") {
        cfg->io_backend = IoBackendKind::kAio;
      } else {
        return Invalid(name, value, "expected auto, io_uring or libaio");
      }
      return Status::OK();
    case Kind::kSpin: {
      uint64_t v = 0;
      if (value == "auto") {
        cfg->idle_spin_us = -1;
      } else if (ParseU64(value, &v) && v < 1'000'000) {
        cfg->idle_spin_us = static_cast<int64_t>(v);
      } else {
        return Invalid(name, value, "expected auto or microseconds");
      }
      return Status::OK();
    }
  }
  return Status::OK();
}

}  // namespace

Status SetOption(ServerConfig* cfg, std::string_view name, std::string_view value,
                 bool at_runtime) {
  const std::string n = Canonical(name);
  // Redis names that map onto ours.
  if (n == "appendfsync" && !at_runtime) {
    if (value == "always") return SetOption(cfg, "durability", "sync", false);
    if (value == "everysec") return SetOption(cfg, "durability", "periodic", false);
    if (value == "no") return SetOption(cfg, "durability", "none", false);
    return Invalid(name, value, "expected always, everysec or no");
  }
  if (n == "dir" && !at_runtime) return SetOption(cfg, "db", value, false);
  if (n == "requirepass-file" && !at_runtime) {
    // The password on the first line of a file only its owner reads (systemd
    // LoadCredential=, a Kubernetes secret): it never shows in ps or the config file.
    std::ifstream in{std::string(value)};
    std::string pass;
    if (!in || !std::getline(in, pass)) return Invalid(name, value, "cannot read the file");
    while (!pass.empty() && (pass.back() == '\r' || pass.back() == ' ')) pass.pop_back();
    if (pass.empty()) return Invalid(name, value, "the file's first line is empty");
    cfg->requirepass = pass;
    return Status::OK();
  }
  if ((n == "appendonly" || n == "daemonize" || n == "save" || n == "databases" ||
       n == "protected-mode") &&
      !at_runtime) {
    return Status::OK();  // accepted for redis.conf compatibility; nothing to do
  }
  const OptionDef* d = Find(n);
  if (d == nullptr) return Status::NotFound("unknown option '" + std::string(name) + "'");
  if (at_runtime && !d->runtime) {
    return Status::InvalidArgument("option '" + n + "' can only be set at start-up");
  }
  return Assign(cfg, d, name, value);
}

std::vector<std::pair<std::string, std::string>> GetOptions(const ServerConfig& cfg,
                                                            std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& n, const std::string& v) {
    if (GlobMatch(pattern, n, /*nocase=*/true)) out.emplace_back(n, v);
  };
  for (const OptionDef& d : Table()) add(d.name, ValueOf(cfg, d));
  // What Redis clients and redis-benchmark ask about.
  add("appendonly", "yes");
  add("appendfsync", AppendFsyncName(cfg.durability));
  add("save", "");
  add("databases", "1");
  add("dir", cfg.db_path);
  add("maxmemory", "0");
  return out;
}

namespace {

// Splits a config line into name and value ("name value", "name = value", quotes).
bool SplitLine(const std::string& line, std::string* name, std::string* value) {
  size_t i = 0;
  while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) i++;
  if (i == line.size() || line[i] == '#') return false;
  size_t j = i;
  while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])) && line[j] != '=')
    j++;
  *name = line.substr(i, j - i);
  while (j < line.size() && (std::isspace(static_cast<unsigned char>(line[j])) || line[j] == '='))
    j++;
  std::string v = line.substr(j);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    v = v.substr(1, v.size() - 2);
  *value = v;
  return true;
}

}  // namespace

Status LoadConfigFile(const std::string& path, ServerConfig* cfg) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read config file " + path);
  std::string line, name, value;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    if (!SplitLine(line, &name, &value)) continue;
    Status s = SetOption(cfg, name, value, false);
    if (!s.ok()) {
      return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": " + s.ToString());
    }
  }
  cfg->config_file = path;
  return Status::OK();
}

Status ParseCommandLine(int argc, char** argv, ServerConfig* cfg, bool* help, bool* version) {
  *help = *version = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  // The config file first (ringdb-server /etc/ringdb/ringdb.conf --port 7000).
  std::string file;
  if (!args.empty() && args[0].rfind("--", 0) != 0) file = args[i++];
  for (size_t k = i; k < args.size(); k++) {
    if (args[k] == "--help" || args[k] == "-h") *help = true;
    if (args[k] == "--version" || args[k] == "-v") *version = true;
    if (args[k] == "--config" && k + 1 < args.size()) file = args[k + 1];
    if (args[k].rfind("--config=", 0) == 0) file = args[k].substr(9);
  }
  if (*help || *version) return Status::OK();
  if (!file.empty()) {
    Status s = LoadConfigFile(file, cfg);
    if (!s.ok()) return s;
  }
  for (; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + name + " needs a value");
      value = args[++i];
    }
    if (name == "config") continue;
    Status s = SetOption(cfg, name, value, false);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

std::string HelpText() {
  std::ostringstream o;
  o << "Usage: ringdb-server [config-file] [--option value ...]\n"
       "\n"
       "A Redis-protocol (RESP2/RESP3) server on a ringdb store. Every option can be\n"
       "given as a flag (--name value), in the config file (name value), and the ones\n"
       "marked * with CONFIG SET while running. Sizes take k, kb, m, mb, g, gb.\n"
       "\n";
  const ServerConfig defaults;
  for (const OptionDef& d : Table()) {
    std::string v = ValueOf(defaults, d);
    o << "  --" << d.name << (d.runtime ? " *" : "") << "\n      " << d.help;
    if (!v.empty()) o << " [default: " << v << "]";
    o << "\n";
  }
  o << "  --requirepass-file FILE\n      read requirepass from the first line of FILE\n"
       "  --config FILE\n      read settings from FILE first (flags override it)\n"
       "  --help, --version\n";
  return o.str();
}

}  // namespace ringdb::server
