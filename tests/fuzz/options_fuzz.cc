// Fuzz target `options`: the store's OPTIONS parser (DecodeStoreOptions,
// src/db/store_files.h), which Open and ringdb-tool (verify, stats) run on the file.
//
// Input: the OPTIONS file's bytes. Read as given and, when that differs, once more with
// the checksum line recomputed (ResealOptions).
//
// Accepted contents: at least one shard, a version this build reads, and a checksum line
// that is exactly 8 lowercase hex digits; the decoded options re-encode to a file that decodes to
// the same options.
#include <string>

#include "db/store_files.h"
#include "tests/fuzz/fuzz_util.h"

namespace ringdb::fuzz {
namespace {

// As EncodeStoreOptions writes them.
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void CheckOptions(const std::string& contents) {
  db::StoreOptions so;
  Status s = db::DecodeStoreOptions(contents, "OPTIONS", &so);
  if (!s.ok()) {
    FUZZ_CHECK((s.IsCorruption() || s.IsNotSupported()) && s.message().rfind("OPTIONS: ", 0) == 0,
               "%s", Str(s).c_str());
    return;
  }
  FUZZ_CHECK(so.shards >= 1 && so.format_version <= db::kFormatVersion, "accepted %u shards, v%u",
             so.shards, so.format_version);
  const size_t pos = contents.rfind("crc32c=");
  FUZZ_CHECK(pos != std::string::npos && pos + 7 + 8 <= contents.size(), "no checksum line");
  for (size_t i = pos + 7; i < pos + 15; i++) {
    FUZZ_CHECK(IsHex(contents[i]), "checksum '%s' is not 8 hex digits",
               contents.substr(pos + 7).c_str());
  }
  const std::string enc = db::EncodeStoreOptions(so);
  db::StoreOptions back;
  s = db::DecodeStoreOptions(enc, "OPTIONS", &back);
  FUZZ_CHECK(s.ok() && back.shards == so.shards && back.format_version == so.format_version,
             "decode(encode(options)) differs: %s", Str(s).c_str());
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  const std::string contents(AsView(data, size));
  CheckOptions(contents);
  std::string sealed = contents;
  ResealOptions(&sealed);
  if (sealed != contents) CheckOptions(sealed);
  return 0;
}
