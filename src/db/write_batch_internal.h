#pragma once

#include <string>

#include "ringdb/write_batch.h"

namespace ringdb {

class WriteBatchInternal {
 public:
  // Set in count_ when a Put/Delete was refused (oversized key or value): DB::Write
  // rejects the whole batch with InvalidArgument.
  static constexpr uint32_t kInvalidFlag = 0x80000000u;

  static bool Invalid(const WriteBatch& b) { return (b.count_ & kInvalidFlag) != 0; }
  static uint32_t Count(const WriteBatch& b) { return b.count_ & ~kInvalidFlag; }
  // Empty string for an empty batch; else a valid rep.
  static const std::string& Rep(const WriteBatch& b) { return b.rep_; }
};

}  // namespace ringdb
