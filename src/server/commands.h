// The command table: every command ringdb-server knows, its arity and key positions
// (as COMMAND reports them), and how it runs:
//   - plan: a keyed command becomes ops for the shards that own its keys (ops.h); the
//     connection batches the ops of a pipelined burst per shard;
//   - direct: everything else runs in the connection's fiber, in order, after the
//     planned commands before it (connection state, server commands, SCAN, MSETNX).
// Anything not in the table gets Redis's "unknown command" error.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ringdb::server {

class Conn;

using Args = std::span<const std::string_view>;

struct CmdSpec {
  const char* name;   // lower case
  int arity;          // Redis convention: n exact, -n at least n (the name counts)
  const char* flags;  // COMMAND flags, space separated
  int first_key, last_key, step;
  void (*plan)(Conn& c, Args args);    // keyed
  void (*direct)(Conn& c, Args args);  // everything else
  bool no_auth;                        // allowed before AUTH
  const char* group;
  const char* since;
  const char* summary;
  const char* complexity;
};

// Case-insensitive lookup; nullptr when unknown.
const CmdSpec* FindCommand(std::string_view name);
// Whether `a` is `lower` in any case (an option word: "NX", "withscores").
// REQUIRES: `lower` is lower case.
bool EqNoCase(std::string_view a, const char* lower);
std::span<const CmdSpec> AllCommands();

// The reply to an unknown command, worded like Redis.
std::string UnknownCommandError(Args args);
// "ERR wrong number of arguments for 'get' command"
std::string ArityError(std::string_view name);

}  // namespace ringdb::server
