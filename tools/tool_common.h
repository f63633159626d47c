// Shared pieces of ringdb-tool's subcommands (docs/tools.md): exit codes, how bytes are
// printed and parsed, whole-file reads, and the lock check that keeps the tool away
// from a store that a running process holds.
//
// Thread ownership: the tool is single-threaded; nothing here is shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "ringdb/status.h"

namespace ringdb::tools {

// Process exit codes. Scripts depend on them: DO NOT CHANGE the values.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,     // bad input, I/O error, corruption found, operation failed
  kExitUsage = 2,     // bad command line
  kExitBusy = 3,      // the store is held by a running process (its LOCK is taken)
  kExitNotFound = 4,  // get: the key does not exist
};

namespace detail {
inline void AppendPiece(std::string* s, std::string_view v) {
  s->append(v);
}
template <class T>
requires std::is_integral_v<T>
void AppendPiece(std::string* s, T v) {
  s->append(std::to_string(v));
}
}  // namespace detail

// Concatenates strings and integers: Cat("offset ", 42, ": ", what). (GCC 12 raises a
// false -Wrestrict on `"literal" + std::to_string(n)`, GCC bug 105651.)
template <class... Args>
std::string Cat(const Args&... args) {
  std::string s;
  (detail::AppendPiece(&s, args), ...);
  return s;
}

// How keys and values are shown and read on the command line.
//   text (default): printable ASCII as is, every other byte (and '\') as \xNN;
//   hex: "0x" followed by two lowercase hex digits per byte.
std::string FormatBytes(std::string_view s, bool hex);
// FormatBytes inside single quotes (a quote inside is \x27), or plain hex. For dumps,
// where keys and values sit next to other fields.
std::string Quoted(std::string_view s, bool hex);
// Command-line argument -> bytes: as given, or hex ("0x" optional) when `hex`.
// InvalidArgument naming `what` for malformed hex.
Status ParseBytesArg(std::string_view arg, bool hex, std::string_view what, std::string* out);

// Reads a whole regular file. NotFound / IOError / InvalidArgument (a directory or a
// device) naming the path.
Status ReadWholeFile(const std::string& path, std::string* out);
// Reads [offset, offset + n) of a file; IOError when the file is shorter.
Status ReadFileRange(const std::string& path, uint64_t offset, uint64_t n, std::string* out);
// Size of a regular file; NotFound when missing.
Status FileSize(const std::string& path, uint64_t* size);

// "shard-NNN": shard i's folder inside a store.
std::string ShardDirName(uint32_t i);
// path + "/" + name.
std::string JoinPath(const std::string& dir, std::string_view name);

// The process holding <store>/LOCK, as "pid N (comm)", from /proc/locks; nullopt when
// it cannot be told (no holder, or one outside this pid namespace).
std::optional<std::string> LockHolder(const std::string& store_dir);
// A Busy status for a store held by a running process, naming the holder if known.
Status BusyStatus(const std::string& store_dir, std::string_view why);

// A shared flock on <store>/LOCK for as long as the object lives: DB::Open takes the
// lock exclusively, so while a DB holds the store Acquire() is Busy, and while the tool
// reads, a DB cannot open the store under it. Never creates the file.
class StoreReadLock {
 public:
  StoreReadLock() = default;
  ~StoreReadLock();
  StoreReadLock(const StoreReadLock&) = delete;
  StoreReadLock& operator=(const StoreReadLock&) = delete;

  // OK also when the store has no LOCK file (no DB ever opened it, so none holds it).
  Status Acquire(const std::string& store_dir);

 private:
  int fd_ = -1;
};

// Checks that `dir` is a ringdb store (a directory holding OPTIONS): InvalidArgument
// otherwise, with a message saying what was found instead.
Status CheckStoreDir(const std::string& dir);

// For a file of a store (<store>/shard-NNN/<file> or <store>/<file>): the store's
// directory, or "" when the file does not sit in a store (e.g. a copy elsewhere).
std::string StoreRootOf(const std::string& file);
// Takes `lock` on the store `file` belongs to, if any (dump-* commands).
Status LockStoreOfFile(const std::string& file, StoreReadLock* lock);

// Prints "ringdb-tool <command>: <status>" to stderr; returns the exit code for it
// (Busy -> kExitBusy, anything else -> kExitError).
int ReportError(std::string_view command, const Status& s);

// The first "offset N" in a status message from the lsm readers (their corruption
// messages name the offset only in text), or nullopt.
std::optional<uint64_t> OffsetInMessage(std::string_view msg);

}  // namespace ringdb::tools
