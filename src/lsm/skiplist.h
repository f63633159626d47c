// SkipList: an ordered set of keys whose nodes live in an Arena.
//
// Thread ownership: one shard thread. A shard's memtable is read and written only by
// the thread that owns the shard (DESIGN.md rule 1), so unlike LevelDB's skiplist
// there are no atomics or memory barriers: a reader can never observe a half-linked
// node. Nodes are never removed; memory goes away with the arena.
//
// Invariant: keys are unique under Comparator (the memtable guarantees this by
// embedding a distinct sequence number in every key).
#pragma once

#include <cstdint>
#include <new>

#include "util/arena.h"
#include "util/assert.h"

namespace ringdb::lsm {

template <typename Key, class Comparator>
class SkipList {
  struct Node;

 public:
  static constexpr int kMaxHeight = 12;

  // `arena` must outlive the list.
  SkipList(Comparator cmp, util::Arena* arena)
      : compare_(cmp), arena_(arena), head_(NewNode(Key(), kMaxHeight)) {
    for (int i = 0; i < kMaxHeight; i++) head_->next[i] = nullptr;
  }
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // REQUIRES: nothing equal to key is in the list.
  void Insert(const Key& key) {
    Node* prev[kMaxHeight];
    Node* x = FindGreaterOrEqual(key, prev);
    RINGDB_ASSERT(x == nullptr || !Equal(key, x->key));
    int height = RandomHeight();
    if (height > max_height_) {
      for (int i = max_height_; i < height; i++) prev[i] = head_;
      max_height_ = height;
    }
    x = NewNode(key, height);
    for (int i = 0; i < height; i++) {
      x->next[i] = prev[i]->next[i];
      prev[i]->next[i] = x;
    }
    size_++;
  }

  bool Contains(const Key& key) const {
    Node* x = FindGreaterOrEqual(key, nullptr);
    return x != nullptr && Equal(key, x->key);
  }
  size_t size() const { return size_; }

  // Iteration over the list. The iterator stays valid while the list lives; entries
  // inserted meanwhile are seen or not depending on position, never corrupting it.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list) {}
    bool Valid() const { return node_ != nullptr; }
    // REQUIRES: Valid().
    const Key& key() const { return node_->key; }
    void Next() { node_ = node_->next[0]; }
    // O(log n): the list is singly linked.
    void Prev() {
      node_ = list_->FindLessThan(node_->key);
      if (node_ == list_->head_) node_ = nullptr;
    }
    void Seek(const Key& target) { node_ = list_->FindGreaterOrEqual(target, nullptr); }
    void SeekToFirst() { node_ = list_->head_->next[0]; }
    void SeekToLast() {
      node_ = list_->FindLast();
      if (node_ == list_->head_) node_ = nullptr;
    }

   private:
    const SkipList* list_;
    Node* node_ = nullptr;
  };

 private:
  struct Node {
    Key key;
    Node* next[1];  // `height` entries follow, allocated with the node
  };

  Node* NewNode(const Key& key, int height) {
    size_t bytes = sizeof(Node) + sizeof(Node*) * (height - 1);
    char* mem = arena_->Allocate(bytes, alignof(Node));
    Node* n = new (mem) Node{key, {nullptr}};
    return n;
  }

  int RandomHeight() {
    // Branching factor 4; xorshift64 is plenty and keeps the list deterministic.
    int height = 1;
    while (height < kMaxHeight) {
      rnd_ ^= rnd_ << 13;
      rnd_ ^= rnd_ >> 7;
      rnd_ ^= rnd_ << 17;
      if ((rnd_ & 3) != 0) break;
      height++;
    }
    return height;
  }

  bool Equal(const Key& a, const Key& b) const { return compare_(a, b) == 0; }

  // First node >= key (nullptr if none); fills prev[level] with the last node < key.
  Node* FindGreaterOrEqual(const Key& key, Node** prev) const {
    Node* x = head_;
    int level = max_height_ - 1;
    while (true) {
      Node* next = x->next[level];
      if (next != nullptr && compare_(next->key, key) < 0) {
        x = next;
      } else {
        if (prev != nullptr) prev[level] = x;
        if (level == 0) return next;
        level--;
      }
    }
  }

  // Last node < key, or head_.
  Node* FindLessThan(const Key& key) const {
    Node* x = head_;
    int level = max_height_ - 1;
    while (true) {
      Node* next = x->next[level];
      if (next != nullptr && compare_(next->key, key) < 0) {
        x = next;
      } else {
        if (level == 0) return x;
        level--;
      }
    }
  }

  Node* FindLast() const {
    Node* x = head_;
    int level = max_height_ - 1;
    while (true) {
      Node* next = x->next[level];
      if (next != nullptr) {
        x = next;
      } else {
        if (level == 0) return x;
        level--;
      }
    }
  }

  Comparator const compare_;
  util::Arena* const arena_;
  Node* const head_;
  int max_height_ = 1;
  size_t size_ = 0;
  uint64_t rnd_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace ringdb::lsm
