#include "lsm/db_iter.h"

#include <utility>

#include "lsm/expiry.h"
#include "util/assert.h"

namespace ringdb::lsm {

std::unique_ptr<UserIterator> NewDBIterator(std::unique_ptr<InternalIterator> internal,
                                            SequenceNumber seq, std::optional<std::string> lower,
                                            std::optional<std::string> upper, uint64_t now_ms) {
  return std::make_unique<DBIter>(std::move(internal), seq, std::move(lower), std::move(upper),
                                  now_ms);
}

DBIter::DBIter(std::unique_ptr<InternalIterator> internal, SequenceNumber seq,
               std::optional<std::string> lower, std::optional<std::string> upper, uint64_t now_ms)
    : iter_(std::move(internal)),
      seq_(seq),
      now_ms_(now_ms),
      lower_(std::move(lower)),
      upper_(std::move(upper)) {
  RINGDB_ASSERT(iter_ != nullptr);
  RINGDB_ASSERT(seq_ <= kMaxSequenceNumber);
}

std::string_view DBIter::key() const {
  RINGDB_ASSERT(valid_);
  if (direction_ == Direction::kForward) return ExtractUserKey(iter_->key());
  return saved_key_;
}

std::string_view DBIter::value() const {
  RINGDB_ASSERT(valid_);
  if (direction_ == Direction::kForward) return iter_->value().substr(value_skip_);
  return saved_value_;
}

uint64_t DBIter::expire_at() const {
  RINGDB_ASSERT(valid_);
  return expire_at_;
}

Status DBIter::status() const {
  return status_.ok() ? iter_->status() : status_;
}

void DBIter::Invalidate() {
  valid_ = false;
  saved_key_.clear();
  saved_value_.clear();
}

bool DBIter::Parse(ParsedInternalKey* out) {
  if (ParseInternalKey(iter_->key(), out)) return true;
  status_ = Status::Corruption("iterator: corrupt internal key " + EscapeBytes(iter_->key()));
  Invalidate();
  return false;
}

bool DBIter::Live(const ParsedInternalKey& k, std::string_view* payload, uint64_t* deadline) {
  *deadline = 0;
  switch (k.type) {
    case ValueType::kDeletion:
      return false;
    case ValueType::kValue:
      *payload = iter_->value();
      return true;
    case ValueType::kValueExpiring:
      if (!SplitExpiring(iter_->value(), deadline, payload)) {
        status_ = Status::Corruption("iterator: expiring value too short for its deadline at " +
                                     DebugInternalKey(iter_->key()));
        Invalidate();
        return false;
      }
      return !Expired(*deadline, now_ms_);
  }
  return false;
}

void DBIter::Seek(std::string_view user_key) {
  direction_ = Direction::kForward;
  status_ = Status::OK();
  Invalidate();
  std::string_view target = user_key;
  if (lower_ && target < *lower_) target = *lower_;
  iter_->Seek(MakeInternalKey(target, seq_, kValueTypeForSeek));
  FindNextUserEntry(false);
}

void DBIter::SeekToFirst() {
  if (lower_) {
    Seek(*lower_);
    return;
  }
  direction_ = Direction::kForward;
  status_ = Status::OK();
  Invalidate();
  iter_->SeekToFirst();
  FindNextUserEntry(false);
}

void DBIter::SeekToLast() {
  direction_ = Direction::kReverse;
  status_ = Status::OK();
  Invalidate();
  if (upper_) {
    // The first entry of `upper` (any sequence), then one back: the last entry below.
    iter_->Seek(MakeInternalKey(*upper_, kMaxSequenceNumber, kValueTypeForSeek));
    if (iter_->Valid()) {
      iter_->Prev();
    } else if (iter_->status().ok()) {
      iter_->SeekToLast();
    }
  } else {
    iter_->SeekToLast();
  }
  FindPrevUserEntry();
}

void DBIter::FindNextUserEntry(bool skipping) {
  // Entries of one user key come newest first, so once the newest visible entry of a
  // key is seen (value or deletion), every later entry of that key is skipped.
  for (; iter_->Valid(); iter_->Next()) {
    ParsedInternalKey ikey;
    if (!Parse(&ikey)) return;
    if (!BelowUpper(ikey.user_key)) break;
    if (ikey.sequence > seq_) continue;
    if (skipping && ikey.user_key <= saved_key_) continue;
    std::string_view payload;
    uint64_t deadline;
    if (!Live(ikey, &payload, &deadline)) {
      if (!status_.ok()) return;
      saved_key_.assign(ikey.user_key);
      skipping = true;
      continue;
    }
    valid_ = true;
    expire_at_ = deadline;
    value_skip_ = iter_->value().size() - payload.size();
    saved_key_.clear();
    return;
  }
  Invalidate();
}

void DBIter::Next() {
  RINGDB_ASSERT(valid_);
  if (direction_ == Direction::kReverse) {
    // iter_ is before every entry of saved_key_; step into them, then skip them all.
    direction_ = Direction::kForward;
    if (iter_->Valid()) {
      iter_->Next();
    } else if (iter_->status().ok()) {
      iter_->Seek(MakeInternalKey(saved_key_, kMaxSequenceNumber, kValueTypeForSeek));
    }
    saved_value_.clear();
  } else {
    saved_key_.assign(ExtractUserKey(iter_->key()));
    iter_->Next();
  }
  FindNextUserEntry(true);
}

void DBIter::Prev() {
  RINGDB_ASSERT(valid_);
  if (direction_ == Direction::kForward) {
    // Step back over every entry of the current key (the ones newer than seq_ and the
    // current one) to reach the previous user key.
    saved_key_.assign(ExtractUserKey(iter_->key()));
    while (true) {
      iter_->Prev();
      if (!iter_->Valid()) {
        Invalidate();
        return;
      }
      ParsedInternalKey ikey;
      if (!Parse(&ikey)) return;
      if (ikey.user_key < saved_key_) break;
    }
    direction_ = Direction::kReverse;
  }
  FindPrevUserEntry();
}

void DBIter::FindPrevUserEntry() {
  RINGDB_ASSERT(direction_ == Direction::kReverse);
  // Walks backward through the entries of one user key (oldest first) keeping the last
  // visible one, which is the newest; stops on the first entry of the key before it.
  bool live = false;
  for (; iter_->Valid(); iter_->Prev()) {
    ParsedInternalKey ikey;
    if (!Parse(&ikey)) return;
    if (!AtOrAboveLower(ikey.user_key)) break;
    if (ikey.sequence > seq_) continue;
    if (live && ikey.user_key < saved_key_) break;
    std::string_view payload;
    uint64_t deadline;
    live = Live(ikey, &payload, &deadline);
    if (!status_.ok()) return;
    if (!live) {
      saved_key_.clear();
      saved_value_.clear();
    } else {
      saved_key_.assign(ikey.user_key);
      saved_value_.assign(payload);
      expire_at_ = deadline;
    }
  }
  if (!live) {
    Invalidate();
    direction_ = Direction::kForward;
    return;
  }
  // An error in iter_ while walking back must not show a half-collected key.
  if (!iter_->Valid() && !iter_->status().ok()) {
    Invalidate();
    return;
  }
  valid_ = true;
}

}  // namespace ringdb::lsm
