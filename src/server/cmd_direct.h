// Commands that run in the connection's fiber rather than as ops on a key's shard
// (cmd_server.cc, cmd_keys.cc).
#pragma once

#include "server/commands.h"

namespace ringdb::server {

// Connection.
void CmdAuth(Conn& c, Args a);
void CmdClient(Conn& c, Args a);
void CmdEcho(Conn& c, Args a);
void CmdHello(Conn& c, Args a);
void CmdPing(Conn& c, Args a);
void CmdQuit(Conn& c, Args a);
void CmdSelect(Conn& c, Args a);
// Server.
void CmdCommand(Conn& c, Args a);
void CmdConfig(Conn& c, Args a);
void CmdInfo(Conn& c, Args a);
void CmdShutdown(Conn& c, Args a);
void CmdTime(Conn& c, Args a);
// Keyspace-wide (cmd_keys.cc).
void CmdDbSize(Conn& c, Args a);
void CmdFlushAll(Conn& c, Args a);
void CmdKeys(Conn& c, Args a);
void CmdMSetNx(Conn& c, Args a);
void CmdScan(Conn& c, Args a);

}  // namespace ringdb::server
