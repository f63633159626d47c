// Expiry: values that carry a deadline (WriteOptions::expire_at_unix_ms,
// WriteBatch::Put with a deadline). See docs/engine.md "Expiring values".
//
//   stored value of a ValueType::kValueExpiring entry := fixed64(expire_at_unix_ms) | payload
//
// A deadline is judged when the entry is read, against the store's clock
// (Options::clock_ms, else CLOCK_REALTIME): at or after the deadline the entry reads as
// a deletion (it hides every older version of its key, at every snapshot). Compaction
// turns an entry expired at its start into a tombstone, which the bottommost level
// drops. So a clock set back can show an expired value again only until a compaction
// rewrote it.
//
// Thread ownership: ExpiryClock is immutable after construction; NowMs() is as
// thread-safe as the function it wraps (the real clock is).
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <string_view>
#include <utility>

#include "util/coding.h"

namespace ringdb::lsm {

constexpr size_t kExpiryBytes = 8;

// True when an entry with this deadline is gone at now_ms (0: never expires).
inline bool Expired(uint64_t expire_at_ms, uint64_t now_ms) {
  return expire_at_ms != 0 && expire_at_ms <= now_ms;
}

// Splits a stored kValueExpiring value. False when it is too short to hold a deadline
// (corruption).
inline bool SplitExpiring(std::string_view stored, uint64_t* expire_at_ms,
                          std::string_view* payload) {
  if (stored.size() < kExpiryBytes) return false;
  *expire_at_ms = util::DecodeFixed64(stored.data());
  *payload = stored.substr(kExpiryBytes);
  return true;
}

// The store's wall clock for expiry decisions, in Unix milliseconds.
class ExpiryClock {
 public:
  ExpiryClock() = default;
  // fn: a replacement clock (tests, simulations); null: CLOCK_REALTIME.
  explicit ExpiryClock(std::function<uint64_t()> fn) : fn_(std::move(fn)) {}

  uint64_t NowMs() const {
    if (fn_) return fn_();
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
  }

 private:
  std::function<uint64_t()> fn_;
};

}  // namespace ringdb::lsm
