#include "lsm/write_batch_rep.h"

#include <cstring>

#include "lsm/expiry.h"
#include "lsm/memtable.h"
#include "util/assert.h"
#include "util/coding.h"

namespace ringdb::lsm {

namespace {

void SetCount(std::string* rep, uint32_t n) {
  util::EncodeFixed32(rep->data(), n);
}

// The value as the entry stores it: with the deadline in front when there is one.
size_t StoredBytes(std::string_view value, uint64_t expire_at_ms) {
  return value.size() + (expire_at_ms != 0 ? kExpiryBytes : 0);
}

size_t EntryBytes(std::string_view key, size_t stored_bytes, bool has_value) {
  size_t n = 1 + util::VarintLength(key.size()) + key.size();
  if (has_value) n += util::VarintLength(stored_bytes) + stored_bytes;
  return n;
}

Status CheckAdd(const std::string& rep, std::string_view key, std::string_view value,
                bool has_value, uint64_t expire_at_ms = 0) {
  if (key.size() > kMaxUserKeyBytes) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(kMaxUserKeyBytes));
  }
  if (StoredBytes(value, expire_at_ms) > kMaxValueBytes) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxValueBytes));
  }
  if (rep.size() + EntryBytes(key, StoredBytes(value, expire_at_ms), has_value) > kMaxBatchBytes) {
    return Status::InvalidArgument("write batch exceeds " + std::to_string(kMaxBatchBytes) +
                                   " bytes");
  }
  return Status::OK();
}

// Writes one entry (EntryBytes long) at dst.
void EncodeEntry(char* dst, bool is_put, std::string_view key, std::string_view value,
                 uint64_t expire_at_ms) {
  const bool expiring = is_put && expire_at_ms != 0;
  ValueType type = is_put ? ValueType::kValue : ValueType::kDeletion;
  if (expiring) type = ValueType::kValueExpiring;
  char* p = dst;
  *p++ = static_cast<char>(type);
  p = util::EncodeVarint32(p, static_cast<uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (!is_put) return;
  p = util::EncodeVarint32(p, static_cast<uint32_t>(StoredBytes(value, expire_at_ms)));
  if (expiring) {
    util::EncodeFixed64(p, expire_at_ms);
    p += kExpiryBytes;
  }
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
}

// Hands entries to the memtable in groups (MemTable::AddMany overlaps their searches).
// Views into the batch stay valid until InsertInto returns; Finish() adds the rest.
class MemTableInserter final : public WriteBatchRep::Handler {
 public:
  MemTableInserter(SequenceNumber seq, MemTable* mem) : seq_(seq), mem_(mem) {}
  void Put(std::string_view key, std::string_view value) override {
    Queue(ValueType::kValue, key, value);
  }
  void PutExpiring(std::string_view key, std::string_view stored) override {
    Queue(ValueType::kValueExpiring, key, stored);
  }
  void Delete(std::string_view key) override { Queue(ValueType::kDeletion, key, {}); }
  void Finish() {
    if (n_ > 0) mem_->AddMany(queued_, n_);
    n_ = 0;
  }

 private:
  void Queue(ValueType type, std::string_view key, std::string_view value) {
    queued_[n_++] = MemTable::NewEntry{seq_++, type, key, value};
    if (n_ == kQueued) Finish();
  }

  static constexpr size_t kQueued = 32;
  SequenceNumber seq_;
  MemTable* mem_;
  MemTable::NewEntry queued_[kQueued];
  size_t n_ = 0;
};

class NullHandler final : public WriteBatchRep::Handler {
 public:
  void Put(std::string_view, std::string_view) override {}
  void PutExpiring(std::string_view, std::string_view) override {}
  void Delete(std::string_view) override {}
};

}  // namespace

void WriteBatchRep::Clear(std::string* rep) {
  rep->assign(kHeaderBytes, '\0');
}

uint32_t WriteBatchRep::Count(std::string_view rep) {
  RINGDB_ASSERT(rep.size() >= kHeaderBytes);
  return util::DecodeFixed32(rep.data());
}

Status WriteBatchRep::Put(std::string* rep, std::string_view key, std::string_view value,
                          uint64_t expire_at_ms) {
  if (rep->size() < kHeaderBytes) Clear(rep);
  Status s = CheckAdd(*rep, key, value, true, expire_at_ms);
  if (!s.ok()) return s;
  const size_t at = rep->size();
  rep->resize(at + EntryBytes(key, StoredBytes(value, expire_at_ms), true));
  EncodeEntry(rep->data() + at, true, key, value, expire_at_ms);
  SetCount(rep, Count(*rep) + 1);
  return Status::OK();
}

size_t WriteBatchRep::SingleBytes(bool is_put, std::string_view key, std::string_view value,
                                  uint64_t expire_at_ms) {
  return kHeaderBytes + EntryBytes(key, StoredBytes(value, expire_at_ms), is_put);
}

void WriteBatchRep::EncodeSingle(char* dst, bool is_put, std::string_view key,
                                 std::string_view value, uint64_t expire_at_ms) {
  util::EncodeFixed32(dst, 1);
  EncodeEntry(dst + kHeaderBytes, is_put, key, value, expire_at_ms);
}

Status WriteBatchRep::Delete(std::string* rep, std::string_view key) {
  if (rep->size() < kHeaderBytes) Clear(rep);
  Status s = CheckAdd(*rep, key, {}, false);
  if (!s.ok()) return s;
  rep->push_back(static_cast<char>(ValueType::kDeletion));
  util::PutLengthPrefixed(rep, key);
  SetCount(rep, Count(*rep) + 1);
  return Status::OK();
}

Status WriteBatchRep::Append(std::string* dst, std::string_view src) {
  if (dst->size() < kHeaderBytes) Clear(dst);
  if (src.size() < kHeaderBytes) return Status::Corruption("write batch rep too small");
  if (dst->size() + src.size() - kHeaderBytes > kMaxBatchBytes) {
    return Status::InvalidArgument("write batch exceeds " + std::to_string(kMaxBatchBytes) +
                                   " bytes");
  }
  uint64_t count = uint64_t{Count(*dst)} + Count(src);
  if (count > UINT32_MAX) return Status::InvalidArgument("write batch has too many entries");
  dst->append(src.data() + kHeaderBytes, src.size() - kHeaderBytes);
  SetCount(dst, static_cast<uint32_t>(count));
  return Status::OK();
}

Status WriteBatchRep::Iterate(std::string_view rep, Handler* handler) {
  if (rep.size() < kHeaderBytes) return Status::Corruption("write batch rep too small");
  const uint32_t expected = Count(rep);
  std::string_view input = rep.substr(kHeaderBytes);
  uint32_t found = 0;
  while (!input.empty()) {
    uint8_t type = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    std::string_view key, value;
    if (!util::GetLengthPrefixed(&input, &key) || key.size() > kMaxUserKeyBytes) {
      return Status::Corruption("write batch: bad key in entry " + std::to_string(found));
    }
    if (type == static_cast<uint8_t>(ValueType::kValue) ||
        type == static_cast<uint8_t>(ValueType::kValueExpiring)) {
      const bool expiring = type == static_cast<uint8_t>(ValueType::kValueExpiring);
      if (!util::GetLengthPrefixed(&input, &value) || value.size() > kMaxValueBytes ||
          (expiring && value.size() < kExpiryBytes)) {
        return Status::Corruption("write batch: bad value in entry " + std::to_string(found));
      }
      if (expiring) {
        handler->PutExpiring(key, value);
      } else {
        handler->Put(key, value);
      }
    } else if (type == static_cast<uint8_t>(ValueType::kDeletion)) {
      handler->Delete(key);
    } else {
      return Status::Corruption("write batch: unknown entry type " + std::to_string(type));
    }
    found++;
  }
  if (found != expected) {
    return Status::Corruption("write batch: header count " + std::to_string(expected) + " but " +
                              std::to_string(found) + " entries");
  }
  return Status::OK();
}

Status WriteBatchRep::Validate(std::string_view rep) {
  NullHandler h;
  return Iterate(rep, &h);
}

Status WriteBatchRep::InsertInto(std::string_view rep, SequenceNumber first_seq, MemTable* mem) {
  Status s = Validate(rep);
  if (!s.ok()) return s;
  if (first_seq + Count(rep) > kMaxSequenceNumber + 1) {
    return Status::InvalidArgument("sequence numbers exhausted");
  }
  MemTableInserter inserter(first_seq, mem);
  s = Iterate(rep, &inserter);  // cannot fail half-way: validated above
  inserter.Finish();
  return s;
}

}  // namespace ringdb::lsm
