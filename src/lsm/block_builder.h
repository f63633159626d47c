// BlockBuilder: encodes a key/value block with prefix-compressed keys and restart
// points (docs/sst.md "Key/value blocks").
//
//   contents := entry* | restart fixed32{n} | n fixed32
//   entry    := shared varint32 | non_shared varint32 | value_len varint32
//               | key_delta | value
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/dbformat.h"

namespace ringdb::lsm {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1.
  explicit BlockBuilder(int restart_interval);

  // REQUIRES: key > every key added since Reset() (InternalKeyComparator); !finished.
  void Add(std::string_view key, std::string_view value);
  // Appends the restart array; the view is valid until Reset() or destruction.
  std::string_view Finish();
  void Reset();

  // Size Finish() would produce now.
  size_t CurrentSizeEstimate() const { return buffer_.size() + restarts_.size() * 4 + 4; }
  // Size Finish() would produce after Add(key, value) (the same REQUIRES as Add).
  size_t SizeEstimateAfterAdd(std::string_view key, std::string_view value) const;
  bool empty() const { return counter_ == 0 && restarts_.size() == 1 && buffer_.empty(); }
  std::string_view last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;  // Invariant: restarts_[0] == 0
  int counter_ = 0;                 // entries since the last restart
  bool finished_ = false;
  std::string last_key_;
  InternalKeyComparator icmp_;
};

}  // namespace ringdb::lsm
