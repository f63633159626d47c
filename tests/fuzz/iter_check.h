// Iterator checks shared by the block and table targets: full scans in both
// directions and seeks compared with a sorted copy of the entries.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsm/dbformat.h"
#include "lsm/iterator.h"
#include "tests/fuzz/fuzz_util.h"

namespace ringdb::fuzz {

using Entries = std::vector<std::pair<std::string, std::string>>;

struct Scan {
  Entries entries;
  Status status;
};

// SeekToFirst + Next (forward) or SeekToLast + Prev, to the end. An iterator is never
// Valid() with a bad status, and never yields more entries than `limit`.
inline Scan ScanAll(lsm::InternalIterator* it, bool forward, size_t limit) {
  Scan s;
  forward ? it->SeekToFirst() : it->SeekToLast();
  while (it->Valid()) {
    FUZZ_CHECK(it->status().ok(), "Valid() with status %s", Str(it->status()).c_str());
    s.entries.emplace_back(it->key(), it->value());
    FUZZ_CHECK(s.entries.size() <= limit, "the scan does not end");
    forward ? it->Next() : it->Prev();
  }
  s.status = it->status();
  return s;
}

// Strictly increasing internal keys, each at least a trailer long (then the comparator
// is a total order).
inline bool SortedInternalKeys(const Entries& e) {
  const lsm::InternalKeyComparator icmp;
  for (size_t i = 0; i < e.size(); i++) {
    if (e[i].first.size() < lsm::kTrailerBytes) return false;
    if (i > 0 && icmp.Compare(e[i - 1].first, e[i].first) >= 0) return false;
  }
  return true;
}

inline Entries Reversed(Entries e) {
  std::reverse(e.begin(), e.end());
  return e;
}

// Index of the first entry >= target in sorted entries (e.size() when none).
inline size_t LowerBound(const Entries& e, std::string_view target) {
  const lsm::InternalKeyComparator icmp;
  auto it = std::lower_bound(e.begin(), e.end(), target, [&](const auto& a, std::string_view t) {
    return icmp.Compare(a.first, t) < 0;
  });
  return static_cast<size_t>(it - e.begin());
}

// Seek targets around entry i's key: the key itself, the same user key at the newest
// and oldest sequence and one sequence below, and a user key just before and after.
inline std::vector<std::string> ProbesAround(std::string_view ikey) {
  std::vector<std::string> p;
  p.emplace_back(ikey);
  lsm::ParsedInternalKey k;
  if (!lsm::ParseInternalKey(ikey, &k)) return p;
  p.push_back(lsm::MakeInternalKey(k.user_key, lsm::kMaxSequenceNumber, lsm::kValueTypeForSeek));
  p.push_back(lsm::MakeInternalKey(k.user_key, 0, lsm::ValueType::kDeletion));
  if (k.sequence > 0) {
    p.push_back(lsm::MakeInternalKey(k.user_key, k.sequence - 1, lsm::kValueTypeForSeek));
  }
  std::string after(k.user_key);
  after.push_back('\0');
  p.push_back(lsm::MakeInternalKey(after, lsm::kMaxSequenceNumber, lsm::kValueTypeForSeek));
  if (!k.user_key.empty()) {
    std::string before(k.user_key.substr(0, k.user_key.size() - 1));
    p.push_back(lsm::MakeInternalKey(before, 0, lsm::ValueType::kDeletion));
  }
  return p;
}

// Seek(target) lands on the first entry >= target, and Next/Prev from there move to
// its neighbours. REQUIRES: e sorted (SortedInternalKeys), the whole source.
inline void CheckSeek(lsm::InternalIterator* it, const Entries& e, std::string_view target) {
  const size_t want = LowerBound(e, target);
  it->Seek(target);
  if (want == e.size()) {
    FUZZ_CHECK(!it->Valid() && it->status().ok(), "Seek past the last key: %s",
               Str(it->status()).c_str());
    return;
  }
  FUZZ_CHECK(it->Valid() && it->key() == e[want].first && it->value() == e[want].second,
             "Seek lands on entry %s, expected %zu of %zu (%s)", it->Valid() ? "other" : "none",
             want, e.size(), Str(it->status()).c_str());
  it->Next();
  if (want + 1 < e.size()) {
    FUZZ_CHECK(it->Valid() && it->key() == e[want + 1].first, "Next after Seek");
    it->Prev();
    FUZZ_CHECK(it->Valid() && it->key() == e[want].first, "Prev after Seek+Next");
  } else {
    FUZZ_CHECK(!it->Valid() && it->status().ok(), "Next after Seek to the last entry");
  }
}

// Indexes to probe: all of them for small sources, an even sample of about n otherwise.
inline std::vector<size_t> Sample(size_t size, size_t n) {
  std::vector<size_t> out;
  const size_t step = size <= n ? 1 : size / n;
  for (size_t i = 0; i < size; i += step) out.push_back(i);
  if (size > 0 && out.back() != size - 1) out.push_back(size - 1);
  return out;
}

}  // namespace ringdb::fuzz
