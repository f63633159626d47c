#include "lsm/version.h"

#include <unistd.h>

namespace ringdb::lsm {

TableHandle::~TableHandle() {
  // close(2) of a read-only descriptor flushes nothing; it may run on any thread.
  if (fd >= 0) ::close(fd);
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
