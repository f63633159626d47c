#include "db/db_iterator.h"

#include <algorithm>

#include "db/shard_messages.h"
#include "util/clock.h"

namespace ringdb::db {

DBIterator::DBIterator(DBImpl* db, std::vector<Child> children)
    : db_(db), open_(db->open_flag()), children_(std::move(children)) {
  // One child per shard, in shard order (DBImpl::NewIterator builds them so).
  RINGDB_ASSERT(children_.size() == db_->shard_count());
  for (size_t i = 0; i < children_.size(); i++) {
    RINGDB_ASSERT(children_[i].shard == i && children_[i].it != nullptr);
  }
}

bool DBIterator::Before(const Child* a, const Child* b) const {
  // std heap functions keep the "largest" at the front: the next entry in our direction.
  return forward_ ? a->it->key() > b->it->key() : a->it->key() < b->it->key();
}

bool DBIterator::Check(const Child& c) {
  if (c.it->Valid() || c.it->status().ok()) return true;
  if (status_.ok()) status_ = c.it->status();
  heap_.clear();
  return false;
}

void DBIterator::RebuildHeap() {
  heap_.clear();
  for (Child& c : children_) {
    if (!Check(c)) return;
    if (c.it->Valid()) heap_.push_back(&c);
  }
  std::make_heap(heap_.begin(), heap_.end(),
                 [this](const Child* a, const Child* b) { return Before(a, b); });
  RINGDB_ASSERT(heap_.size() <= children_.size());
}

void DBIterator::Reposition(Op op, std::string_view target) {
  if (!status_.ok()) return;  // an error ends the iteration for good
  CallGate gate(*open_);
  if (!gate.open()) {
    status_ = Status::Shutdown("the DB is closed");
    heap_.clear();
    return;
  }
  const std::string t(target);  // the caller's view may point into our own key()
  forward_ = op == Op::kFirst || op == Op::kSeek;
  StatsRegistry& stats = db_->thread_stats();
  for (Child& c : children_) {
    const uint64_t start = util::FastNanos();
    switch (op) {
      case Op::kFirst:
        c.it->SeekToFirst();
        break;
      case Op::kLast:
        c.it->SeekToLast();
        break;
      case Op::kSeek:
        c.it->Seek(t);
        break;
      case Op::kSeekForPrev:
        c.it->Seek(t);
        if (!c.it->Valid()) {
          if (c.it->status().ok()) c.it->SeekToLast();
        } else if (c.it->key() > std::string_view(t)) {
          c.it->Prev();
        }
        break;
    }
    stats.ForThisThread().shard(c.shard).iter_seek.Record(util::FastElapsed(start), c.it->status(),
                                                          1);
  }
  RebuildHeap();
}

void DBIterator::SwitchDirection(bool forward) {
  RINGDB_ASSERT(!heap_.empty() && forward != forward_);  // REQUIRES: Valid(), turning around
  Child* cur = heap_.front();
  const std::string k(cur->it->key());
  for (Child& c : children_) {
    if (&c == cur) continue;
    // k lives in cur's shard only, so Seek(k) lands on the first key past it.
    c.it->Seek(k);
    if (!forward) {
      if (c.it->Valid()) {
        c.it->Prev();
      } else if (c.it->status().ok()) {
        c.it->SeekToLast();
      }
    }
  }
  forward_ = forward;
  if (forward) {
    cur->it->Next();
  } else {
    cur->it->Prev();
  }
  RebuildHeap();
}

void DBIterator::Step(bool forward) {
  if (!Valid()) return;
  CallGate gate(*open_);
  if (!gate.open()) {
    status_ = Status::Shutdown("the DB is closed");
    heap_.clear();
    return;
  }
  Child* cur = heap_.front();
  db_->thread_stats().ForThisThread().shard(cur->shard).iter_next.count.Add(1);
  if (forward != forward_) {
    SwitchDirection(forward);
    return;
  }
  auto order = [this](const Child* a, const Child* b) { return Before(a, b); };
  std::pop_heap(heap_.begin(), heap_.end(), order);
  heap_.pop_back();
  if (forward) {
    cur->it->Next();
  } else {
    cur->it->Prev();
  }
  if (!Check(*cur)) return;
  if (cur->it->Valid()) {
    heap_.push_back(cur);
    std::push_heap(heap_.begin(), heap_.end(), order);
  }
}

void DBIterator::SeekToFirst() {
  Reposition(Op::kFirst, {});
}
void DBIterator::SeekToLast() {
  Reposition(Op::kLast, {});
}
void DBIterator::Seek(std::string_view target) {
  Reposition(Op::kSeek, target);
}
void DBIterator::SeekForPrev(std::string_view target) {
  Reposition(Op::kSeekForPrev, target);
}
void DBIterator::Next() {
  Step(true);
}
void DBIterator::Prev() {
  Step(false);
}

}  // namespace ringdb::db
