#include "ringdb/write_batch.h"

#include "db/write_batch_internal.h"
#include "lsm/expiry.h"
#include "lsm/write_batch_rep.h"

namespace ringdb {

// The public batch keeps a rep (lsm/write_batch_rep.h) so that a single-shard batch
// reaches the WAL without re-encoding. Size violations are remembered and reported by
// DB::Write (the public Put/Delete return nothing, like LevelDB's).
void WriteBatch::Put(std::string_view key, std::string_view value) {
  Put(key, value, 0);
}

void WriteBatch::Put(std::string_view key, std::string_view value, uint64_t expire_at_unix_ms) {
  if (rep_.empty()) lsm::WriteBatchRep::Clear(&rep_);
  if (key.size() > kMaxKeyBytes || value.size() > kMaxValueBytes) {
    count_ |= WriteBatchInternal::kInvalidFlag;
    return;
  }
  Status s = lsm::WriteBatchRep::Put(&rep_, key, value, expire_at_unix_ms);
  if (!s.ok()) {
    count_ |= WriteBatchInternal::kInvalidFlag;
    return;
  }
  count_++;
}

void WriteBatch::Delete(std::string_view key) {
  if (rep_.empty()) lsm::WriteBatchRep::Clear(&rep_);
  if (key.size() > kMaxKeyBytes) {
    count_ |= WriteBatchInternal::kInvalidFlag;
    return;
  }
  Status s = lsm::WriteBatchRep::Delete(&rep_, key);
  if (!s.ok()) {
    count_ |= WriteBatchInternal::kInvalidFlag;
    return;
  }
  count_++;
}

void WriteBatch::Clear() {
  rep_.clear();
  count_ = 0;
}

Status WriteBatch::Iterate(Handler* handler) const {
  if (rep_.empty()) return Status::OK();
  struct Adapter : lsm::WriteBatchRep::Handler {
    WriteBatch::Handler* h;
    void Put(std::string_view k, std::string_view v) override { h->Put(k, v); }
    void PutExpiring(std::string_view k, std::string_view stored) override {
      uint64_t deadline = 0;
      std::string_view v;
      lsm::SplitExpiring(stored, &deadline, &v);  // Iterate checked the length
      h->PutWithExpiry(k, v, deadline);
    }
    void Delete(std::string_view k) override { h->Delete(k); }
  } adapter;
  adapter.h = handler;
  return lsm::WriteBatchRep::Iterate(rep_, &adapter);
}

}  // namespace ringdb
