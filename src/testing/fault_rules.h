// FaultRule: which requests a FaultBackend fails, shortens, corrupts or delays, and
// when (docs/fault-injection.md "Rules"). A rule is a value; a FaultController holds
// the rules of every backend sharing it.
//
//   ctl->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).File(".wal").Nth(3));
//
// Test-only (library ringdb_testing); never linked into libringdb.
#pragma once

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>

#include "io/io_backend.h"

namespace ringdb::io {

// A set of IoOp values.
using IoOpMask = uint32_t;
constexpr IoOpMask OpBit(IoOp op) {
  return IoOpMask{1} << static_cast<unsigned>(op);
}
constexpr IoOpMask kAllOps = (IoOpMask{1} << (static_cast<unsigned>(IoOp::kUnlink) + 1)) - 1;
constexpr IoOpMask kReadOps = OpBit(IoOp::kRead) | OpBit(IoOp::kReadv);
constexpr IoOpMask kWriteOps = OpBit(IoOp::kWrite) | OpBit(IoOp::kWritev);
constexpr IoOpMask kSyncOps = OpBit(IoOp::kFsync) | OpBit(IoOp::kFdatasync);
constexpr IoOpMask kDirOps = OpBit(IoOp::kOpen) | OpBit(IoOp::kRename) | OpBit(IoOp::kUnlink);

enum class FaultAction : uint8_t {
  kError,          // complete with -error; the request never reaches the disk
  kShortTransfer,  // read/write: transfer only a prefix, report its length
  kBitFlip,        // read: flip one bit of the data returned (media corruption)
  kDelay,          // complete delay_ns after the disk did (a latency spike)
};

// One fault rule: what to inject, into which requests, and when.
//
// A rule numbers the requests it matches (op in `ops`, file path containing
// `path_substr`) 1, 2, 3, ... in submission order, and fires on the match numbers in
// [first, first + count), each with `probability` (drawn from a generator seeded with
// `seed`, so a seed replays the same choices for the same request sequence), at most
// `max_fires` times. A request an action cannot apply to (a bit flip on a write) does
// not match. When several rules fire on one request, the first one added wins.
struct FaultRule {
  static constexpr uint64_t kForever = std::numeric_limits<uint64_t>::max();

  FaultAction action = FaultAction::kError;
  int error = EIO;         // kError: a positive errno, reported as -error
  uint64_t short_len = 0;  // kShortTransfer: bytes to transfer (0: half); always < len
  uint64_t delay_ns = 0;   // kDelay
  IoOpMask ops = kAllOps;
  std::string path_substr;  // "" matches every request, including ones with no path
  bool any_class = true;    // else only requests of io_class
  IoClass io_class = IoClass::kOther;
  uint64_t first = 1;
  uint64_t count = kForever;
  double probability = 1.0;
  uint64_t seed = 0;
  uint64_t max_fires = kForever;

  static FaultRule Error(int err);                     // all ops
  static FaultRule ShortTransfer(uint64_t bytes = 0);  // read and write ops
  static FaultRule BitFlip();                          // read ops
  static FaultRule Delay(uint64_t ns);                 // all ops

  FaultRule& On(IoOp op) {
    ops = OpBit(op);
    return *this;
  }
  FaultRule& On(IoOpMask mask) {
    ops = mask;
    return *this;
  }
  FaultRule& File(std::string substr) {
    path_substr = std::move(substr);
    return *this;
  }
  FaultRule& Class(IoClass c) {
    any_class = false;
    io_class = c;
    return *this;
  }
  FaultRule& Nth(uint64_t n) {
    first = n;
    count = 1;
    return *this;
  }  // only the nth
  FaultRule& AfterN(uint64_t n) {
    first = n + 1;
    count = kForever;
    return *this;
  }
  FaultRule& WithProbability(double p, uint64_t s) {
    probability = p;
    seed = s;
    return *this;
  }
  FaultRule& Times(uint64_t n) {
    max_fires = n;
    return *this;
  }
};

// What has been injected so far (all backends sharing the controller).
struct FaultCounters {
  uint64_t requests_seen = 0;  // requests submitted through a FaultBackend
  uint64_t errors = 0;         // requests completed with an injected errno
  uint64_t short_transfers = 0;
  uint64_t bit_flips = 0;
  uint64_t delays = 0;
  uint64_t injected() const { return errors + short_transfers + bit_flips + delays; }
};

}  // namespace ringdb::io
