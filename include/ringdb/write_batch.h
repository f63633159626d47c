// WriteBatch: a group of updates applied atomically within each shard.
//
// A batch whose keys all map to one shard is applied atomically: after a crash either
// all of it or none of it is visible. A batch spanning shards is split into one
// sub-batch per shard; each sub-batch is atomic and durable on its own, and the write is
// acknowledged when every sub-batch is durable. A crash before the acknowledgement can
// leave some shards' sub-batches applied and others not (see docs/write-batch.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringdb/options.h"
#include "ringdb/status.h"

namespace ringdb {

class WriteBatch {
 public:
  WriteBatch() = default;

  // A key over kMaxKeyBytes or a value over kMaxValueBytes (options.h) is not added;
  // DB::Write then rejects the whole batch with InvalidArgument.
  void Put(std::string_view key, std::string_view value);
  // A value with a deadline in Unix milliseconds (0: none); see
  // WriteOptions::expire_at_unix_ms for what a deadline does.
  void Put(std::string_view key, std::string_view value, uint64_t expire_at_unix_ms);
  void Delete(std::string_view key);
  void Clear();

  uint32_t Count() const { return count_ & 0x7fffffffu; }
  // Bytes of the encoded batch (keys, values and framing).
  size_t ApproximateSize() const { return rep_.size(); }

  // Calls handler for each update, in insertion order.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(std::string_view key, std::string_view value) = 0;
    // A Put with a deadline. The default forwards to Put (dropping the deadline).
    virtual void PutWithExpiry(std::string_view key, std::string_view value,
                               uint64_t expire_at_unix_ms) {
      (void)expire_at_unix_ms;
      Put(key, value);
    }
    virtual void Delete(std::string_view key) = 0;
  };
  Status Iterate(Handler* handler) const;

 private:
  friend class WriteBatchInternal;
  // The encoded updates (docs/wal.md, "write-batch rep"); empty until the first update.
  std::string rep_;
  uint32_t count_ = 0;
};

}  // namespace ringdb
