// Minimal leveled logging to stderr (or a sink the embedding program installs).
// Off the hot path only: start-up, fallbacks, recovery, errors, stalls.
#pragma once

#include <cstdarg>
#include <functional>
#include <string_view>

namespace ringdb::util {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Messages below this level are dropped. Default kInfo, or RINGDB_LOG_LEVEL
// (debug|info|warn|error|off) from the environment.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Replace the sink (nullptr restores stderr). The sink may be called from any thread.
using LogSink = std::function<void(LogLevel, std::string_view)>;
void SetLogSink(LogSink sink);

void Logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ringdb::util

#define RINGDB_LOG(level, ...)                                            \
  do {                                                                    \
    if (static_cast<int>(::ringdb::util::LogLevel::level) >=              \
        static_cast<int>(::ringdb::util::GetLogLevel()))                  \
      ::ringdb::util::Logf(::ringdb::util::LogLevel::level, __VA_ARGS__); \
  } while (0)
#define RINGDB_LOG_DEBUG(...) RINGDB_LOG(kDebug, __VA_ARGS__)
#define RINGDB_LOG_INFO(...) RINGDB_LOG(kInfo, __VA_ARGS__)
#define RINGDB_LOG_WARN(...) RINGDB_LOG(kWarn, __VA_ARGS__)
#define RINGDB_LOG_ERROR(...) RINGDB_LOG(kError, __VA_ARGS__)
