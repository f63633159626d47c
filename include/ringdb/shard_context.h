// ShardContext: application code running on a shard's own thread (DB::RunOnShards),
// next to the data it touches. Used for closed-loop load that needs no client thread
// (per-core scaling benchmarks) and for embedding logic that wants shard affinity.
//
// Every operation works only on keys the shard owns (DB::ShardForKey(key) == shard());
// other keys are InvalidArgument. Operations suspend the calling fiber, never the
// thread, so many fibers per shard overlap their I/O and share group commits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringdb/options.h"
#include "ringdb/status.h"

namespace ringdb {

class ShardContext {
 public:
  virtual uint32_t shard() const = 0;
  virtual uint32_t shard_count() const = 0;
  // True when this shard owns key.
  virtual bool Owns(std::string_view key) const = 0;

  // As DB::Put/Delete (WriteOptions::expire_at_unix_ms included).
  virtual Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) = 0;
  virtual Status Delete(const WriteOptions& wo, std::string_view key) = 0;
  // OK and *value set, NotFound, or an error. ReadOptions::snapshot is honoured.
  // *expire_at_unix_ms (when not null): the value's deadline, 0 when it has none.
  virtual Status Get(const ReadOptions& ro, std::string_view key, std::string* value,
                     uint64_t* expire_at_unix_ms) = 0;
  Status Get(const ReadOptions& ro, std::string_view key, std::string* value) {
    return Get(ro, key, value, nullptr);
  }
  // Lets the shard's other fibers (commits, flushes, requests from other threads) run.
  virtual void Yield() = 0;

 protected:
  ~ShardContext() = default;
};

}  // namespace ringdb
