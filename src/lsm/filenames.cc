#include "lsm/filenames.h"

#include <cstdio>

#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::lsm {
namespace {

std::string Numbered(uint64_t number, const char* suffix) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%06llu%s", static_cast<unsigned long long>(number), suffix);
  return buf;
}

// Accepts only the spelling Numbered() writes, so that the number parsed from a name
// (or from CURRENT) leads back to that very file, not to "000005.sst" for "5.sst".
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (Numbered(v, "") != s) return false;
  *out = v;
  return true;
}

}  // namespace

std::string WalFileName(uint64_t number) {
  return Numbered(number, ".wal");
}
std::string TableFileName(uint64_t number) {
  return Numbered(number, ".sst");
}
std::string ManifestFileName(uint64_t number) {
  return "MANIFEST-" + Numbered(number, "");
}

FileKind ParseFileName(std::string_view name, uint64_t* number) {
  if (name == kCurrentFileName) return FileKind::kCurrent;
  if (name.ends_with(".tmp")) return FileKind::kTemp;
  if (name.starts_with("POST-")) return FileKind::kPostLog;
  if (name.starts_with("MANIFEST-")) {
    return ParseDecimal(name.substr(9), number) ? FileKind::kManifest : FileKind::kUnknown;
  }
  if (name.ends_with(".wal")) {
    return ParseDecimal(name.substr(0, name.size() - 4), number) ? FileKind::kWal
                                                                 : FileKind::kUnknown;
  }
  if (name.ends_with(".sst")) {
    return ParseDecimal(name.substr(0, name.size() - 4), number) ? FileKind::kTable
                                                                 : FileKind::kUnknown;
  }
  return FileKind::kUnknown;
}

std::string EncodeCurrent(uint64_t manifest_number) {
  std::string name = ManifestFileName(manifest_number);
  char buf[64];
  std::snprintf(buf, sizeof(buf), " crc32c=%08x\n", util::crc32c::Value(name.data(), name.size()));
  return name + buf;
}

Status DecodeCurrent(std::string_view contents, const std::string& file,
                     uint64_t* manifest_number) {
  size_t sp = contents.find(' ');
  if (sp == std::string_view::npos || !contents.ends_with('\n')) {
    return Status::Corruption(file + ": malformed (expected 'MANIFEST-N crc32c=X')");
  }
  std::string_view name = contents.substr(0, sp);
  std::string_view rest = contents.substr(sp + 1, contents.size() - sp - 2);
  uint32_t crc = 0;
  if (!rest.starts_with("crc32c=") || !util::ParseHex32(rest.substr(7), &crc)) {
    return Status::Corruption(file + ": malformed checksum");
  }
  if (crc != util::crc32c::Value(name.data(), name.size())) {
    return Status::Corruption(file + ": checksum mismatch");
  }
  uint64_t n = 0;
  if (ParseFileName(name, &n) != FileKind::kManifest) {
    return Status::Corruption(file + ": does not name a MANIFEST");
  }
  *manifest_number = n;
  return Status::OK();
}

}  // namespace ringdb::lsm
