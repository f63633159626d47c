// WriteBatchRep: the encoding of a write batch, used unchanged as the WAL record
// payload and to apply the batch to a memtable. See docs/wal.md.
//
//   rep   := count fixed32 | entry{count}
//   entry := kValue u8 | lp(key) | lp(value)
//          | kValueExpiring u8 | lp(key) | lp(fixed64(expire_at_unix_ms) | value)
//          | kDeletion u8 | lp(key)
//
// Entry i of a batch written at first_seq gets sequence first_seq + i. The public
// ringdb::WriteBatch wraps a std::string holding a rep and these helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

class MemTable;

class WriteBatchRep {
 public:
  static constexpr size_t kHeaderBytes = 4;

  // Receives a rep's entries in order.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(std::string_view key, std::string_view value) = 0;
    // A value with a deadline; `stored` is fixed64(expire_at_unix_ms) | value, at least
    // kExpiryBytes long (lsm/expiry.h SplitExpiring).
    virtual void PutExpiring(std::string_view key, std::string_view stored) = 0;
    virtual void Delete(std::string_view key) = 0;
  };

  // Makes *rep an empty batch.
  static void Clear(std::string* rep);
  // InvalidArgument (rep unchanged) when key/value exceed the dbformat.h limits or the
  // batch would exceed kMaxBatchBytes. REQUIRES: *rep is a valid rep.
  // expire_at_ms: the value's deadline (Unix ms), 0 for none.
  static Status Put(std::string* rep, std::string_view key, std::string_view value,
                    uint64_t expire_at_ms = 0);
  static Status Delete(std::string* rep, std::string_view key);
  // A one-entry rep (a Put, or a Delete when !is_put) written straight into memory the
  // caller owns (posted writes build theirs in the post buffer): SingleBytes() bytes.
  // REQUIRES: key/value within the limits (checked by the caller).
  static size_t SingleBytes(bool is_put, std::string_view key, std::string_view value,
                            uint64_t expire_at_ms = 0);
  static void EncodeSingle(char* dst, bool is_put, std::string_view key, std::string_view value,
                           uint64_t expire_at_ms = 0);
  // Appends src's entries to *dst (group commit merges batches this way).
  static Status Append(std::string* dst, std::string_view src);

  // REQUIRES: rep.size() >= kHeaderBytes.
  static uint32_t Count(std::string_view rep);
  static bool Empty(std::string_view rep) { return rep.size() <= kHeaderBytes; }

  // Walks every entry; Corruption (handler may have seen a prefix) if the rep is
  // malformed or its count does not match its entries. Use Validate() first where a
  // partial application would matter.
  static Status Iterate(std::string_view rep, Handler* handler);
  static Status Validate(std::string_view rep);
  // Validates, then adds every entry to mem with sequences first_seq, first_seq+1, ...
  // On error nothing is added.
  static Status InsertInto(std::string_view rep, SequenceNumber first_seq, MemTable* mem);
};

}  // namespace ringdb::lsm
