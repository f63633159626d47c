// ringdb-tool: inspect, check and edit ringdb stores (docs/tools.md).
//
//   ringdb-tool --db=PATH get|put|delete|scan ...   through the public API
//   ringdb-tool dump-sst|dump-wal|dump-manifest FILE  one file, decoded
//   ringdb-tool verify|stats PATH                   a whole closed store
//   ringdb-tool iotrace FILE...                     I/O trace summaries
//
// Exit codes (tool_common.h): 0 ok, 1 error or corruption found, 2 usage, 3 the store
// is held by a running process, 4 get: key not found.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <string>

#include "tools/iotrace_report.h"
#include "tools/tool_commands.h"
#include "tools/tool_common.h"
#include "util/log.h"

namespace ringdb::tools {
namespace {

constexpr const char* kFooter =
    "Exit codes: 0 ok, 1 error or corruption found, 2 usage, 3 store busy (held by a running "
    "process), 4 key not found.\nSee docs/tools.md.";

// The engine's log (recovery notes, scheduling warnings) is for operators of a running
// store; the tool reports what matters itself. RINGDB_LOG_LEVEL=warn|info shows it.
void QuietEngineLog() {
  if (std::getenv("RINGDB_LOG_LEVEL") == nullptr) util::SetLogLevel(util::LogLevel::kError);
}

// Long because: the subcommand table (each subcommand's options beside its handler)
// reads best as one list; the dispatch after it is a few lines.
int Run(int argc, char** argv) {
  CLI::App app{"ringdb-tool: inspect, verify and edit ringdb stores"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand

  KvArgs kv;
  app.add_option("--db", kv.db, "store directory")->type_name("PATH");
  app.add_flag("--hex", kv.hex,
               "keys and values in hex (0x...), on the command line and in the output");
  std::map<CLI::App*, std::function<int()>> commands;

  std::string key, value;
  CLI::App* get = app.add_subcommand("get", "print the value of KEY (exit 4 when absent)");
  get->add_option("key", key, "key")->required();
  commands[get] = [&] { return CmdGet(kv, key); };

  CLI::App* put = app.add_subcommand("put", "set KEY to VALUE (creates the store if missing)");
  put->add_option("key", key, "key")->required();
  put->add_option("value", value, "value")->required();
  put->add_option("--shards", kv.shards, "shards of a store put creates (default: one per CPU)")
      ->check(CLI::Range(1, 256));
  commands[put] = [&] { return CmdPut(kv, key, value); };

  CLI::App* del = app.add_subcommand("delete", "delete KEY");
  del->add_option("key", key, "key")->required();
  commands[del] = [&] { return CmdDelete(kv, key); };

  std::string to;
  CLI::App* checkpoint = app.add_subcommand(
      "checkpoint", "write an openable copy of the store into a new directory (--to=DIR)");
  checkpoint->add_option("--to", to, "the directory to create")->required()->type_name("DIR");
  commands[checkpoint] = [&] { return CmdCheckpoint(kv, to); };

  ScanArgs sa;
  CLI::App* scan = app.add_subcommand("scan", "print keys and values in order: KEY ==> VALUE");
  scan->add_option("--from", sa.from, "first key (inclusive)")->type_name("KEY");
  scan->add_option("--to", sa.to, "end key (exclusive)")->type_name("KEY");
  scan->add_option("--prefix", sa.prefix, "only keys starting with PREFIX")->type_name("PREFIX");
  scan->add_option("--limit", sa.limit, "print at most N keys (0: all)")->type_name("N");
  scan->add_flag("--reverse", sa.reverse, "from the last key backwards");
  scan->add_flag("--keys-only", sa.keys_only, "print keys only");
  commands[scan] = [&] { return CmdScan(kv, sa); };

  DumpArgs da;
  auto add_dump = [&](const char* name, const char* what, const std::function<int()>& fn) {
    CLI::App* c = app.add_subcommand(name, what);
    c->add_option("file", da.file, "file")->required();
    c->add_flag("--no-values", da.no_values, "omit values");
    commands[c] = fn;
    return c;
  };
  add_dump("dump-sst", "print an SST: footer, properties, index, every entry",
           [&] { return CmdDumpSst(da); });
  add_dump("dump-wal", "print every record of a WAL segment and how it ends", [&] {
    return CmdDumpWal(da);
  })->add_option("--number", da.number, "segment number, when the file name lacks it");
  add_dump("dump-manifest", "print every version edit of a MANIFEST and the resulting files", [&] {
    return CmdDumpManifest(da);
  })->add_option("--number", da.number, "MANIFEST number, when the file name lacks it");

  std::string path;
  bool verbose = false, json = false;
  CLI::App* verify = app.add_subcommand(
      "verify", "check every checksum of a closed store; report the first bad file and offset");
  verify->add_option("path", path, "store directory (or --db)");
  verify->add_flag("-v,--verbose", verbose, "one line per file checked");
  commands[verify] = [&] { return CmdVerify(path, verbose); };

  CLI::App* stats = app.add_subcommand(
      "stats", "files, bytes and entries per level, and pending WAL data, per shard");
  stats->add_option("path", path, "store directory (or --db)");
  stats->add_flag("--json", json, "print JSON");
  commands[stats] = [&] { return CmdStats(path, json); };

  // Dispatched in main before parsing; listed here for --help.
  app.add_subcommand("iotrace", "summarize I/O trace files (ringdb-tool iotrace --help)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  CLI::App* cmd = app.get_subcommands().front();
  if (cmd == verify || cmd == stats) {
    if (path.empty()) path = kv.db;
    if (path.empty()) {
      std::fprintf(stderr, "ringdb-tool %s: give the store directory (PATH or --db=PATH)\n",
                   cmd->get_name().c_str());
      return kExitUsage;
    }
  } else if ((cmd == get || cmd == put || cmd == del || cmd == scan || cmd == checkpoint) &&
             kv.db.empty()) {
    std::fprintf(stderr, "ringdb-tool %s: give the store directory with --db=PATH\n",
                 cmd->get_name().c_str());
    return kExitUsage;
  }
  auto it = commands.find(cmd);
  if (it == commands.end()) return kExitUsage;
  da.hex = kv.hex;
  QuietEngineLog();
  return it->second();
}

}  // namespace
}  // namespace ringdb::tools

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "iotrace") == 0) {
    return ringdb::tools::IotraceCommand(argc - 1, argv + 1);
  }
  try {
    return ringdb::tools::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringdb-tool: %s\n", e.what());
    return ringdb::tools::kExitError;
  }
}
