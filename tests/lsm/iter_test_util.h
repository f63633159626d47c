// In-memory internal iterators and key helpers for the iterator and compaction tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"

namespace ringdb::lsm::testing {

using Entry = std::pair<std::string, std::string>;  // internal key, value

inline std::string IKey(std::string_view user_key, SequenceNumber seq,
                        ValueType t = ValueType::kValue) {
  return MakeInternalKey(user_key, seq, t);
}

inline void SortEntries(std::vector<Entry>* v) {
  InternalKeyComparator icmp;
  std::sort(v->begin(), v->end(),
            [&](const Entry& a, const Entry& b) { return icmp.Compare(a.first, b.first) < 0; });
}

// A sorted vector as an InternalIterator. fail_after_moves >= 0 makes the iterator
// fail (invalid, IOError) on that positioning call and every one after it.
class VectorIterator final : public InternalIterator {
 public:
  explicit VectorIterator(std::vector<Entry> entries, int fail_after_moves = -1)
      : entries_(std::move(entries)), moves_left_(fail_after_moves) {
    SortEntries(&entries_);
  }

  bool Valid() const override { return status_.ok() && pos_ < entries_.size(); }
  void SeekToFirst() override {
    if (Move()) pos_ = 0;
  }
  void SeekToLast() override {
    if (Move()) pos_ = entries_.empty() ? entries_.size() : entries_.size() - 1;
  }
  void Seek(std::string_view target) override {
    if (!Move()) return;
    InternalKeyComparator icmp;
    pos_ = static_cast<size_t>(std::lower_bound(entries_.begin(), entries_.end(), target,
                                                [&](const Entry& e, std::string_view t) {
                                                  return icmp.Compare(e.first, t) < 0;
                                                }) -
                               entries_.begin());
  }
  void Next() override {
    EXPECT_TRUE(Valid());
    if (Move()) pos_++;
  }
  void Prev() override {
    EXPECT_TRUE(Valid());
    if (!Move()) return;
    pos_ = pos_ == 0 ? entries_.size() : pos_ - 1;
  }
  std::string_view key() const override { return entries_[pos_].first; }
  std::string_view value() const override { return entries_[pos_].second; }
  Status status() const override { return status_; }

 private:
  bool Move() {
    if (moves_left_ == 0) status_ = Status::IOError("injected read error");
    if (moves_left_ > 0) moves_left_--;
    return status_.ok();
  }

  std::vector<Entry> entries_;
  size_t pos_ = 0;
  int moves_left_;
  Status status_;
};

}  // namespace ringdb::lsm::testing
