// ServerConfig: every setting of ringdb-server, from a config file (Redis style,
// "name value" per line), command-line flags (--name value) and CONFIG SET for the
// ones that may change while running. One table of options (config.cc) serves all
// three, CONFIG GET and --help.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/options.h"
#include "ringdb/status.h"

namespace ringdb::server {

struct ServerConfig {
  // The store (fixed at start).
  std::string db_path;
  uint32_t shards = 0;  // 0: Store::ShardsFor (the stored count, or a default for a new store)
  Durability durability = Durability::kSync;
  uint32_t periodic_sync_ms = 1000;
  uint64_t memtable_bytes = 64ull << 20;
  uint64_t block_cache_bytes = 256ull << 20;
  IoBackendKind io_backend = IoBackendKind::kAuto;
  uint32_t io_poll_batch = 64;
  int64_t idle_spin_us = -1;  // -1: the engine's automatic choice

  // Network (fixed at start).
  std::string bind = "127.0.0.1";
  int port = 6379;
  int tcp_backlog = 511;
  int tcp_keepalive_s = 300;
  int metrics_port = 0;      // 0: no metrics endpoint
  std::string metrics_bind;  // empty: same as bind
  std::string pidfile;
  std::string loglevel = "notice";
  std::string config_file;  // where the settings came from (INFO, CONFIG GET)

  // Changeable with CONFIG SET.
  std::string requirepass;
  uint32_t maxclients = 10000;
  uint32_t timeout_s = 300;  // idle clients are closed after this (0: never)
  uint64_t proto_max_bulk_len = 32ull << 20;
  uint64_t max_multibulk_len = 1ull << 20;
  uint64_t client_query_buffer_limit = 256ull << 20;
  // Replies waiting for a client that does not read: past this, the connection stops
  // reading and executing its commands until the client catches up.
  uint64_t client_output_buffer_limit = 8ull << 20;
  // 1: reads of another shard's keys run on the connection's shard, lock-free (0: they
  // hop to the owner, as writes do). For comparisons; 1 is the faster setting.
  uint32_t reads_in_place = 1;
};

// Sets option `name` (dashes or underscores) from its text form. `at_runtime`: refuse
// options fixed at start (CONFIG SET).
Status SetOption(ServerConfig* cfg, std::string_view name, std::string_view value, bool at_runtime);
// Names (canonical, with dashes) and current values of the options matching the glob
// pattern (case-insensitive), in table order. Also answers for the Redis names
// redis-benchmark and clients ask about (appendonly, appendfsync, save, databases).
std::vector<std::pair<std::string, std::string>> GetOptions(const ServerConfig& cfg,
                                                            std::string_view pattern);
// Reads a config file into cfg: "name value" (or "name = value") per line, '#'
// comments, values may be "quoted".
Status LoadConfigFile(const std::string& path, ServerConfig* cfg);
// Parses argv: an optional config file as the first argument (or --config FILE), then
// --name value / --name=value flags, which override the file. *help / *version: the
// flag was given (nothing else is checked then).
Status ParseCommandLine(int argc, char** argv, ServerConfig* cfg, bool* help, bool* version);
// --help text listing every option with its default.
std::string HelpText();

// Redis's memtoll: "64mb", "1gb", "512k", "100" (bytes).
bool ParseMemory(std::string_view s, uint64_t* out);
// appendfsync names for a durability mode.
const char* AppendFsyncName(Durability d);

}  // namespace ringdb::server
