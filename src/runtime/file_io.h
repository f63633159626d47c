// Awaitable file operations for fibers: what the LSM engine calls for every disk
// access. Each one fills an io::IoRequest on the fiber's stack, Prepare()s it on the
// current reactor's backend, and suspends the fiber until exactly that request
// completes (the reactor batches every queued request into one Submit per loop pass).
//
// Outside a fiber (a foreign thread, start-up code, tools) the same calls run the
// equivalent blocking system call instead, so the helpers work anywhere; on a shard
// thread that must only happen before the reactor runs (DESIGN.md rule 3).
//
// Errors: -errno results become a Status naming the operation, the file (`name` when
// given, else the fd), the offset and the length, via Status::FromErrno. EINTR/EAGAIN
// are retried. Short transfers are continued by ReadFull/WriteFull; a read that hits
// end-of-file early is Corruption (the caller asked for bytes the file must have).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/io_backend.h"
#include "ringdb/status.h"

namespace ringdb::rt {

// Prepares req on the current reactor's backend and suspends until it completes;
// returns req.result (>= 0, or -errno). Overwrites req.done and req.user.
// Outside a fiber, performs the operation synchronously.
// REQUIRES: req and the memory it points to stay valid until it returns.
int64_t AwaitIo(io::IoRequest& req);

// Reads exactly len bytes at offset (continuing short reads).
Status ReadFull(int fd, void* buf, size_t len, uint64_t offset, io::IoClass cls,
                std::string_view name = {});
// Reads up to len bytes at offset, stopping early only at end-of-file; *bytes_read
// says how many arrived.
Status ReadAt(int fd, void* buf, size_t len, uint64_t offset, io::IoClass cls, size_t* bytes_read,
              std::string_view name = {});
// Writes exactly len bytes at offset (continuing short writes).
Status WriteFull(int fd, const void* buf, size_t len, uint64_t offset, io::IoClass cls,
                 std::string_view name = {});
Status Fsync(int fd, io::IoClass cls = io::IoClass::kOther, std::string_view name = {});
Status Fdatasync(int fd, io::IoClass cls = io::IoClass::kOther, std::string_view name = {});
Status Fallocate(int fd, int mode, uint64_t offset, uint64_t len, std::string_view name = {});

// openat(dirfd, path, flags, mode) -> *fd. Use AT_FDCWD for paths relative to cwd.
Status OpenAt(int dirfd, const char* path, int flags, mode_t mode, int* fd);
Status Close(int fd, std::string_view name = {});
Status RenameAt(int dirfd, const char* from, const char* to);
// flags: 0, or AT_REMOVEDIR.
Status UnlinkAt(int dirfd, const char* path, int flags = 0);
// Reads the whole file `name` (relative to dirfd) into *out, buffered, in 1 MiB reads
// (start-up and recovery; `path` names it in errors).
Status ReadFileAt(int dirfd, const char* name, std::string_view path, std::string* out);
// fsync of a directory, so that creates/renames/unlinks in it are durable.
Status SyncDir(const char* path);

}  // namespace ringdb::rt
