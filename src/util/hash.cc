#include "util/hash.h"

#include <xxhash.h>

namespace ringdb::util {

uint64_t Hash64(const void* data, size_t n, uint64_t seed) {
  return XXH3_64bits_withSeed(data, n, seed);
}

}  // namespace ringdb::util
