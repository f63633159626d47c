#include "ringdb/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ringdb {
namespace {

TEST(Status, OkIsDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, ErrnoMapping) {
  EXPECT_TRUE(Status::FromErrno(ENOSPC, "x").IsNoSpace());
  EXPECT_TRUE(Status::FromErrno(EDQUOT, "x").IsNoSpace());
  EXPECT_TRUE(Status::FromErrno(EIO, "x").IsIOError());
  EXPECT_TRUE(Status::FromErrno(ENOENT, "x").IsNotFound());
  EXPECT_TRUE(Status::FromErrno(EROFS, "x").IsReadOnly());
  Status s = Status::FromErrno(EIO, "shard-000/000001.wal offset 4096");
  EXPECT_EQ(s.ToString(), "IOError: shard-000/000001.wal offset 4096: Input/output error");
}

TEST(Status, CodesAreDistinct) {
  EXPECT_TRUE(Status::Corruption("c").IsCorruption());
  EXPECT_FALSE(Status::Corruption("c").IsIOError());
  EXPECT_TRUE(Status::Busy("b").IsBusy());
  EXPECT_EQ(Status::InvalidArgument("bad").ToString(), "InvalidArgument: bad");
}

}  // namespace
}  // namespace ringdb
