#include "tools/tool_common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace ringdb::tools {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool Printable(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '\\';
}

void AppendEscaped(unsigned char c, std::string* out) {
  out->append("\\x");
  out->push_back(kHexDigits[c >> 4]);
  out->push_back(kHexDigits[c & 0xf]);
}

std::string HexOf(std::string_view s) {
  std::string out = "0x";
  for (unsigned char c : s) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 0xf]);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status OpenRegular(const std::string& path, int* fd_out, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno(e, "stat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(
        path + (S_ISDIR(st.st_mode) ? ": is a directory, not a file" : ": not a regular file"));
  }
  *fd_out = fd;
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

Status PreadFully(int fd, const std::string& path, uint64_t offset, char* buf, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno(errno, "read " + path);
    if (r == 0) {
      return Status::IOError(Cat(path, ": file ended at offset ", offset + done, " while reading ",
                                 n, " bytes at offset ", offset));
    }
    done += static_cast<uint64_t>(r);
  }
  return Status::OK();
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string FormatBytes(std::string_view s, bool hex) {
  if (hex) return HexOf(s);
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (Printable(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      AppendEscaped(c, &out);
    }
  }
  return out;
}

std::string Quoted(std::string_view s, bool hex) {
  if (hex) return HexOf(s);
  std::string out = "'";
  for (unsigned char c : s) {
    if (Printable(c) && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      AppendEscaped(c, &out);
    }
  }
  out.push_back('\'');
  return out;
}

Status ParseBytesArg(std::string_view arg, bool hex, std::string_view what, std::string* out) {
  if (!hex) {
    out->assign(arg);
    return Status::OK();
  }
  std::string_view digits = arg;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
  if (digits.size() % 2 != 0) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(arg) +
                                   "': odd number of hex digits");
  }
  out->clear();
  for (size_t i = 0; i < digits.size(); i += 2) {
    int hi = HexValue(digits[i]), lo = HexValue(digits[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(std::string(what) + " '" + std::string(arg) +
                                     "': not hex (--hex is set)");
    }
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return Status::OK();
}

Status ReadWholeFile(const std::string& path, std::string* out) {
  int raw_fd = -1;
  uint64_t size = 0;
  Status s = OpenRegular(path, &raw_fd, &size);
  if (!s.ok()) return s;
  Fd fd(raw_fd);
  out->assign(size, '\0');
  s = PreadFully(fd.get(), path, 0, out->data(), size);
  if (!s.ok()) out->clear();
  return s;
}

Status ReadFileRange(const std::string& path, uint64_t offset, uint64_t n, std::string* out) {
  int raw_fd = -1;
  uint64_t size = 0;
  Status s = OpenRegular(path, &raw_fd, &size);
  if (!s.ok()) return s;
  Fd fd(raw_fd);
  if (offset > size || size - offset < n) {
    return Status::IOError(
        Cat(path, ": ", size, " bytes, cannot read ", n, " bytes at offset ", offset));
  }
  out->assign(n, '\0');
  return PreadFully(fd.get(), path, offset, out->data(), n);
}

Status FileSize(const std::string& path, uint64_t* size) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

std::string ShardDirName(uint32_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shard-%03u", i);
  return buf;
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::optional<std::string> LockHolder(const std::string& store_dir) {
  struct stat st;
  if (::stat(JoinPath(store_dir, "LOCK").c_str(), &st) != 0) return std::nullopt;
  std::ifstream locks("/proc/locks");
  if (!locks) return std::nullopt;
  char want_dev[64];
  std::snprintf(want_dev, sizeof(want_dev), "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  const std::string want_ino = Cat(":", st.st_ino);
  // Lines: "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE START END"; waiters carry "->".
  // Stacked filesystems (overlayfs) may report another device, so an inode match
  // alone is the fallback.
  long exact = -1, by_inode = -1;
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream in(line);
    std::vector<std::string> tok;
    for (std::string t; in >> t;) tok.push_back(t);
    if (tok.size() < 6 || tok[1] != "FLOCK") continue;
    long pid = std::strtol(tok[4].c_str(), nullptr, 10);
    if (pid <= 0) continue;
    const std::string& dev = tok[5];
    if (dev == want_dev) exact = pid;
    if (dev.size() > want_ino.size() && dev.ends_with(want_ino)) by_inode = pid;
  }
  long pid = exact > 0 ? exact : by_inode;
  if (pid <= 0) return std::nullopt;
  std::string who = Cat("pid ", pid);
  std::ifstream comm(Cat("/proc/", pid, "/comm"));
  std::string name;
  if (comm && std::getline(comm, name) && !name.empty()) who += Cat(" (", name, ")");
  return who;
}

Status BusyStatus(const std::string& store_dir, std::string_view why) {
  std::optional<std::string> holder = LockHolder(store_dir);
  std::string msg = store_dir + ": " + std::string(why) + "; held by " +
                    (holder ? *holder : std::string("a process this tool cannot see")) +
                    ". Close the store (stop that process) first: ringdb-tool never reads a "
                    "live store";
  return Status::Busy(msg);
}

StoreReadLock::~StoreReadLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

Status StoreReadLock::Acquire(const std::string& store_dir) {
  const std::string file = JoinPath(store_dir, "LOCK");
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno(errno, "open " + file);
  }
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return BusyStatus(store_dir, "the store is open in a running process");
    return Status::FromErrno(e, "flock " + file);
  }
  fd_ = fd;
  return Status::OK();
}

Status CheckStoreDir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::InvalidArgument(dir + ": no such store (does not exist)");
    return Status::FromErrno(errno, "stat " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(dir +
                                   ": not a store directory (a file; the dump-* "
                                   "commands read single files)");
  }
  const std::string options = JoinPath(dir, "OPTIONS");
  if (::stat(options.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::InvalidArgument(dir + ": not a ringdb store (no OPTIONS file)");
    }
    return Status::FromErrno(errno, "stat " + options);
  }
  return Status::OK();
}

std::string StoreRootOf(const std::string& file) {
  char* real = ::realpath(Dirname(file).c_str(), nullptr);
  if (real == nullptr) return "";
  std::string dir = real;
  std::free(real);
  for (int up = 0; up < 2; up++) {  // <store>/<file> or <store>/shard-NNN/<file>
    if (IsRegularFile(JoinPath(dir, "OPTIONS"))) return dir;
    if (dir == "/") break;
    dir = Dirname(dir);
  }
  return "";
}

Status LockStoreOfFile(const std::string& file, StoreReadLock* lock) {
  std::string root = StoreRootOf(file);
  if (root.empty()) return Status::OK();
  return lock->Acquire(root);
}

int ReportError(std::string_view command, const Status& s) {
  std::fprintf(stderr, "ringdb-tool %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               s.ToString().c_str());
  return s.IsBusy() ? kExitBusy : kExitError;
}

std::optional<uint64_t> OffsetInMessage(std::string_view msg) {
  constexpr std::string_view kWord = "offset ";
  size_t pos = msg.find(kWord);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += kWord.size();
  uint64_t v = 0;
  size_t digits = 0;
  while (pos < msg.size() && msg[pos] >= '0' && msg[pos] <= '9' && digits < 19) {
    v = v * 10 + static_cast<uint64_t>(msg[pos] - '0');
    pos++;
    digits++;
  }
  if (digits == 0) return std::nullopt;
  return v;
}

}  // namespace ringdb::tools
