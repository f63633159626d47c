// Seeds of the `resp` fuzz target, which fuzz_make_corpus writes: requests as redis-cli
// and redis-benchmark encode them (SET/GET/DEL, a pipeline, MSET, binary keys and
// values), empty frames and arguments, inline commands with Redis's quoting, the
// pre-AUTH limits, each protocol error after a good command, frames cut short.
#pragma once

#include <string>
#include <vector>

namespace ringdb::fuzz {

struct RespSeed {
  std::string name;
  std::string bytes;
};

std::vector<RespSeed> RespSeeds();

}  // namespace ringdb::fuzz
