#include "lsm/merging_iterator.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "lsm/dbformat.h"
#include "util/assert.h"

namespace ringdb::lsm {
namespace {

class EmptyIterator final : public InternalIterator {
 public:
  explicit EmptyIterator(Status s) : status_(std::move(s)) {}
  bool Valid() const override { return false; }
  void SeekToFirst() override {}
  void SeekToLast() override {}
  void Seek(std::string_view) override {}
  void Next() override { RINGDB_ASSERT(false); }
  void Prev() override { RINGDB_ASSERT(false); }
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Status status() const override { return status_; }

 private:
  Status status_;
};

// Invariant (when status_ is ok): heap_ holds exactly the indices of the valid
// children. Moving forward it is a min-heap, moving backward a max-heap, and its top
// is the current child. Ties between equal keys go to the lower child index going
// forward (and so to the higher index going backward), which keeps the order total.
class MergingIterator final : public InternalIterator {
 public:
  explicit MergingIterator(std::vector<std::unique_ptr<InternalIterator>> children)
      : children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool Valid() const override { return status_.ok() && !heap_.empty(); }

  void SeekToFirst() override {
    for (auto& c : children_) c->SeekToFirst();
    Rebuild(Direction::kForward);
  }
  void SeekToLast() override {
    for (auto& c : children_) c->SeekToLast();
    Rebuild(Direction::kReverse);
  }
  void Seek(std::string_view target) override {
    for (auto& c : children_) c->Seek(target);
    Rebuild(Direction::kForward);
  }

  void Next() override {
    RINGDB_ASSERT(Valid());
    if (direction_ != Direction::kForward) SwitchToForward();
    if (!status_.ok()) return;
    size_t cur = heap_.front();
    children_[cur]->Next();
    Advanced(cur);
  }

  void Prev() override {
    RINGDB_ASSERT(Valid());
    if (direction_ != Direction::kReverse) SwitchToReverse();
    if (!status_.ok()) return;
    size_t cur = heap_.front();
    children_[cur]->Prev();
    Advanced(cur);
  }

  std::string_view key() const override { return children_[heap_.front()]->key(); }
  std::string_view value() const override { return children_[heap_.front()]->value(); }
  Status status() const override { return status_; }

 private:
  enum class Direction { kForward, kReverse };

  // True if child a comes after child b in the current direction's order, i.e. a
  // belongs lower in the heap (std heap functions keep the "largest" on top).
  bool After(size_t a, size_t b) const {
    int r = icmp_.Compare(children_[a]->key(), children_[b]->key());
    if (direction_ == Direction::kForward) return r > 0 || (r == 0 && a > b);
    return r < 0 || (r == 0 && a < b);
  }
  auto HeapCmp() const {
    return [this](size_t a, size_t b) { return After(a, b); };
  }

  // Records the first child error; the merge ends there.
  bool CheckChild(size_t i) {
    if (children_[i]->Valid()) return true;
    Status s = children_[i]->status();
    if (!s.ok() && status_.ok()) status_ = std::move(s);
    return false;
  }

  void Rebuild(Direction d) {
    direction_ = d;
    status_ = Status::OK();
    heap_.clear();
    for (size_t i = 0; i < children_.size(); i++) {
      if (CheckChild(i)) heap_.push_back(i);
    }
    if (!status_.ok()) {
      heap_.clear();
      return;
    }
    std::make_heap(heap_.begin(), heap_.end(), HeapCmp());
  }

  // The top child `cur` has moved one step: re-place it, or drop it when exhausted.
  void Advanced(size_t cur) {
    std::pop_heap(heap_.begin(), heap_.end(), HeapCmp());
    RINGDB_ASSERT(heap_.back() == cur);
    if (CheckChild(cur)) {
      std::push_heap(heap_.begin(), heap_.end(), HeapCmp());
    } else {
      heap_.pop_back();
    }
    if (!status_.ok()) heap_.clear();
  }

  // Going backward every other child sits before key(); move each to the first entry
  // after key() so the heap can go forward from here.
  void SwitchToForward() {
    size_t cur = heap_.front();
    std::string_view k = children_[cur]->key();  // cur does not move below
    for (size_t i = 0; i < children_.size(); i++) {
      if (i == cur) continue;
      auto& c = children_[i];
      c->Seek(k);
      // An equal key in a lower-index child comes before cur going forward (it was
      // already yielded going backward): step over it.
      if (c->Valid() && icmp_.Compare(k, c->key()) == 0 && i < cur) c->Next();
    }
    RebuildAround(cur, Direction::kForward);
  }

  // Going forward every other child sits after key(); move each to the last entry
  // before key().
  void SwitchToReverse() {
    size_t cur = heap_.front();
    std::string_view k = children_[cur]->key();
    for (size_t i = 0; i < children_.size(); i++) {
      if (i == cur) continue;
      auto& c = children_[i];
      c->Seek(k);
      if (c->Valid()) {
        // An equal key in a lower-index child comes before cur going forward, so it
        // is the next one going backward: it stays.
        if (icmp_.Compare(k, c->key()) == 0 && i < cur) continue;
        c->Prev();
      } else if (c->status().ok()) {
        c->SeekToLast();  // every entry of this child is before k
      }
    }
    RebuildAround(cur, Direction::kReverse);
  }

  // Rebuilds the heap after a direction switch; `cur` must stay on top.
  void RebuildAround(size_t cur, Direction d) {
    Rebuild(d);
    if (!status_.ok()) return;
    RINGDB_ASSERT(!heap_.empty() && heap_.front() == cur);
  }

  InternalKeyComparator icmp_;
  std::vector<std::unique_ptr<InternalIterator>> children_;
  std::vector<size_t> heap_;
  Direction direction_ = Direction::kForward;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewEmptyIterator(Status status) {
  return std::make_unique<EmptyIterator>(std::move(status));
}

std::unique_ptr<InternalIterator> NewMergingIterator(
    std::vector<std::unique_ptr<InternalIterator>> children) {
  if (children.empty()) return NewEmptyIterator();
  if (children.size() == 1) return std::move(children[0]);
  return std::make_unique<MergingIterator>(std::move(children));
}

}  // namespace ringdb::lsm
