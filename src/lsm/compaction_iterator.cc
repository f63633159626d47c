#include "lsm/compaction_iterator.h"

#include <algorithm>
#include <utility>

#include "lsm/expiry.h"
#include "util/assert.h"

namespace ringdb::lsm {

CompactionIterator::CompactionIterator(InternalIterator* input,
                                       std::vector<SequenceNumber> snapshots, bool bottommost,
                                       uint64_t now_ms)
    : input_(input), snapshots_(std::move(snapshots)), bottommost_(bottommost), now_ms_(now_ms) {
  RINGDB_ASSERT(input_ != nullptr);
  std::sort(snapshots_.begin(), snapshots_.end());
  snapshots_.erase(std::unique(snapshots_.begin(), snapshots_.end()), snapshots_.end());
}

Status CompactionIterator::status() const {
  return status_.ok() ? input_->status() : status_;
}

size_t CompactionIterator::StripeOf(SequenceNumber seq) const {
  // The first snapshot that sees seq; snapshots_.size() if none (the latest stripe).
  return static_cast<size_t>(std::lower_bound(snapshots_.begin(), snapshots_.end(), seq) -
                             snapshots_.begin());
}

void CompactionIterator::SeekToFirst() {
  status_ = Status::OK();
  stats_ = Stats();
  has_current_user_key_ = false;
  last_stripe_ = kNoStripe;
  input_->SeekToFirst();
  FindNextKept();
}

void CompactionIterator::Next() {
  RINGDB_ASSERT(valid_);
  input_->Next();
  FindNextKept();
}

void CompactionIterator::FindNextKept() {
  valid_ = false;
  for (; input_->Valid(); input_->Next()) {
    expired_ = false;  // per entry: a dropped expired entry must not rename the next one
    ParsedInternalKey ikey;
    if (!ParseInternalKey(input_->key(), &ikey)) {
      // Never guess with data being rewritten: stop, and the compaction fails.
      status_ = Status::Corruption("compaction input: corrupt internal key " +
                                   EscapeBytes(input_->key()));
      return;
    }
    stats_.input_entries++;
    if (!has_current_user_key_ || ikey.user_key != current_user_key_) {
      current_user_key_.assign(ikey.user_key);
      has_current_user_key_ = true;
      last_stripe_ = kNoStripe;
    }
    size_t stripe = StripeOf(ikey.sequence);
    if (stripe == last_stripe_) {
      // A newer entry of this key in the same stripe hides it from every reader.
      stats_.dropped_shadowed++;
      continue;
    }
    if (last_stripe_ != kNoStripe && stripe > last_stripe_) {
      status_ =
          Status::Corruption("compaction input out of order at " + DebugInternalKey(input_->key()));
      return;
    }
    last_stripe_ = stripe;
    if (ikey.type == ValueType::kValueExpiring) {
      uint64_t deadline = 0;
      std::string_view payload;
      if (!SplitExpiring(input_->value(), &deadline, &payload)) {
        status_ =
            Status::Corruption("compaction input: expiring value too short for its deadline at " +
                               DebugInternalKey(input_->key()));
        return;
      }
      if (Expired(deadline, now_ms_)) {
        stats_.expired++;
        expired_ = true;
        ikey.type = ValueType::kDeletion;
        tombstone_.clear();
        AppendInternalKey(&tombstone_, ikey.user_key, ikey.sequence, ValueType::kDeletion);
      }
    }
    if (ikey.type == ValueType::kDeletion && bottommost_ && stripe == 0) {
      // Every reader that sees this tombstone would find nothing older anyway: the
      // older entries in this stripe are dropped above, there is no older stripe, and
      // nothing older exists below the output level.
      stats_.dropped_tombstones++;
      continue;
    }
    stats_.output_entries++;
    valid_ = true;
    return;
  }
}

OutputSplitter::OutputSplitter(uint64_t target_file_bytes)
    : target_file_bytes_(std::max<uint64_t>(1, target_file_bytes)) {}

bool OutputSplitter::ShouldCutBefore(std::string_view ikey) const {
  if (entries_ == 0 || bytes_ < target_file_bytes_) return false;
  return ExtractUserKey(ikey) != ExtractUserKey(meta_.largest);
}

void OutputSplitter::Add(std::string_view ikey, uint64_t value_bytes) {
  RINGDB_ASSERT(ikey.size() >= kTrailerBytes);
  SequenceNumber seq = ExtractTag(ikey) >> 8;
  if (entries_ == 0) {
    meta_ = FileMetaData();
    meta_.smallest.assign(ikey);
    meta_.smallest_seq = seq;
    meta_.largest_seq = seq;
  } else {
    RINGDB_ASSERT(InternalKeyComparator().Compare(meta_.largest, ikey) < 0);
  }
  meta_.largest.assign(ikey);
  meta_.smallest_seq = std::min(meta_.smallest_seq, seq);
  meta_.largest_seq = std::max(meta_.largest_seq, seq);
  bytes_ += ikey.size() + value_bytes;
  entries_++;
}

FileMetaData OutputSplitter::FinishFile() {
  RINGDB_ASSERT(has_open_file());
  meta_.file_size = bytes_;
  bytes_ = 0;
  entries_ = 0;
  return std::move(meta_);
}

}  // namespace ringdb::lsm
