// SkipList: an ordered set of keys whose nodes live in an Arena.
//
// Thread ownership: one writer (the shard thread that owns the memtable) and any number
// of concurrent readers on any thread (DESIGN.md rule 1), as in LevelDB's skiplist.
// A node is filled completely, then linked bottom-up with release stores; readers
// follow links with acquire loads, so a reader that reaches a node sees its key and
// every byte the writer put in the arena before linking it. A reader may or may not
// see a node linked while it searches, never half of one. Nodes are never removed;
// memory goes away with the arena, which the owner frees only once no reader can hold
// a pointer into it (runtime/rcu.h).
//
// Invariant: keys are unique under Comparator (the memtable guarantees this by
// embedding a distinct sequence number in every key).
//
// Speed (a search visits ~20 nodes of a list with a few hundred thousand keys, each
// usually a cache miss): NewInline places the key's bytes right after the node's
// links, so a visit costs one miss, not two (node, then key); LinkAll searches the
// places of several new nodes interleaved, prefetching each search's next node while
// the others step, so their misses overlap instead of queueing; a single search
// prefetches the node after the one it compares; a comparator may offer Decode(key),
// a form of the searched key it compares against cheaply, made once per search.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <type_traits>

#include "util/arena.h"
#include "util/assert.h"

namespace ringdb::lsm {

template <typename Key, class Comparator>
class SkipList {
 public:
  struct Node;  // NewInline's result, for LinkAll; callers only hold pointers

  static constexpr int kMaxHeight = 12;

  // `arena` must outlive the list.
  SkipList(Comparator cmp, util::Arena* arena)
      : compare_(cmp), arena_(arena), head_(NewNode(Key(), kMaxHeight)) {
    for (int i = 0; i < kMaxHeight; i++) head_->SetNext(i, nullptr);
  }
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // Writer only. REQUIRES: nothing equal to key is in the list.
  void Insert(const Key& key) { Link(NewNode(key, RandomHeight())); }

  // Writer only, for lists of `const char*` keys: an unlinked node whose key, `bytes`
  // bytes at *key (stable for the list's life), lives in the node's own allocation.
  // The caller writes the key, then links the node with LinkAll.
  Node* NewInline(size_t bytes, char** key) {
    static_assert(std::is_same_v<Key, const char*>, "inline keys are byte strings");
    const int height = RandomHeight();
    const size_t node_bytes = NodeBytes(height);
    char* mem = arena_->Allocate(node_bytes + bytes, alignof(Node));
    *key = mem + node_bytes;
    return InitNode(mem, *key, height);
  }

  // Writer only: links nodes[0..n) (from NewInline, keys written), each published as
  // Insert publishes one. REQUIRES: their keys are distinct and not in the list.
  void LinkAll(Node* const* nodes, size_t n) {
    for (size_t done = 0; done < n; done += kGroup)
      LinkGroup(nodes + done, std::min(n - done, kGroup));
  }

  bool Contains(const Key& key) const {
    Node* x = FindGreaterOrEqual(Probe(key), nullptr);
    return x != nullptr && Equal(key, x->key);
  }
  // Any thread; approximate while the writer inserts.
  size_t size() const { return size_.load(std::memory_order_relaxed); }

  // Iteration over the list. The iterator stays valid while the list lives; entries
  // inserted meanwhile are seen or not depending on position, never corrupting it.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list) {}
    bool Valid() const { return node_ != nullptr; }
    // REQUIRES: Valid().
    const Key& key() const { return node_->key; }
    void Next() { node_ = node_->Next(0); }
    // O(log n): the list is singly linked.
    void Prev() {
      node_ = list_->FindLessThan(list_->Probe(node_->key));
      if (node_ == list_->head_) node_ = nullptr;
    }
    void Seek(const Key& target) {
      node_ = list_->FindGreaterOrEqual(list_->Probe(target), nullptr);
    }
    void SeekToFirst() { node_ = list_->head_->Next(0); }
    void SeekToLast() {
      node_ = list_->FindLast();
      if (node_ == list_->head_) node_ = nullptr;
    }

   private:
    const SkipList* list_;
    Node* node_ = nullptr;
  };

 private:
  static constexpr size_t kGroup = 16;  // searches interleaved by LinkAll

  // One search of LinkGroup.
  template <class P>
  struct Search {
    P probe;
    Node* x;
    int level;
    bool done;
    Node* prev[kMaxHeight];
  };

  // Starts loading node n (and the key bytes after a short node's links).
  static void Prefetch(const Node* n) {
    if (n == nullptr) return;
    __builtin_prefetch(n);
    __builtin_prefetch(reinterpret_cast<const char*>(n) + 64);
  }

  // Links up to kGroup nodes: their searches step in turn, each step prefetching the
  // node the search compares next, so by the time a search steps again its node has
  // arrived; then the nodes are linked in order, each one's predecessors moved past
  // the group's earlier nodes where those landed in between.
  void LinkGroup(Node* const* nodes, size_t n) {
    using P = decltype(Probe(nodes[0]->key));
    Search<P> s[kGroup];
    const int top = max_height_.load(std::memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
      s[i].probe = Probe(nodes[i]->key);
      s[i].x = head_;
      s[i].level = top - 1;
      s[i].done = false;
      for (int l = top; l < kMaxHeight; l++) s[i].prev[l] = head_;
      Prefetch(head_->NoBarrierNext(top - 1));
    }
    for (size_t left = n; left > 0;) {
      for (size_t i = 0; i < n; i++) {
        Search<P>& q = s[i];
        if (q.done) continue;
        Node* next = q.x->NoBarrierNext(q.level);  // the writer's own links
        if (next != nullptr && compare_(next->key, q.probe) < 0) {
          q.x = next;
        } else {
          q.prev[q.level] = q.x;
          if (q.level == 0) {
            q.done = true;
            left--;
            continue;
          }
          q.level--;
        }
        Prefetch(q.x->NoBarrierNext(q.level));
      }
    }
    for (size_t i = 0; i < n; i++) {
      Node* x = nodes[i];
      const int height = x->height;
      if (height > max_height_.load(std::memory_order_relaxed)) {
        max_height_.store(height, std::memory_order_relaxed);  // as in Link
      }
      for (int l = 0; l < height; l++) {
        Node* p = s[i].prev[l];
        for (Node* nx = p->NoBarrierNext(l); nx != nullptr && compare_(nx->key, s[i].probe) < 0;
             nx = p->NoBarrierNext(l)) {
          p = nx;  // an earlier node of this group
        }
        if (l == 0) {
          Node* at = p->NoBarrierNext(0);
          RINGDB_ASSERT(at == nullptr || !Equal(x->key, at->key));
        }
        x->NoBarrierSetNext(l, p->NoBarrierNext(l));
        p->SetNext(l, x);
      }
      size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }

  // Links x (filled, unreachable) into the list.
  void Link(Node* x) {
    Node* prev[kMaxHeight];
    const Key& key = x->key;
    Node* at = FindGreaterOrEqual(Probe(key), prev);
    RINGDB_ASSERT(at == nullptr || !Equal(key, at->key));
    const int height = x->height;
    const int max_height = max_height_.load(std::memory_order_relaxed);
    if (height > max_height) {
      for (int i = max_height; i < height; i++) prev[i] = head_;
      // A reader that sees the new height before the links finds head_'s null links
      // at those levels and drops down: harmless.
      max_height_.store(height, std::memory_order_relaxed);
    }
    for (int i = 0; i < height; i++) {
      // x is not reachable yet: its own links need no ordering; the release store
      // that links it publishes the node and everything written before.
      x->NoBarrierSetNext(i, prev[i]->NoBarrierNext(i));
      prev[i]->SetNext(i, x);
    }
    size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

 public:  // declared public for NewInline/LinkAll callers, who only hold pointers
  struct Node {
    Node(const Key& k, int h) : key(k), height(h) {
      next_[0].store(nullptr, std::memory_order_relaxed);
    }
    Key const key;
    int const height;

    Node* Next(int level) const { return next_[level].load(std::memory_order_acquire); }
    void SetNext(int level, Node* x) { next_[level].store(x, std::memory_order_release); }
    Node* NoBarrierNext(int level) const { return next_[level].load(std::memory_order_relaxed); }
    void NoBarrierSetNext(int level, Node* x) { next_[level].store(x, std::memory_order_relaxed); }

    // `height` entries, allocated with the node (the same trick as LevelDB's).
    std::atomic<Node*> next_[1];
  };

 private:
  static size_t NodeBytes(int height) {
    return sizeof(Node) + sizeof(std::atomic<Node*>) * (height - 1);
  }
  Node* InitNode(char* mem, const Key& key, int height) {
    Node* n = new (mem) Node(key, height);
    // The links beyond next_[0] live in the bytes allocated past the struct.
    for (int i = 1; i < height; i++) new (n->next_ + i) std::atomic<Node*>(nullptr);
    return n;
  }
  Node* NewNode(const Key& key, int height) {
    return InitNode(arena_->Allocate(NodeBytes(height), alignof(Node)), key, height);
  }

  // The searched key in the form the comparator compares fastest (see the top).
  auto Probe(const Key& key) const {
    if constexpr (requires { compare_.Decode(key); }) {
      return compare_.Decode(key);
    } else {
      return key;
    }
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
  template <class P>
  Node* FindGreaterOrEqual(const P& key, Node** prev) const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->Next(level);
      if (next != nullptr) {
        // The node after `next` is where the search goes if `next` is smaller: start
        // loading it while `next`'s key is compared.
        __builtin_prefetch(next->NoBarrierNext(level));
      }
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
  template <class P>
  Node* FindLessThan(const P& key) const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->Next(level);
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
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->Next(level);
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
  std::atomic<int> max_height_{1};  // written by the writer, read anywhere (relaxed)
  std::atomic<size_t> size_{0};
  uint64_t rnd_ = 0x9e3779b97f4a7c15ull;  // writer only
};

}  // namespace ringdb::lsm
