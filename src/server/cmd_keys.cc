// Commands over the whole keyspace or over keys of several shards with a condition:
// DBSIZE, FLUSHALL/FLUSHDB, KEYS, SCAN, MSETNX. They run in the connection's fiber
// and reach every shard at once through Store::RunAll.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <string>
#include <unordered_set>
#include <vector>

#include "server/cmd_direct.h"
#include "server/conn.h"
#include "server/glob.h"
#include "server/keyspace.h"
#include "server/server.h"

namespace ringdb::server {

namespace {

// Runs f(shard) on every shard (each on its own thread, all at once) and returns when
// all have returned.
template <class F>
void ForEachShard(Store* st, F&& f) {
  using Fn = std::remove_reference_t<F>;
  struct Arg {
    Fn* f;
    uint32_t shard;
  };
  const uint32_t n = st->shard_count();
  std::vector<Arg> args(n);
  std::vector<ShardCall> calls(n);
  for (uint32_t i = 0; i < n; i++) {
    args[i] = {&f, i};
    calls[i].shard = i;
    calls[i].arg = &args[i];
    calls[i].fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      (*a->f)(a->shard);
    };
  }
  st->RunAll(calls.data(), calls.size());
}

// Runs f() on one shard.
template <class F>
void OnShard(Store* st, uint32_t shard, F&& f) {
  using Fn = std::remove_reference_t<F>;
  ShardCall call;
  call.shard = shard;
  call.arg = &f;
  call.fn = [](void* p) { (*static_cast<Fn*>(p))(); };
  st->RunAll(&call, 1);
}

// Runs ops (any shards) as the keyed commands do: one list per shard, all at once.
void RunOps(Conn& c, std::vector<Op>& ops) {
  const uint32_t n = c.store()->shard_count();
  std::vector<std::vector<Op*>> lists(n);
  for (Op& op : ops) lists[op.shard].push_back(&op);
  Server* server = c.server();
  ForEachShard(c.store(), [&lists, server](uint32_t sh) {
    if (!lists[sh].empty()) server->shard(sh)->keyspace().Run(lists[sh].data(), lists[sh].size());
  });
}

Op MakeOp(Conn& c, OpCode code, std::string_view key) {
  Op op;
  op.code = code;
  op.key = key;
  op.shard = c.store()->ShardOf(key);
  op.hash = KeyHash(key);
  return op;
}

// The `want` smallest keys over every shard's sorted chunk, in order (moved out of the
// chunks); pos[i]: how many of chunk i were taken.
std::vector<std::string> TakeSmallest(std::vector<std::vector<std::string>>& chunks, size_t want,
                                      std::vector<size_t>* pos) {
  std::vector<std::string> taken;
  while (taken.size() < want) {
    size_t best = chunks.size();
    for (size_t i = 0; i < chunks.size(); i++) {
      if ((*pos)[i] < chunks[i].size() &&
          (best == chunks.size() || chunks[i][(*pos)[i]] < chunks[best][(*pos)[best]])) {
        best = i;
      }
    }
    if (best == chunks.size()) break;
    taken.push_back(std::move(chunks[best][(*pos)[best]++]));
  }
  return taken;
}

}  // namespace

void CmdDbSize(Conn& c, Args) {
  std::vector<uint64_t> keys(c.store()->shard_count()), with_deadline(keys.size()),
      ttl_sum(keys.size());
  std::vector<Status> st(keys.size());
  Store* store = c.store();
  ForEachShard(store, [&](uint32_t sh) {
    st[sh] = store->CountLocal(&keys[sh], &with_deadline[sh], &ttl_sum[sh]);
  });
  uint64_t total = 0;
  for (size_t i = 0; i < keys.size(); i++) {
    if (!st[i].ok()) return c.reply().Error("ERR " + st[i].ToString());
    total += keys[i];
  }
  c.reply().Int(static_cast<int64_t>(total));
}

void CmdFlushAll(Conn& c, Args a) {
  if (a.size() > 2 || (a.size() == 2 && !EqNoCase(a[1], "sync") && !EqNoCase(a[1], "async"))) {
    return c.reply().Error(kErrSyntax);
  }
  std::vector<Status> st(c.store()->shard_count());
  Server* server = c.server();
  ForEachShard(c.store(), [&](uint32_t sh) { st[sh] = server->shard(sh)->keyspace().FlushAll(); });
  for (const Status& s : st) {
    if (!s.ok()) return c.reply().Error("ERR " + s.ToString());
  }
  c.reply().Ok();
}

void CmdKeys(Conn& c, Args a) {
  const std::string pattern(a[1]);
  Store* store = c.store();
  std::vector<std::vector<std::string>> found(store->shard_count());
  std::vector<Status> st(found.size());
  ForEachShard(store, [&](uint32_t sh) {
    std::vector<std::string> chunk;
    std::string after;
    bool first = true, end = false;
    while (!end) {
      Status s = store->ScanLocal(after, first, 1024, &chunk, &end);
      if (!s.ok()) {
        st[sh] = s;
        return;
      }
      if (chunk.empty()) break;
      after = chunk.back();
      first = false;
      for (std::string& k : chunk) {
        if (GlobMatch(pattern, k)) found[sh].push_back(std::move(k));
      }
    }
  });
  std::vector<std::string> all;
  for (size_t i = 0; i < found.size(); i++) {
    if (!st[i].ok()) return c.reply().Error("ERR " + st[i].ToString());
    for (std::string& k : found[i]) all.push_back(std::move(k));
  }
  std::sort(all.begin(), all.end());
  c.reply().Array(all.size());
  for (const std::string& k : all) c.reply().Bulk(k);
}

void CmdScan(Conn& c, Args a) {
  // The cursor: 0 starts; otherwise it names the last key returned, kept by the shard
  // that handed it out (its number in the low 8 bits) for a while.
  const std::string cur_text(a[1]);
  char* end = nullptr;
  errno = 0;
  const unsigned long long cursor = std::strtoull(cur_text.c_str(), &end, 10);
  if (cur_text.empty() || std::isspace(static_cast<unsigned char>(cur_text[0])) || *end != '\0' ||
      errno == ERANGE || cur_text[0] == '-') {
    return c.reply().Error("ERR invalid cursor");
  }
  int64_t count = 10;
  std::string_view pattern;
  bool use_pattern = false, type_none = false;
  for (size_t i = 2; i < a.size();) {
    const size_t left = a.size() - i;
    if (EqNoCase(a[i], "count") && left >= 2) {
      if (!ParseInt64(a[i + 1], &count)) return c.reply().Error(kErrNotInt);
      if (count < 1) return c.reply().Error(kErrSyntax);
      i += 2;
    } else if (EqNoCase(a[i], "match") && left >= 2) {
      pattern = a[i + 1];
      use_pattern = pattern != "*";
      i += 2;
    } else if (EqNoCase(a[i], "type") && left >= 2) {
      type_none = !EqNoCase(a[i + 1], "string");  // every key is a string
      i += 2;
    } else {
      return c.reply().Error(kErrSyntax);
    }
  }
  Store* store = c.store();
  Server* server = c.server();
  std::string after;
  const bool first = cursor == 0;
  if (!first) {
    const uint32_t home = static_cast<uint32_t>(cursor & 0xff);
    bool ok = false;
    if (home < store->shard_count()) {
      OnShard(store, home, [&] { ok = server->shard(home)->LoadCursor(cursor, &after); });
    }
    if (!ok) return c.reply().Error("ERR invalid cursor");
  }
  const size_t want = static_cast<size_t>(std::min<int64_t>(count, 100000));
  std::vector<std::vector<std::string>> chunks(store->shard_count());
  std::vector<uint8_t> ended(chunks.size());
  std::vector<Status> st(chunks.size());
  ForEachShard(store, [&](uint32_t sh) {
    bool e = false;
    st[sh] = store->ScanLocal(after, first, want, &chunks[sh], &e);
    ended[sh] = e;
  });
  for (const Status& s : st) {
    if (!s.ok()) return c.reply().Error("ERR " + s.ToString());
  }
  std::vector<size_t> pos(chunks.size(), 0);
  std::vector<std::string> taken = TakeSmallest(chunks, want, &pos);
  bool more = false;
  for (size_t i = 0; i < chunks.size(); i++) more |= pos[i] < chunks[i].size() || !ended[i];
  uint64_t next = 0;
  if (more && !taken.empty()) {
    const uint32_t self = c.shard()->shard();
    next = server->shard(self)->SaveCursor(taken.back());
  }
  std::vector<const std::string*> out;
  for (const std::string& k : taken) {
    if (type_none) continue;
    if (use_pattern && !GlobMatch(pattern, k)) continue;
    out.push_back(&k);
  }
  c.reply().Array(2);
  c.reply().Bulk(std::to_string(next));
  c.reply().Array(out.size());
  for (const std::string* k : out) c.reply().Bulk(*k);
}

void CmdMSetNx(Conn& c, Args a) {
  if (a.size() % 2 == 0) return c.reply().Error(ArityError("msetnx"));
  // Phase 1: does any key exist? Phase 2: set each key if still absent. Atomic per
  // shard only: a client creating one of the keys between the phases makes the reply
  // 0 while the other shards' keys are set (docs/server.md).
  std::vector<Op> ops;
  for (size_t i = 1; i < a.size(); i += 2) ops.push_back(MakeOp(c, OpCode::kExists, a[i]));
  RunOps(c, ops);
  for (const Op& op : ops) {
    if (op.kind == ResultKind::kError) {
      return c.reply().Error(op.err != nullptr ? std::string_view(op.err) : op.s);
    }
    if (op.i != 0) return c.reply().Int(0);
  }
  ops.clear();
  // A key given twice takes its last value, as in Redis.
  std::unordered_set<std::string_view> seen;
  for (size_t i = a.size() - 1; i >= 2; i -= 2) {
    const std::string_view key = a[i - 1];
    if (!seen.insert(key).second) continue;
    Op op = MakeOp(c, OpCode::kSet, key);
    op.val = a[i];
    op.flags = Op::kNx | Op::kReplyInt;
    ops.push_back(std::move(op));
  }
  RunOps(c, ops);
  int64_t all = 1;
  for (const Op& op : ops) {
    if (op.kind == ResultKind::kError) {
      return c.reply().Error(op.err != nullptr ? std::string_view(op.err) : op.s);
    }
    if (op.i == 0) all = 0;
  }
  c.reply().Int(all);
}

}  // namespace ringdb::server
