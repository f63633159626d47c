#include "lsm/memtable.h"

#include <cstring>

#include "lsm/expiry.h"
#include "util/assert.h"
#include "util/coding.h"

namespace ringdb::lsm {

namespace {

// Decodes a varint32-length-prefixed slice at p. Entries were written by Add(), so the
// encoding is trusted (5 bytes suffice for the bound).
std::string_view GetLengthPrefixedSlice(const char* p) {
  uint32_t len = 0;
  const char* q = util::GetVarint32Ptr(p, p + util::kMaxVarint32Bytes, &len);
  return {q, len};
}

}  // namespace

int MemTable::KeyComparator::operator()(const char* a, const char* b) const {
  return icmp.Compare(GetLengthPrefixedSlice(a), GetLengthPrefixedSlice(b));
}

MemTable::MemTable(size_t arena_block_bytes)
    : arena_(arena_block_bytes), table_(KeyComparator{}, &arena_) {}

void MemTable::Add(SequenceNumber seq, ValueType type, std::string_view key,
                   std::string_view value) {
  RINGDB_ASSERT(seq <= kMaxSequenceNumber);
  RINGDB_ASSERT(key.size() <= kMaxUserKeyBytes && value.size() <= kMaxValueBytes);
  RINGDB_ASSERT(type != ValueType::kValueExpiring || value.size() >= kExpiryBytes);
  uint32_t ikey_len = static_cast<uint32_t>(key.size() + kTrailerBytes);
  uint32_t val_len = static_cast<uint32_t>(value.size());
  size_t bytes = util::VarintLength(ikey_len) + ikey_len + util::VarintLength(val_len) + val_len;
  char* buf = arena_.Allocate(bytes, 1);
  char* p = util::EncodeVarint32(buf, ikey_len);
  if (!key.empty()) std::memcpy(p, key.data(), key.size());  // data() may be null
  p += key.size();
  util::EncodeFixed64(p, PackSequenceAndType(seq, type));
  p += kTrailerBytes;
  p = util::EncodeVarint32(p, val_len);
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
  RINGDB_ASSERT(p + val_len == buf + bytes);
  table_.Insert(buf);
  if (type == ValueType::kDeletion) num_deletions_++;
  if (table_.size() == 1 || seq < smallest_seq_) smallest_seq_ = seq;
  if (seq > largest_seq_) largest_seq_ = seq;
}

MemTable::GetResult MemTable::Get(const LookupKey& key, std::string* value,
                                  uint64_t* expire_at_ms) const {
  Table::Iterator it(&table_);
  it.Seek(key.memtable_key().data());
  if (!it.Valid()) return GetResult::kAbsent;
  std::string_view ikey = GetLengthPrefixedSlice(it.key());
  if (ExtractUserKey(ikey) != key.user_key()) return GetResult::kAbsent;
  switch (static_cast<ValueType>(ExtractTag(ikey) & 0xff)) {
    case ValueType::kValue: {
      std::string_view v = GetLengthPrefixedSlice(ikey.data() + ikey.size());
      value->assign(v.data(), v.size());
      if (expire_at_ms != nullptr) *expire_at_ms = 0;
      return GetResult::kFound;
    }
    case ValueType::kValueExpiring: {
      std::string_view payload;
      uint64_t deadline = 0;
      const bool ok =
          SplitExpiring(GetLengthPrefixedSlice(ikey.data() + ikey.size()), &deadline, &payload);
      if (expire_at_ms != nullptr) *expire_at_ms = deadline;
      RINGDB_ASSERT_MSG(ok, "memtable entry too short for its deadline");  // Add checked it
      value->assign(payload.data(), payload.size());
      return GetResult::kFound;
    }
    case ValueType::kDeletion:
      return GetResult::kDeleted;
  }
  RINGDB_ASSERT_MSG(false, "memtable entry with unknown value type");
  return GetResult::kAbsent;
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
