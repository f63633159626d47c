// RINGDB_ASSERT stays on in release builds: it guards invariants whose failure would
// corrupt data. Use assert() only for checks too costly for production.
#pragma once

namespace ringdb::util {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* msg);
}  // namespace ringdb::util

#define RINGDB_ASSERT(expr)                                           \
  do {                                                                \
    if (__builtin_expect(!(expr), 0))                                 \
      ::ringdb::util::AssertFail(#expr, __FILE__, __LINE__, nullptr); \
  } while (0)

#define RINGDB_ASSERT_MSG(expr, msg)                                \
  do {                                                              \
    if (__builtin_expect(!(expr), 0))                               \
      ::ringdb::util::AssertFail(#expr, __FILE__, __LINE__, (msg)); \
  } while (0)
