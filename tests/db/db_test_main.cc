// main() for the tests/db binaries: runs a child mode (see db_test_util.h) when asked to,
// before any gtest state or thread exists; otherwise runs the gtest suites.
#include <gtest/gtest.h>

#include "tests/db/db_test_util.h"

int main(int argc, char** argv) {
  int rc = ringdb::dbtest::MaybeRunChildMode(argc, argv);
  if (rc >= 0) return rc;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
