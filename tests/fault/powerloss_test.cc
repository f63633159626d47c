// SimulatePowerLoss leaves exactly what a machine could hold after losing power: unsynced
// writes dropped, kept as a prefix or torn per page; creations, renames and unlinks
// undone unless their directory was synced. Parameterized over the inner backends.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/fault/fault_test_util.h"

namespace ringdb::io::fault_test {
namespace {

class PowerLossTest : public FaultBackendTest {};

// ---------------------------------------------------------------------------
// Power loss

TEST_P(PowerLossTest, PowerLossDropsExactlyTheUnsyncedWrites) {
  std::string a;
  for (int i = 0; i < 8192; i++) a.push_back(static_cast<char>('a' + i % 23));
  CreateDurable("f", a);
  int fd = Open("f", O_RDWR);
  ASSERT_EQ(Write(fd, 1000, std::string(2000, 'B')), 2000);  // over part of A
  ASSERT_EQ(Write(fd, 8192, std::string(1808, 'C')), 1808);  // an append
  EXPECT_EQ(ctl_->unsynced_writes(), 2u);
  PowerLossReport rep = PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), a);
  EXPECT_EQ(rep.writes_reverted, 2u);
  EXPECT_EQ(rep.writes_kept, 0u);
}

TEST_P(PowerLossTest, SyncedWritesSurviveUnsyncedOnesAfterThemDoNot) {
  CreateDurable("f", "");
  int fd = Open("f", O_RDWR);
  ASSERT_EQ(Write(fd, 0, "1111"), 4);
  ASSERT_EQ(Sync(fd, IoOp::kFdatasync), 0);
  ASSERT_EQ(Write(fd, 2, "22"), 2);
  ASSERT_EQ(Write(fd, 4, "3333"), 4);
  ASSERT_EQ(Sync(fd), 0);
  ASSERT_EQ(Write(fd, 0, "4"), 1);
  ASSERT_EQ(Write(fd, 8, "55"), 2);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "11223333");
}

TEST_P(PowerLossTest, LinkedWriteAndFdatasyncIsDurable) {
  CreateDurable("f", "");
  int fd = Open("f", O_RDWR);
  std::string d = "committed";
  IoRequest w = WriteReq(fd, 0, d);
  w.flags = IoRequest::kLinkNext;
  IoRequest s = SyncReq(fd, IoOp::kFdatasync);
  RunAll({&w, &s});
  ASSERT_EQ(w.result, 9);
  ASSERT_EQ(s.result, 0);
  ASSERT_EQ(Write(fd, 9, "-lost"), 5);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "committed");
}

TEST_P(PowerLossTest, DsyncFileWritesAreDurableOnCompletion) {
  CreateDurable("f", "");
  int fd = Open("f", O_RDWR | O_DSYNC);
  ASSERT_EQ(Write(fd, 0, "durable"), 7);
  EXPECT_EQ(ctl_->unsynced_writes(), 0u);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "durable");
}

TEST_P(PowerLossTest, PowerLossKeepPrefixKeepsAPrefixInSubmissionOrder) {
  // The writes, overlapping ones included; the survivors must be the first k of them.
  const std::vector<std::pair<uint64_t, std::string>> writes = {
      {0, "AAAAAAAA"}, {4, "BBBBBBBB"}, {12, "CCCC"}, {2, "DD"}, {16, "EEEEEE"}, {0, "F"}};
  const std::string base = "base-content";
  auto model = [&](size_t k) {
    std::string s = base;
    for (size_t i = 0; i < k; i++) {
      const auto& [off, data] = writes[i];
      if (s.size() < off + data.size()) s.resize(off + data.size(), '\0');
      s.replace(off, data.size(), data);
    }
    return s;
  };
  auto survivors = [&](uint64_t seed) -> int {
    std::error_code ec;
    fs::remove(P("f"), ec);
    CreateDurable("f", base);
    int fd = Open("f", O_RDWR);
    for (const auto& [off, data] : writes)
      EXPECT_EQ(Write(fd, off, data), static_cast<int64_t>(data.size()));
    PowerLossReport rep = PowerLoss(PowerLossMode::kKeepPrefix, seed);
    std::string got = Contents("f");
    for (size_t k = 0; k <= writes.size(); k++) {
      if (got == model(k)) {
        EXPECT_EQ(rep.writes_kept, k);
        return static_cast<int>(k);
      }
    }
    ADD_FAILURE() << "seed " << seed << ": not a prefix of the writes: '" << got << "'";
    return -1;
  };
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 24; seed++) seen.insert(survivors(seed));
  EXPECT_EQ(seen.count(-1), 0u);
  EXPECT_GE(seen.size(), 3u) << "the prefix length should vary with the seed";
  int k = survivors(5);
  EXPECT_EQ(survivors(5), k) << "a seed replays the same prefix";
}

TEST_P(PowerLossTest, PowerLossTearPagesMixesWholePagesOnly) {
  constexpr size_t kPage = 4096, kPages = 8;
  std::string old_data(kPages * kPage, 'o');
  auto torn = [&](uint64_t seed) {
    std::error_code ec;
    fs::remove(P("f"), ec);
    CreateDurable("f", old_data);
    int fd = Open("f", O_RDWR);
    // Starts mid-page and appends past the old end: every piece is per page.
    EXPECT_EQ(Write(fd, kPage / 2, std::string(kPages * kPage, 'n')),
              static_cast<int64_t>(kPages * kPage));
    PowerLoss(PowerLossMode::kTearPages, seed);
    return Contents("f");
  };
  int mixed = 0;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    std::string got = torn(seed);
    ASSERT_GE(got.size(), old_data.size()) << "synced bytes never disappear";
    ASSERT_LE(got.size(), old_data.size() + kPage / 2);
    std::set<char> kinds;
    for (size_t page = 0; page * kPage < got.size(); page++) {
      // The part of this page the write covered is all old or all new.
      size_t a = std::max(page * kPage, kPage / 2), b = std::min((page + 1) * kPage, got.size());
      std::string part = got.substr(a, b - a);
      char c = part[0];
      bool hole = page * kPage >= old_data.size() && c == '\0';
      EXPECT_TRUE(c == 'n' || c == 'o' || hole) << "seed " << seed << " page " << page;
      EXPECT_EQ(part, std::string(part.size(), c)) << "seed " << seed << " page " << page;
      kinds.insert(c);
    }
    EXPECT_EQ(got.substr(0, kPage / 2), std::string(kPage / 2, 'o'));
    mixed += kinds.count('n') > 0 && kinds.count('o') > 0;
  }
  EXPECT_GT(mixed, 0) << "some seed should tear the write";
  EXPECT_EQ(torn(3), torn(3)) << "a seed replays the same tearing";
}

TEST_P(PowerLossTest, RenameWithoutDirectoryFsyncIsUndone) {
  CreateDurable("a", "content-a");
  ASSERT_EQ(Rename("a", "b"), 0);
  EXPECT_EQ(List(), std::set<std::string>{"b"});
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 1u);
  PowerLossReport rep = PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(rep.dir_ops_undone, 1u);
  EXPECT_EQ(List(), std::set<std::string>{"a"});
  EXPECT_EQ(Contents("a"), "content-a");
}

TEST_P(PowerLossTest, RenameWithDirectoryFsyncIsKept) {
  CreateDurable("a", "content-a");
  ASSERT_EQ(Rename("a", "b"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 0u);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"b"});
  EXPECT_EQ(Contents("b"), "content-a");
}

TEST_P(PowerLossTest, RenameOverAnExistingFileIsUndone) {
  CreateDurable("CURRENT", "MANIFEST-1");
  CreateDurable("CURRENT.tmp", "MANIFEST-2");
  ASSERT_EQ(Rename("CURRENT.tmp", "CURRENT"), 0);
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-2");
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), (std::set<std::string>{"CURRENT", "CURRENT.tmp"}));
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-1");
  EXPECT_EQ(Contents("CURRENT.tmp"), "MANIFEST-2");
}

TEST_P(PowerLossTest, RenameOverAnExistingFileWithDirectoryFsyncLeavesNoTrash) {
  CreateDurable("CURRENT", "MANIFEST-1");
  CreateDurable("CURRENT.tmp", "MANIFEST-2");
  ASSERT_EQ(Rename("CURRENT.tmp", "CURRENT"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_EQ(List(), std::set<std::string>{"CURRENT"});
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-2");
}

TEST_P(PowerLossTest, UnlinkWithoutDirectoryFsyncIsUndone) {
  CreateDurable("old.sst", "table");
  ASSERT_EQ(Unlink("old.sst"), 0);
  EXPECT_FALSE(Exists("old.sst"));
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"old.sst"});
  EXPECT_EQ(Contents("old.sst"), "table");
}

TEST_P(PowerLossTest, UnlinkWithDirectoryFsyncIsKeptAndReallyDeletes) {
  CreateDurable("old.sst", "table");
  ASSERT_EQ(Unlink("old.sst"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_TRUE(List().empty()) << "nothing left in the trash";
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_TRUE(List().empty());
}

TEST_P(PowerLossTest, UnlinkOfAMissingFileFails) {
  EXPECT_EQ(Unlink("missing"), -ENOENT);
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 0u);
}

TEST_P(PowerLossTest, CreatedFileWithoutDirectoryFsyncIsRemoved) {
  int fd = Open("000001.wal", O_CREAT | O_RDWR);
  ASSERT_EQ(Write(fd, 0, "records"), 7);
  ASSERT_EQ(Sync(fd), 0) << "a file fsync does not make its name durable";
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_TRUE(List().empty());
}

TEST_P(PowerLossTest, CreatedFileWithDirectoryFsyncKeepsItsSyncedData) {
  int fd = Open("000001.wal", O_CREAT | O_RDWR);
  ASSERT_EQ(SyncDir(), 0);
  ASSERT_EQ(Write(fd, 0, "synced"), 6);
  ASSERT_EQ(Sync(fd, IoOp::kFdatasync), 0);
  ASSERT_EQ(Write(fd, 6, "-unsynced"), 9);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"000001.wal"});
  EXPECT_EQ(Contents("000001.wal"), "synced");
}

TEST_P(PowerLossTest, CreateWriteRenameSequenceIsUndoneNewestFirst) {
  CreateDurable("CURRENT", "v1");
  int fd = Open("CURRENT.tmp", O_CREAT | O_RDWR | O_EXCL);
  ASSERT_EQ(Write(fd, 0, "v2"), 2);
  ASSERT_EQ(Sync(fd), 0);
  ASSERT_EQ(Close(fd), 0);
  ASSERT_EQ(Rename("CURRENT.tmp", "CURRENT"), 0);
  PowerLoss(PowerLossMode::kKeepPrefix, 3);
  EXPECT_EQ(List(), std::set<std::string>{"CURRENT"});
  EXPECT_EQ(Contents("CURRENT"), "v1");
}

TEST_P(PowerLossTest, FallocateGrowthIsUndone) {
  CreateDurable("f", "abc");
  int fd = Open("f", O_RDWR);
  IoRequest r;
  r.op = IoOp::kFallocate;
  r.fd = fd;
  r.offset = 0;
  r.len = 1 << 20;
  int64_t res = Run(&r);
  if (res == -EOPNOTSUPP) GTEST_SKIP() << "fallocate unsupported on this file system";
  ASSERT_EQ(res, 0);
  EXPECT_EQ(fs::file_size(P("f")), 1u << 20);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "abc");
}

TEST_P(PowerLossTest, TrackedFdOpenedOutsideIsRolledBack) {
  CreateDurable("f", "12345678");
  int fd = ::open(P("f").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  open_fds_.insert(fd);
  ctl_->TrackFd(fd, P("f"));
  ASSERT_EQ(Write(fd, 2, "xx"), 2);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "12345678");
}

TEST_P(PowerLossTest, ResetPowerLossStateMakesEverythingDurable) {
  CreateDurable("a", "1");
  int fd = Open("a", O_RDWR);
  ASSERT_EQ(Write(fd, 0, "2"), 1);
  ASSERT_EQ(Unlink("a"), 0);
  ctl_->ResetPowerLossState();
  EXPECT_EQ(ctl_->unsynced_writes(), 0u);
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 0u);
  EXPECT_TRUE(List().empty()) << "the unlinked file left the trash";
  int fd2 = Open("b", O_CREAT | O_RDWR);
  ASSERT_EQ(Write(fd2, 0, "kept"), 4);
  ctl_->ResetPowerLossState();
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"b"});
  EXPECT_EQ(Contents("b"), "kept");
}

INSTANTIATE_TEST_SUITE_P(Backends, PowerLossTest,
                         ::testing::Values(Inner::kUring, Inner::kAio, Inner::kSync), InnerName);

}  // namespace
}  // namespace ringdb::io::fault_test
