// The subcommands of ringdb-tool (docs/tools.md). ringdb_tool.cc parses the command line
// and calls one of these; each returns the process exit code (tool_common.h ExitCode)
// and prints errors itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ringdb::tools {

// get / put / delete / scan: through the public API (ringdb::DB).
struct KvArgs {
  std::string db;       // store directory
  bool hex = false;     // keys and values in and out as hex
  uint32_t shards = 0;  // put only: shard count if put creates the store (0: one per CPU)
};
int CmdGet(const KvArgs& a, const std::string& key);
int CmdPut(const KvArgs& a, const std::string& key, const std::string& value);
int CmdDelete(const KvArgs& a, const std::string& key);

struct ScanArgs {
  std::optional<std::string> from;    // inclusive lower bound
  std::optional<std::string> to;      // exclusive upper bound
  std::optional<std::string> prefix;  // only keys starting with it
  uint64_t limit = 0;                 // 0: no limit
  bool reverse = false;
  bool keys_only = false;
};
int CmdScan(const KvArgs& a, const ScanArgs& s);

// checkpoint: DB::Checkpoint of the store (closed: the tool opens it) into `to`.
int CmdCheckpoint(const KvArgs& a, const std::string& to);

// dump-sst / dump-wal / dump-manifest: one file of a closed store.
struct DumpArgs {
  std::string file;
  bool hex = false;
  bool no_values = false;
  std::optional<uint64_t> number;  // WAL segment / MANIFEST number when the name lacks it
};
int CmdDumpSst(const DumpArgs& a);
int CmdDumpWal(const DumpArgs& a);
int CmdDumpManifest(const DumpArgs& a);

// verify / stats: a whole closed store.
int CmdVerify(const std::string& dir, bool verbose);
int CmdStats(const std::string& dir, bool json);

}  // namespace ringdb::tools
