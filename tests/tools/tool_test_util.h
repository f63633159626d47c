// Helpers for the ringdb-tool suite: running the built binary (path in $RINGDB_TOOL),
// temporary directories, flipping bytes in files, and reading a shard's live tables
// with the lsm decoders (so a test can aim a corruption at a specific block).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsm/version_edit.h"
#include "tests/db/db_test_util.h"

namespace ringdb::tooltest {

using dbtest::TempDir;  // the end-to-end suites' temporary directory

struct ToolResult {
  bool exited = false;  // false: killed by a signal (a crash) or by the timeout
  int code = -1;        // exit code when exited
  int signal = 0;
  std::string out, err;
  // For failure messages.
  std::string Describe() const;
};

// Runs `$RINGDB_TOOL args...` with stdout/stderr captured; SIGKILL after timeout_ms.
ToolResult RunTool(const std::vector<std::string>& args, int timeout_ms = 30000);
// The tool's path, or "" when RINGDB_TOOL is unset.
std::string ToolPath();

void CopyTree(const std::string& from, const std::string& to);
// XORs the byte at `offset` with 0x5a.
void FlipByte(const std::string& file, uint64_t offset);
void WriteFile(const std::string& file, std::string_view bytes);
std::string ReadFile(const std::string& file);
uint64_t FileSizeOf(const std::string& file);
// Sorted full paths of the files in `dir` whose name ends with `suffix`.
std::vector<std::string> FilesWithSuffix(const std::string& dir, std::string_view suffix);
// Path of the MANIFEST that <shard_dir>/CURRENT names.
std::string CurrentManifest(const std::string& shard_dir);
// The shard's live tables, (level, metadata), from its MANIFEST.
std::vector<std::pair<int, lsm::FileMetaData>> LiveTables(const std::string& shard_dir);
// A record of a WAL segment / MANIFEST file: [offset, end).
struct RecordSpan {
  uint64_t offset = 0, end = 0;
  uint64_t middle() const { return offset + (end - offset) / 2; }
};
std::vector<RecordSpan> Records(const std::string& file, uint64_t number);
// Data block handles (offset, size) of an SST.
std::vector<std::pair<uint64_t, uint64_t>> DataBlocks(const std::string& sst_file);

}  // namespace ringdb::tooltest
