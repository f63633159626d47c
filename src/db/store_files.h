// Store-level files, handled at Open/Close time on the opening thread (before the shard
// reactors start, so plain blocking syscalls are allowed here):
//   <path>/LOCK     flock'ed for the lifetime of the DB: one opener at a time, in this
//                   process or another.
//   <path>/OPTIONS  shard count and format version, fixed at creation.
// Both files, their format and their errors: docs/store-files.md. The options that are
// not recorded (everything but the shard count): docs/options.md.
#pragma once

#include <cstdint>
#include <string>

#include "ringdb/status.h"

namespace ringdb::db {

constexpr uint32_t kFormatVersion = 1;

struct StoreOptions {
  uint32_t format_version = kFormatVersion;
  uint32_t shards = 0;
};

// Encodes OPTIONS: a "ringdb-options" line, "key=value" lines, then a "crc32c=<hex>"
// line covering them (the grammar: docs/store-files.md).
std::string EncodeStoreOptions(const StoreOptions& so);
// Corruption (naming `file`) when malformed, the checksum does not match, or shards is 0
// or over kMaxShards; NotSupported when format_version is newer than kFormatVersion.
Status DecodeStoreOptions(const std::string& contents, const std::string& file, StoreOptions* so);

// Writes OPTIONS atomically: temp file, fsync, rename, fsync of the directory.
Status WriteStoreOptions(const std::string& dir, const StoreOptions& so);
// NotFound when there is no OPTIONS file.
Status ReadStoreOptions(const std::string& dir, StoreOptions* so);

// flock(LOCK_EX | LOCK_NB) on <dir>/LOCK. Busy, naming the path, when held elsewhere.
class DirLock {
 public:
  DirLock() = default;
  ~DirLock() { Release(); }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  Status Acquire(const std::string& dir);
  void Release();

 private:
  int fd_ = -1;
};

// <path>/shard-NNN: shard i's folder.
std::string ShardDir(const std::string& path, uint32_t i);

// mkdir -p. InvalidArgument when `dir` exists but is not a directory.
Status CreateDirs(const std::string& dir);
// fsync of a directory (blocking; start-up only).
Status SyncDirBlocking(const std::string& dir);

}  // namespace ringdb::db
