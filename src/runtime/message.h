// Messages: what travels over the SPSC rings between threads.
//
// A message is a pointer to a task object owned by the sender (on the sender's stack
// for blocking calls, so a call allocates nothing). The receiving reactor calls
// handler(msg, receiver) on its own thread when it drains the ring; the handler may
// repoint `handler` and send the same object back over the reverse ring (that is how
// fiber-to-fiber SubmitTo returns its result).
//
// Ownership: between the push and the handler call, the receiver may touch the object;
// once a handler has pushed it back (or completed the waiter), it must not touch it
// again, since the owner may free it at any moment.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "runtime/post_buffer.h"
#include "runtime/spsc_ring.h"

namespace ringdb::rt {

class Reactor;

struct Message {
  void (*handler)(Message* msg, Reactor* receiver) = nullptr;
};

using MessageRing = SpscRing<Message*>;

// The ring from one foreign (non-shard) thread to one shard. Created lazily by that
// thread, linked into the shard reactor's lock-free registration list, and destroyed
// by whichever side lets go last (refs counts the producer thread and the reactor).
//
// Thread ownership: `ring` and `post` are SPSC (the foreign thread produces, the
// reactor consumes). `next` is written by the producer only before the node is
// published, then only by the reactor (which alone unlinks nodes). `post` is created by
// the producer before its first posted message, which the ring's release/acquire then
// publishes to the reactor.
struct ForeignRing {
  explicit ForeignRing(size_t capacity) : ring(capacity) {}

  MessageRing ring;
  std::unique_ptr<PostBuffer> post;  // posted messages' bytes; null until first used
  // Messages pushed other than as Runtime::Wake::kDeferred: the producer counts them
  // before each push; the reactor compares the count after a drain with prompt_seen to
  // tell whether it handled only deferred ones (Reactor::Sleep's bound).
  std::atomic<uint64_t> prompt_pushes{0};
  // Messages of this thread that a later posted message must not overtake and that are
  // not done yet (the engine counts its async writes until they completed: a posted
  // write takes its order on the calling thread, they take theirs on the shard). The
  // producer increments it before pushing, the reactor's thread decrements it; they
  // point at it, so the node outlives them.
  // (Its own cache line: the reactor writes it, the producer reads `post` per post.)
  alignas(kCacheLine) std::atomic<uint32_t> ordered_in_flight{0};
  ForeignRing* next = nullptr;
  uint64_t prompt_seen = 0;  // reactor only: prompt_pushes at its last drain
  std::atomic<int> refs{2};  // producer thread + reactor

  // Drops one reference; deletes the node when it was the last.
  static void Release(ForeignRing* r) {
    if (r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete r;
  }
  // True once the other party has let go (only one reference left: ours).
  bool Orphaned() const { return refs.load(std::memory_order_acquire) == 1; }
  // Reactor: no posted message of this ring still holds bytes in `post`, and no
  // counted message still points at ordered_in_flight.
  bool PostsDrained() const {
    return (post == nullptr || post->Drained()) &&
           ordered_in_flight.load(std::memory_order_acquire) == 0;
  }
};

}  // namespace ringdb::rt
