#include "lsm/block_builder.h"

#include <algorithm>

#include "util/assert.h"
#include "util/coding.h"

namespace ringdb::lsm {

BlockBuilder::BlockBuilder(int restart_interval) : restart_interval_(restart_interval) {
  RINGDB_ASSERT(restart_interval >= 1);
  restarts_.push_back(0);
}

void BlockBuilder::Reset() {
  buffer_.clear();
  restarts_.clear();
  restarts_.push_back(0);
  counter_ = 0;
  finished_ = false;
  last_key_.clear();
}

namespace {

size_t SharedPrefix(std::string_view a, std::string_view b) {
  const size_t min_len = std::min(a.size(), b.size());
  size_t shared = 0;
  while (shared < min_len && a[shared] == b[shared]) shared++;
  return shared;
}

}  // namespace

size_t BlockBuilder::SizeEstimateAfterAdd(std::string_view key, std::string_view value) const {
  const bool restart = counter_ >= restart_interval_;
  const size_t shared = restart ? 0 : SharedPrefix(last_key_, key);
  const size_t non_shared = key.size() - shared;
  return CurrentSizeEstimate() + (restart ? 4 : 0) + util::VarintLength(shared) +
         util::VarintLength(non_shared) + util::VarintLength(value.size()) + non_shared +
         value.size();
}

void BlockBuilder::Add(std::string_view key, std::string_view value) {
  RINGDB_ASSERT(!finished_);
  RINGDB_ASSERT(buffer_.empty() || icmp_.Compare(key, last_key_) > 0);
  size_t shared = 0;
  if (counter_ < restart_interval_) {
    shared = SharedPrefix(last_key_, key);
  } else {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    counter_ = 0;
  }
  const size_t non_shared = key.size() - shared;
  util::PutVarint32(&buffer_, static_cast<uint32_t>(shared));
  util::PutVarint32(&buffer_, static_cast<uint32_t>(non_shared));
  util::PutVarint32(&buffer_, static_cast<uint32_t>(value.size()));
  buffer_.append(key.data() + shared, non_shared);
  buffer_.append(value.data(), value.size());
  last_key_.resize(shared);
  last_key_.append(key.data() + shared, non_shared);
  counter_++;
}

std::string_view BlockBuilder::Finish() {
  RINGDB_ASSERT(!finished_);
  RINGDB_ASSERT_MSG(buffer_.size() + restarts_.size() * 4 < UINT32_MAX, "block too large");
  for (uint32_t r : restarts_) util::PutFixed32(&buffer_, r);
  util::PutFixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
  finished_ = true;
  return buffer_;
}

}  // namespace ringdb::lsm
