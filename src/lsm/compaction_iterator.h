// CompactionIterator: filters a compaction's merged input down to the entries that
// must survive; OutputSplitter: decides where to cut the output into files.
// See docs/compaction.md ("What a compaction drops").
//
// Thread ownership: the shard thread running the compaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "lsm/version_edit.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

// Snapshots split the sequence numbers into stripes: stripe i holds the sequences in
// (snapshots[i-1], snapshots[i]], and the last stripe (i == snapshots.size()) those
// above every snapshot, which the latest reads see. A reader at a snapshot reads the
// newest entry of its stripe or, if that stripe has none, of an older one; so per user
// key each stripe needs only its newest entry. A deletion in the oldest stripe hides
// everything older, and when the output level is the bottommost for these keys there
// is nothing older left elsewhere to hide: it is dropped too.
//
// A value whose deadline has passed at now_ms reads as a deletion for every reader
// (lsm/expiry.h), so it is rewritten as a tombstone at its sequence (and dropped like
// one at the bottommost level).
//
// Forward only; key()/value() are views into the input (or into this iterator for a
// rewritten entry), valid until Next().
class CompactionIterator {
 public:
  struct Stats {
    uint64_t input_entries = 0;
    uint64_t output_entries = 0;
    uint64_t dropped_shadowed = 0;    // not the newest of their stripe
    uint64_t dropped_tombstones = 0;  // bottommost deletions in the oldest stripe
    uint64_t expired = 0;             // expired values rewritten as (or dropped like) tombstones
  };

  // REQUIRES: `input` (a merged iterator over the inputs, in InternalKeyComparator
  // order) outlives this; `snapshots` holds every live snapshot's sequence number.
  // `bottommost`: no older data for these keys exists outside the input. now_ms: the
  // time deadlines are judged at (0: none has passed).
  CompactionIterator(InternalIterator* input, std::vector<SequenceNumber> snapshots,
                     bool bottommost, uint64_t now_ms = 0);

  void SeekToFirst();
  bool Valid() const { return valid_; }
  // REQUIRES: Valid().
  void Next();
  std::string_view key() const { return expired_ ? std::string_view(tombstone_) : input_->key(); }
  std::string_view value() const { return expired_ ? std::string_view() : input_->value(); }
  // The compaction may be installed only if this is ok once Valid() turns false: an
  // error in the input (or a corrupt key) ends the iteration early.
  Status status() const;
  const Stats& stats() const { return stats_; }

 private:
  static constexpr size_t kNoStripe = SIZE_MAX;

  size_t StripeOf(SequenceNumber seq) const;
  // From the input's position, moves to the first entry to keep.
  void FindNextKept();

  InternalIterator* const input_;
  std::vector<SequenceNumber> snapshots_;  // sorted, unique
  const bool bottommost_;
  const uint64_t now_ms_;
  bool valid_ = false;
  bool expired_ = false;   // the current entry is an expired value, shown as tombstone_
  std::string tombstone_;  // its key as a deletion
  // Invariant: last_stripe_ is the stripe of the last entry seen of current_user_key_
  // (kNoStripe before the first); entries of a key arrive newest first, so stripes only
  // decrease within a key.
  bool has_current_user_key_ = false;
  std::string current_user_key_;
  size_t last_stripe_ = kNoStripe;
  Status status_;
  Stats stats_;
};

// Cuts compaction output into files of about target_file_bytes (raw key + value
// bytes), only between two user keys, so that a lookup finds every version of a key
// in one file of the level, and a later compaction of that file takes them all.
// A file is cut at the first user-key boundary after it reaches the target, so it may
// exceed the target by the versions of one key.
//
// Use: for each kept entry, `if (ShouldCutBefore(k)) finish the file (FinishFile()
// gives its key range)`, then Add(k, v.size()) and write the entry; at the end, if
// has_open_file(), finish the last one.
class OutputSplitter {
 public:
  explicit OutputSplitter(uint64_t target_file_bytes);

  // True if the file in progress must be finished before `ikey` is added.
  bool ShouldCutBefore(std::string_view ikey) const;
  // Accounts an entry to the file in progress (opening one if needed).
  // REQUIRES: keys arrive in InternalKeyComparator order.
  void Add(std::string_view ikey, uint64_t value_bytes);
  // Closes the file in progress and returns its smallest/largest keys and sequence
  // range; file_size is the raw entry bytes (the caller sets number and the real size).
  // REQUIRES: has_open_file().
  FileMetaData FinishFile();

  bool has_open_file() const { return entries_ > 0; }
  uint64_t current_file_bytes() const { return bytes_; }

 private:
  const uint64_t target_file_bytes_;
  uint64_t bytes_ = 0;
  uint64_t entries_ = 0;
  FileMetaData meta_;  // of the file in progress
};

}  // namespace ringdb::lsm
