// INFO and the metrics endpoint's text.
#pragma once

#include <string>
#include <vector>

namespace ringdb::server {

class Conn;
class Server;

// The Redis version ringdb-server answers to (HELLO, INFO): the command set and reply
// formats it follows.
inline constexpr const char* kRedisCompatVersion = "7.0.0";
inline constexpr const char* kRingdbVersion = "0.1.0";

// INFO [section ...] (lower case; empty: the default sections). Runs in a fiber: it
// gathers engine statistics and key counts from every shard.
std::string RenderInfo(Conn& c, const std::vector<std::string>& sections);
// The server's own Prometheus metrics (connections, commands, bytes), to append to
// the engine's (Store::RenderPrometheus).
std::string RenderServerPrometheus(Server* server);

}  // namespace ringdb::server
