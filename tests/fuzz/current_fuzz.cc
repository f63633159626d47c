// Fuzz target `current`: a shard's CURRENT parser (DecodeCurrent, src/lsm/filenames.h),
// which recovery and ringdb-tool run on the file, and the file-name parser
// (ParseFileName) that classifies a shard directory's entries.
//
// Input: the CURRENT file's bytes. Read as given and, when that differs, once more with
// the checksum recomputed (ResealCurrent).
//
// CURRENT has one spelling per MANIFEST number: whatever DecodeCurrent accepts is
// exactly what EncodeCurrent writes for the number it returns (else recovery would
// open another file than the one CURRENT names). Likewise a name that ParseFileName
// gives a number is exactly the name the engine writes for that number.
#include <string>

#include "lsm/filenames.h"
#include "tests/fuzz/fuzz_util.h"

namespace ringdb::fuzz {
namespace {

void CheckCurrent(std::string_view contents) {
  uint64_t number = 0;
  Status s = lsm::DecodeCurrent(contents, "CURRENT", &number);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption() && s.message().rfind("CURRENT: ", 0) == 0, "%s", Str(s).c_str());
    return;
  }
  FUZZ_CHECK(lsm::EncodeCurrent(number) == contents,
             "CURRENT naming MANIFEST %llu is accepted in another spelling: '%s'",
             static_cast<unsigned long long>(number), std::string(contents).c_str());
}

void CheckFileName(std::string_view name) {
  uint64_t number = 0;
  switch (lsm::ParseFileName(name, &number)) {
    case lsm::FileKind::kWal:
      FUZZ_CHECK(lsm::WalFileName(number) == name, "WAL name '%s' is not canonical",
                 std::string(name).c_str());
      break;
    case lsm::FileKind::kTable:
      FUZZ_CHECK(lsm::TableFileName(number) == name, "table name '%s' is not canonical",
                 std::string(name).c_str());
      break;
    case lsm::FileKind::kManifest:
      FUZZ_CHECK(lsm::ManifestFileName(number) == name, "MANIFEST name '%s' is not canonical",
                 std::string(name).c_str());
      break;
    case lsm::FileKind::kCurrent:
      FUZZ_CHECK(name == lsm::kCurrentFileName, "CURRENT");
      break;
    case lsm::FileKind::kPostLog:
      FUZZ_CHECK(name.starts_with("POST-"), "post log name '%s'", std::string(name).c_str());
      break;
    case lsm::FileKind::kTemp:
    case lsm::FileKind::kUnknown:
      break;
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  const std::string_view contents = AsView(data, size);
  CheckCurrent(contents);
  std::string sealed(contents);
  ResealCurrent(&sealed);
  if (sealed != contents) CheckCurrent(sealed);
  // The name CURRENT holds, and the input as a directory entry's name.
  CheckFileName(contents.substr(0, contents.find(' ')));
  CheckFileName(contents);
  return 0;
}
