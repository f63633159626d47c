// A main() for the fuzz targets in builds without libFuzzer (the normal gcc build): runs
// LLVMFuzzerTestOneInput once on every file given, or on every file inside the
// directories given (a path that does not exist holds no inputs). `meson test --suite
// fuzz` replays the seed corpora and the regression inputs this way, so every build checks them; a
// failing input aborts with its path on stderr.
//
//   fuzz_wal_replay tests/fuzz/corpus/wal tests/fuzz/regressions/wal
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"

namespace {

char g_current[4096];

void OnFatal(int sig) {
  const char msg[] = "\nreplay: this input failed: ";
  ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
  ignored = ::write(2, g_current, std::strlen(g_current));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void Collect(const std::string& path, std::vector<std::string>* files) {
  if (::access(path.c_str(), F_OK) != 0) {
    std::printf("replay: %s does not exist (no inputs there)\n", path.c_str());
    return;
  }
  if (!IsDir(path)) {
    files->push_back(path);
    return;
  }
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) Collect(n, files);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;  // libFuzzer flags: ignored here
    Collect(argv[i], &files);
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, OnFatal);
  for (const std::string& f : files) {
    std::snprintf(g_current, sizeof(g_current), "%s", f.c_str());
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs\n", files.size());
  return 0;
}
