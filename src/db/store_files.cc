#include "db/store_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "ringdb/options.h"
#include "util/assert.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::db {
namespace {

Status ReadWholeFile(const std::string& file, std::string* out) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + file);
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::FromErrno(e, "read " + file);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1 << 20)) {
      ::close(fd);
      return Status::Corruption(file + ": unexpectedly large");
    }
  }
  ::close(fd);
  return Status::OK();
}

bool ParseU32(std::string_view s, uint32_t* v) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  if (x > 0xffffffffull) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

}  // namespace

std::string EncodeStoreOptions(const StoreOptions& so) {
  // What DecodeStoreOptions accepts, so that a written file always reads back.
  RINGDB_ASSERT(so.shards >= 1 && so.shards <= kMaxShards);
  RINGDB_ASSERT(so.format_version <= kFormatVersion);
  std::string body = "ringdb-options\n";
  body += "format_version=" + std::to_string(so.format_version) + "\n";
  body += "shards=" + std::to_string(so.shards) + "\n";
  char crc[32];
  std::snprintf(crc, sizeof(crc), "crc32c=%08x\n", util::crc32c::Value(body.data(), body.size()));
  return body + crc;
}

Status DecodeStoreOptions(const std::string& contents, const std::string& file, StoreOptions* so) {
  size_t crc_pos = contents.rfind("crc32c=");
  if (crc_pos == std::string::npos || contents.rfind("ringdb-options\n", 0) != 0) {
    return Status::Corruption(file + ": not a ringdb OPTIONS file");
  }
  std::string_view crc_hex(contents.data() + crc_pos + 7, contents.size() - crc_pos - 7);
  if (!crc_hex.empty() && crc_hex.back() == '\n') crc_hex.remove_suffix(1);
  uint32_t want = 0;
  if (!util::ParseHex32(crc_hex, &want)) {
    return Status::Corruption(file + ": malformed checksum line");
  }
  uint32_t got = util::crc32c::Value(contents.data(), crc_pos);
  if (got != want) return Status::Corruption(file + ": checksum mismatch");

  StoreOptions out;
  bool have_version = false, have_shards = false;
  std::string_view body(contents.data(), crc_pos);
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t nl = body.find('\n', line_start);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view line = body.substr(line_start, nl - line_start);
    line_start = nl + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;  // the header line
    std::string_view key = line.substr(0, eq), val = line.substr(eq + 1);
    if (key == "format_version") {
      have_version = ParseU32(val, &out.format_version);
    } else if (key == "shards") {
      have_shards = ParseU32(val, &out.shards);
    }  // unknown keys: written by a newer minor version; ignored
  }
  if (!have_version || !have_shards || out.shards == 0) {
    return Status::Corruption(file + ": missing or invalid format_version/shards");
  }
  if (out.shards > kMaxShards) {  // never written by ringdb: Open caps new stores
    return Status::Corruption(file + ": shards=" + std::to_string(out.shards) + " is over " +
                              std::to_string(kMaxShards));
  }
  if (out.format_version > kFormatVersion) {
    return Status::NotSupported(file + ": format version " + std::to_string(out.format_version) +
                                " is newer than this build supports (" +
                                std::to_string(kFormatVersion) + ")");
  }
  *so = out;
  return Status::OK();
}

Status WriteStoreOptions(const std::string& dir, const StoreOptions& so) {
  std::string tmp = dir + "/OPTIONS.tmp", final_name = dir + "/OPTIONS";
  std::string data = EncodeStoreOptions(so);
  {
    // Checked before it goes to disk: the bytes decode to what the store is created with.
    StoreOptions back;
    RINGDB_ASSERT(DecodeStoreOptions(data, tmp, &back).ok() && back.shards == so.shards &&
                  back.format_version == so.format_version);
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      return Status::FromErrno(e, "write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno(e, "fsync " + tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_name.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + tmp);
  }
  return SyncDirBlocking(dir);
}

Status ReadStoreOptions(const std::string& dir, StoreOptions* so) {
  std::string file = dir + "/OPTIONS", contents;
  Status s = ReadWholeFile(file, &contents);
  if (!s.ok()) return s;
  return DecodeStoreOptions(contents, file, so);
}

Status DirLock::Acquire(const std::string& dir) {
  Release();
  std::string file = dir + "/LOCK";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open " + file);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) {
      return Status::Busy(file + ": the store is already open (in this or another process)");
    }
    return Status::FromErrno(e, "flock " + file);
  }
  RINGDB_ASSERT(fd_ < 0);  // Release() above
  fd_ = fd;
  return Status::OK();
}

void DirLock::Release() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
  }
}

Status CreateDirs(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("empty path");
  std::string cur;
  size_t pos = 0;
  while (pos <= dir.size()) {
    size_t slash = dir.find('/', pos);
    if (slash == std::string::npos) slash = dir.size();
    cur = dir.substr(0, slash);
    pos = slash + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "mkdir " + cur);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + dir);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + ": exists and is not a directory");
  return Status::OK();
}

Status SyncDirBlocking(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open dir " + dir);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(e, "fsync dir " + dir);
  return Status::OK();
}

std::string ShardDir(const std::string& path, uint32_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/shard-%03u", i);
  return path + buf;
}

}  // namespace ringdb::db
