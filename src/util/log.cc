#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "util/assert.h"

namespace ringdb::util {
namespace {

LogLevel LevelFromEnv() {
  const char* v = std::getenv("RINGDB_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kInfo;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  if (std::strcmp(v, "off") == 0) return LogLevel::kOff;
  return LogLevel::kInfo;
}

std::atomic<int> g_level{static_cast<int>(LevelFromEnv())};
// Logging is off the data path; a mutex keeps sink replacement simple.
std::mutex g_sink_mu;
LogSink g_sink;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "D";
    case LogLevel::kInfo:
      return "I";
    case LogLevel::kWarn:
      return "W";
    case LogLevel::kError:
      return "E";
    default:
      return "?";
  }
}

}  // namespace

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level));
}
LogLevel GetLogLevel() {
  return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}

void SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> g(g_sink_mu);
  g_sink = std::move(sink);
}

void Logf(LogLevel level, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  std::string_view msg(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  std::lock_guard<std::mutex> g(g_sink_mu);
  if (g_sink) {
    g_sink(level, msg);
  } else {
    std::fprintf(stderr, "ringdb[%s] %.*s\n", LevelName(level), static_cast<int>(msg.size()),
                 msg.data());
  }
}

[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "ringdb: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               msg ? ": " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace ringdb::util
