// Helpers shared by the end-to-end suites in tests/db: temp directories, seeds,
// status assertions, file listing, and running this test binary again as a child
// process (crash and lock tests) without touching gtest state in the child.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/db.h"
#include "ringdb/options.h"
#include "ringdb/status.h"

namespace ringdb {
// Lets gtest print a Status in assertion messages.
inline void PrintTo(const Status& s, std::ostream* os) {
  *os << s.ToString();
}
inline void PrintTo(Durability d, std::ostream* os) {
  *os << (d == Durability::kSync ? "sync" : d == Durability::kPeriodic ? "periodic" : "none");
}
inline void PrintTo(IoBackendKind k, std::ostream* os) {
  *os << (k == IoBackendKind::kUring ? "io_uring" : k == IoBackendKind::kAio ? "libaio" : "auto");
}
}  // namespace ringdb

namespace ringdb::dbtest {

// gtest predicate formatter: ASSERT_OK(expr) prints the Status on failure.
inline ::testing::AssertionResult IsOkStatus(const char* expr, const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << " returned " << s.ToString();
}
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::ringdb::dbtest::IsOkStatus, (expr))
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::ringdb::dbtest::IsOkStatus, (expr))

// A fresh directory under /tmp, removed (recursively) on destruction unless the
// environment sets RINGDB_KEEP_TMP=1 (then its path is printed for inspection).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name (not created).
  std::string Sub(std::string_view name) const;

 private:
  std::string path_;
};

// Seed for a randomized test: RINGDB_SEED when set, else a fresh random one. Prints
// "[ seed ] <what>: RINGDB_SEED=<n>" so a failure can be replayed.
uint64_t TestSeed(std::string_view what);
// Unsigned integer from the environment, or dflt when unset/unparsable.
uint64_t EnvU64(const char* name, uint64_t dflt);

// Options for small, fast stores: small memtables (flushes happen), small caches and
// small WAL preallocation. durability defaults to kSync.
Options SmallOptions(const std::string& path, uint32_t shards);

// prefix followed by the decimal form of n ("k" , 12 -> "k12"). Also sidesteps a GCC 12
// -Wrestrict false positive on `"literal" + std::to_string(n)`.
inline std::string KeyN(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n);
// Printable form of a key/value for failure messages: escapes non-printable bytes and
// truncates long strings (keeps the length).
std::string Printable(std::string_view s, size_t max_chars = 64);

// Regular files directly in `dir` whose name satisfies pred (sorted full paths).
std::vector<std::string> ListFiles(const std::string& dir,
                                   const std::function<bool(const std::string& name)>& pred);
// Sum of the sizes of files in every <path>/shard-*/ whose name ends with `suffix`.
uint64_t TotalBytesWithSuffix(const std::string& path, std::string_view suffix);
// Every key and value of the closed store at `path` (opened with SmallOptions and
// create_if_missing off, read with an iterator, closed); empty, with a test failure,
// if it does not open or read.
std::map<std::string, std::string> ReadStore(const std::string& path);
// Waits until the store's compaction count has not changed for 5 polls 50 ms apart
// (compactions run in the background), at most 20 s.
void WaitForCompactionsToSettle(DB* db);
// Shard directories of a store (sorted).
std::vector<std::string> ShardDirs(const std::string& path);
bool EndsWith(std::string_view s, std::string_view suffix);
// The whole content of a file (empty when it cannot be read).
std::string ReadWholeFile(const std::string& path);
bool StartsWith(std::string_view s, std::string_view prefix);
bool ContainsNoCase(std::string_view haystack, std::string_view needle);

// ---- child processes -------------------------------------------------------------
// The test binary has its own main (db_test_main.cc): when argv[1] is
// "--ringdb-child=<mode>", it runs the registered mode function with the remaining
// arguments instead of gtest and exits with its return value. Modes never touch gtest.
using ChildMain = std::function<int(const std::vector<std::string>& args)>;
// Registers a mode; use from a static initializer (ChildModeRegistrar).
void RegisterChildMode(const std::string& mode, ChildMain fn);
// Returns -1 when argv does not ask for a child mode, else the mode's exit code.
int MaybeRunChildMode(int argc, char** argv);

struct ChildModeRegistrar {
  ChildModeRegistrar(const std::string& mode, ChildMain fn) {
    RegisterChildMode(mode, std::move(fn));
  }
};

// In child modes the parent passes a pipe as this fd for progress records.
inline constexpr int kChildReportFd = 3;

struct SpawnedChild {
  pid_t pid = -1;
  int report_fd = -1;  // read end of the child's kChildReportFd, or -1
};
// Starts this binary as `--ringdb-child=<mode> args...` (posix_spawn: safe while other
// threads run). The child's stdout/stderr are inherited. With want_report, the child
// gets a pipe at kChildReportFd and the parent the read end (close it when done).
SpawnedChild SpawnChild(const std::string& mode, const std::vector<std::string>& args,
                        bool want_report);

struct ChildExit {
  bool exited = false;  // exited normally with exit_code
  int exit_code = -1;
  int term_signal = 0;  // when killed by a signal
  std::string Describe() const;
};
// waitpid, with a timeout after which the child is SIGKILLed (then reported as such).
ChildExit WaitChild(pid_t pid, int timeout_ms);

}  // namespace ringdb::dbtest
