// Keyspace: runs ops (ops.h) on the shard that owns their keys. One per shard.
//
// Semantics (docs/server.md, "Consistency"):
//   - A list of ops runs in order; each one sees the effect of the ones before it, of
//     any connection, acknowledged or not (read-your-writes inside a pipeline).
//   - Writes go to the engine in segments: consecutive writes of a list become one
//     engine batch (one WAL record), and all the segments queued on a shard in one
//     reactor pass become one group commit. A segment is submitted before the fiber can
//     suspend, so the order writes were made in is the order they reach the WAL.
//   - Read-modify-write ops (INCR, SET NX, APPEND, DEL...) read the newest write of
//     their key, including ones not yet acknowledged (the pending table), and queue
//     their own without suspending in between: they are atomic per key, and 50 clients
//     INCRing one key share a group commit.
//   - Run() returns when every write its ops made, and every unacknowledged write they
//     read, is acknowledged, so no reply reveals something a crash could take back. If
//     one of those writes failed, the ops that depend on it report the error.
//
// Thread ownership: the shard's thread only; Run() is called from fibers there.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/status.h"
#include "runtime/fiber.h"
#include "server/ops.h"
#include "server/pending_table.h"
#include "server/store.h"
#include "util/hash.h"

namespace ringdb::server {

class Keyspace {
 public:
  Keyspace(Store* store, uint32_t shard);
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  // Runs ops[0..n) in order (each owned by this shard) and waits as described above.
  // REQUIRES: in a fiber on this shard; the ops' keys and values stay valid until it
  // returns.
  void Run(Op* const* ops, size_t n);

  // Runs read ops (IsRead) of shard `owner` on the current shard, without a hop (see
  // Store::ReadInPlace): their results are what they would be on the owner for a
  // client whose earlier writes were all acknowledged. False, with no result set,
  // when the owner must run them (it has writes not acknowledged yet). `reads`:
  // scratch space, kept by the caller between calls. REQUIRES: in a fiber on a shard.
  static bool ReadInPlace(Store* store, uint32_t owner, Op* const* ops, size_t n,
                          std::vector<KeyRead>* reads);

  // Deletes every key of this shard (FLUSHALL's part). Keys written concurrently may
  // survive (they are ordered after the flush).
  Status FlushAll();

  uint64_t pending_writes() const { return pending_.size(); }
  // Keys of this shard deleted because their deadline had passed when a command read
  // them (lazy expiry, as Redis's expired_keys). Any thread may read it.
  uint64_t expired_keys() const { return expired_keys_.load(std::memory_order_relaxed); }
  uint64_t segments_submitted() const { return segments_submitted_; }

 private:
  struct Segment;
  struct Waiter {
    uint64_t ticket;
    rt::Fiber* fiber;
    Waiter* next;
  };

  void Exec(Op* op);
  void ExecSet(Op* op, uint64_t now);
  void ExecExpire(Op* op, uint64_t now);
  void ExecUpdate(Op* op);
  void ExecTouch(Op* op, uint64_t now);
  // The newest value of op's key into op->s: from the pending table, else the engine.
  // True if found (live); false if absent or on an error (then op is an error).
  // rmw: the result must still be the newest when this returns (it looks again if a
  // write to the key came and went while the engine read suspended).
  bool Lookup(Op* op, bool rmw, uint64_t* expire_at_ms);
  // Queues a write of op's key into the open segment and the pending table; value is
  // a view that stays valid until the segment is acknowledged. False (op is an error)
  // if the engine refuses the key or value.
  bool Write(Op* op, std::string_view value, uint64_t expire_at_ms, bool deleted);
  // Makes open_ a fresh segment if there is none.
  void OpenSegment();
  // Lazy expiry: queues a tombstone for op's key, found past its deadline, counts it,
  // and makes op wait for it.
  void ExpireKey(Op* op);
  bool WriteKey(std::string_view key, uint64_t hash, std::string_view value, uint64_t expire_at_ms,
                bool deleted, uint64_t* ticket, Status* error);
  // Submits the open segment, if any (never suspends).
  void Submit();
  // Suspends until every ticket <= t is acknowledged.
  void WaitAcked(uint64_t t);
  static void OnSegmentDone(void* arg, const Status& s);
  // Deletes keys, waits for the acknowledgment.
  Status DeleteKeys(const std::vector<std::string>& keys);
  void SegmentDone(Segment* seg, const Status& s);

  Store* const store_;
  const uint32_t shard_;
  PendingTable pending_;
  // Per-slot counters bumped whenever a key of that slot is written or acknowledged:
  // an RMW read that suspended looks again if its slot moved meanwhile.
  static constexpr size_t kGenSlots = 4096;
  std::unique_ptr<uint32_t[]> gen_;

  uint64_t now_ms_ = 0;       // the clock when the latest Run() began (expiry decisions)
  Segment* open_ = nullptr;   // the segment writes go into now (not submitted)
  uint64_t next_ticket_ = 1;  // ticket of the next segment opened
  uint64_t acked_ = 0;        // Invariant: segments are acknowledged in ticket order
  uint64_t failed_from_ = 0;  // first ticket that failed (0: none); later ones fail too
  Status failed_status_;
  Waiter* waiters_ = nullptr;
  std::vector<std::unique_ptr<Segment>> spare_;
  uint64_t segments_submitted_ = 0;
  std::atomic<uint64_t> expired_keys_{0};  // written by this shard only
};

// The pending table's hash of a key (Op::hash).
inline uint64_t KeyHash(std::string_view key) {
  return util::Hash64(key, 0x5e7a11);
}

// Redis's error texts used by more than one file.
inline constexpr const char* kErrNotInt = "ERR value is not an integer or out of range";
inline constexpr const char* kErrSyntax = "ERR syntax error";
inline constexpr const char* kErrOverflow = "ERR increment or decrement would overflow";
inline constexpr const char* kErrNotFloat = "ERR value is not a valid float";
inline constexpr const char* kErrTooBig =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

}  // namespace ringdb::server
