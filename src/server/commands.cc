// The command table and the keyed commands (their direct siblings are in
// cmd_server.cc). Argument checks follow Redis 7.0 closely, error texts included, so a
// client sees the same replies from ringdb-server as from Redis.
#include "server/commands.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "server/cmd_direct.h"
#include "server/conn.h"
#include "server/keyspace.h"
#include "server/resp.h"

namespace ringdb::server {

bool EqNoCase(std::string_view a, const char* lower) {
  const size_t n = std::strlen(lower);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  }
  return true;
}

namespace {

std::string ExpireTimeError(const char* cmd) {
  return std::string("ERR invalid expire time in '") + cmd + "' command";
}

// The expiry options SET and GETEX share (Redis's parseExtendedStringArgumentsOrReply).
// On error, the error was added to the connection and false returned.
struct StringOpts {
  uint8_t flags = 0;  // Op::kNx kXx kGetOld kKeepTtl
  bool persist = false;
  When when = When::kNone;
  int64_t at = 0;
};

bool ParseStringOpts(Conn& c, Args args, size_t from, bool is_set, const char* cmd, StringOpts* o) {
  enum { kEx = 1, kPx = 2, kExat = 4, kPxat = 8 };
  int unit_flag = 0;
  std::string_view expire_arg;
  for (size_t j = from; j < args.size(); j++) {
    const std::string_view opt = args[j];
    const bool has_next = j + 1 < args.size();
    const bool any_expire = unit_flag != 0;
    if (is_set && EqNoCase(opt, "nx") && !(o->flags & Op::kXx)) {
      o->flags |= Op::kNx;
    } else if (is_set && EqNoCase(opt, "xx") && !(o->flags & Op::kNx)) {
      o->flags |= Op::kXx;
    } else if (is_set && EqNoCase(opt, "get")) {
      o->flags |= Op::kGetOld;
    } else if (is_set && EqNoCase(opt, "keepttl") && !any_expire) {
      o->flags |= Op::kKeepTtl;
    } else if (!is_set && EqNoCase(opt, "persist") && !any_expire) {
      o->persist = true;
    } else if (EqNoCase(opt, "ex") && !(o->flags & Op::kKeepTtl) && !o->persist &&
               (unit_flag & ~kEx) == 0 && has_next) {
      unit_flag = kEx;
      expire_arg = args[++j];
    } else if (EqNoCase(opt, "px") && !(o->flags & Op::kKeepTtl) && !o->persist &&
               (unit_flag & ~kPx) == 0 && has_next) {
      unit_flag = kPx;
      expire_arg = args[++j];
    } else if (EqNoCase(opt, "exat") && !(o->flags & Op::kKeepTtl) && !o->persist &&
               (unit_flag & ~kExat) == 0 && has_next) {
      unit_flag = kExat;
      expire_arg = args[++j];
    } else if (EqNoCase(opt, "pxat") && !(o->flags & Op::kKeepTtl) && !o->persist &&
               (unit_flag & ~kPxat) == 0 && has_next) {
      unit_flag = kPxat;
      expire_arg = args[++j];
    } else {
      c.AddError(kErrSyntax);
      return false;
    }
  }
  if (o->persist) o->when = When::kPersist;
  if (unit_flag == 0) return true;
  int64_t v = 0;
  if (!ParseInt64(expire_arg, &v)) {
    c.AddError(kErrNotInt);
    return false;
  }
  const bool seconds = unit_flag == kEx || unit_flag == kExat;
  if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
    c.AddError(ExpireTimeError(cmd));
    return false;
  }
  if (seconds) v *= 1000;
  if (unit_flag == kEx || unit_flag == kPx) {
    if (v > INT64_MAX - static_cast<int64_t>(c.store()->NowMs())) {
      c.AddError(ExpireTimeError(cmd));
      return false;
    }
    o->when = When::kRelMs;
  } else {
    o->when = When::kAbsMs;
  }
  o->at = v;
  return true;
}

// ---------------------------------------------------------------- strings

void PlanGet(Conn& c, Args a) {
  const uint32_t b = c.ops_planned();
  c.AddOp(OpCode::kGet, a[1]);
  c.AddPlanned(Shape::kOp, b, true);
}

void PlanSet(Conn& c, Args a) {
  StringOpts o;
  if (!ParseStringOpts(c, a, 3, true, "set", &o)) return;
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kSet, a[1]);
  op.val = a[2];
  op.flags = o.flags;
  op.when = o.when;
  op.at = o.at;
  c.AddPlanned(Shape::kOp, b);
}

void PlanSetNx(Conn& c, Args a) {
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kSet, a[1]);
  op.val = a[2];
  op.flags = Op::kNx | Op::kReplyInt;
  c.AddPlanned(Shape::kOp, b);
}

void PlanSetEx(Conn& c, Args a, bool ms, const char* cmd) {
  int64_t v = 0;
  if (!ParseInt64(a[2], &v)) return c.AddError(kErrNotInt);
  if (v <= 0 || (!ms && v > INT64_MAX / 1000)) return c.AddError(ExpireTimeError(cmd));
  if (!ms) v *= 1000;
  if (v > INT64_MAX - static_cast<int64_t>(c.store()->NowMs()))
    return c.AddError(ExpireTimeError(cmd));
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kSet, a[1]);
  op.val = a[3];
  op.when = When::kRelMs;
  op.at = v;
  c.AddPlanned(Shape::kOp, b);
}
void PlanSetEx(Conn& c, Args a) {
  PlanSetEx(c, a, false, "setex");
}
void PlanPSetEx(Conn& c, Args a) {
  PlanSetEx(c, a, true, "psetex");
}

void PlanGetSet(Conn& c, Args a) {
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kSet, a[1]);
  op.val = a[2];
  op.flags = Op::kGetOld;
  c.AddPlanned(Shape::kOp, b);
}

void PlanSimple(Conn& c, Args a, OpCode code, bool hits = false) {
  const uint32_t b = c.ops_planned();
  c.AddOp(code, a[1]);
  c.AddPlanned(Shape::kOp, b, hits);
}
void PlanGetDel(Conn& c, Args a) {
  PlanSimple(c, a, OpCode::kGetDel, true);
}
void PlanStrlen(Conn& c, Args a) {
  PlanSimple(c, a, OpCode::kStrlen);
}
void PlanType(Conn& c, Args a) {
  PlanSimple(c, a, OpCode::kType);
}
void PlanPersist(Conn& c, Args a) {
  PlanSimple(c, a, OpCode::kPersist);
}

void PlanTtl(Conn& c, Args a, OpCode code, bool ms) {
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(code, a[1]);
  if (ms) op.flags = Op::kMs;
  c.AddPlanned(Shape::kOp, b);
}
void PlanTtl(Conn& c, Args a) {
  PlanTtl(c, a, OpCode::kTtl, false);
}
void PlanPTtl(Conn& c, Args a) {
  PlanTtl(c, a, OpCode::kTtl, true);
}
void PlanExpireTime(Conn& c, Args a) {
  PlanTtl(c, a, OpCode::kExpireTime, false);
}
void PlanPExpireTime(Conn& c, Args a) {
  PlanTtl(c, a, OpCode::kExpireTime, true);
}

void PlanGetEx(Conn& c, Args a) {
  StringOpts o;
  if (!ParseStringOpts(c, a, 2, false, "getex", &o)) return;
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kGetEx, a[1]);
  op.when = o.when;
  op.at = o.at;
  c.AddPlanned(Shape::kOp, b, true);
}

void PlanMGet(Conn& c, Args a) {
  const uint32_t b = c.ops_planned();
  for (size_t i = 1; i < a.size(); i++) c.AddOp(OpCode::kGet, a[i]);
  c.AddPlanned(Shape::kArray, b, true);
}

void PlanMSet(Conn& c, Args a) {
  if (a.size() % 2 == 0) return c.AddError(ArityError("mset"));
  const uint32_t b = c.ops_planned();
  for (size_t i = 1; i < a.size(); i += 2) {
    Op& op = c.AddOp(OpCode::kSet, a[i]);
    op.val = a[i + 1];
  }
  c.AddPlanned(Shape::kAllOk, b);
}

void PlanEachKey(Conn& c, Args a, OpCode code) {
  const uint32_t b = c.ops_planned();
  for (size_t i = 1; i < a.size(); i++) c.AddOp(code, a[i]);
  c.AddPlanned(Shape::kSum, b);
}
void PlanDel(Conn& c, Args a) {
  PlanEachKey(c, a, OpCode::kDel);
}
void PlanExists(Conn& c, Args a) {
  PlanEachKey(c, a, OpCode::kExists);
}

void PlanIncrBy(Conn& c, std::string_view key, int64_t delta) {
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kIncrBy, key);
  op.a = delta;
  c.AddPlanned(Shape::kOp, b);
}
void PlanIncr(Conn& c, Args a) {
  PlanIncrBy(c, a[1], 1);
}
void PlanDecr(Conn& c, Args a) {
  PlanIncrBy(c, a[1], -1);
}
void PlanIncrByCmd(Conn& c, Args a) {
  int64_t d = 0;
  if (!ParseInt64(a[2], &d)) return c.AddError(kErrNotInt);
  PlanIncrBy(c, a[1], d);
}
void PlanDecrBy(Conn& c, Args a) {
  int64_t d = 0;
  if (!ParseInt64(a[2], &d)) return c.AddError(kErrNotInt);
  if (d == INT64_MIN) return c.AddError("ERR decrement would overflow");
  PlanIncrBy(c, a[1], -d);
}

void PlanIncrByFloat(Conn& c, Args a) {
  long double f = 0;
  if (!ParseLongDouble(a[2], &f)) return c.AddError(kErrNotFloat);
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kIncrByFloat, a[1]);
  op.f = f;
  c.AddPlanned(Shape::kOp, b);
}

void PlanAppend(Conn& c, Args a) {
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kAppend, a[1]);
  op.val = a[2];
  c.AddPlanned(Shape::kOp, b);
}

void PlanGetRange(Conn& c, Args a) {
  int64_t s = 0, e = 0;
  if (!ParseInt64(a[2], &s) || !ParseInt64(a[3], &e)) return c.AddError(kErrNotInt);
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kGetRange, a[1]);
  op.a = s;
  op.b = e;
  c.AddPlanned(Shape::kOp, b);
}

void PlanSetRange(Conn& c, Args a) {
  int64_t off = 0;
  if (!ParseInt64(a[2], &off)) return c.AddError(kErrNotInt);
  if (off < 0) return c.AddError("ERR offset is out of range");
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kSetRange, a[1]);
  op.a = off;
  op.val = a[3];
  c.AddPlanned(Shape::kOp, b);
}

// EXPIRE family (Redis's expireGenericCommand): unit_ms, absolute.
void PlanExpire(Conn& c, Args a, bool ms, bool absolute) {
  uint8_t flags = 0;
  for (size_t j = 3; j < a.size(); j++) {
    if (EqNoCase(a[j], "nx")) {
      flags |= Op::kNx;
    } else if (EqNoCase(a[j], "xx")) {
      flags |= Op::kXx;
    } else if (EqNoCase(a[j], "gt")) {
      flags |= Op::kGt;
    } else if (EqNoCase(a[j], "lt")) {
      flags |= Op::kLt;
    } else {
      return c.AddError("ERR Unsupported option " + std::string(a[j]));
    }
  }
  if ((flags & Op::kNx) && (flags & (Op::kXx | Op::kGt | Op::kLt)))
    return c.AddError("ERR NX and XX, GT or LT options at the same time are not compatible");
  if ((flags & Op::kGt) && (flags & Op::kLt))
    return c.AddError("ERR GT and LT options at the same time are not compatible");
  int64_t when = 0;
  if (!ParseInt64(a[2], &when)) return c.AddError(kErrNotInt);
  const char* name = absolute ? (ms ? "pexpireat" : "expireat") : (ms ? "pexpire" : "expire");
  if (!ms) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000)
      return c.AddError(ExpireTimeError(name));
    when *= 1000;
  }
  if (!absolute && when > INT64_MAX - static_cast<int64_t>(c.store()->NowMs()))
    return c.AddError(ExpireTimeError(name));
  const uint32_t b = c.ops_planned();
  Op& op = c.AddOp(OpCode::kExpire, a[1]);
  op.flags = flags;
  op.when = absolute ? When::kAbsMs : When::kRelMs;
  op.at = when;
  c.AddPlanned(Shape::kOp, b);
}
void PlanExpireS(Conn& c, Args a) {
  PlanExpire(c, a, false, false);
}
void PlanPExpire(Conn& c, Args a) {
  PlanExpire(c, a, true, false);
}
void PlanExpireAt(Conn& c, Args a) {
  PlanExpire(c, a, false, true);
}
void PlanPExpireAt(Conn& c, Args a) {
  PlanExpire(c, a, true, true);
}

// ---------------------------------------------------------------- the table

// name, arity, flags, first, last, step, plan, direct, no_auth, group, since, summary,
// complexity
const CmdSpec kCommands[] = {
    // strings and keys
    {"append", 3, "write denyoom fast", 1, 1, 1, PlanAppend, nullptr, false, "string", "2.0.0",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)"},
    {"decr", 2, "write denyoom fast", 1, 1, 1, PlanDecr, nullptr, false, "string", "1.0.0",
     "Decrements the integer value of a key by one.", "O(1)"},
    {"decrby", 3, "write denyoom fast", 1, 1, 1, PlanDecrBy, nullptr, false, "string", "1.0.0",
     "Decrements a number from the integer value of a key.", "O(1)"},
    {"del", -2, "write", 1, -1, 1, PlanDel, nullptr, false, "generic", "1.0.0",
     "Deletes one or more keys.", "O(N) where N is the number of keys"},
    {"exists", -2, "readonly fast", 1, -1, 1, PlanExists, nullptr, false, "generic", "1.0.0",
     "Determines whether one or more keys exist.", "O(N) where N is the number of keys"},
    {"expire", -3, "write fast", 1, 1, 1, PlanExpireS, nullptr, false, "generic", "1.0.0",
     "Sets the expiration time of a key in seconds.", "O(1)"},
    {"expireat", -3, "write fast", 1, 1, 1, PlanExpireAt, nullptr, false, "generic", "1.2.0",
     "Sets the expiration time of a key to a Unix timestamp.", "O(1)"},
    {"expiretime", 2, "readonly fast", 1, 1, 1, PlanExpireTime, nullptr, false, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix timestamp.", "O(1)"},
    {"get", 2, "readonly fast", 1, 1, 1, PlanGet, nullptr, false, "string", "1.0.0",
     "Returns the string value of a key.", "O(1)"},
    {"getdel", 2, "write fast", 1, 1, 1, PlanGetDel, nullptr, false, "string", "6.2.0",
     "Returns the string value of a key after deleting the key.", "O(1)"},
    {"getex", -2, "write fast", 1, 1, 1, PlanGetEx, nullptr, false, "string", "6.2.0",
     "Returns the string value of a key after setting its expiration time.", "O(1)"},
    {"getrange", 4, "readonly", 1, 1, 1, PlanGetRange, nullptr, false, "string", "2.4.0",
     "Returns a substring of the string stored at a key.", "O(N)"},
    {"getset", 3, "write denyoom fast", 1, 1, 1, PlanGetSet, nullptr, false, "string", "1.0.0",
     "Returns the previous string value of a key after setting it to a new value.", "O(1)"},
    {"incr", 2, "write denyoom fast", 1, 1, 1, PlanIncr, nullptr, false, "string", "1.0.0",
     "Increments the integer value of a key by one.", "O(1)"},
    {"incrby", 3, "write denyoom fast", 1, 1, 1, PlanIncrByCmd, nullptr, false, "string", "1.0.0",
     "Increments the integer value of a key by a number.", "O(1)"},
    {"incrbyfloat", 3, "write denyoom fast", 1, 1, 1, PlanIncrByFloat, nullptr, false, "string",
     "2.6.0", "Increment the floating point value of a key by a number.", "O(1)"},
    {"keys", 2, "readonly", 0, 0, 0, nullptr, CmdKeys, false, "generic", "1.0.0",
     "Returns all key names that match a pattern.", "O(N)"},
    {"mget", -2, "readonly fast", 1, -1, 1, PlanMGet, nullptr, false, "string", "1.0.0",
     "Atomically returns the string values of one or more keys.", "O(N)"},
    {"mset", -3, "write denyoom", 1, -1, 2, PlanMSet, nullptr, false, "string", "1.0.1",
     "Atomically creates or modifies the string values of one or more keys.", "O(N)"},
    {"msetnx", -3, "write denyoom", 1, -1, 2, nullptr, CmdMSetNx, false, "string", "1.0.1",
     "Atomically modifies the string values of one or more keys only when all keys don't "
     "exist.",
     "O(N)"},
    {"persist", 2, "write fast", 1, 1, 1, PlanPersist, nullptr, false, "generic", "2.2.0",
     "Removes the expiration time of a key.", "O(1)"},
    {"pexpire", -3, "write fast", 1, 1, 1, PlanPExpire, nullptr, false, "generic", "2.6.0",
     "Sets the expiration time of a key in milliseconds.", "O(1)"},
    {"pexpireat", -3, "write fast", 1, 1, 1, PlanPExpireAt, nullptr, false, "generic", "2.6.0",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)"},
    {"pexpiretime", 2, "readonly fast", 1, 1, 1, PlanPExpireTime, nullptr, false, "generic",
     "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)"},
    {"psetex", 4, "write denyoom", 1, 1, 1, PlanPSetEx, nullptr, false, "string", "2.6.0",
     "Sets both string value and expiration time in milliseconds of a key.", "O(1)"},
    {"pttl", 2, "readonly fast", 1, 1, 1, PlanPTtl, nullptr, false, "generic", "2.6.0",
     "Returns the expiration time in milliseconds of a key.", "O(1)"},
    {"scan", -2, "readonly", 0, 0, 0, nullptr, CmdScan, false, "generic", "2.8.0",
     "Iterates over the key names in the database, in key order.", "O(1) per call"},
    {"set", -3, "write denyoom", 1, 1, 1, PlanSet, nullptr, false, "string", "1.0.0",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't "
     "exist.",
     "O(1)"},
    {"setex", 4, "write denyoom", 1, 1, 1, PlanSetEx, nullptr, false, "string", "2.0.0",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't "
     "exist.",
     "O(1)"},
    {"setnx", 3, "write denyoom fast", 1, 1, 1, PlanSetNx, nullptr, false, "string", "1.0.0",
     "Set the string value of a key only when the key doesn't exist.", "O(1)"},
    {"setrange", 4, "write denyoom", 1, 1, 1, PlanSetRange, nullptr, false, "string", "2.2.0",
     "Overwrites a part of a string value with another by an offset.", "O(1)"},
    {"strlen", 2, "readonly fast", 1, 1, 1, PlanStrlen, nullptr, false, "string", "2.2.0",
     "Returns the length of a string value.", "O(1)"},
    {"substr", 4, "readonly", 1, 1, 1, PlanGetRange, nullptr, false, "string", "1.0.0",
     "Returns a substring from a string value.", "O(N)"},
    {"ttl", 2, "readonly fast", 1, 1, 1, PlanTtl, nullptr, false, "generic", "1.0.0",
     "Returns the expiration time in seconds of a key.", "O(1)"},
    {"type", 2, "readonly fast", 1, 1, 1, PlanType, nullptr, false, "generic", "1.0.0",
     "Determines the type of value stored at a key.", "O(1)"},
    {"unlink", -2, "write fast", 1, -1, 1, PlanDel, nullptr, false, "generic", "4.0.0",
     "Asynchronously deletes one or more keys.", "O(N)"},
    // server and connection
    {"auth", -2, "noscript loading stale fast no_auth", 0, 0, 0, nullptr, CmdAuth, true,
     "connection", "1.0.0", "Authenticates the connection.", "O(N)"},
    {"client", -2, "", 0, 0, 0, nullptr, CmdClient, false, "connection", "2.4.0",
     "A container for client connection commands.", "Depends on subcommand."},
    {"command", -1, "loading stale", 0, 0, 0, nullptr, CmdCommand, false, "server", "2.8.13",
     "Returns detailed information about all commands.", "O(N)"},
    {"config", -2, "", 0, 0, 0, nullptr, CmdConfig, false, "server", "2.0.0",
     "A container for server configuration commands.", "Depends on subcommand."},
    {"dbsize", 1, "readonly fast", 0, 0, 0, nullptr, CmdDbSize, false, "server", "1.0.0",
     "Returns the number of keys in the database.", "O(N) (a scan of the store)"},
    {"echo", 2, "fast", 0, 0, 0, nullptr, CmdEcho, false, "connection", "1.0.0",
     "Returns the given string.", "O(1)"},
    {"flushall", -1, "write", 0, 0, 0, nullptr, CmdFlushAll, false, "server", "1.0.0",
     "Removes all keys from all databases.", "O(N)"},
    {"flushdb", -1, "write", 0, 0, 0, nullptr, CmdFlushAll, false, "server", "1.0.0",
     "Remove all keys from the current database.", "O(N)"},
    {"hello", -1, "noscript loading stale fast no_auth", 0, 0, 0, nullptr, CmdHello, true,
     "connection", "6.0.0", "Handshakes with the Redis server.", "O(1)"},
    {"info", -1, "loading stale", 0, 0, 0, nullptr, CmdInfo, false, "server", "1.0.0",
     "Returns information and statistics about the server.", "O(1)"},
    {"ping", -1, "fast", 0, 0, 0, nullptr, CmdPing, false, "connection", "1.0.0",
     "Returns the server's liveliness response.", "O(1)"},
    {"quit", -1, "noscript loading stale fast no_auth", 0, 0, 0, nullptr, CmdQuit, true,
     "connection", "1.0.0", "Closes the connection.", "O(1)"},
    {"select", 2, "loading stale fast", 0, 0, 0, nullptr, CmdSelect, false, "connection", "1.0.0",
     "Changes the selected database (only 0 exists).", "O(1)"},
    {"shutdown", -1, "admin noscript loading stale", 0, 0, 0, nullptr, CmdShutdown, false, "server",
     "1.0.0", "Stops the server after closing the store cleanly.", "O(N)"},
    {"time", 1, "loading stale fast", 0, 0, 0, nullptr, CmdTime, false, "server", "2.6.0",
     "Returns the server time.", "O(1)"},
};

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

const CmdSpec* FindCommand(std::string_view name) {
  // The names sorted once, then a binary search on the lower-cased name.
  static const std::vector<std::pair<std::string_view, const CmdSpec*>> index = [] {
    std::vector<std::pair<std::string_view, const CmdSpec*>> v;
    for (const CmdSpec& c : kCommands) v.emplace_back(c.name, &c);
    std::sort(v.begin(), v.end());
    return v;
  }();
  char buf[32];
  if (name.size() >= sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); i++) buf[i] = Lower(name[i]);
  const std::string_view lower(buf, name.size());
  auto it = std::lower_bound(index.begin(), index.end(), lower,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  return it != index.end() && it->first == lower ? it->second : nullptr;
}

std::span<const CmdSpec> AllCommands() {
  return kCommands;
}

std::string UnknownCommandError(Args args) {
  std::string a;
  for (size_t i = 1; i < args.size() && a.size() < 128; i++) {
    const size_t room = 128 - a.size();
    a += "'";
    a.append(args[i].substr(0, room));
    a += "' ";
  }
  std::string cmd(args[0].substr(0, 128));
  return "ERR unknown command '" + cmd + "', with args beginning with: " + a;
}

std::string ArityError(std::string_view name) {
  return "ERR wrong number of arguments for '" + std::string(name) + "' command";
}

}  // namespace ringdb::server
