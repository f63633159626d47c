// FaultBackend: every injected fault reaches the caller as the right result, rules
// select requests deterministically, and SimulatePowerLoss leaves exactly what a
// machine could hold after losing power. Parameterized over the inner backends.
#include "testing/fault_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fault/sync_backend.h"

namespace ringdb::io {
namespace {

namespace fs = std::filesystem;

enum class Inner { kUring, kAio, kSync };

std::string InnerName(const ::testing::TestParamInfo<Inner>& info) {
  switch (info.param) {
    case Inner::kUring:
      return "uring";
    case Inner::kAio:
      return "aio";
    case Inner::kSync:
      return "sync_reference";
  }
  return "unknown";
}

void CountDown(IoRequest* r) {
  --*static_cast<int*>(r->user);
}

class FaultTest : public ::testing::TestWithParam<Inner> {
 protected:
  void SetUp() override {
    std::unique_ptr<IoBackend> inner;
    if (GetParam() == Inner::kSync) {
      inner = std::make_unique<fault_test::SyncBackend>();
    } else {
      BackendOptions opt;
      opt.kind = GetParam() == Inner::kUring ? BackendKind::kUring : BackendKind::kAio;
      opt.queue_depth = 64;
      Status s = CreateBackend(opt, &inner);
      if (!s.ok()) {
        GTEST_SKIP() << BackendKindName(opt.kind) << " backend unavailable here: " << s.ToString();
      }
    }
    ctl_ = std::make_shared<FaultController>();
    fb_ = std::make_unique<FaultBackend>(std::move(inner), ctl_);
    char tmpl[] = "/tmp/ringdb-fault-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    for (int fd : open_fds_) ::close(fd);
    fb_.reset();
    ctl_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs the requests (prepared in order, so kLinkNext chains them) to completion.
  void RunAll(const std::vector<IoRequest*>& reqs) {
    int pending = static_cast<int>(reqs.size());
    for (IoRequest* r : reqs) {
      r->done = &CountDown;
      r->user = &pending;
      r->result = INT64_MIN;
      fb_->Prepare(r);
    }
    fb_->Submit();
    fb_->Poll();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pending > 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "requests never completed";
      fb_->Wait(50'000'000);
      fb_->Poll();
    }
    EXPECT_EQ(fb_->in_flight(), 0u);
  }
  int64_t Run(IoRequest* r) {
    RunAll({r});
    return r->result;
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  int Open(const std::string& name, int flags, int64_t* result = nullptr) {
    IoRequest r;
    r.op = IoOp::kOpen;
    r.fd = AT_FDCWD;
    std::string path = P(name);
    r.path = path.c_str();
    r.open_flags = flags | O_CLOEXEC;
    r.mode = 0644;
    int64_t res = Run(&r);
    if (result != nullptr) *result = res;
    if (res >= 0) open_fds_.insert(static_cast<int>(res));
    return static_cast<int>(res);
  }
  int OpenDir() { return Open("", O_RDONLY | O_DIRECTORY); }
  int64_t Close(int fd) {
    IoRequest r;
    r.op = IoOp::kClose;
    r.fd = fd;
    open_fds_.erase(fd);
    return Run(&r);
  }
  static IoRequest WriteReq(int fd, uint64_t off, const std::string& data) {
    IoRequest r;
    r.op = IoOp::kWrite;
    r.fd = fd;
    r.offset = off;
    r.len = data.size();
    r.buf = const_cast<char*>(data.data());
    return r;
  }
  int64_t Write(int fd, uint64_t off, const std::string& data) {
    IoRequest r = WriteReq(fd, off, data);
    return Run(&r);
  }
  int64_t Read(int fd, uint64_t off, std::string* buf) {
    IoRequest r;
    r.op = IoOp::kRead;
    r.fd = fd;
    r.offset = off;
    r.len = buf->size();
    r.buf = buf->data();
    return Run(&r);
  }
  static IoRequest SyncReq(int fd, IoOp op = IoOp::kFsync) {
    IoRequest r;
    r.op = op;
    r.fd = fd;
    return r;
  }
  int64_t Sync(int fd, IoOp op = IoOp::kFsync) {
    IoRequest r = SyncReq(fd, op);
    return Run(&r);
  }
  int64_t SyncDir() {
    int dfd = OpenDir();
    EXPECT_GE(dfd, 0);
    int64_t res = Sync(dfd);
    Close(dfd);
    return res;
  }
  int64_t Rename(const std::string& from, const std::string& to) {
    std::string a = P(from), b = P(to);
    IoRequest r;
    r.op = IoOp::kRename;
    r.fd = AT_FDCWD;
    r.path = a.c_str();
    r.path2 = b.c_str();
    return Run(&r);
  }
  int64_t Unlink(const std::string& name) {
    std::string a = P(name);
    IoRequest r;
    r.op = IoOp::kUnlink;
    r.fd = AT_FDCWD;
    r.path = a.c_str();
    return Run(&r);
  }

  // A file whose creation and content are durable.
  void CreateDurable(const std::string& name, const std::string& content) {
    int fd = Open(name, O_CREAT | O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(Write(fd, 0, content), static_cast<int64_t>(content.size()));
    ASSERT_EQ(Sync(fd), 0);
    ASSERT_EQ(Close(fd), 0);
    ASSERT_EQ(SyncDir(), 0);
  }

  std::string Contents(const std::string& name) const {
    std::ifstream in(P(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool Exists(const std::string& name) const { return ::access(P(name).c_str(), F_OK) == 0; }
  std::set<std::string> List() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename());
    return names;
  }

  // REQUIRES: every fd closed or abandoned; the test's fds are closed first.
  PowerLossReport PowerLoss(PowerLossMode mode, uint64_t seed = 1) {
    for (int fd : open_fds_) ::close(fd);
    open_fds_.clear();
    PowerLossReport rep;
    Status s = ctl_->SimulatePowerLoss(mode, seed, &rep);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return rep;
  }

  std::shared_ptr<FaultController> ctl_;
  std::unique_ptr<FaultBackend> fb_;
  std::string dir_;
  std::set<int> open_fds_;
};

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

// ---------------------------------------------------------------------------
// Power loss

TEST_P(FaultTest, PowerLossDropsExactlyTheUnsyncedWrites) {
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

TEST_P(FaultTest, SyncedWritesSurviveUnsyncedOnesAfterThemDoNot) {
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

TEST_P(FaultTest, LinkedWriteAndFdatasyncIsDurable) {
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

TEST_P(FaultTest, DsyncFileWritesAreDurableOnCompletion) {
  CreateDurable("f", "");
  int fd = Open("f", O_RDWR | O_DSYNC);
  ASSERT_EQ(Write(fd, 0, "durable"), 7);
  EXPECT_EQ(ctl_->unsynced_writes(), 0u);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "durable");
}

TEST_P(FaultTest, PowerLossKeepPrefixKeepsAPrefixInSubmissionOrder) {
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

TEST_P(FaultTest, PowerLossTearPagesMixesWholePagesOnly) {
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

TEST_P(FaultTest, RenameWithoutDirectoryFsyncIsUndone) {
  CreateDurable("a", "content-a");
  ASSERT_EQ(Rename("a", "b"), 0);
  EXPECT_EQ(List(), std::set<std::string>{"b"});
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 1u);
  PowerLossReport rep = PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(rep.dir_ops_undone, 1u);
  EXPECT_EQ(List(), std::set<std::string>{"a"});
  EXPECT_EQ(Contents("a"), "content-a");
}

TEST_P(FaultTest, RenameWithDirectoryFsyncIsKept) {
  CreateDurable("a", "content-a");
  ASSERT_EQ(Rename("a", "b"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 0u);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"b"});
  EXPECT_EQ(Contents("b"), "content-a");
}

TEST_P(FaultTest, RenameOverAnExistingFileIsUndone) {
  CreateDurable("CURRENT", "MANIFEST-1");
  CreateDurable("CURRENT.tmp", "MANIFEST-2");
  ASSERT_EQ(Rename("CURRENT.tmp", "CURRENT"), 0);
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-2");
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), (std::set<std::string>{"CURRENT", "CURRENT.tmp"}));
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-1");
  EXPECT_EQ(Contents("CURRENT.tmp"), "MANIFEST-2");
}

TEST_P(FaultTest, RenameOverAnExistingFileWithDirectoryFsyncLeavesNoTrash) {
  CreateDurable("CURRENT", "MANIFEST-1");
  CreateDurable("CURRENT.tmp", "MANIFEST-2");
  ASSERT_EQ(Rename("CURRENT.tmp", "CURRENT"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_EQ(List(), std::set<std::string>{"CURRENT"});
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("CURRENT"), "MANIFEST-2");
}

TEST_P(FaultTest, UnlinkWithoutDirectoryFsyncIsUndone) {
  CreateDurable("old.sst", "table");
  ASSERT_EQ(Unlink("old.sst"), 0);
  EXPECT_FALSE(Exists("old.sst"));
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"old.sst"});
  EXPECT_EQ(Contents("old.sst"), "table");
}

TEST_P(FaultTest, UnlinkWithDirectoryFsyncIsKeptAndReallyDeletes) {
  CreateDurable("old.sst", "table");
  ASSERT_EQ(Unlink("old.sst"), 0);
  ASSERT_EQ(SyncDir(), 0);
  EXPECT_TRUE(List().empty()) << "nothing left in the trash";
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_TRUE(List().empty());
}

TEST_P(FaultTest, UnlinkOfAMissingFileFails) {
  EXPECT_EQ(Unlink("missing"), -ENOENT);
  EXPECT_EQ(ctl_->unsynced_dir_ops(), 0u);
}

TEST_P(FaultTest, CreatedFileWithoutDirectoryFsyncIsRemoved) {
  int fd = Open("000001.wal", O_CREAT | O_RDWR);
  ASSERT_EQ(Write(fd, 0, "records"), 7);
  ASSERT_EQ(Sync(fd), 0) << "a file fsync does not make its name durable";
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_TRUE(List().empty());
}

TEST_P(FaultTest, CreatedFileWithDirectoryFsyncKeepsItsSyncedData) {
  int fd = Open("000001.wal", O_CREAT | O_RDWR);
  ASSERT_EQ(SyncDir(), 0);
  ASSERT_EQ(Write(fd, 0, "synced"), 6);
  ASSERT_EQ(Sync(fd, IoOp::kFdatasync), 0);
  ASSERT_EQ(Write(fd, 6, "-unsynced"), 9);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(List(), std::set<std::string>{"000001.wal"});
  EXPECT_EQ(Contents("000001.wal"), "synced");
}

TEST_P(FaultTest, CreateWriteRenameSequenceIsUndoneNewestFirst) {
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

TEST_P(FaultTest, FallocateGrowthIsUndone) {
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

TEST_P(FaultTest, TrackedFdOpenedOutsideIsRolledBack) {
  CreateDurable("f", "12345678");
  int fd = ::open(P("f").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  open_fds_.insert(fd);
  ctl_->TrackFd(fd, P("f"));
  ASSERT_EQ(Write(fd, 2, "xx"), 2);
  PowerLoss(PowerLossMode::kDropUnsynced);
  EXPECT_EQ(Contents("f"), "12345678");
}

TEST_P(FaultTest, ResetPowerLossStateMakesEverythingDurable) {
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

INSTANTIATE_TEST_SUITE_P(Backends, FaultTest,
                         ::testing::Values(Inner::kUring, Inner::kAio, Inner::kSync), InnerName);

}  // namespace
}  // namespace ringdb::io
