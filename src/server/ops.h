// Op: one key's part of a command, as it travels to the key's shard. A command becomes
// one op (GET, SET, INCR...) or one per key (MGET, MSET, DEL, EXISTS); a connection
// groups the ops of a pipelined burst by shard and each shard runs its list in order
// (keyspace.h). The result is filled in on that shard and read back by the connection
// once the shard's list is done.
//
// Thread ownership: created and read by the connection's fiber; between the hand-off
// and the shard's completion message, touched only by the owning shard.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringdb::server {

enum class OpCode : uint8_t {
  // Reads.
  kGet,
  kExists,
  kStrlen,
  kType,
  kTtl,         // flags: kMs (PTTL)
  kExpireTime,  // flags: kMs (PEXPIRETIME)
  kGetRange,    // a = start, b = end
  // Writes (kSet without conditions is a blind write; the rest read first).
  kSet,          // val; flags kNx kXx kGet kKeepTtl kReplyInt; when/at
  kDel,          // flags: none
  kIncrBy,       // a = delta
  kIncrByFloat,  // f = increment
  kAppend,       // val
  kSetRange,     // a = offset, val
  kGetDel,
  kGetEx,    // when/at (kWhenPersist: PERSIST)
  kExpire,   // when/at; flags kNx kXx kGt kLt
  kPersist,  //
};

// Reads come first: an op reads only (no write, no pending-table entry) iff this holds.
inline bool IsRead(OpCode c) {
  return c < OpCode::kSet;
}

// How Op::at is read.
enum class When : uint8_t {
  kNone,     // no deadline
  kRelMs,    // at = milliseconds from now
  kAbsMs,    // at = Unix milliseconds
  kPersist,  // remove the deadline (GETEX PERSIST)
};

enum class ResultKind : uint8_t {
  kNone,
  kOk,      // +OK
  kNull,    // nil
  kInt,     // i
  kBulk,    // s
  kSimple,  // +s (a static string in sim)
  kError,   // -s (or -err when set)
};

struct Op {
  static constexpr uint8_t kNx = 1;
  static constexpr uint8_t kXx = 2;
  static constexpr uint8_t kGetOld = 4;
  static constexpr uint8_t kKeepTtl = 8;
  static constexpr uint8_t kReplyInt = 16;  // SETNX: 1/0 instead of OK/nil
  static constexpr uint8_t kGt = 32;
  static constexpr uint8_t kLt = 64;
  static constexpr uint8_t kMs = 128;  // kTtl/kExpireTime: milliseconds

  // ---- set by the connection ----
  OpCode code = OpCode::kGet;
  uint8_t flags = 0;
  When when = When::kNone;
  uint32_t shard = 0;
  uint64_t hash = 0;  // of key, for the pending table
  std::string_view key;
  std::string_view val;
  int64_t a = 0;
  int64_t b = 0;
  int64_t at = 0;
  long double f = 0;

  // ---- set on the shard ----
  ResultKind kind = ResultKind::kNone;
  int64_t i = 0;
  std::string s;              // bulk value, or the error text (kError without err)
  const char* err = nullptr;  // a static error text (kError)
  const char* sim = nullptr;  // kSimple
  uint64_t ticket = 0;        // highest write this op made or read (0: none)
  bool wrote = false;         // this op queued a write
  bool hit = false;           // the key existed (keyspace_hits / misses)

  void ResetResult() {
    kind = ResultKind::kNone;
    i = 0;
    s.clear();
    err = nullptr;
    sim = nullptr;
    ticket = 0;
    wrote = false;
    hit = false;
  }
  void SetError(const char* e) {
    kind = ResultKind::kError;
    err = e;
  }
  void SetErrorText(std::string_view e) {
    kind = ResultKind::kError;
    err = nullptr;
    s.assign(e);
  }
};

}  // namespace ringdb::server
