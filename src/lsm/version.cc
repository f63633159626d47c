#include "lsm/version.h"

#include <unistd.h>

namespace ringdb::lsm {

TableHandle::~TableHandle() {
  // close(2) of a read-only descriptor flushes nothing; it may run on any thread.
  if (fd >= 0) ::close(fd);
}

void Version::Seal() {
  bounds_.clear();
  bound_off_.assign(1, 0);
  uint32_t n = 0;
  for (int level = 0; level < kNumLevels; level++) {
    first_[level] = n;
    for (const VersionFile& f : levels_[level]) {
      for (std::string_view k : {f.smallest_user_key(), f.largest_user_key()}) {
        bounds_.append(k);
        bound_off_.push_back(static_cast<uint32_t>(bounds_.size()));
      }
      n++;
    }
  }
}

size_t Version::NumFiles() const {
  size_t n = 0;
  for (const auto& level : levels_) n += level.size();
  return n;
}

const VersionFile* Version::Find(uint64_t number) const {
  for (const auto& level : levels_) {
    for (const VersionFile& f : level) {
      if (f.meta.number == number) return &f;
    }
  }
  return nullptr;
}

}  // namespace ringdb::lsm
