// DBIter: the user-facing view of an internal iterator (usually a merging iterator over
// a shard's memtables and tables) as of sequence number `seq`.
//
// For each user key it shows the newest entry with sequence <= seq, and hides the key
// when that entry is a deletion or a value whose deadline is at or before now_ms
// (lsm/expiry.h); older versions and newer-than-seq entries never appear. Optional
// bounds restrict it to user keys in [lower, upper).
//
// Errors: a corrupt internal key or an error from the internal iterator ends the
// iteration (Valid() turns false) and status() reports it. Callers must check status()
// when Valid() turns false.
//
// Thread ownership: the shard thread that created it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

// An iterator over user keys and values.
class UserIterator {
 public:
  virtual ~UserIterator() = default;

  virtual bool Valid() const = 0;
  // First key >= max(target, lower bound).
  virtual void Seek(std::string_view user_key) = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // REQUIRES: Valid().
  virtual void Next() = 0;
  virtual void Prev() = 0;
  // REQUIRES: Valid(). The views stay valid until the iterator moves or dies.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // REQUIRES: Valid(). The value's deadline (Unix ms), 0 when it has none.
  virtual uint64_t expire_at() const = 0;
  virtual Status status() const = 0;
};

// REQUIRES: seq <= kMaxSequenceNumber. `lower` is inclusive, `upper` exclusive. now_ms:
// the time deadlines are judged at (0: none has passed).
std::unique_ptr<UserIterator> NewDBIterator(std::unique_ptr<InternalIterator> internal,
                                            SequenceNumber seq,
                                            std::optional<std::string> lower = std::nullopt,
                                            std::optional<std::string> upper = std::nullopt,
                                            uint64_t now_ms = 0);

class DBIter final : public UserIterator {
 public:
  DBIter(std::unique_ptr<InternalIterator> internal, SequenceNumber seq,
         std::optional<std::string> lower, std::optional<std::string> upper, uint64_t now_ms);

  bool Valid() const override { return valid_; }
  void Seek(std::string_view user_key) override;
  void SeekToFirst() override;
  void SeekToLast() override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override;
  std::string_view value() const override;
  uint64_t expire_at() const override;
  Status status() const override;

 private:
  // Invariants while valid_:
  //  kForward: iter_ is at the entry that is the current (key, value).
  //  kReverse: iter_ is just before every entry of saved_key_ (at an entry of a smaller
  //            user key, or not Valid()), and saved_key_/saved_value_ hold the current
  //            key and value.
  enum class Direction { kForward, kReverse };

  // Moves iter_ forward to the first visible value whose user key is > *skip when
  // `skipping`, staying below the upper bound.
  void FindNextUserEntry(bool skipping);
  // Moves iter_ backward collecting the newest visible entry of the previous user key.
  void FindPrevUserEntry();
  bool Parse(ParsedInternalKey* out);
  // For the entry at iter_ (parsed as k): false when a reader sees nothing there (a
  // deletion, or a value past its deadline); else sets *payload and *deadline. A
  // malformed expiring value sets status_ and invalidates: check status_ after false.
  bool Live(const ParsedInternalKey& k, std::string_view* payload, uint64_t* deadline);
  bool BelowUpper(std::string_view user_key) const { return !upper_ || user_key < *upper_; }
  bool AtOrAboveLower(std::string_view user_key) const { return !lower_ || user_key >= *lower_; }
  void Invalidate();

  std::unique_ptr<InternalIterator> iter_;
  const SequenceNumber seq_;
  const uint64_t now_ms_;
  const std::optional<std::string> lower_;
  const std::optional<std::string> upper_;
  Direction direction_ = Direction::kForward;
  bool valid_ = false;
  std::string saved_key_;    // kForward: the key being skipped; kReverse: current key
  std::string saved_value_;  // kReverse only
  uint64_t expire_at_ = 0;   // the current entry's deadline
  size_t value_skip_ = 0;    // kForward: bytes of iter_->value() before the payload
  Status status_;            // our own errors (corrupt keys); iter_'s come from it
};

}  // namespace ringdb::lsm
