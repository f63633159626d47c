#include "tool_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "lsm/block.h"
#include "lsm/filenames.h"
#include "lsm/table_reader.h"
#include "lsm/wal_format.h"

extern char** environ;

namespace ringdb::tooltest {

namespace fs = std::filesystem;

std::string ToolResult::Describe() const {
  std::string s = exited ? "exit " + std::to_string(code) : "signal " + std::to_string(signal);
  return s + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
}

std::string ToolPath() {
  const char* p = std::getenv("RINGDB_TOOL");
  return p == nullptr ? std::string() : std::string(p);
}

ToolResult RunTool(const std::vector<std::string>& args, int timeout_ms) {
  ToolResult r;
  TempDir io;
  const std::string out_file = io.Sub("stdout"), err_file = io.Sub("stderr");
  std::vector<std::string> argv_s = {ToolPath()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = "posix_spawn " + argv_s[0] + " failed: " + std::strerror(rc);
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.err = "(killed after " + std::to_string(timeout_ms) + " ms)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.out = ReadFile(out_file);
  r.err += ReadFile(err_file);
  // Under -Db_sanitize a report may come with an exit code a test expects (1).
  EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("runtime error:"), std::string::npos) << r.err;
  return r;
}

void CopyTree(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

void FlipByte(const std::string& file, uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << file;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  ASSERT_TRUE(f) << file << " offset " << offset;
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  ASSERT_TRUE(f);
}

void WriteFile(const std::string& file, std::string_view bytes) {
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t FileSizeOf(const std::string& file) {
  return fs::file_size(file);
}

std::vector<std::string> FilesWithSuffix(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.ends_with(suffix)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CurrentManifest(const std::string& shard_dir) {
  uint64_t n = 0;
  Status s = lsm::DecodeCurrent(ReadFile(shard_dir + "/CURRENT"), "CURRENT", &n);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return shard_dir + "/" + lsm::ManifestFileName(n);
}

std::vector<std::pair<int, lsm::FileMetaData>> LiveTables(const std::string& shard_dir) {
  std::string path = CurrentManifest(shard_dir);
  uint64_t n = 0;
  lsm::ParseFileName(fs::path(path).filename().string(), &n);
  std::string bytes = ReadFile(path);
  lsm::WalReader reader(n, bytes);
  lsm::WalRecord rec;
  lsm::VersionState state;
  while (reader.Next(&rec)) {
    lsm::VersionEdit edit;
    EXPECT_TRUE(edit.DecodeFrom(rec.payload).ok());
    EXPECT_TRUE(state.Apply(edit).ok());
  }
  std::vector<std::pair<int, lsm::FileMetaData>> out;
  for (int level = 0; level < lsm::kNumLevels; level++) {
    for (const lsm::FileMetaData& f : state.files(level)) out.emplace_back(level, f);
  }
  return out;
}

std::vector<RecordSpan> Records(const std::string& file, uint64_t number) {
  std::string bytes = ReadFile(file);
  lsm::WalReader reader(number, bytes);
  lsm::WalRecord rec;
  std::vector<RecordSpan> out;
  while (reader.Next(&rec)) out.push_back({rec.offset, rec.end_offset()});
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> DataBlocks(const std::string& sst_file) {
  std::string bytes = ReadFile(sst_file);
  std::unique_ptr<lsm::TableReader> t;
  Status s = lsm::TableReader::OpenFromFile(bytes, &t);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (!s.ok()) return out;
  auto it = t->NewIndexIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view v = it->value();
    lsm::BlockHandle h;
    EXPECT_TRUE(lsm::DecodeBlockHandle(&v, &h));
    out.emplace_back(h.offset, h.size);
  }
  return out;
}

}  // namespace ringdb::tooltest
