// Glob-style matching with Redis's rules (KEYS, SCAN MATCH, CONFIG GET): * ? [abc]
// [^abc] [a-z] and \ to escape. Byte-wise; nocase folds ASCII letters.
#pragma once

#include <string_view>

namespace ringdb::server {

bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase = false);

}  // namespace ringdb::server
