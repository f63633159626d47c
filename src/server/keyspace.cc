#include "server/keyspace.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/reactor.h"
#include "server/resp.h"
#include "server/store.h"
#include "util/assert.h"
#include "util/hash.h"

namespace ringdb::server {

namespace {

// A segment is cut when its batch grows past this (the engine takes batches up to
// 256 MiB). Below it, a shard's part of one MSET is always one batch, one WAL record,
// so a crash keeps all of it or none (docs/server.md).
constexpr size_t kSegmentBytes = 64 << 20;

bool Live(uint64_t expire_at_ms, uint64_t now) {
  return expire_at_ms == 0 || expire_at_ms > now;
}

// The deadline a SET/GETEX/EXPIRE asks for, in Unix ms (0: none).
uint64_t Deadline(When w, int64_t at, uint64_t now) {
  switch (w) {
    case When::kRelMs:
      return now + static_cast<uint64_t>(at);  // at > 0 checked by the command
    case When::kAbsMs:
      return static_cast<uint64_t>(at);
    default:
      return 0;
  }
}

}  // namespace

struct Keyspace::Segment {
  uint64_t ticket = 0;
  Keyspace* ks = nullptr;
  WriteBatch batch;  // Clear() keeps its capacity
  struct Key {
    uint64_t hash;
    std::string_view key;
  };
  std::vector<Key> keys;
};

Keyspace::Keyspace(Store* store, uint32_t shard)
    : store_(store), shard_(shard), gen_(new uint32_t[kGenSlots]()) {}

Keyspace::~Keyspace() {
  RINGDB_ASSERT_MSG(waiters_ == nullptr, "keyspace destroyed with fibers waiting");
  delete open_;
}

void Keyspace::Run(Op* const* ops, size_t n) {
  uint64_t max_ticket = 0;
  // One clock reading for the list: its ops are one instant for expiry decisions.
  now_ms_ = store_->NowMs();
  for (size_t i = 0; i < n; i++) {
    Op* op = ops[i];
    op->ResetResult();
    Exec(op);
    max_ticket = std::max(max_ticket, op->ticket);
  }
  Submit();
  WaitAcked(max_ticket);
  if (failed_from_ != 0 && max_ticket >= failed_from_) {
    const std::string text = "ERR write failed: " + failed_status_.ToString();
    for (size_t i = 0; i < n; i++) {
      if (ops[i]->ticket >= failed_from_) ops[i]->SetErrorText(text);
    }
  }
}

// ---------------------------------------------------------------- reads and writes

bool Keyspace::Lookup(Op* op, bool rmw, uint64_t* expire_at_ms) {
  const uint64_t now = now_ms_;
  *expire_at_ms = 0;
  for (;;) {
    if (const PendingEntry* e = pending_.Find(op->hash, op->key)) {
      op->ticket = std::max(op->ticket, e->ticket);
      if (e->deleted) {
        op->s.clear();
        return op->hit = false;
      }
      if (!Live(e->expire_at_ms, now)) {
        op->s.clear();
        ExpireKey(op);  // replaces e
        return op->hit = false;
      }
      op->s.assign(e->value.data(), e->value.size());
      *expire_at_ms = e->expire_at_ms;
      return op->hit = true;
    }
    const size_t slot = op->hash & (kGenSlots - 1);
    const uint32_t gen = gen_[slot];
    Submit();  // the engine read may suspend this fiber
    bool expired = false;
    Status s = store_->Get(op->key, &op->s, expire_at_ms, &expired);
    if (gen_[slot] != gen && (rmw || expired)) continue;  // written meanwhile: look again
    if (s.ok()) return op->hit = true;
    op->s.clear();
    *expire_at_ms = 0;  // an absent key has no deadline for the write that follows
    if (!s.IsNotFound()) op->SetErrorText("ERR " + s.ToString());
    if (expired) ExpireKey(op);
    return op->hit = false;
  }
}

void Keyspace::OpenSegment() {
  if (open_ != nullptr) return;
  if (!spare_.empty()) {
    open_ = spare_.back().release();
    spare_.pop_back();
  } else {
    open_ = new Segment;
  }
  open_->ks = this;
  open_->ticket = next_ticket_;
  open_->keys.clear();
  open_->batch.Clear();
}

void Keyspace::ExpireKey(Op* op) {
  // The tombstone is queued like any write, in order with this shard's others, and the
  // op waits for it like for its own writes (as Redis's reply waits for the DEL it
  // propagates to its AOF): nothing of this shard is in flight once Run() returns.
  uint64_t ticket = 0;
  Status err;
  if (WriteKey(op->key, op->hash, {}, 0, /*deleted=*/true, &ticket, &err)) {
    op->ticket = std::max(op->ticket, ticket);
    expired_keys_.store(expired_keys_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  }
}

bool Keyspace::WriteKey(std::string_view key, uint64_t hash, std::string_view value,
                        uint64_t expire_at_ms, bool deleted, uint64_t* ticket, Status* error) {
  OpenSegment();
  Status s = deleted ? Store::BatchDelete(&open_->batch, key)
                     : Store::BatchPut(&open_->batch, key, value, expire_at_ms);
  if (!s.ok()) {
    *error = std::move(s);
    return false;
  }
  PendingEntry e;
  e.hash = hash;
  e.key = key;
  e.value = value;
  e.expire_at_ms = expire_at_ms;
  e.ticket = open_->ticket;
  e.deleted = deleted;
  pending_.Upsert(e);
  open_->keys.push_back({hash, key});
  gen_[hash & (kGenSlots - 1)]++;
  *ticket = open_->ticket;
  if (open_->batch.ApproximateSize() >= kSegmentBytes) Submit();
  return true;
}

bool Keyspace::Write(Op* op, std::string_view value, uint64_t expire_at_ms, bool deleted) {
  uint64_t t = 0;
  Status err;
  if (!WriteKey(op->key, op->hash, value, expire_at_ms, deleted, &t, &err)) {
    op->SetErrorText("ERR " + err.ToString());
    return false;
  }
  op->ticket = std::max(op->ticket, t);
  op->wrote = true;
  return true;
}

void Keyspace::Submit() {
  Segment* seg = open_;
  if (seg == nullptr) return;
  open_ = nullptr;
  if (seg->keys.empty()) {
    spare_.emplace_back(seg);
    return;
  }
  next_ticket_++;
  segments_submitted_++;
  store_->SubmitWrite(seg->batch, &Keyspace::OnSegmentDone, seg);
}

void Keyspace::OnSegmentDone(void* arg, const Status& s) {
  auto* seg = static_cast<Segment*>(arg);
  seg->ks->SegmentDone(seg, s);
}

void Keyspace::SegmentDone(Segment* seg, const Status& s) {
  RINGDB_ASSERT_MSG(seg->ticket == acked_ + 1, "store acknowledged writes out of order");
  acked_ = seg->ticket;
  if (!s.ok() && failed_from_ == 0) {
    failed_from_ = seg->ticket;
    failed_status_ = s;
  }
  for (const Segment::Key& k : seg->keys) {
    if (pending_.EraseIf(k.hash, k.key, seg->ticket)) gen_[k.hash & (kGenSlots - 1)]++;
  }
  seg->keys.clear();
  spare_.emplace_back(seg);
  rt::Reactor* r = rt::CurrentReactor();
  Waiter** link = &waiters_;
  while (*link != nullptr) {
    Waiter* w = *link;
    if (w->ticket <= acked_) {
      *link = w->next;
      r->MakeReady(w->fiber);
    } else {
      link = &w->next;
    }
  }
}

void Keyspace::WaitAcked(uint64_t t) {
  rt::Reactor* r = rt::CurrentReactor();
  while (acked_ < t) {
    Waiter w{t, r->current_fiber(), waiters_};
    waiters_ = &w;
    r->Suspend();
  }
}

// ---------------------------------------------------------------- ops

namespace {

// GETRANGE's part of a value (Redis's rules for negative and out-of-range indexes).
void ClipRange(std::string* s, int64_t start, int64_t end) {
  const int64_t len = static_cast<int64_t>(s->size());
  if ((start < 0 && end < 0 && start > end) || len == 0) {
    s->clear();
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end) {
    s->clear();
    return;
  }
  s->erase(static_cast<size_t>(end + 1));
  s->erase(0, static_cast<size_t>(start));
}

// The reply of a read op (ops.h IsRead) whose key was looked up: `found` (live) with
// its value in op->s and its deadline `exp` (0: none), or absent.
void AnswerRead(Op* op, bool found, uint64_t exp, uint64_t now) {
  switch (op->code) {
    case OpCode::kGet:
      op->kind = found ? ResultKind::kBulk : ResultKind::kNull;
      return;
    case OpCode::kExists:
      op->kind = ResultKind::kInt;
      op->i = found ? 1 : 0;
      return;
    case OpCode::kStrlen:
      op->kind = ResultKind::kInt;
      op->i = found ? static_cast<int64_t>(op->s.size()) : 0;
      return;
    case OpCode::kType:
      op->kind = ResultKind::kSimple;
      op->sim = found ? "string" : "none";
      return;
    case OpCode::kTtl:
    case OpCode::kExpireTime: {
      op->kind = ResultKind::kInt;
      const bool ms = op->flags & Op::kMs;
      if (!found) {
        op->i = -2;
      } else if (exp == 0) {
        op->i = -1;
      } else if (op->code == OpCode::kTtl) {
        const int64_t left = exp > now ? static_cast<int64_t>(exp - now) : 0;
        op->i = ms ? left : (left + 500) / 1000;
      } else {
        op->i = ms ? static_cast<int64_t>(exp) : static_cast<int64_t>((exp + 500) / 1000);
      }
      return;
    }
    case OpCode::kGetRange:
      if (!found) op->s.clear();
      op->kind = ResultKind::kBulk;
      ClipRange(&op->s, op->a, op->b);
      return;
    default:
      RINGDB_ASSERT_MSG(false, "AnswerRead of a write op");
  }
}

}  // namespace

bool Keyspace::ReadInPlace(Store* store, uint32_t owner, Op* const* ops, size_t n,
                           std::vector<KeyRead>* reads) {
  reads->resize(n);
  for (size_t i = 0; i < n; i++) {
    ops[i]->ResetResult();
    (*reads)[i].key = ops[i]->key;
    (*reads)[i].value = &ops[i]->s;
  }
  if (!store->ReadInPlace(owner, reads->data(), n)) return false;
  const uint64_t now = store->NowMs();
  for (size_t i = 0; i < n; i++) {
    Op* op = ops[i];
    const KeyRead& r = (*reads)[i];
    op->hit = r.status.ok();
    if (!op->hit) op->s.clear();
    if (r.status.ok() || r.status.IsNotFound()) {
      AnswerRead(op, op->hit, r.expire_at_ms, now);
    } else {
      op->SetErrorText("ERR " + r.status.ToString());
    }
  }
  return true;
}

void Keyspace::Exec(Op* op) {
  const uint64_t now = now_ms_;
  if (IsRead(op->code)) {
    uint64_t exp = 0;
    const bool found = Lookup(op, false, &exp);
    if (op->kind != ResultKind::kError) AnswerRead(op, found, exp, now);
    return;
  }
  switch (op->code) {
    case OpCode::kSet:
      return ExecSet(op, now);
    case OpCode::kExpire:
      return ExecExpire(op, now);
    case OpCode::kDel: {
      uint64_t exp = 0;
      const bool found = Lookup(op, true, &exp);
      if (op->kind == ResultKind::kError) return;
      if (found && !Write(op, {}, 0, true)) return;
      op->kind = ResultKind::kInt;
      op->i = found ? 1 : 0;
      return;
    }
    case OpCode::kIncrBy:
    case OpCode::kIncrByFloat:
    case OpCode::kAppend:
    case OpCode::kSetRange:
      return ExecUpdate(op);
    default:
      return ExecTouch(op, now);
  }
}

// INCRBY/INCRBYFLOAT/APPEND/SETRANGE: a new value computed from the old one; the
// deadline stays.
void Keyspace::ExecUpdate(Op* op) {
  uint64_t exp = 0;
  const bool found = Lookup(op, true, &exp);
  if (op->kind == ResultKind::kError) return;
  if (!found) op->s.clear();
  switch (op->code) {
    case OpCode::kIncrBy: {
      int64_t v = 0;
      if (found && !ParseInt64(op->s, &v)) return op->SetError(kErrNotInt);
      if ((op->a < 0 && v < 0 && op->a < INT64_MIN - v) ||
          (op->a > 0 && v > 0 && op->a > INT64_MAX - v)) {
        return op->SetError(kErrOverflow);
      }
      v += op->a;
      op->s = std::to_string(v);
      if (!Write(op, op->s, exp, false)) return;
      op->kind = ResultKind::kInt;
      op->i = v;
      return;
    }
    case OpCode::kIncrByFloat: {
      long double v = 0;
      if (found && !ParseLongDouble(op->s, &v)) return op->SetError(kErrNotFloat);
      v += op->f;
      if (std::isnan(v) || std::isinf(v))
        return op->SetError("ERR increment would produce NaN or Infinity");
      op->s = FormatLongDouble(v);
      if (!Write(op, op->s, exp, false)) return;
      op->kind = ResultKind::kBulk;
      return;
    }
    case OpCode::kAppend:
      if (op->s.size() + op->val.size() > Store::kMaxValueBytes) return op->SetError(kErrTooBig);
      op->s.append(op->val);
      break;
    default: {                // kSetRange
      if (op->val.empty()) {  // nothing to write: the length as it is
        op->kind = ResultKind::kInt;
        op->i = static_cast<int64_t>(op->s.size());
        return;
      }
      const uint64_t off = static_cast<uint64_t>(op->a);
      if (off + op->val.size() > Store::kMaxValueBytes) return op->SetError(kErrTooBig);
      if (op->s.size() < off + op->val.size()) op->s.resize(off + op->val.size(), '\0');
      std::memcpy(op->s.data() + off, op->val.data(), op->val.size());
      break;
    }
  }
  if (!Write(op, op->s, exp, false)) return;
  op->kind = ResultKind::kInt;
  op->i = static_cast<int64_t>(op->s.size());
}

// GETDEL/GETEX/PERSIST: the value stays, its deadline (or existence) changes.
void Keyspace::ExecTouch(Op* op, uint64_t now) {
  uint64_t exp = 0;
  const bool found = Lookup(op, true, &exp);
  if (op->kind == ResultKind::kError) return;
  if (op->code == OpCode::kPersist) {
    op->kind = ResultKind::kInt;
    op->i = 0;
    if (found && exp != 0) {
      if (!Write(op, op->s, 0, false)) return;
      op->kind = ResultKind::kInt;
      op->i = 1;
    }
    return;
  }
  if (!found) {
    op->kind = ResultKind::kNull;
    return;
  }
  if (op->code == OpCode::kGetDel) {
    if (!Write(op, {}, 0, true)) return;
  } else if (op->when == When::kPersist) {  // GETEX PERSIST
    if (exp != 0 && !Write(op, op->s, 0, false)) return;
  } else if (op->when != When::kNone) {
    const uint64_t d = Deadline(op->when, op->at, now);
    if (!Live(d, now)) {
      if (!Write(op, {}, 0, true)) return;
    } else if (!Write(op, op->s, d, false)) {
      return;
    }
  }
  op->kind = ResultKind::kBulk;
}

void Keyspace::ExecSet(Op* op, uint64_t now) {
  const uint8_t cond = op->flags & (Op::kNx | Op::kXx | Op::kGetOld | Op::kKeepTtl);
  uint64_t deadline = Deadline(op->when, op->at, now);
  if (cond == 0) {  // a blind write: nothing to read
    if (!Live(deadline, now)) {
      if (!Write(op, {}, 0, true)) return;  // a deadline in the past: the key is gone
    } else if (!Write(op, op->val, deadline, false)) {
      return;
    }
    op->kind = op->flags & Op::kReplyInt ? ResultKind::kInt : ResultKind::kOk;
    op->i = 1;
    return;
  }
  uint64_t old_deadline = 0;
  const bool found = Lookup(op, true, &old_deadline);
  if (op->kind == ResultKind::kError) return;
  const bool get = op->flags & Op::kGetOld;
  const bool skip = ((op->flags & Op::kNx) && found) || ((op->flags & Op::kXx) && !found);
  if (!skip) {
    if ((op->flags & Op::kKeepTtl) && found) deadline = old_deadline;
    bool ok;
    if (!Live(deadline, now)) {
      ok = Write(op, {}, 0, true);
    } else {
      ok = Write(op, op->val, deadline, false);
    }
    if (!ok) return;
  }
  if (op->flags & Op::kReplyInt) {
    op->kind = ResultKind::kInt;
    op->i = skip ? 0 : 1;
  } else if (get) {
    op->kind = found ? ResultKind::kBulk : ResultKind::kNull;
  } else {
    op->kind = skip ? ResultKind::kNull : ResultKind::kOk;
  }
}

void Keyspace::ExecExpire(Op* op, uint64_t now) {
  uint64_t cur = 0;
  const bool found = Lookup(op, true, &cur);
  if (op->kind == ResultKind::kError) return;
  op->kind = ResultKind::kInt;
  op->i = 0;
  if (!found) return;
  // Relative times may be negative (a past deadline): computed in signed arithmetic,
  // overflow checked by the command.
  const int64_t d = op->when == When::kRelMs ? static_cast<int64_t>(now) + op->at : op->at;
  const bool past = d <= static_cast<int64_t>(now);
  const uint64_t want = past ? 0 : static_cast<uint64_t>(d);
  if ((op->flags & Op::kNx) && cur != 0) return;
  if ((op->flags & Op::kXx) && cur == 0) return;
  if (op->flags & Op::kGt) {
    // No deadline counts as infinite: nothing is greater.
    if (cur == 0 || static_cast<int64_t>(cur) >= d) return;
  }
  if ((op->flags & Op::kLt) && cur != 0 && static_cast<int64_t>(cur) <= d) return;
  bool ok;
  if (past) {
    ok = Write(op, {}, 0, true);
  } else {
    ok = Write(op, op->s, want, false);
  }
  if (!ok) return;
  op->kind = ResultKind::kInt;
  op->i = 1;
}

// ---------------------------------------------------------------- FLUSHALL

Status Keyspace::DeleteKeys(const std::vector<std::string>& keys) {
  uint64_t last = 0;
  for (const std::string& k : keys) {
    Status err;
    uint64_t t = 0;
    if (!WriteKey(k, KeyHash(k), {}, 0, true, &t, &err)) return err;
    last = std::max(last, t);
  }
  Submit();
  WaitAcked(last);
  if (failed_from_ != 0 && last >= failed_from_) return failed_status_;
  return Status::OK();
}

Status Keyspace::FlushAll() {
  std::vector<std::string> keys;
  // Writes queued and not yet acknowledged are deleted too: their acknowledgment may
  // reach their client before ours reaches ours.
  pending_.ForEach([&keys](const PendingEntry& e) { keys.emplace_back(e.key); });
  Status s = DeleteKeys(keys);
  std::string after;
  bool first = true, end = false;
  while (s.ok() && !end) {
    s = store_->ScanLocal(after, first, 1024, &keys, &end);
    if (!s.ok() || keys.empty()) break;
    after = keys.back();
    first = false;
    s = DeleteKeys(keys);  // acknowledged when it returns: keys may be reused
  }
  return s;
}

}  // namespace ringdb::server
