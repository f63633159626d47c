#include "db/db_iterator.h"

#include <algorithm>

#include "db/db_impl.h"
#include "lsm/shard.h"
#include "util/clock.h"

namespace ringdb::db {

DBIterator::DBIterator(DBImpl* db, std::vector<lsm::SequenceNumber> seqs, const ReadOptions& ro)
    : db_(db),
      open_(db->open_token()),
      chunk_bytes_(std::max<size_t>(ro.iterator_chunk_bytes, 1)),
      streams_(seqs.size()) {
  // Create every shard's cursor at once, without waiting: the first positioning call
  // waits. Each shard fixes its view when it runs the request, which the ring orders
  // before any later request of this thread (a write issued after NewIterator returns
  // is not in the view; one acknowledged before it was called is).
  // The requests run after this returns: they own copies of the bounds.
  const bool fill = ro.fill_cache;
  for (uint32_t i = 0; i < streams_.size(); i++) {
    Stream* s = &streams_[i];
    s->shard = i;
    const lsm::SequenceNumber seq = seqs[i];
    Issue(s, [db, s, seq, lower = ro.lower_bound, upper = ro.upper_bound, fill] {
      auto it = db->shard(s->shard)->NewIterator(seq, lower, upper, fill);
      s->cursor = it.release();
      db->cursors(s->shard).insert(s->cursor);
    });
  }
}

namespace {

// Frees a cursor on its shard; fire and forget (the message frees itself).
struct DropCursor : rt::Message {
  DBImpl* db;
  uint32_t shard;
  lsm::UserIterator* cursor;
  DropCursor(DBImpl* d, uint32_t s, lsm::UserIterator* c) : db(d), shard(s), cursor(c) {
    handler = &Run;
  }
  static void Run(rt::Message* m, rt::Reactor*) {
    std::unique_ptr<DropCursor> self(static_cast<DropCursor*>(m));
    // Close() may have freed it already (an iterator racing with Close).
    if (self->db->cursors(self->shard).erase(self->cursor) == 1) delete self->cursor;
  }
};

}  // namespace

DBIterator::~DBIterator() {
  for (Stream& s : streams_) Await(&s);  // requests in flight write into our chunks
  // After Close the DB freed the cursors (and may itself be gone: do not touch it).
  if (!open_->load(std::memory_order_acquire)) return;
  for (Stream& s : streams_) {
    if (s.cursor != nullptr)
      db_->runtime()->PushForeign(s.shard, new DropCursor(db_, s.shard, s.cursor));
  }
}

void DBIterator::Issue(Stream* s, std::function<void()> fn) {
  s->pending = std::make_unique<ShardCall>(std::move(fn));
  db_->runtime()->PushForeign(s->shard, s->pending.get());
}

void DBIterator::Await(Stream* s) {
  if (s->pending == nullptr) return;
  s->pending->waiter.Wait(db_->caller_spin_ns());
  s->pending.reset();
}

void DBIterator::Fill(lsm::Shard* shard, lsm::UserIterator* it, Op op, const std::string& target,
                      bool forward, size_t max_bytes, Chunk* out) {
  const uint64_t start = util::NowNanos();
  switch (op) {
    case Op::kFirst:
      it->SeekToFirst();
      break;
    case Op::kLast:
      it->SeekToLast();
      break;
    case Op::kSeek:
      it->Seek(target);
      break;
    case Op::kSeekForPrev:
      it->Seek(target);
      if (!it->Valid()) {
        if (it->status().ok()) it->SeekToLast();
      } else if (it->key() > std::string_view(target)) {
        it->Prev();
      }
      break;
    case Op::kAfter:
      it->Seek(target);
      if (it->Valid() && it->key() == std::string_view(target)) it->Next();
      break;
    case Op::kBefore:
      it->Seek(target);
      if (it->Valid()) {
        it->Prev();
      } else if (it->status().ok()) {
        it->SeekToLast();
      }
      break;
    case Op::kContinue:
      break;
  }
  out->data.clear();
  out->offs.clear();
  out->n = 0;
  out->pos = 0;
  while (it->Valid() && out->data.size() < max_bytes) {
    const std::string_view k = it->key();
    const std::string_view v = it->value();
    out->offs.push_back(static_cast<uint32_t>(out->data.size()));
    out->offs.push_back(static_cast<uint32_t>(k.size()));
    out->offs.push_back(static_cast<uint32_t>(v.size()));
    out->data.append(k);
    out->data.append(v);
    out->n++;
    if (forward) {
      it->Next();
    } else {
      it->Prev();
    }
  }
  out->status = it->status();
  out->end = !it->Valid();
  shard->RecordOp(op == Op::kContinue ? OpKind::kIterNext : OpKind::kIterSeek, start, out->status,
                  out->n);
  shard->AddUserBytesRead(out->data.size());
}

void DBIterator::Prefetch(Stream* s) {
  const size_t bytes = chunk_bytes_;
  const bool forward = forward_;
  DBImpl* db = db_;
  Issue(s, [db, s, bytes, forward] {
    static const std::string kNone;
    Fill(db->shard(s->shard), s->cursor, Op::kContinue, kNone, forward, bytes, &s->next);
  });
}

bool DBIterator::Before(const Stream* a, const Stream* b) const {
  // std heap functions keep the "largest" at the front: the next entry in our direction.
  const std::string_view ka = a->cur.key(a->cur.pos);
  const std::string_view kb = b->cur.key(b->cur.pos);
  return forward_ ? ka > kb : ka < kb;
}

void DBIterator::SetError(const Status& s) {
  if (status_.ok()) status_ = s;
  heap_.clear();
}

void DBIterator::Reposition(Op op, std::string_view target, bool forward) {
  if (!status_.ok()) return;  // an error ends the iteration for good
  for (Stream& s : streams_) Await(&s);
  forward_ = forward;
  heap_.clear();
  const std::string key(target);
  const size_t bytes = chunk_bytes_;
  for (Stream& s : streams_) {
    Stream* p = &s;
    DBImpl* db = db_;
    Issue(p, [db, p, op, &key, forward, bytes] {
      Fill(db->shard(p->shard), p->cursor, op, key, forward, bytes, &p->cur);
    });
  }
  for (Stream& s : streams_) Await(&s);
  for (Stream& s : streams_) {
    if (!s.cur.status.ok()) {
      SetError(s.cur.status);
      return;
    }
  }
  for (Stream& s : streams_) {
    if (s.cur.n > 0) heap_.push_back(&s);
    // A chunk of one entry (tiny chunk_bytes or huge entries): read ahead at once.
    if (!s.cur.end && s.cur.n == 1) Prefetch(&s);
  }
  std::make_heap(heap_.begin(), heap_.end(),
                 [this](const Stream* a, const Stream* b) { return Before(a, b); });
}

void DBIterator::Advance() {
  auto order = [this](const Stream* a, const Stream* b) { return Before(a, b); };
  std::pop_heap(heap_.begin(), heap_.end(), order);
  Stream* s = heap_.back();
  heap_.pop_back();
  s->cur.pos++;
  // Half way through a chunk, ask for the next one: long scans never wait for a shard,
  // and a short one (Seek and a few Next) costs no extra request.
  if (s->pending == nullptr && !s->cur.end && s->cur.pos * 2 >= s->cur.n) Prefetch(s);
  while (s->cur.pos == s->cur.n) {
    if (s->cur.end) return;  // this shard is done in this direction
    if (s->pending == nullptr) Prefetch(s);
    Await(s);
    std::swap(s->cur, s->next);
    if (!s->cur.status.ok()) {
      SetError(s->cur.status);
      return;
    }
    if (!s->cur.end && s->cur.n <= 1) Prefetch(s);
  }
  heap_.push_back(s);
  std::push_heap(heap_.begin(), heap_.end(), order);
}

void DBIterator::SeekToFirst() {
  Reposition(Op::kFirst, {}, true);
}
void DBIterator::SeekToLast() {
  Reposition(Op::kLast, {}, false);
}
void DBIterator::Seek(std::string_view target) {
  Reposition(Op::kSeek, target, true);
}
void DBIterator::SeekForPrev(std::string_view target) {
  Reposition(Op::kSeekForPrev, target, false);
}

void DBIterator::Next() {
  if (!Valid()) return;
  if (!forward_) {
    const std::string k(key());
    Reposition(Op::kAfter, k, true);
    return;
  }
  Advance();
}

void DBIterator::Prev() {
  if (!Valid()) return;
  if (forward_) {
    const std::string k(key());
    Reposition(Op::kBefore, k, false);
    return;
  }
  Advance();
}

std::string_view DBIterator::key() const {
  const Stream* s = heap_.front();
  return s->cur.key(s->cur.pos);
}

std::string_view DBIterator::value() const {
  const Stream* s = heap_.front();
  return s->cur.value(s->cur.pos);
}

}  // namespace ringdb::db
