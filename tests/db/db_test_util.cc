#include "tests/db/db_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

extern char** environ;

namespace ringdb::dbtest {

namespace fs = std::filesystem;

TempDir::TempDir() {
  char tmpl[] = "/tmp/ringdb-dbtest-XXXXXX";
  char* p = ::mkdtemp(tmpl);
  if (p == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = p;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("RINGDB_KEEP_TMP");
  if (keep != nullptr && std::string_view(keep) == "1") {
    std::fprintf(stderr, "[ keep ] %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::Sub(std::string_view name) const {
  std::string s = path_;
  s += '/';
  s += name;
  return s;
}

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return dflt;
  char* end = nullptr;
  unsigned long long x = std::strtoull(v, &end, 0);
  if (end == v || *end != '\0') return dflt;
  return x;
}

uint64_t TestSeed(std::string_view what) {
  uint64_t seed;
  const char* v = std::getenv("RINGDB_SEED");
  if (v != nullptr && *v != '\0') {
    seed = std::strtoull(v, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ rd();
  }
  std::fprintf(stderr, "[ seed ] %.*s: RINGDB_SEED=%llu\n", static_cast<int>(what.size()),
               what.data(), static_cast<unsigned long long>(seed));
  return seed;
}

Options SmallOptions(const std::string& path, uint32_t shards) {
  Options opt;
  opt.path = path;
  opt.shards = shards;
  opt.durability = Durability::kSync;
  opt.memtable_bytes = 64 << 10;
  opt.wal_preallocate_bytes = 1 << 20;
  opt.block_cache_bytes = 4 << 20;
  return opt;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  size_t i = 0;
  while (i < n) {
    uint64_t r = rng();
    for (int b = 0; b < 8 && i < n; ++b, ++i) s[i] = static_cast<char>(r >> (8 * b));
  }
  return s;
}

std::string Printable(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : s) {
    if (shown >= max_chars) break;
    if (std::isprint(c) && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
    ++shown;
  }
  out += '"';
  if (s.size() > max_chars) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != haystack.end();
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> ListFiles(const std::string& dir,
                                   const std::function<bool(const std::string&)>& pred) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::string name = e.path().filename().string();
    if (pred(name)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ShardDirs(const std::string& path) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.is_directory(ec) && StartsWith(e.path().filename().string(), "shard-")) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> ReadStore(const std::string& path) {
  Options opt = SmallOptions(path, 0);
  opt.create_if_missing = false;
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  EXPECT_TRUE(s.ok()) << path << ": " << s.ToString();
  std::map<std::string, std::string> got;
  if (!s.ok()) return got;
  std::unique_ptr<Iterator> it = db->NewIterator(ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    got[std::string(it->key())] = std::string(it->value());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  it.reset();
  EXPECT_TRUE(db->Close().ok());
  return got;
}

void WaitForCompactionsToSettle(DB* db) {
  uint64_t last = UINT64_MAX;
  for (int quiet = 0, i = 0; quiet < 5 && i < 400; i++) {
    Stats st;
    ASSERT_TRUE(db->GetStats(&st).ok());
    quiet = st.total.compactions == last ? quiet + 1 : 0;
    last = st.total.compactions;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

uint64_t TotalBytesWithSuffix(const std::string& path, std::string_view suffix) {
  uint64_t total = 0;
  for (const auto& d : ShardDirs(path)) {
    for (const auto& f : ListFiles(d, [&](const std::string& n) { return EndsWith(n, suffix); })) {
      std::error_code ec;
      auto sz = fs::file_size(f, ec);
      if (!ec) total += sz;
    }
  }
  return total;
}

// ---- child processes -------------------------------------------------------------

namespace {
std::map<std::string, ChildMain>& Modes() {
  static std::map<std::string, ChildMain> modes;
  return modes;
}
constexpr std::string_view kChildFlag = "--ringdb-child=";
}  // namespace

void RegisterChildMode(const std::string& mode, ChildMain fn) {
  Modes()[mode] = std::move(fn);
}

int MaybeRunChildMode(int argc, char** argv) {
  if (argc < 2 || !StartsWith(argv[1], kChildFlag)) return -1;
  std::string mode = std::string(argv[1]).substr(kChildFlag.size());
  auto it = Modes().find(mode);
  if (it == Modes().end()) {
    std::fprintf(stderr, "unknown child mode '%s'\n", mode.c_str());
    return 100;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  return it->second(args);
}

SpawnedChild SpawnChild(const std::string& mode, const std::vector<std::string>& args,
                        bool want_report) {
  SpawnedChild child;
  std::vector<std::string> argv_s;
  argv_s.push_back("/proc/self/exe");
  argv_s.push_back(std::string(kChildFlag) + mode);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int pipefd[2] = {-1, -1};
  if (want_report) {
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      std::perror("pipe2");
      std::abort();
    }
    // dup2 clears O_CLOEXEC on the child's copy.
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], kChildReportFd);
  }
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (want_report) ::close(pipefd[1]);
  if (rc != 0) {
    std::fprintf(stderr, "posix_spawn: %s\n", std::strerror(rc));
    if (want_report) ::close(pipefd[0]);
    return child;
  }
  child.pid = pid;
  child.report_fd = want_report ? pipefd[0] : -1;
  return child;
}

std::string ChildExit::Describe() const {
  if (exited) return "exited with code " + std::to_string(exit_code);
  if (term_signal != 0) {
    return std::string("killed by signal ") + std::to_string(term_signal) + " (" +
           strsignal(term_signal) + ")";
  }
  return "unknown state";
}

ChildExit WaitChild(pid_t pid, int timeout_ms) {
  ChildExit out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return out;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "child %d did not exit within %d ms: killing it\n", pid, timeout_ms);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) {
    out.exited = true;
    out.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.term_signal = WTERMSIG(status);
  }
  return out;
}

}  // namespace ringdb::dbtest
