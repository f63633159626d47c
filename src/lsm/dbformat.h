// Internal keys: user_key | fixed64((sequence << 8) | type). See docs/format-overview.md.
//
// Everything here is pure data manipulation; no I/O, no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "util/coding.h"

namespace ringdb::lsm {

using SequenceNumber = uint64_t;

// DO NOT CHANGE: on-disk (internal key trailers, write-batch reps).
enum class ValueType : uint8_t {
  kDeletion = 0,
  kValue = 1,
  // A value with a deadline: stored as fixed64(expire_at_unix_ms) | payload
  // (lsm/expiry.h). Reads treat it as a deletion once the deadline has passed.
  kValueExpiring = 2,
};
// The type that sorts first for a given (user key, sequence): seeks use it so they land
// on the newest entry at or below the sequence.
constexpr ValueType kValueTypeForSeek = ValueType::kValueExpiring;

constexpr SequenceNumber kMaxSequenceNumber = (uint64_t{1} << 56) - 1;
constexpr size_t kTrailerBytes = 8;

// Size limits, checked before anything reaches the memtable or disk.
constexpr size_t kMaxUserKeyBytes = 65535;            // 64 KiB - 1
constexpr size_t kMaxValueBytes = size_t{64} << 20;   // 64 MiB
constexpr size_t kMaxBatchBytes = size_t{256} << 20;  // one WAL record payload
static_assert(kMaxUserKeyBytes + kMaxValueBytes + 32 < kMaxBatchBytes,
              "a single maximal entry must fit in a batch");
static_assert(kMaxBatchBytes < (uint64_t{1} << 31), "record lengths are fixed32");

// Outcome of a point lookup in one source (memtable or table).
enum class LookupResult { kAbsent, kFound, kDeleted };

inline bool IsValidValueType(uint8_t t) {
  return t <= static_cast<uint8_t>(ValueType::kValueExpiring);
}

inline uint64_t PackSequenceAndType(SequenceNumber seq, ValueType t) {
  return (seq << 8) | static_cast<uint8_t>(t);
}

struct ParsedInternalKey {
  std::string_view user_key;
  SequenceNumber sequence = 0;
  ValueType type = ValueType::kValue;
};

inline void AppendInternalKey(std::string* dst, std::string_view user_key, SequenceNumber seq,
                              ValueType t) {
  dst->append(user_key.data(), user_key.size());
  util::PutFixed64(dst, PackSequenceAndType(seq, t));
}
inline std::string MakeInternalKey(std::string_view user_key, SequenceNumber seq, ValueType t) {
  std::string s;
  AppendInternalKey(&s, user_key, seq, t);
  return s;
}

// False if `ikey` is shorter than a trailer or has an unknown type.
inline bool ParseInternalKey(std::string_view ikey, ParsedInternalKey* out) {
  if (ikey.size() < kTrailerBytes) return false;
  uint64_t tag = util::DecodeFixed64(ikey.data() + ikey.size() - kTrailerBytes);
  uint8_t t = static_cast<uint8_t>(tag & 0xff);
  if (!IsValidValueType(t)) return false;
  out->user_key = ikey.substr(0, ikey.size() - kTrailerBytes);
  out->sequence = tag >> 8;
  out->type = static_cast<ValueType>(t);
  return true;
}

// REQUIRES: ikey.size() >= kTrailerBytes.
inline std::string_view ExtractUserKey(std::string_view ikey) {
  return ikey.substr(0, ikey.size() - kTrailerBytes);
}
inline uint64_t ExtractTag(std::string_view ikey) {
  return util::DecodeFixed64(ikey.data() + ikey.size() - kTrailerBytes);
}

// User key bytewise ascending, then (sequence, type) descending. Keys shorter than a
// trailer (only possible in corrupt input) compare bytewise so the order stays total.
class InternalKeyComparator {
 public:
  int Compare(std::string_view a, std::string_view b) const {
    if (a.size() < kTrailerBytes || b.size() < kTrailerBytes) return a.compare(b);
    int r = ExtractUserKey(a).compare(ExtractUserKey(b));
    if (r != 0) return r;
    uint64_t ta = ExtractTag(a);
    uint64_t tb = ExtractTag(b);
    return ta > tb ? -1 : (ta < tb ? 1 : 0);
  }
  bool operator()(std::string_view a, std::string_view b) const { return Compare(a, b) < 0; }

  // Shortens *start to a key k with start <= k < limit (index separators).
  void FindShortestSeparator(std::string* start, std::string_view limit) const;
  // Shortens *key to a key k >= key (the last index entry).
  void FindShortSuccessor(std::string* key) const;
};

// A growable byte string that stays inline up to kInline bytes, so keys built per
// lookup (LookupKey, block iterators) allocate nothing for ordinary key sizes.
class InlineBytes {
 public:
  static constexpr size_t kInline = 128;
  InlineBytes() = default;
  InlineBytes(const InlineBytes&) = delete;
  InlineBytes& operator=(const InlineBytes&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }
  void clear() { size_ = 0; }
  // REQUIRES: n <= size().
  void truncate(size_t n) { size_ = n; }
  void append(const char* p, size_t n) {
    if (size_ + n > cap_) Grow(size_ + n);
    if (n != 0) std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  void push_back(char c) { append(&c, 1); }

 private:
  void Grow(size_t need) {
    size_t cap = cap_ * 2;
    while (cap < need) cap *= 2;
    auto bigger = std::make_unique<char[]>(cap);
    std::memcpy(bigger.get(), data_, size_);
    heap_ = std::move(bigger);
    data_ = heap_.get();
    cap_ = cap;
  }

  char inline_[kInline];
  std::unique_ptr<char[]> heap_;
  char* data_ = inline_;
  size_t size_ = 0;
  size_t cap_ = kInline;
};

// A key for memtable and table lookups of `user_key` as of snapshot `seq`.
// Layout: varint32(internal key length) | user_key | fixed64 tag, so the memtable can
// compare it directly with its entries.
class LookupKey {
 public:
  LookupKey(std::string_view user_key, SequenceNumber seq);
  LookupKey(const LookupKey&) = delete;
  LookupKey& operator=(const LookupKey&) = delete;

  std::string_view memtable_key() const { return buf_.view(); }
  std::string_view internal_key() const { return {buf_.data() + kstart_, buf_.size() - kstart_}; }
  std::string_view user_key() const {
    return {buf_.data() + kstart_, buf_.size() - kstart_ - kTrailerBytes};
  }
  SequenceNumber sequence() const { return seq_; }

 private:
  InlineBytes buf_;
  size_t kstart_;
  SequenceNumber seq_;
};

// "'key' @ seq : type" with non-printable bytes escaped, for messages and tests.
std::string DebugInternalKey(std::string_view ikey);
std::string EscapeBytes(std::string_view s);

}  // namespace ringdb::lsm
