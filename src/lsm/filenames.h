// Names of the files in a shard directory (docs/format-overview.md):
//   CURRENT           names the live MANIFEST (with a checksum)
//   MANIFEST-NNNNNN   version edits
//   NNNNNN.wal        write-ahead log segments
//   NNNNNN.sst        tables
//   POST-<pid>-<n>    post logs of posted writes (lsm/post_log.h); no number
// Numbers come from one per-shard counter, so every file number is unique in a shard.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringdb/status.h"

namespace ringdb::lsm {

enum class FileKind { kWal, kTable, kManifest, kCurrent, kTemp, kPostLog, kUnknown };

std::string WalFileName(uint64_t number);
std::string TableFileName(uint64_t number);
std::string ManifestFileName(uint64_t number);
inline constexpr const char* kCurrentFileName = "CURRENT";
inline constexpr const char* kCurrentTempFileName = "CURRENT.tmp";

// Classifies a directory entry; *number is set for numbered kinds.
FileKind ParseFileName(std::string_view name, uint64_t* number);

// CURRENT contents: "MANIFEST-NNNNNN crc32c=XXXXXXXX\n".
std::string EncodeCurrent(uint64_t manifest_number);
// Corruption (naming `file`) when malformed or the checksum does not match.
Status DecodeCurrent(std::string_view contents, const std::string& file, uint64_t* manifest_number);

}  // namespace ringdb::lsm
