#include "server/conn.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/reactor.h"
#include "server/commands.h"
#include "server/keyspace.h"
#include "server/server.h"
#include "util/log.h"

namespace ringdb::server {

namespace {

// Commands parsed and run together at most (then the replies go out and parsing
// resumes): bounds the reply memory of one burst and the time a burst holds the shard.
constexpr size_t kMaxBurst = 1024;
// Planned commands run together at most: one hop per shard for this many commands,
// and a bound on the replies produced before the output limit is looked at.
constexpr size_t kMaxPlanned = 128;
constexpr size_t kInitialInput = 16 << 10;
constexpr size_t kIdleInputCap = 64 << 10;  // a larger idle buffer shrinks back

void EncodeOp(Reply& r, const Op& op, ShardCounters& ctr) {
  switch (op.kind) {
    case ResultKind::kOk:
      r.Ok();
      return;
    case ResultKind::kNull:
      r.Null();
      return;
    case ResultKind::kInt:
      r.Int(op.i);
      return;
    case ResultKind::kBulk:
      r.Bulk(op.s);
      return;
    case ResultKind::kSimple:
      r.Simple(op.sim);
      return;
    case ResultKind::kError:
      ctr.error_replies.Add();
      r.Error(op.err != nullptr ? std::string_view(op.err) : std::string_view(op.s));
      return;
    case ResultKind::kNone:
      break;
  }
  ctr.error_replies.Add();
  r.Error("ERR internal error: no result");
}

}  // namespace

Conn::Conn(ShardServer* shard, int fd, uint64_t id)
    : shard_(shard),
      server_(shard->server()),
      store_(shard->server()->store()),
      id_(id),
      sock_(fd, shard->poller()),
      peer_(net::PeerName(fd)),
      in_(new char[kInitialInput]),
      in_cap_(kInitialInput),
      reply_(&out_) {
  lists_.resize(store_->shard_count());
  for (uint32_t i = 0; i < lists_.size(); i++) {
    lists_[i].conn = this;
    lists_[i].shard = i;
  }
  calls_.reserve(lists_.size());
}

Conn::~Conn() = default;

void Conn::Run() {
  shard_->Attach(this);
  created_ms_ = last_active_ms_ = store_->NowMs();
  while (!close_now_ && !close_after_reply_ && !server_->stopping()) {
    if (need_more_ && !ReadMore()) break;
    ProcessInput();
    if (close_now_) break;
    FlushOutput(/*wait=*/false);
    // A client that does not read its replies stops being served until it does.
    while (!close_now_ && sock_.completion_mode() && sock_.sending() &&
           PendingOutput() > server_->output_buffer_limit()) {
      parked_ = rt::CurrentReactor()->current_fiber();
      rt::CurrentReactor()->Suspend();
    }
  }
  if (!close_now_) FlushOutput(/*wait=*/true);
  sock_.Close();
  shard_->Detach(this);
}

bool Conn::MakeRoom() {
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
    if (in_cap_ > kIdleInputCap && parser_.need_bytes() == 0) {
      in_.reset(new char[kInitialInput]);
      in_cap_ = kInitialInput;
    }
  } else if (in_start_ > 0) {
    std::memmove(in_.get(), in_.get() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
  }
  const uint64_t limit = server_->query_buffer_limit();
  size_t want = in_cap_;
  if (in_end_ == in_cap_) want = in_cap_ * 2;
  if (parser_.need_bytes() > want) want = parser_.need_bytes();
  if (want > in_cap_) {
    if (in_end_ >= limit) return false;
    want = std::min<uint64_t>(want, limit);
    std::unique_ptr<char[]> bigger(new char[want]);
    std::memcpy(bigger.get(), in_.get(), in_end_);
    in_ = std::move(bigger);
    in_cap_ = want;
  }
  return in_end_ < in_cap_;
}

bool Conn::ReadMore() {
  if (!MakeRoom()) {
    RINGDB_LOG_WARN("server: closing client %s that reached max query buffer length (%llu bytes)",
                    peer_.c_str(), static_cast<unsigned long long>(in_end_));
    return false;
  }
  FlushOutput(/*wait=*/false);  // replies go out before we wait for more input
  if (read_cancelled_) return false;
  reading_ = true;
  const int64_t n = sock_.Recv(in_.get() + in_end_, in_cap_ - in_end_);
  reading_ = false;
  if (n <= 0) return false;  // closed by the peer, failed, or cancelled
  in_end_ += static_cast<size_t>(n);
  shard_->counters().net_input_bytes.Add(static_cast<uint64_t>(n));
  last_active_ms_ = store_->NowMs();
  need_more_ = false;
  return true;
}

void Conn::ProcessInput() {
  limits_.max_bulk_bytes = server_->proto_max_bulk_len();
  limits_.max_multibulk_args = server_->max_multibulk_len();
  limits_.authenticated = authenticated_ || !server_->auth_required();
  size_t n = 0;
  while (n < kMaxBurst && !close_after_reply_ && !close_now_) {
    size_t consumed = 0;
    const RespParser::Result r =
        parser_.Parse(in_.get() + in_start_, in_end_ - in_start_, limits_, &consumed);
    if (r == RespParser::Result::kNeedMore) {
      need_more_ = true;
      break;
    }
    if (r == RespParser::Result::kError) {
      RunPlanned();
      shard_->counters().error_replies.Add();
      reply_.Error("ERR " + parser_.error());
      RINGDB_LOG_DEBUG("server: protocol error from client %s: %s", peer_.c_str(),
                       parser_.error().c_str());
      CloseAfterReply();
      break;
    }
    in_start_ += consumed;
    const std::vector<std::string_view>& args = parser_.args();
    if (args.empty()) continue;
    n++;
    if (args[0].data() < in_.get() || args[0].data() >= in_.get() + in_cap_) {
      // An inline command: its arguments live in the parser until the next Parse.
      std::vector<std::string_view> kept;
      for (std::string_view a : args) kept.push_back(Keep(a));
      Dispatch(kept);
    } else {
      Dispatch(args);
    }
    // A command may have changed whether the client is authenticated.
    limits_.authenticated = authenticated_ || !server_->auth_required();
    // Replies are only sized once run: run every kMaxPlanned commands and stop once
    // the replies of this burst pass the output limit (then they go out first).
    if (planned_.size() >= kMaxPlanned) RunPlanned();
    if (out_.size() > server_->output_buffer_limit()) break;
  }
  RunPlanned();
  kept_.clear();  // not in RunPlanned: a direct command's own arguments may live here
  shard_->counters().bursts.Add();
}

void Conn::Dispatch(std::span<const std::string_view> args) {
  shard_->counters().commands.Add();
  const CmdSpec* spec = FindCommand(args[0]);
  if (spec == nullptr) {
    AddError(UnknownCommandError(args));
    return;
  }
  last_cmd_ = spec->name;
  const int argc = static_cast<int>(args.size());
  if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
    AddError(ArityError(spec->name));
    return;
  }
  if (!authenticated_ && !spec->no_auth && server_->auth_required()) {
    AddError("NOAUTH Authentication required.");
    return;
  }
  if (spec->plan != nullptr) {
    spec->plan(*this, args);
    return;
  }
  RunPlanned();
  spec->direct(*this, args);
}

Op& Conn::AddOp(OpCode code, std::string_view key) {
  if (ops_used_ == ops_.size()) ops_.emplace_back();
  Op& op = ops_[ops_used_++];
  op.code = code;
  op.flags = 0;
  op.when = When::kNone;
  op.key = key;
  op.val = {};
  op.a = op.b = op.at = 0;
  op.f = 0;
  op.shard = store_->ShardOf(key);
  op.hash = KeyHash(key);
  return op;
}

void Conn::AddPlanned(Shape shape, uint32_t op_begin, bool counts_hits) {
  PlannedCmd p;
  p.shape = shape;
  p.op_begin = op_begin;
  p.op_count = static_cast<uint32_t>(ops_used_) - op_begin;
  p.counts_hits = counts_hits;
  planned_.push_back(p);
}

void Conn::AddError(std::string_view text) {
  PlannedCmd p;
  p.shape = Shape::kError;
  p.err_off = static_cast<uint32_t>(errors_.size());
  p.err_len = static_cast<uint32_t>(text.size());
  errors_.append(text);
  planned_.push_back(p);
}

std::string_view Conn::Keep(std::string_view s) {
  kept_.emplace_back(s);
  return kept_.back();
}

void Conn::RunShardList(void* arg) {
  auto* l = static_cast<ShardList*>(arg);
  l->conn->server_->shard(l->shard)->keyspace().Run(l->ops.data(), l->ops.size());
}

void Conn::ReadShardList(void* arg) {
  auto* l = static_cast<ShardList*>(arg);
  Conn* c = l->conn;
  ShardCounters& ctr = c->shard_->counters();
  if (Keyspace::ReadInPlace(c->store_, l->shard, l->ops.data(), l->ops.size(), &l->reads)) {
    ctr.reads_in_place.Add(l->ops.size());
    return;
  }
  // The owner has writes it has not acknowledged yet and these reads must not see
  // them without waiting for them: the owner answers (its pending table knows them).
  ctr.remote_calls.Add();
  ShardCall call;
  call.shard = l->shard;
  call.fn = &Conn::RunShardList;
  call.arg = l;
  c->store_->RunAll(&call, 1);
}

void Conn::RunOps() {
  for (ShardList& l : lists_) {
    l.ops.clear();
    l.reads_only = true;
  }
  for (size_t i = 0; i < ops_used_; i++) {
    ShardList& l = lists_[ops_[i].shard];
    l.ops.push_back(&ops_[i]);
    l.reads_only = l.reads_only && IsRead(ops_[i].code);
  }
  calls_.clear();
  const uint32_t self = shard_->shard();
  auto add = [this](ShardList& l, uint32_t where, void (*fn)(void*)) {
    calls_.emplace_back();
    ShardCall& c = calls_.back();
    c.shard = where;
    c.fn = fn;
    c.arg = &l;
  };
  // RunAll sends the hops first and then runs this shard's calls in order: the local
  // list (its writes reach the engine before anything here can suspend), then the
  // reads of other shards (a block missing from their caches suspends this fiber).
  if (!lists_[self].ops.empty()) add(lists_[self], self, &Conn::RunShardList);
  for (ShardList& l : lists_) {
    if (l.ops.empty() || l.shard == self) continue;
    if (l.reads_only && server_->reads_in_place()) {
      add(l, self, &Conn::ReadShardList);
    } else {
      add(l, l.shard, &Conn::RunShardList);
      shard_->counters().remote_calls.Add();
    }
  }
  store_->RunAll(calls_.data(), calls_.size());
}

void Conn::RunPlanned() {
  if (planned_.empty()) return;
  if (ops_used_ > 0) RunOps();
  ShardCounters& ctr = shard_->counters();
  for (const PlannedCmd& p : planned_) {
    const Op* ops = ops_.data() + p.op_begin;
    if (p.counts_hits) {
      for (uint32_t i = 0; i < p.op_count; i++) {
        if (ops[i].kind == ResultKind::kError) continue;
        (ops[i].hit ? ctr.keyspace_hits : ctr.keyspace_misses).Add();
      }
    }
    switch (p.shape) {
      case Shape::kError:
        ctr.error_replies.Add();
        reply_.Error(std::string_view(errors_).substr(p.err_off, p.err_len));
        break;
      case Shape::kOp:
        EncodeOp(reply_, ops[0], ctr);
        break;
      case Shape::kArray:
        reply_.Array(p.op_count);
        for (uint32_t i = 0; i < p.op_count; i++) EncodeOp(reply_, ops[i], ctr);
        break;
      case Shape::kSum:
      case Shape::kAllOk: {
        const Op* failed = nullptr;
        int64_t sum = 0;
        for (uint32_t i = 0; i < p.op_count && failed == nullptr; i++) {
          if (ops[i].kind == ResultKind::kError) failed = &ops[i];
          sum += ops[i].i;
        }
        if (failed != nullptr) {
          EncodeOp(reply_, *failed, ctr);
        } else if (p.shape == Shape::kSum) {
          reply_.Int(sum);
        } else {
          reply_.Ok();
        }
        break;
      }
    }
  }
  planned_.clear();
  ops_used_ = 0;
  errors_.clear();
}

void Conn::FlushOutput(bool wait) {
  if (!sock_.completion_mode()) {
    if (!out_.empty()) {
      const int64_t n = sock_.SendAll(out_.data(), out_.size());
      if (n < 0) close_now_ = true;
      shard_->counters().net_output_bytes.Add(out_.size());
      out_.clear();
    }
    return;
  }
  if (!sock_.sending() && !out_.empty()) {
    sending_.swap(out_);
    out_.clear();
    shard_->counters().net_output_bytes.Add(sending_.size());
    send_progress_ms_ = store_->NowMs();
    sock_.StartSend(&sending_, &Conn::OnSent, this);
  }
  while (wait && !close_now_ && (sock_.sending() || !out_.empty())) {
    parked_ = rt::CurrentReactor()->current_fiber();
    rt::CurrentReactor()->Suspend();
  }
}

void Conn::OnSent(void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->send_progress_ms_ = c->last_active_ms_ = c->store_->NowMs();
  if (c->sock_.send_error() < 0) {
    c->close_now_ = true;
  } else if (!c->out_.empty()) {
    // What the fiber wrote meanwhile goes next, straight from the completion.
    c->sending_.swap(c->out_);
    c->out_.clear();
    c->shard_->counters().net_output_bytes.Add(c->sending_.size());
    c->sock_.StartSend(&c->sending_, &Conn::OnSent, c);
  } else {
    c->sending_.clear();
  }
  if (rt::Fiber* f = c->parked_) {
    c->parked_ = nullptr;
    f->reactor()->MakeReady(f);
  }
}

void Conn::CancelRead() {
  read_cancelled_ = true;
  sock_.CancelRecv();
}

void Conn::Kill() {
  close_now_ = true;
  CancelRead();
  sock_.CancelSend();
  if (rt::Fiber* f = parked_) {
    parked_ = nullptr;
    f->reactor()->MakeReady(f);
  }
}

uint64_t Conn::SendStalledMs(uint64_t now_ms) const {
  if (!sock_.sending()) return 0;
  return now_ms > send_progress_ms_ ? now_ms - send_progress_ms_ : 0;
}

}  // namespace ringdb::server
