#include "runtime/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "runtime/reactor.h"
#include "util/assert.h"

namespace ringdb::rt {

namespace {

// The blocking equivalent of a request, for callers outside a fiber.
int64_t ExecuteSync(const io::IoRequest& r) {
  long rc = -1;
  switch (r.op) {
    case io::IoOp::kRead:
      rc = pread(r.fd, r.buf, r.len, static_cast<off_t>(r.offset));
      break;
    case io::IoOp::kWrite: {
      const iovec v{r.buf, r.len};
      const int flags = (r.flags & io::IoRequest::kDsync) ? RWF_DSYNC : 0;
      rc = pwritev2(r.fd, &v, 1, static_cast<off_t>(r.offset), flags);
      break;
    }
    case io::IoOp::kReadv:
      rc = preadv(r.fd, r.iov, static_cast<int>(r.iovcnt), static_cast<off_t>(r.offset));
      break;
    case io::IoOp::kWritev:
      rc = pwritev2(r.fd, r.iov, static_cast<int>(r.iovcnt), static_cast<off_t>(r.offset),
                    (r.flags & io::IoRequest::kDsync) ? RWF_DSYNC : 0);
      break;
    case io::IoOp::kFsync:
      rc = fsync(r.fd);
      break;
    case io::IoOp::kFdatasync:
      rc = fdatasync(r.fd);
      break;
    case io::IoOp::kFallocate:
      rc = fallocate(r.fd, static_cast<int>(r.mode), static_cast<off_t>(r.offset),
                     static_cast<off_t>(r.len));
      break;
    case io::IoOp::kOpen:
      rc = openat(r.fd, r.path, r.open_flags, r.mode);
      break;
    case io::IoOp::kClose:
      rc = close(r.fd);
      break;
    case io::IoOp::kRename:
      rc = renameat(r.fd, r.path, r.fd, r.path2);
      break;
    case io::IoOp::kUnlink:
      rc = unlinkat(r.fd, r.path, r.open_flags);
      break;
    default:  // socket operations are never issued through these helpers
      errno = EOPNOTSUPP;
      break;
  }
  return rc < 0 ? -static_cast<int64_t>(errno) : static_cast<int64_t>(rc);
}

void OnDone(io::IoRequest* req) {
  auto* f = static_cast<Fiber*>(req->user);
  f->reactor()->MakeReady(f);  // exactly the fiber that issued it
}

bool Retryable(int64_t res) {
  return res == -EINTR || res == -EAGAIN;
}

std::string FileName(int fd, std::string_view name) {
  if (!name.empty()) return std::string(name);
  return "fd " + std::to_string(fd);
}

Status Error(int64_t res, const char* op, int fd, std::string_view name, uint64_t offset,
             uint64_t len) {
  char buf[96];
  snprintf(buf, sizeof(buf), " offset %llu len %llu", static_cast<unsigned long long>(offset),
           static_cast<unsigned long long>(len));
  return Status::FromErrno(static_cast<int>(-res),
                           std::string(op) + " " + FileName(fd, name) + buf);
}

// Runs one request to completion, retrying EINTR/EAGAIN.
int64_t Run(io::IoRequest& req) {
  for (;;) {
    int64_t res = AwaitIo(req);
    if (!Retryable(res)) return res;
  }
}

Status Transfer(io::IoOp op, int fd, char* buf, size_t len, uint64_t offset, io::IoClass cls,
                size_t* done_bytes, bool eof_is_error, std::string_view name) {
  const char* opname = op == io::IoOp::kRead ? "read" : "write";
  size_t done = 0;
  while (done < len) {
    io::IoRequest req;
    req.op = op;
    req.io_class = cls;
    req.fd = fd;
    req.buf = buf + done;
    req.len = len - done;
    req.offset = offset + done;
    const int64_t res = Run(req);
    if (res < 0) {
      if (done_bytes != nullptr) *done_bytes = done;
      return Error(res, opname, fd, name, offset + done, len - done);
    }
    if (res == 0) {
      if (done_bytes != nullptr) *done_bytes = done;
      if (op == io::IoOp::kRead && !eof_is_error) return Status::OK();
      char msg[160];
      snprintf(msg, sizeof(msg), "%s %s: %s at offset %llu (%zu of %zu bytes done)", opname,
               FileName(fd, name).c_str(),
               op == io::IoOp::kRead ? "unexpected end of file" : "no progress",
               static_cast<unsigned long long>(offset + done), done, len);
      return op == io::IoOp::kRead ? Status::Corruption(msg) : Status::IOError(msg);
    }
    done += static_cast<size_t>(res);
  }
  if (done_bytes != nullptr) *done_bytes = done;
  return Status::OK();
}

Status Simple(io::IoRequest& req, const char* op, std::string_view name) {
  const int64_t res = Run(req);
  if (res < 0)
    return Status::FromErrno(static_cast<int>(-res),
                             std::string(op) + " " + FileName(req.fd, name));
  return Status::OK();
}

}  // namespace

int64_t AwaitIo(io::IoRequest& req) {
  if (!InFiber()) {
    req.result = ExecuteSync(req);
    return req.result;
  }
  Reactor* r = CurrentReactor();
  req.done = &OnDone;
  req.user = r->current_fiber();
  r->PrepareIo(&req);
  r->Suspend();
  return req.result;
}

Status ReadFull(int fd, void* buf, size_t len, uint64_t offset, io::IoClass cls,
                std::string_view name) {
  return Transfer(io::IoOp::kRead, fd, static_cast<char*>(buf), len, offset, cls, nullptr, true,
                  name);
}

Status ReadAt(int fd, void* buf, size_t len, uint64_t offset, io::IoClass cls, size_t* bytes_read,
              std::string_view name) {
  return Transfer(io::IoOp::kRead, fd, static_cast<char*>(buf), len, offset, cls, bytes_read, false,
                  name);
}

Status WriteFull(int fd, const void* buf, size_t len, uint64_t offset, io::IoClass cls,
                 std::string_view name) {
  // The backend never writes through buf; the request type is shared with reads.
  return Transfer(io::IoOp::kWrite, fd, const_cast<char*>(static_cast<const char*>(buf)), len,
                  offset, cls, nullptr, true, name);
}

Status Fsync(int fd, io::IoClass cls, std::string_view name) {
  io::IoRequest req;
  req.op = io::IoOp::kFsync;
  req.io_class = cls;
  req.fd = fd;
  return Simple(req, "fsync", name);
}

Status Fdatasync(int fd, io::IoClass cls, std::string_view name) {
  io::IoRequest req;
  req.op = io::IoOp::kFdatasync;
  req.io_class = cls;
  req.fd = fd;
  return Simple(req, "fdatasync", name);
}

Status Fallocate(int fd, int mode, uint64_t offset, uint64_t len, std::string_view name) {
  io::IoRequest req;
  req.op = io::IoOp::kFallocate;
  req.fd = fd;
  req.mode = static_cast<uint32_t>(mode);
  req.offset = offset;
  req.len = len;
  const int64_t res = Run(req);
  if (res < 0) return Error(res, "fallocate", fd, name, offset, len);
  return Status::OK();
}

Status OpenAt(int dirfd, const char* path, int flags, mode_t mode, int* fd) {
  io::IoRequest req;
  req.op = io::IoOp::kOpen;
  req.fd = dirfd;
  req.path = path;
  req.open_flags = flags;
  req.mode = mode;
  const int64_t res = Run(req);
  if (res < 0) return Status::FromErrno(static_cast<int>(-res), std::string("open ") + path);
  *fd = static_cast<int>(res);
  return Status::OK();
}

Status Close(int fd, std::string_view name) {
  io::IoRequest req;
  req.op = io::IoOp::kClose;
  req.fd = fd;
  // Never retry close: the fd is released even when close reports EINTR.
  const int64_t res = AwaitIo(req);
  if (res < 0 && res != -EINTR) {
    return Status::FromErrno(static_cast<int>(-res), "close " + FileName(fd, name));
  }
  return Status::OK();
}

Status RenameAt(int dirfd, const char* from, const char* to) {
  io::IoRequest req;
  req.op = io::IoOp::kRename;
  req.fd = dirfd;
  req.path = from;
  req.path2 = to;
  const int64_t res = Run(req);
  if (res < 0) {
    return Status::FromErrno(static_cast<int>(-res), std::string("rename ") + from + " -> " + to);
  }
  return Status::OK();
}

Status UnlinkAt(int dirfd, const char* path, int flags) {
  io::IoRequest req;
  req.op = io::IoOp::kUnlink;
  req.fd = dirfd;
  req.path = path;
  req.open_flags = flags;
  const int64_t res = Run(req);
  if (res < 0) return Status::FromErrno(static_cast<int>(-res), std::string("unlink ") + path);
  return Status::OK();
}

Status ReadFileAt(int dirfd, const char* name, std::string_view path, std::string* out) {
  int fd = -1;
  Status s = OpenAt(dirfd, name, O_RDONLY | O_CLOEXEC, 0, &fd);
  if (!s.ok()) return s;
  out->clear();
  constexpr size_t kChunk = 1 << 20;
  for (;;) {
    const size_t old = out->size();
    out->resize(old + kChunk);
    size_t got = 0;
    s = ReadAt(fd, out->data() + old, kChunk, old, io::IoClass::kOther, &got, path);
    out->resize(old + got);
    if (!s.ok() || got < kChunk) break;
  }
  Status c = Close(fd, path);
  return s.ok() ? c : s;
}

Status SyncDir(const char* path) {
  int fd = -1;
  Status s = OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd);
  if (!s.ok()) return s;
  s = Fsync(fd, io::IoClass::kManifest, path);
  Status c = Close(fd, path);
  return s.ok() ? c : s;
}

}  // namespace ringdb::rt
