#include "lsm/memtable.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "lsm/expiry.h"
#include "util/assert.h"
#include "util/coding.h"
#include "util/hash.h"

namespace ringdb::lsm {

namespace {

// Decodes a varint32-length-prefixed slice at p. Entries were written by Add(), so the
// encoding is trusted (5 bytes suffice for the bound).
std::string_view GetLengthPrefixedSlice(const char* p) {
  uint32_t len = 0;
  const char* q = util::GetVarint32Ptr(p, p + util::kMaxVarint32Bytes, &len);
  return {q, len};
}

// Index slots (memtable.h): the entry pointer below bit 48, hash bits above.
constexpr int kPointerBits = 48;
constexpr uint64_t kPointerMask = (uint64_t{1} << kPointerBits) - 1;
constexpr uint64_t kInitialSlots = 1024;

// In memory only: any seed will do, nothing persists it.
uint64_t IndexHash(std::string_view user_key) {
  return util::Hash64(user_key, 0x6d656d7461626c65ull);
}

const char* EntryOf(uint64_t slot) {
  return reinterpret_cast<const char*>(static_cast<uintptr_t>(slot & kPointerMask));
}

// What an entry (its internal key `ikey`) answers a lookup that reached it.
LookupResult ResultOf(std::string_view ikey, std::string* value, uint64_t* expire_at_ms) {
  switch (static_cast<ValueType>(ExtractTag(ikey) & 0xff)) {
    case ValueType::kValue: {
      std::string_view v = GetLengthPrefixedSlice(ikey.data() + ikey.size());
      value->assign(v.data(), v.size());
      if (expire_at_ms != nullptr) *expire_at_ms = 0;
      return LookupResult::kFound;
    }
    case ValueType::kValueExpiring: {
      std::string_view payload;
      uint64_t deadline = 0;
      const bool ok =
          SplitExpiring(GetLengthPrefixedSlice(ikey.data() + ikey.size()), &deadline, &payload);
      if (expire_at_ms != nullptr) *expire_at_ms = deadline;
      RINGDB_ASSERT_MSG(ok, "memtable entry too short for its deadline");  // Add checked it
      value->assign(payload.data(), payload.size());
      return LookupResult::kFound;
    }
    case ValueType::kDeletion:
      return LookupResult::kDeleted;
  }
  RINGDB_ASSERT_MSG(false, "memtable entry with unknown value type");
  return LookupResult::kAbsent;
}

}  // namespace

int MemTable::KeyComparator::operator()(const char* a, const char* b) const {
  return InternalKeyComparator().Compare(GetLengthPrefixedSlice(a), GetLengthPrefixedSlice(b));
}

MemTable::Decoded MemTable::KeyComparator::Decode(const char* k) const {
  Decoded d;
  d.ikey = GetLengthPrefixedSlice(k);
  d.full = d.ikey.size() >= kTrailerBytes;
  if (d.full) {
    d.user_key = ExtractUserKey(d.ikey);
    d.tag = ExtractTag(d.ikey);
  }
  return d;
}

int MemTable::KeyComparator::operator()(const char* a, const Decoded& b) const {
  const std::string_view ak = GetLengthPrefixedSlice(a);
  // Entries always have a trailer (Add wrote it); a seek target may not.
  if (!b.full) return InternalKeyComparator().Compare(ak, b.ikey);
  const int r = ExtractUserKey(ak).compare(b.user_key);
  if (r != 0) return r;
  const uint64_t ta = ExtractTag(ak);
  return ta > b.tag ? -1 : (ta < b.tag ? 1 : 0);
}

MemTable::MemTable(size_t arena_block_bytes)
    : arena_(arena_block_bytes), table_(KeyComparator{}, &arena_) {
  index_.store(NewIndexTable(kInitialSlots), std::memory_order_release);
}

void MemTable::Add(SequenceNumber seq, ValueType type, std::string_view key,
                   std::string_view value) {
  const NewEntry e{seq, type, key, value};
  AddMany(&e, 1);
}

void MemTable::AddMany(const NewEntry* entries, size_t n) {
  constexpr size_t kChunk = 64;  // nodes made, then linked, per round
  Table::Node* nodes[kChunk];
  const char* keys[kChunk];
  uint64_t hashes[kChunk];
  const bool was_empty = table_.size() == 0;
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    for (size_t i = 0; i < m; i++) {
      const NewEntry& e = entries[base + i];
      RINGDB_ASSERT(e.seq <= kMaxSequenceNumber);
      RINGDB_ASSERT(e.key.size() <= kMaxUserKeyBytes && e.value.size() <= kMaxValueBytes);
      RINGDB_ASSERT(e.type != ValueType::kValueExpiring || e.value.size() >= kExpiryBytes);
      const uint32_t ikey_len = static_cast<uint32_t>(e.key.size() + kTrailerBytes);
      const uint32_t val_len = static_cast<uint32_t>(e.value.size());
      const size_t bytes =
          util::VarintLength(ikey_len) + ikey_len + util::VarintLength(val_len) + val_len;
      char* buf = nullptr;
      nodes[i] = table_.NewInline(bytes, &buf);
      keys[i] = buf;
      // The index slot is wanted after the list search: start loading it now.
      hashes[i] = IndexHash(e.key);
      const IndexTable* t = index_.load(std::memory_order_relaxed);
      __builtin_prefetch(&t->slots[hashes[i] & t->mask]);
      RINGDB_ASSERT_MSG((reinterpret_cast<uintptr_t>(buf) & ~kPointerMask) == 0,
                        "a memtable entry above 2^48: the index cannot hold it");
      char* p = util::EncodeVarint32(buf, ikey_len);
      if (!e.key.empty()) std::memcpy(p, e.key.data(), e.key.size());  // data() may be null
      p += e.key.size();
      util::EncodeFixed64(p, PackSequenceAndType(e.seq, e.type));
      p += kTrailerBytes;
      p = util::EncodeVarint32(p, val_len);
      if (!e.value.empty()) std::memcpy(p, e.value.data(), e.value.size());
      RINGDB_ASSERT(p + val_len == buf + bytes);
    }
    table_.LinkAll(nodes, m);
    for (size_t i = 0; i < m; i++) {
      const NewEntry& e = entries[base + i];
      IndexTable* t = index_.load(std::memory_order_relaxed);
      if ((t->used + 1) * 4 > (t->mask + 1) * 3) {
        IndexGrow();
        t = index_.load(std::memory_order_relaxed);
      }
      IndexAdd(t, keys[i], e.key, hashes[i]);
      if (e.type == ValueType::kDeletion) num_deletions_++;
      if ((was_empty && base == 0 && i == 0) || e.seq < smallest_seq_) smallest_seq_ = e.seq;
      if (e.seq > largest_seq_) largest_seq_ = e.seq;
    }
  }
}

// ---------------------------------------------------------------- the index

MemTable::IndexTable* MemTable::NewIndexTable(uint64_t slot_count) {
  const size_t bytes = sizeof(IndexTable) + sizeof(std::atomic<uint64_t>) * (slot_count - 1);
  char* mem = arena_.Allocate(bytes, 64);
  auto* t = new (mem) IndexTable;
  t->mask = slot_count - 1;
  t->used = 0;
  for (uint64_t i = 0; i < slot_count; i++) new (&t->slots[i]) std::atomic<uint64_t>(0);
  return t;
}

void MemTable::IndexAdd(IndexTable* t, const char* entry, std::string_view user_key,
                        uint64_t h) const {
  const uint64_t want = (h & ~kPointerMask) | reinterpret_cast<uintptr_t>(entry);
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const uint64_t v = t->slots[i].load(std::memory_order_relaxed);
    if (v == 0) {
      t->slots[i].store(want, std::memory_order_release);  // publishes the entry's bytes
      t->used++;
      return;
    }
    if ((v & ~kPointerMask) != (h & ~kPointerMask)) continue;
    const std::string_view old = GetLengthPrefixedSlice(EntryOf(v));
    if (ExtractUserKey(old) != user_key) continue;
    const std::string_view mine = GetLengthPrefixedSlice(entry);
    if ((ExtractTag(mine) >> 8) > (ExtractTag(old) >> 8)) {
      t->slots[i].store(want, std::memory_order_release);
    }
    return;
  }
}

void MemTable::IndexGrow() {
  const IndexTable* old = index_.load(std::memory_order_relaxed);
  IndexTable* t = NewIndexTable((old->mask + 1) * 2);
  for (uint64_t i = 0; i <= old->mask; i++) {
    const uint64_t v = old->slots[i].load(std::memory_order_relaxed);
    if (v == 0) continue;
    const std::string_view user_key = ExtractUserKey(GetLengthPrefixedSlice(EntryOf(v)));
    IndexAdd(t, EntryOf(v), user_key, IndexHash(user_key));
  }
  // Readers still in `old` find every key it held; the arena keeps it alive.
  index_.store(t, std::memory_order_release);
}

const char* MemTable::IndexFind(std::string_view user_key, uint64_t h) const {
  const IndexTable* t = index_.load(std::memory_order_acquire);
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const uint64_t v = t->slots[i].load(std::memory_order_acquire);
    if (v == 0) return nullptr;  // Invariant: a table is never full
    if ((v & ~kPointerMask) != (h & ~kPointerMask)) continue;
    const char* e = EntryOf(v);
    if (ExtractUserKey(GetLengthPrefixedSlice(e)) == user_key) return e;
  }
}

// ---------------------------------------------------------------- reads

MemTable::GetResult MemTable::Get(const LookupKey& key, std::string* value,
                                  uint64_t* expire_at_ms) const {
  // An empty memtable (a store that only reads): no hash, no probe into the index.
  if (num_entries() == 0) return GetResult::kAbsent;
  const char* e = IndexFind(key.user_key(), IndexHash(key.user_key()));
  if (e == nullptr) return GetResult::kAbsent;
  const std::string_view ikey = GetLengthPrefixedSlice(e);
  // The newest entry of the key; a snapshot older than it searches the list.
  if ((ExtractTag(ikey) >> 8) > key.sequence()) return SearchList(key, value, expire_at_ms);
  return ResultOf(ikey, value, expire_at_ms);
}

MemTable::GetResult MemTable::SearchList(const LookupKey& key, std::string* value,
                                         uint64_t* expire_at_ms) const {
  Table::Iterator it(&table_);
  it.Seek(key.memtable_key().data());
  if (!it.Valid()) return GetResult::kAbsent;
  std::string_view ikey = GetLengthPrefixedSlice(it.key());
  if (ExtractUserKey(ikey) != key.user_key()) return GetResult::kAbsent;
  return ResultOf(ikey, value, expire_at_ms);
}

class MemTable::Iter final : public InternalIterator {
 public:
  explicit Iter(const Table* table) : it_(table) {}
  bool Valid() const override { return it_.Valid(); }
  void SeekToFirst() override { it_.SeekToFirst(); }
  void SeekToLast() override { it_.SeekToLast(); }
  void Seek(std::string_view target) override {
    // The skiplist compares length-prefixed keys; build one for the target.
    tmp_.clear();
    util::PutLengthPrefixed(&tmp_, target);
    it_.Seek(tmp_.data());
  }
  void Next() override { it_.Next(); }
  void Prev() override { it_.Prev(); }
  std::string_view key() const override { return GetLengthPrefixedSlice(it_.key()); }
  std::string_view value() const override {
    std::string_view k = key();
    return GetLengthPrefixedSlice(k.data() + k.size());
  }
  Status status() const override { return Status::OK(); }

 private:
  Table::Iterator it_;
  std::string tmp_;
};

std::unique_ptr<InternalIterator> MemTable::NewIterator() const {
  return std::make_unique<Iter>(&table_);
}

}  // namespace ringdb::lsm
