// Connection and server commands: PING, ECHO, QUIT, AUTH, HELLO, SELECT, CLIENT,
// CONFIG, COMMAND, INFO, SHUTDOWN, TIME. Replies and errors worded like Redis 7.0.
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "server/cmd_direct.h"
#include "server/conn.h"
#include "server/info.h"
#include "server/keyspace.h"
#include "server/server.h"
#include "util/log.h"

namespace ringdb::server {

namespace {

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return u;
}

void SubcommandError(Conn& c, Args a) {
  c.reply().Error("ERR unknown subcommand '" + std::string(a[1].substr(0, 128)) + "'. Try " +
                  Upper(a[0]) + " HELP.");
}

void HelpReply(Conn& c, std::string_view cmd, const std::vector<const char*>& lines) {
  c.reply().Array(lines.size() + 2);
  c.reply().Simple(Upper(cmd) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  for (const char* l : lines) c.reply().Simple(l);
  c.reply().Simple("HELP");
  // Redis ends with "    Print this help." as part of the HELP entry.
}

constexpr const char* kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

// Redis's validateClientName: printable ASCII without spaces.
bool ValidClientName(std::string_view n) {
  for (char ch : n) {
    if (ch < '!' || ch > '~') return false;
  }
  return true;
}
constexpr const char* kBadName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

}  // namespace

// ---------------------------------------------------------------- connection

void CmdPing(Conn& c, Args a) {
  if (a.size() > 2) return c.reply().Error(ArityError("ping"));
  if (a.size() == 2) return c.reply().Bulk(a[1]);
  c.reply().Simple("PONG");
}

void CmdEcho(Conn& c, Args a) {
  c.reply().Bulk(a[1]);
}

void CmdQuit(Conn& c, Args) {
  c.reply().Ok();
  c.CloseAfterReply();
}

void CmdAuth(Conn& c, Args a) {
  if (a.size() > 3) return c.reply().Error(kErrSyntax);
  Server* s = c.server();
  if (a.size() == 2) {
    if (!s->auth_required()) {
      return c.reply().Error(
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    }
    if (!s->CheckPassword(a[1])) return c.reply().Error(kWrongPass);
  } else {
    // AUTH <username> <password>: only the default user exists.
    if (a[1] != "default" || (s->auth_required() && !s->CheckPassword(a[2])))
      return c.reply().Error(kWrongPass);
  }
  c.set_authenticated(true);
  c.reply().Ok();
}

void CmdHello(Conn& c, Args a) {
  int64_t ver = 0;
  size_t next = 1;
  if (a.size() >= 2) {
    if (!ParseInt64(a[1], &ver))
      return c.reply().Error("ERR Protocol version is not an integer or out of range");
    next = 2;
    if (ver < 2 || ver > 3) return c.reply().Error("NOPROTO unsupported protocol version");
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  for (size_t j = next; j < a.size(); j++) {
    const size_t more = a.size() - 1 - j;
    if (EqNoCase(a[j], "auth") && more >= 2) {
      user = a[j + 1];
      pass = a[j + 2];
      has_auth = true;
      j += 2;
    } else if (EqNoCase(a[j], "setname") && more >= 1) {
      name = a[j + 1];
      if (!ValidClientName(name)) return c.reply().Error(kBadName);
      has_name = true;
      j++;
    } else {
      return c.reply().Error("ERR Syntax error in HELLO option '" + std::string(a[j]) + "'");
    }
  }
  Server* s = c.server();
  if (has_auth) {
    if (user != "default" || (s->auth_required() && !s->CheckPassword(pass)))
      return c.reply().Error(kWrongPass);
    c.set_authenticated(true);
  }
  if (s->auth_required() && !c.authenticated()) {
    return c.reply().Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (has_name) c.set_name(std::string(name));
  if (ver != 0) c.set_proto(static_cast<int>(ver));
  Reply& r = c.reply();
  r.Map(7);
  r.Bulk("server");
  r.Bulk("ringdb");
  r.Bulk("version");
  r.Bulk(kRedisCompatVersion);
  r.Bulk("proto");
  r.Int(c.proto());
  r.Bulk("id");
  r.Int(static_cast<int64_t>(c.id()));
  r.Bulk("mode");
  r.Bulk("standalone");
  r.Bulk("role");
  r.Bulk("master");
  r.Bulk("modules");
  r.Array(0);
}

void CmdSelect(Conn& c, Args a) {
  int64_t db = 0;
  if (!ParseInt64(a[1], &db) || db < INT32_MIN || db > INT32_MAX)
    return c.reply().Error(kErrNotInt);
  if (db != 0) return c.reply().Error("ERR DB index is out of range");
  c.reply().Ok();
}

namespace {

// One CLIENT LIST line for c (on c's shard).
std::string ClientLine(const Conn& c, uint64_t now_ms) {
  const uint64_t age = (now_ms - std::min(now_ms, c.created_ms())) / 1000;
  const uint64_t idle = (now_ms - std::min(now_ms, c.last_active_ms())) / 1000;
  return "id=" + std::to_string(c.id()) + " addr=" + c.peer() + " name=" + c.name() +
         " age=" + std::to_string(age) + " idle=" + std::to_string(idle) +
         " flags=N db=0 sub=0 psub=0 multi=-1 cmd=" + std::string(c.last_command()) +
         " user=default resp=" + std::to_string(c.proto()) +
         " shard=" + std::to_string(c.shard()->shard()) + "\n";
}

// CLIENT LIST of every shard (each lists its own connections on its thread).
std::string ListClients(Conn& c, uint64_t only_id) {
  Store* store = c.store();
  Server* server = c.server();
  const uint32_t n = store->shard_count();
  std::vector<std::string> parts(n);
  std::vector<ShardCall> calls(n);
  struct Arg {
    Server* server;
    uint32_t shard;
    uint64_t only_id;
    std::string* out;
    uint64_t now_ms;
  };
  std::vector<Arg> args(n);
  const uint64_t now = store->NowMs();
  for (uint32_t i = 0; i < n; i++) {
    args[i] = {server, i, only_id, &parts[i], now};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* g = static_cast<Arg*>(p);
      for (Conn* x = g->server->shard(g->shard)->conns(); x != nullptr; x = x->next) {
        if (g->only_id == 0 || x->id() == g->only_id) *g->out += ClientLine(*x, g->now_ms);
      }
    };
  }
  store->RunAll(calls.data(), calls.size());
  std::string all;
  for (const std::string& p : parts) all += p;
  return all;
}

// Kills the connections matching id (or addr); returns how many.
int64_t KillClients(Conn& c, uint64_t id, std::string_view addr, bool skip_me) {
  Store* store = c.store();
  Server* server = c.server();
  const uint32_t n = store->shard_count();
  std::vector<int64_t> killed(n, 0);
  std::vector<ShardCall> calls(n);
  struct Arg {
    Server* server;
    uint32_t shard;
    uint64_t id;
    std::string_view addr;
    uint64_t me;
    int64_t* killed;
  };
  std::vector<Arg> args(n);
  for (uint32_t i = 0; i < n; i++) {
    args[i] = {server, i, id, addr, skip_me ? c.id() : 0, &killed[i]};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* g = static_cast<Arg*>(p);
      for (Conn* x = g->server->shard(g->shard)->conns(); x != nullptr; x = x->next) {
        if (g->me != 0 && x->id() == g->me) continue;
        if ((g->id != 0 && x->id() == g->id) || (!g->addr.empty() && x->peer() == g->addr)) {
          x->Kill();
          ++*g->killed;
        }
      }
    };
  }
  store->RunAll(calls.data(), calls.size());
  int64_t total = 0;
  for (int64_t k : killed) total += k;
  return total;
}

}  // namespace

void CmdClient(Conn& c, Args a) {
  Reply& r = c.reply();
  const std::string_view sub = a[1];
  if (EqNoCase(sub, "id") && a.size() == 2) return r.Int(static_cast<int64_t>(c.id()));
  if (EqNoCase(sub, "getname") && a.size() == 2) {
    if (c.name().empty()) return r.Null();
    return r.Bulk(c.name());
  }
  if (EqNoCase(sub, "setname") && a.size() == 3) {
    if (!ValidClientName(a[2])) return r.Error(kBadName);
    c.set_name(std::string(a[2]));
    return r.Ok();
  }
  if (EqNoCase(sub, "setinfo") && a.size() == 4) return r.Ok();  // lib-name / lib-ver
  if ((EqNoCase(sub, "no-evict") || EqNoCase(sub, "no-touch")) && a.size() == 3) return r.Ok();
  if (EqNoCase(sub, "info") && a.size() == 2) return r.Verbatim(ListClients(c, c.id()));
  if (EqNoCase(sub, "list")) {
    if (a.size() != 2 && !(a.size() == 4 && EqNoCase(a[2], "type") && EqNoCase(a[3], "normal")))
      return r.Error(kErrSyntax);
    return r.Verbatim(ListClients(c, 0));
  }
  if (EqNoCase(sub, "kill")) {
    if (a.size() == 3) {  // the old form: CLIENT KILL addr:port
      if (KillClients(c, 0, a[2], false) == 0) return r.Error("ERR No such client");
      return r.Ok();
    }
    uint64_t id = 0;
    std::string_view addr;
    bool skip_me = true;
    if (a.size() % 2 != 0) return r.Error(kErrSyntax);
    for (size_t i = 2; i + 1 < a.size(); i += 2) {
      int64_t v = 0;
      if (EqNoCase(a[i], "id")) {
        if (!ParseInt64(a[i + 1], &v) || v <= 0)
          return r.Error("ERR client-id should be greater than 0");
        id = static_cast<uint64_t>(v);
      } else if (EqNoCase(a[i], "addr")) {
        addr = a[i + 1];
      } else if (EqNoCase(a[i], "skipme")) {
        skip_me = !EqNoCase(a[i + 1], "no");
      } else {
        return r.Error(kErrSyntax);
      }
    }
    return r.Int(KillClients(c, id, addr, skip_me));
  }
  if (EqNoCase(sub, "help")) {
    return HelpReply(
        c, "client",
        {"ID", "    Return the ID of the current connection.", "GETNAME",
         "    Return the name of the current connection.", "SETNAME <name>",
         "    Assign the name <name> to the current connection.", "LIST",
         "    Return information about client connections.", "INFO",
         "    Return information about the current client connection.",
         "KILL <ip:port> | ID <id> | ADDR <ip:port> [SKIPME yes|no]", "    Kill connections."});
  }
  SubcommandError(c, a);
}

// ---------------------------------------------------------------- server

void CmdTime(Conn& c, Args) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  c.reply().Array(2);
  c.reply().Bulk(std::to_string(tv.tv_sec));
  c.reply().Bulk(std::to_string(tv.tv_usec));
}

void CmdShutdown(Conn& c, Args a) {
  for (size_t i = 1; i < a.size(); i++) {
    if (EqNoCase(a[i], "abort")) return c.reply().Error("ERR No shutdown in progress.");
    if (!EqNoCase(a[i], "nosave") && !EqNoCase(a[i], "save") && !EqNoCase(a[i], "now") &&
        !EqNoCase(a[i], "force")) {
      return c.reply().Error(kErrSyntax);
    }
  }
  RINGDB_LOG_WARN("server: SHUTDOWN requested by client %s; closing the store", c.peer().c_str());
  c.server()->RequestStop();
  c.CloseNow();  // Redis sends no reply: the connection just closes
}

void CmdConfig(Conn& c, Args a) {
  Reply& r = c.reply();
  const std::string_view sub = a[1];
  Server* s = c.server();
  if (EqNoCase(sub, "get") && a.size() >= 3) {
    const ServerConfig cfg = s->config();
    std::vector<std::pair<std::string, std::string>> all;
    for (size_t i = 2; i < a.size(); i++) {
      for (auto& kv : GetOptions(cfg, a[i])) {
        if (std::none_of(all.begin(), all.end(), [&](auto& x) { return x.first == kv.first; }))
          all.push_back(std::move(kv));
      }
    }
    r.Map(all.size());
    for (const auto& kv : all) {
      r.Bulk(kv.first);
      r.Bulk(kv.second);
    }
    return;
  }
  if (EqNoCase(sub, "set") && a.size() >= 4 && a.size() % 2 == 0) {
    for (size_t i = 2; i + 1 < a.size(); i += 2) {
      Status st = s->ConfigSet(a[i], a[i + 1]);
      if (st.IsNotFound()) {
        return r.Error("ERR Unknown option or number of arguments for CONFIG SET - '" +
                       std::string(a[i]) + "'");
      }
      if (!st.ok()) {
        return r.Error("ERR CONFIG SET failed (possibly related to argument '" + std::string(a[i]) +
                       "') - " + st.ToString());
      }
    }
    return r.Ok();
  }
  if (EqNoCase(sub, "set") && a.size() >= 3) return r.Error(ArityError("config|set"));
  if (EqNoCase(sub, "get") && a.size() < 3) return r.Error(ArityError("config|get"));
  if (EqNoCase(sub, "resetstat") && a.size() == 2) return r.Ok();
  if (EqNoCase(sub, "rewrite") && a.size() == 2) {
    return r.Error("ERR CONFIG REWRITE is not supported: edit the config file instead");
  }
  if (EqNoCase(sub, "help")) {
    return HelpReply(
        c, "config",
        {"GET <pattern>",
         "    Return parameters matching the glob-like <pattern> and their values.",
         "SET <directive> <value>", "    Set the configuration <directive> to <value>."});
  }
  SubcommandError(c, a);
}

namespace {

// COMMAND's reply for one command (Redis 7 layout, ten fields).
void CommandInfo(Reply& r, const CmdSpec& s) {
  r.Array(10);
  r.Bulk(s.name);
  r.Int(s.arity);
  std::vector<std::string> flags;
  std::string f = s.flags;
  for (size_t i = 0; i < f.size();) {
    size_t j = f.find(' ', i);
    if (j == std::string::npos) j = f.size();
    if (j > i) flags.push_back(f.substr(i, j - i));
    i = j + 1;
  }
  r.Set(flags.size());
  for (const std::string& x : flags) r.Simple(x);
  r.Int(s.first_key);
  r.Int(s.last_key);
  r.Int(s.step);
  std::vector<std::string> acl;
  const std::string group = s.group;
  if (group == "string") acl.push_back("@string");
  if (group == "generic") acl.push_back("@keyspace");
  if (group == "connection") acl.push_back("@connection");
  if (group == "server") acl.push_back("@admin");
  if (f.find("write") != std::string::npos) acl.push_back("@write");
  if (f.find("readonly") != std::string::npos) acl.push_back("@read");
  acl.push_back(f.find("fast") != std::string::npos ? "@fast" : "@slow");
  r.Set(acl.size());
  for (const std::string& x : acl) r.Simple(x);
  r.Array(0);  // tips
  r.Array(0);  // key specs (first/last/step above say where the keys are)
  r.Array(0);  // subcommands
}

void CommandDoc(Reply& r, const CmdSpec& s) {
  r.Bulk(s.name);
  r.Map(4);
  r.Bulk("summary");
  r.Bulk(s.summary);
  r.Bulk("since");
  r.Bulk(s.since);
  r.Bulk("group");
  r.Bulk(s.group);
  r.Bulk("complexity");
  r.Bulk(s.complexity);
}

}  // namespace

void CmdCommand(Conn& c, Args a) {
  Reply& r = c.reply();
  const auto all = AllCommands();
  if (a.size() == 1) {
    r.Array(all.size());
    for (const CmdSpec& s : all) CommandInfo(r, s);
    return;
  }
  const std::string_view sub = a[1];
  if (EqNoCase(sub, "count") && a.size() == 2) return r.Int(static_cast<int64_t>(all.size()));
  if (EqNoCase(sub, "list") && a.size() == 2) {
    r.Array(all.size());
    for (const CmdSpec& s : all) r.Bulk(s.name);
    return;
  }
  if (EqNoCase(sub, "info")) {
    if (a.size() == 2) {
      r.Array(all.size());
      for (const CmdSpec& s : all) CommandInfo(r, s);
      return;
    }
    r.Array(a.size() - 2);
    for (size_t i = 2; i < a.size(); i++) {
      const CmdSpec* s = FindCommand(a[i]);
      if (s == nullptr) {
        r.NullArray();
      } else {
        CommandInfo(r, *s);
      }
    }
    return;
  }
  if (EqNoCase(sub, "docs")) {
    std::vector<const CmdSpec*> which;
    if (a.size() == 2) {
      for (const CmdSpec& s : all) which.push_back(&s);
    } else {
      for (size_t i = 2; i < a.size(); i++) {
        if (const CmdSpec* s = FindCommand(a[i])) which.push_back(s);
      }
    }
    r.Map(which.size());
    for (const CmdSpec* s : which) CommandDoc(r, *s);
    return;
  }
  if (EqNoCase(sub, "help")) {
    return HelpReply(
        c, "command",
        {"(no subcommand)", "    Return details about all commands.", "COUNT",
         "    Return the total number of commands.", "DOCS [<command-name> ...]",
         "    Return documentary information about commands.", "INFO [<command-name> ...]",
         "    Return details about the given commands, or all of them.", "LIST",
         "    Return the names of all commands."});
  }
  SubcommandError(c, a);
}

void CmdInfo(Conn& c, Args a) {
  std::vector<std::string> sections;
  for (size_t i = 1; i < a.size(); i++) {
    std::string s(a[i]);
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    sections.push_back(s);
  }
  c.reply().Verbatim(RenderInfo(c, sections));
}

}  // namespace ringdb::server
