// FaultBackend's injected faults: every one reaches the caller as the right result
// (errors, short transfers, bit flips, delays, failed fsyncs), rules select requests
// deterministically (by count, file, seeded probability), link chains break as the
// kernel's would. Parameterized over the inner backends.
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

class FaultTest : public FaultBackendTest {};

// ---------------------------------------------------------------------------
// Injected errors

TEST_P(FaultTest, WriteErrorReachesCallerAndWritesNothing) {
  CreateDurable("f", "old-data");
  int fd = Open("f", O_RDWR);
  auto id = ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite));
  EXPECT_EQ(Write(fd, 0, "NEW"), -EIO);
  EXPECT_EQ(Contents("f"), "old-data");
  EXPECT_EQ(ctl_->RuleFires(id), 1u);
  EXPECT_EQ(ctl_->counters().errors, 1u);
  std::string buf(8, '\0');
  EXPECT_EQ(Read(fd, 0, &buf), 8) << "reads are not matched by a write rule";
}

TEST_P(FaultTest, EnospcOnlyOnTheNthMatchingWrite) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(ENOSPC).On(IoOp::kWrite).Nth(3));
  std::vector<int64_t> got;
  for (int i = 0; i < 5; i++) got.push_back(Write(fd, i * 4, std::string(4, 'a' + i)));
  EXPECT_EQ(got, (std::vector<int64_t>{4, 4, -ENOSPC, 4, 4}));
  EXPECT_EQ(Contents("f"), std::string("aaaabbbb\0\0\0\0ddddeeee", 20));
}

TEST_P(FaultTest, EveryMatchAfterN) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).On(kWriteOps).AfterN(2));
  std::vector<int64_t> got;
  for (int i = 0; i < 5; i++) got.push_back(Write(fd, i, "x"));
  EXPECT_EQ(got, (std::vector<int64_t>{1, 1, -EIO, -EIO, -EIO}));
}

TEST_P(FaultTest, SelectionByFilePath) {
  int victim = Open("victim.wal", O_CREAT | O_RDWR);
  int other = Open("other.sst", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).File("victim"));
  EXPECT_EQ(Write(victim, 0, "abc"), -EIO);
  EXPECT_EQ(Write(other, 0, "abc"), 3);
  EXPECT_EQ(Sync(victim), -EIO);
  EXPECT_EQ(Sync(other), 0);
}

TEST_P(FaultTest, FileOpenedOutsideIsMatchedByPath) {
  int fd = ::open(P("outside.log").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  open_fds_.insert(fd);
  ctl_->AddRule(FaultRule::Error(EIO).File("outside.log"));
  EXPECT_EQ(Write(fd, 0, "abc"), -EIO) << "unknown fds are resolved through /proc";
  int fd2 = ::open(P("plain").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  open_fds_.insert(fd2);
  ctl_->TrackFd(fd2, P("renamed-by-test.log"));
  ctl_->ClearRules();
  ctl_->AddRule(FaultRule::Error(EIO).File("renamed-by-test"));
  EXPECT_EQ(Write(fd2, 0, "abc"), -EIO) << "TrackFd names the file";
}

TEST_P(FaultTest, ShortWriteTransfersOnlyThePrefix) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::ShortTransfer(100).On(IoOp::kWrite));
  std::string data(4096, 'w');
  EXPECT_EQ(Write(fd, 0, data), 100);
  EXPECT_EQ(Contents("f"), std::string(100, 'w'));
  EXPECT_EQ(ctl_->counters().short_transfers, 1u);
}

TEST_P(FaultTest, ShortWritevTransfersAPrefixAcrossIovecs) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::ShortTransfer(15));
  std::string a(10, 'a'), b(10, 'b'), c(10, 'c');
  iovec iov[3] = {{a.data(), 10}, {b.data(), 10}, {c.data(), 10}};
  IoRequest r;
  r.op = IoOp::kWritev;
  r.fd = fd;
  r.iov = iov;
  r.iovcnt = 3;
  EXPECT_EQ(Run(&r), 15);
  EXPECT_EQ(Contents("f"), std::string(10, 'a') + std::string(5, 'b'));
}

TEST_P(FaultTest, ShortReadReturnsThePrefixOnly) {
  std::string data;
  for (int i = 0; i < 4096; i++) data.push_back(static_cast<char>('a' + i % 26));
  CreateDurable("f", data);
  int fd = Open("f", O_RDONLY);
  ctl_->AddRule(FaultRule::ShortTransfer(1000).On(IoOp::kRead));
  std::string buf(4096, '#');
  EXPECT_EQ(Read(fd, 0, &buf), 1000);
  EXPECT_EQ(buf.substr(0, 1000), data.substr(0, 1000));
  EXPECT_EQ(buf.substr(1000), std::string(3096, '#')) << "bytes past the short length";
}

TEST_P(FaultTest, ShortReadvDefaultsToHalf) {
  CreateDurable("f", std::string(20, 'x'));
  int fd = Open("f", O_RDONLY);
  ctl_->AddRule(FaultRule::ShortTransfer());
  std::string a(10, '#'), b(10, '#');
  iovec iov[2] = {{a.data(), 10}, {b.data(), 10}};
  IoRequest r;
  r.op = IoOp::kReadv;
  r.fd = fd;
  r.iov = iov;
  r.iovcnt = 2;
  EXPECT_EQ(Run(&r), 10);
  EXPECT_EQ(a, std::string(10, 'x'));
  EXPECT_EQ(b, std::string(10, '#'));
}

TEST_P(FaultTest, BitFlipChangesExactlyOneBitOfTheReturnedData) {
  std::string data(8192, '\x5a');
  CreateDurable("f", data);
  int fd = Open("f", O_RDONLY);
  auto id = ctl_->AddRule(FaultRule::BitFlip().Nth(1));
  std::string buf(8192, '\0');
  ASSERT_EQ(Read(fd, 0, &buf), 8192);
  int bits = 0;
  for (size_t i = 0; i < buf.size(); i++)
    bits += __builtin_popcount(static_cast<unsigned char>(buf[i] ^ data[i]));
  EXPECT_EQ(bits, 1);
  EXPECT_EQ(ctl_->RuleFires(id), 1u);
  EXPECT_EQ(ctl_->counters().bit_flips, 1u);
  ASSERT_EQ(Read(fd, 0, &buf), 8192);
  EXPECT_EQ(buf, data) << "the media is not changed; only the returned data";
}

TEST_P(FaultTest, SeededProbabilityIsDeterministic) {
  int fd = Open("f", O_CREAT | O_RDWR);
  auto pattern = [&](uint64_t seed) {
    ctl_->ClearRules();
    ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).WithProbability(0.3, seed));
    std::vector<bool> failed;
    for (int i = 0; i < 200; i++) failed.push_back(Write(fd, 0, "x") < 0);
    return failed;
  };
  std::vector<bool> a = pattern(42), b = pattern(42), c = pattern(43);
  EXPECT_EQ(a, b) << "same seed, same requests: same faults";
  EXPECT_NE(a, c);
  long fails = std::count(a.begin(), a.end(), true);
  EXPECT_GT(fails, 30);
  EXPECT_LT(fails, 90);
}

TEST_P(FaultTest, FsyncErrorsReachTheCaller) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kFsync).Nth(1));
  ctl_->AddRule(FaultRule::Error(ENOSPC).On(IoOp::kFdatasync).Nth(1));
  EXPECT_EQ(Sync(fd, IoOp::kFsync), -EIO);
  EXPECT_EQ(Sync(fd, IoOp::kFdatasync), -ENOSPC);
  EXPECT_EQ(Sync(fd, IoOp::kFsync), 0);
  EXPECT_EQ(Sync(fd, IoOp::kFdatasync), 0);
}

TEST_P(FaultTest, FailedFsyncLosesTheDirtyDataEvenAfterALaterFsyncSucceeds) {
  std::string a(8192, 'A');
  CreateDurable("f", a);
  int fd = Open("f", O_RDWR);
  ASSERT_EQ(Write(fd, 100, std::string(50, 'B')), 50);
  ctl_->AddRule(FaultRule::Error(EIO).On(kSyncOps).Nth(1));
  EXPECT_EQ(Sync(fd, IoOp::kFdatasync), -EIO);
  EXPECT_EQ(Sync(fd, IoOp::kFdatasync), 0) << "as on Linux, the retry 'succeeds'";
  EXPECT_EQ(Contents("f").substr(100, 50), std::string(50, 'B')) << "still in the page cache";
  PowerLoss(PowerLossMode::kKeepPrefix, 7);
  EXPECT_EQ(Contents("f"), a) << "the data the failed fsync covered is gone";
}

TEST_P(FaultTest, OpenRenameUnlinkErrors) {
  CreateDurable("a", "content");
  ctl_->AddRule(FaultRule::Error(EACCES).On(IoOp::kOpen).File("new"));
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kRename));
  ctl_->AddRule(FaultRule::Error(EROFS).On(IoOp::kUnlink));
  int64_t res = 0;
  Open("new", O_CREAT | O_RDWR, &res);
  EXPECT_EQ(res, -EACCES);
  EXPECT_FALSE(Exists("new"));
  EXPECT_EQ(Rename("a", "b"), -EIO);
  EXPECT_EQ(Unlink("a"), -EROFS);
  EXPECT_EQ(List(), std::set<std::string>{"a"});
  EXPECT_EQ(ctl_->counters().errors, 3u);
}

TEST_P(FaultTest, InjectedErrorCancelsTheRestOfALinkChain) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).Nth(1));
  std::string d = "data";
  IoRequest w = WriteReq(fd, 0, d);
  w.flags = IoRequest::kLinkNext;
  IoRequest s = SyncReq(fd, IoOp::kFdatasync);
  RunAll({&w, &s});
  EXPECT_EQ(w.result, -EIO);
  EXPECT_EQ(s.result, -ECANCELED);
  EXPECT_EQ(Contents("f"), "");
}

TEST_P(FaultTest, InjectedErrorAfterASuccessfulLinkedWrite) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kFdatasync));
  std::string d = "data";
  IoRequest w = WriteReq(fd, 0, d);
  w.flags = IoRequest::kLinkNext;
  IoRequest s = SyncReq(fd, IoOp::kFdatasync);
  s.flags = IoRequest::kLinkNext;
  IoRequest w2 = WriteReq(fd, 4, d);
  RunAll({&w, &s, &w2});
  EXPECT_EQ(w.result, 4);
  EXPECT_EQ(s.result, -EIO);
  EXPECT_EQ(w2.result, -ECANCELED);
  EXPECT_EQ(Contents("f"), "data");
}

TEST_P(FaultTest, ShortWriteBreaksALinkChain) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::ShortTransfer(2).On(IoOp::kWrite));
  std::string d = "data";
  IoRequest w = WriteReq(fd, 0, d);
  w.flags = IoRequest::kLinkNext;
  IoRequest s = SyncReq(fd, IoOp::kFdatasync);
  RunAll({&w, &s});
  EXPECT_EQ(w.result, 2);
  EXPECT_EQ(s.result, -ECANCELED);
  EXPECT_EQ(Contents("f"), "da");
}

TEST_P(FaultTest, RulesCanBeRemovedWhileRunning) {
  int fd = Open("f", O_CREAT | O_RDWR);
  auto id = ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite));
  EXPECT_EQ(Write(fd, 0, "x"), -EIO);
  EXPECT_TRUE(ctl_->RemoveRule(id));
  EXPECT_FALSE(ctl_->RemoveRule(id));
  EXPECT_EQ(Write(fd, 0, "x"), 1);
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).Times(2));
  EXPECT_EQ(Write(fd, 0, "x"), -EIO);
  EXPECT_EQ(Write(fd, 0, "x"), -EIO);
  EXPECT_EQ(Write(fd, 0, "x"), 1) << "Times(2) stops after two";
  ctl_->AddRule(FaultRule::Error(EIO));
  ctl_->ClearRules();
  EXPECT_EQ(Write(fd, 0, "x"), 1);
}

TEST_P(FaultTest, DelayHoldsTheCompletion) {
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Delay(30'000'000).On(IoOp::kWrite));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Write(fd, 0, "abc"), 3);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
  EXPECT_EQ(ctl_->counters().delays, 1u);
}

TEST_P(FaultTest, WrapperGivesEachShardABackendOnTheSharedController) {
  BackendWrapper wrap = MakeFaultWrapper(ctl_);
  std::unique_ptr<IoBackend> shard1 = wrap(std::make_unique<fault_test::SyncBackend>(), 1);
  EXPECT_EQ(shard1->name(), "fault(sync-reference)");
  int fd = Open("f", O_CREAT | O_RDWR);
  ctl_->AddRule(FaultRule::Error(EIO).On(IoOp::kWrite).Nth(2));
  EXPECT_EQ(Write(fd, 0, "x"), 1);
  std::string d = "y";
  IoRequest r = WriteReq(fd, 0, d);
  int pending = 1;
  r.done = &CountDown;
  r.user = &pending;
  shard1->Prepare(&r);
  shard1->Submit();
  while (pending > 0) {
    shard1->Wait(10'000'000);
    shard1->Poll();
  }
  EXPECT_EQ(r.result, -EIO) << "the second match, counted across both backends";
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultTest,
                         ::testing::Values(Inner::kUring, Inner::kAio, Inner::kSync), InnerName);

}  // namespace
}  // namespace ringdb::io::fault_test
