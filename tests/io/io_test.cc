// IoBackend contract tests, run over every backend (io_uring, libaio). A backend that
// is unavailable here is skipped with the probe's reason.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "io/uring_backend.h"
#include "util/clock.h"

namespace ringdb::io {
namespace {

constexpr int64_t kMs = 1'000'000;

// done() callback: appends the request to the vector<IoRequest*> in req->user.
void RecordDone(IoRequest* r) {
  static_cast<std::vector<IoRequest*>*>(r->user)->push_back(r);
}

std::string ParamName(const ::testing::TestParamInfo<BackendKind>& info) {
  return info.param == BackendKind::kUring ? "Uring" : "Aio";
}

class IoTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == BackendKind::kUring ? ProbeUring() : ProbeAio();
    if (!probe.ok())
      GTEST_SKIP() << BackendKindName(GetParam()) << " unavailable: " << probe.ToString();
    char tmpl[] = "/tmp/ringdb-io-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    backend_ = MakeBackend(64);
    ASSERT_NE(backend_, nullptr);
  }

  void TearDown() override {
    if (backend_ != nullptr) {
      EXPECT_TRUE(Drain(backend_.get())) << "requests left in flight";
    }
    backend_.reset();
    for (int fd : fds_) close(fd);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<IoBackend> MakeBackend(uint32_t queue_depth,
                                         uint32_t poll_batch = BackendOptions().poll_batch) {
    BackendOptions opt;
    opt.kind = GetParam();
    opt.queue_depth = queue_depth;
    opt.poll_batch = poll_batch;
    std::unique_ptr<IoBackend> b;
    BackendChoice choice;
    Status s = CreateBackend(opt, &b, &choice);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(choice.chosen, GetParam());
    return b;
  }

  // Runs the reactor loop until nothing is in flight; false after 10 s.
  static bool Drain(IoBackend* b) {
    const uint64_t deadline = util::NowNanos() + 10'000 * kMs;
    b->Submit();
    while (b->in_flight() > 0) {
      if (util::NowNanos() > deadline) return false;
      if (b->Poll() == 0 && b->in_flight() > 0) b->Wait(100 * kMs);
    }
    return true;
  }

  int64_t Run(IoRequest* r) {
    backend_->Prepare(r);
    EXPECT_TRUE(Drain(backend_.get()));
    return r->result;
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  int Open(const std::string& name, int flags) {
    int fd = open(Path(name).c_str(), flags | O_CLOEXEC, 0644);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

  // Opens with O_DIRECT, or skips the test if the filesystem refuses it.
  int OpenDirect(const std::string& name) {
    int fd = Open(name, O_RDWR | O_CREAT | O_DIRECT);
    if (fd < 0 && errno == EINVAL) return -1;
    EXPECT_GE(fd, 0) << std::strerror(errno);
    return fd;
  }

  IoRequest Req(IoOp op, int fd) {
    IoRequest r;
    r.op = op;
    r.fd = fd;
    r.done = RecordDone;
    r.user = &done_;
    return r;
  }
  IoRequest ReadReq(int fd, void* buf, uint64_t len, uint64_t off) {
    IoRequest r = Req(IoOp::kRead, fd);
    r.buf = buf;
    r.len = len;
    r.offset = off;
    return r;
  }
  IoRequest WriteReq(int fd, const void* buf, uint64_t len, uint64_t off) {
    IoRequest r = Req(IoOp::kWrite, fd);
    r.buf = const_cast<void*>(buf);
    r.len = len;
    r.offset = off;
    return r;
  }

  static std::string FileContents(int fd, size_t n, off_t off = 0) {
    std::string s(n, '\0');
    ssize_t got = pread(fd, s.data(), n, off);
    s.resize(got < 0 ? 0 : static_cast<size_t>(got));
    return s;
  }

  std::string dir_;
  std::unique_ptr<IoBackend> backend_;
  std::vector<int> fds_;
  std::vector<IoRequest*> done_;
};

TEST_P(IoTest, BufferedWriteThenReadBack) {
  int fd = Open("f", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  const std::string data = "hello, ring";
  IoRequest w = WriteReq(fd, data.data(), data.size(), 100);
  EXPECT_EQ(Run(&w), static_cast<int64_t>(data.size()));
  EXPECT_EQ(FileContents(fd, data.size(), 100), data);

  char buf[64] = {};
  IoRequest r = ReadReq(fd, buf, data.size(), 100);
  EXPECT_EQ(Run(&r), static_cast<int64_t>(data.size()));
  EXPECT_EQ(std::string(buf, data.size()), data);
  EXPECT_EQ(done_.size(), 2u);
  EXPECT_EQ(backend_->in_flight(), 0u);
}

TEST_P(IoTest, DirectWriteThenReadBack) {
  int fd = OpenDirect("d");
  if (fd < 0) GTEST_SKIP() << "filesystem of " << dir_ << " refuses O_DIRECT";
  AlignedBuffer out(8192), in(8192);
  for (size_t i = 0; i < 8192; i++) out.data()[i] = static_cast<char>(i * 7 + 3);
  IoRequest w = WriteReq(fd, out.data(), 8192, 4096);
  EXPECT_EQ(Run(&w), 8192);
  IoRequest r = ReadReq(fd, in.data(), 8192, 4096);
  EXPECT_EQ(Run(&r), 8192);
  EXPECT_EQ(std::memcmp(in.data(), out.data(), 8192), 0);
}

TEST_P(IoTest, ShortReadAtEndOfFileIsReportedNotRetried) {
  int fd = Open("short", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "abc", 3, 0), 3);
  char buf[16];
  IoRequest r = ReadReq(fd, buf, sizeof(buf), 0);
  EXPECT_EQ(Run(&r), 3);
}

TEST_P(IoTest, WritevThenReadv) {
  int fd = Open("v", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  char a[] = "first-", b[] = "second-", c[] = "third";
  iovec wiov[3] = {{a, 6}, {b, 7}, {c, 5}};
  IoRequest w = Req(IoOp::kWritev, fd);
  w.iov = wiov;
  w.iovcnt = 3;
  w.offset = 10;
  EXPECT_EQ(Run(&w), 18);
  EXPECT_EQ(FileContents(fd, 18, 10), "first-second-third");

  char x[4], y[14];
  iovec riov[2] = {{x, sizeof(x)}, {y, sizeof(y)}};
  IoRequest r = Req(IoOp::kReadv, fd);
  r.iov = riov;
  r.iovcnt = 2;
  r.offset = 10;
  EXPECT_EQ(Run(&r), 18);
  EXPECT_EQ(std::string(x, 4), "firs");
  EXPECT_EQ(std::string(y, 14), "t-second-third");
}

TEST_P(IoTest, FsyncAndFdatasync) {
  int fd = Open("s", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "x", 1, 0), 1);
  IoRequest f = Req(IoOp::kFsync, fd);
  EXPECT_EQ(Run(&f), 0);
  IoRequest d = Req(IoOp::kFdatasync, fd);
  EXPECT_EQ(Run(&d), 0);
  int dirfd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dirfd, 0);
  fds_.push_back(dirfd);
  IoRequest dir_sync = Req(IoOp::kFsync, dirfd);
  EXPECT_EQ(Run(&dir_sync), 0);
}

TEST_P(IoTest, FallocateExtendsFile) {
  int fd = Open("fa", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  IoRequest f = Req(IoOp::kFallocate, fd);
  f.mode = 0;
  f.offset = 0;
  f.len = 1 << 20;
  EXPECT_EQ(Run(&f), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
}

TEST_P(IoTest, OpenCloseRenameUnlinkThroughBackend) {
  int dirfd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dirfd, 0);
  fds_.push_back(dirfd);

  IoRequest o = Req(IoOp::kOpen, dirfd);
  o.path = "new";
  o.open_flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
  o.mode = 0600;
  const int64_t fd = Run(&o);
  ASSERT_GE(fd, 0) << std::strerror(static_cast<int>(-fd));
  ASSERT_EQ(pwrite(static_cast<int>(fd), "data", 4, 0), 4);

  IoRequest c = Req(IoOp::kClose, static_cast<int>(fd));
  EXPECT_EQ(Run(&c), 0);
  EXPECT_EQ(fcntl(static_cast<int>(fd), F_GETFD), -1) << "fd still open after kClose";

  IoRequest rn = Req(IoOp::kRename, dirfd);
  rn.path = "new";
  rn.path2 = "renamed";
  EXPECT_EQ(Run(&rn), 0);
  EXPECT_FALSE(std::filesystem::exists(Path("new")));
  EXPECT_EQ(std::filesystem::file_size(Path("renamed")), 4u);

  IoRequest u = Req(IoOp::kUnlink, dirfd);
  u.path = "renamed";
  EXPECT_EQ(Run(&u), 0);
  EXPECT_FALSE(std::filesystem::exists(Path("renamed")));

  std::filesystem::create_directory(Path("sub"));
  IoRequest rmdir = Req(IoOp::kUnlink, dirfd);
  rmdir.path = "sub";
  rmdir.open_flags = AT_REMOVEDIR;
  EXPECT_EQ(Run(&rmdir), 0);
  EXPECT_FALSE(std::filesystem::exists(Path("sub")));
}

TEST_P(IoTest, LinkedWritesSyncAndReadRunInOrder) {
  int fd = Open("l", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  const std::string a(4096, 'a'), b(4096, 'b');
  std::string got(4096, '\0');
  IoRequest wa = WriteReq(fd, a.data(), a.size(), 0);
  IoRequest wb = WriteReq(fd, b.data(), b.size(), 0);
  IoRequest sync = Req(IoOp::kFdatasync, fd);
  IoRequest rd = ReadReq(fd, got.data(), got.size(), 0);
  wa.flags = wb.flags = sync.flags = IoRequest::kLinkNext;
  for (IoRequest* r : {&wa, &wb, &sync, &rd}) backend_->Prepare(r);
  ASSERT_TRUE(Drain(backend_.get()));
  EXPECT_EQ(wa.result, 4096);
  EXPECT_EQ(wb.result, 4096);
  EXPECT_EQ(sync.result, 0);
  EXPECT_EQ(rd.result, 4096);
  EXPECT_EQ(got, b) << "linked requests ran out of order";
  ASSERT_EQ(done_.size(), 4u);
  EXPECT_EQ(done_[0], &wa);
  EXPECT_EQ(done_[1], &wb);
  EXPECT_EQ(done_[2], &sync);
  EXPECT_EQ(done_[3], &rd);
  EXPECT_LE(wa.complete_ns, rd.complete_ns);
}

TEST_P(IoTest, FailedLinkCancelsRestOfChain) {
  int ro = Open("ro", O_RDONLY | O_CREAT);
  int rw = Open("rw", O_RDWR | O_CREAT);
  ASSERT_GE(ro, 0);
  ASSERT_GE(rw, 0);
  char data[512];
  std::memset(data, 'c', sizeof(data));
  IoRequest bad = WriteReq(ro, data, sizeof(data), 0);  // EBADF: not open for writing
  IoRequest sync = Req(IoOp::kFsync, rw);
  IoRequest after = WriteReq(rw, data, sizeof(data), 0);
  bad.flags = sync.flags = IoRequest::kLinkNext;
  IoRequest independent = WriteReq(rw, data, sizeof(data), 4096);
  for (IoRequest* r : {&bad, &sync, &after, &independent}) backend_->Prepare(r);
  ASSERT_TRUE(Drain(backend_.get()));
  EXPECT_EQ(bad.result, -EBADF);
  EXPECT_EQ(sync.result, -ECANCELED);
  EXPECT_EQ(after.result, -ECANCELED);
  EXPECT_EQ(independent.result, 512) << "a failed chain must not affect the next request";
  EXPECT_EQ(done_.size(), 4u);
  EXPECT_EQ(FileContents(rw, 512), std::string(512, '\0')) << "cancelled write reached the file";
}

TEST_P(IoTest, ShortReadBreaksChain) {
  int fd = Open("sr", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "0123456789", 10, 0), 10);
  char buf[100];
  IoRequest rd = ReadReq(fd, buf, sizeof(buf), 0);
  IoRequest wr = WriteReq(fd, "zz", 2, 0);
  rd.flags = IoRequest::kLinkNext;
  backend_->Prepare(&rd);
  backend_->Prepare(&wr);
  ASSERT_TRUE(Drain(backend_.get()));
  EXPECT_EQ(rd.result, 10);
  EXPECT_EQ(wr.result, -ECANCELED);
  EXPECT_EQ(FileContents(fd, 10), "0123456789");
}

TEST_P(IoTest, MoreRequestsThanQueueDepthInOneIteration) {
  auto small = MakeBackend(8);
  ASSERT_NE(small, nullptr);
  int fd = Open("many", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  constexpr int kN = 300;
  std::vector<IoRequest> reqs(kN);
  std::vector<uint32_t> vals(kN);
  for (int i = 0; i < kN; i++) {
    vals[i] = 0xabc00000u + i;
    reqs[i] = WriteReq(fd, &vals[i], 4, 4ull * i);
    small->Prepare(&reqs[i]);
  }
  EXPECT_EQ(small->in_flight(), static_cast<uint32_t>(kN));
  ASSERT_TRUE(Drain(small.get()));
  EXPECT_EQ(done_.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; i++) EXPECT_EQ(reqs[i].result, 4) << "request " << i;
  std::vector<uint32_t> back(kN);
  ASSERT_EQ(pread(fd, back.data(), 4 * kN, 0), 4 * kN);
  EXPECT_EQ(back, vals);
  EXPECT_EQ(small->counters().requests_completed, static_cast<uint64_t>(kN));
}

// Poll() hands back at most poll_batch completions; the rest stay ready for the next
// Poll(), and Wait() does not sleep while any are left.
TEST_P(IoTest, PollHandsBackAtMostPollBatch) {
  constexpr uint32_t kBatch = 3;
  constexpr int kN = 10;
  auto b = MakeBackend(64, kBatch);
  ASSERT_NE(b, nullptr);
  int fd = Open("poll_batch", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  std::string data(kN * 512, '\0');
  for (int i = 0; i < kN * 512; i++) data[i] = static_cast<char>('a' + i % 23);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  std::vector<IoRequest> reqs(kN);
  std::vector<std::string> bufs(kN, std::string(512, '\0'));
  for (int i = 0; i < kN; i++) {
    reqs[i] = ReadReq(fd, bufs[i].data(), 512, 512ull * i);
    b->Prepare(&reqs[i]);
  }
  EXPECT_EQ(b->Submit(), kN);
  // Let every read finish in the kernel before reaping.
  const uint64_t deadline = util::NowNanos() + 10'000 * kMs;
  int reaped = 0;
  std::vector<int> per_poll;
  while (reaped < kN && util::NowNanos() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(reaped == 0 ? 100 : 0));
    const int n = b->Poll();
    EXPECT_LE(n, static_cast<int>(kBatch));
    if (n > 0) per_poll.push_back(n);
    reaped += n;
    if (n == static_cast<int>(kBatch) && reaped < kN) {
      // Completions are left: Wait() must return at once rather than sleep 5 s.
      const uint64_t t0 = util::NowNanos();
      b->Wait(5'000 * kMs);
      EXPECT_LT(util::NowNanos() - t0, 1'000 * kMs) << "Wait() slept with completions ready";
    }
  }
  ASSERT_EQ(reaped, kN);
  EXPECT_EQ(per_poll, (std::vector<int>{3, 3, 3, 1}));
  for (int i = 0; i < kN; i++) {
    EXPECT_EQ(reqs[i].result, 512) << "request " << i;
    EXPECT_EQ(bufs[i], data.substr(512 * i, 512)) << "request " << i;
  }
  EXPECT_EQ(b->Poll(), 0);
  EXPECT_EQ(b->in_flight(), 0u);
}

// poll_batch = 0: one Poll() reaps everything that is ready.
TEST_P(IoTest, PollBatchZeroReapsEverything) {
  auto b = MakeBackend(64, 0);
  ASSERT_NE(b, nullptr);
  int fd = Open("poll_all", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  constexpr int kN = 40;
  std::vector<uint32_t> vals(kN);
  std::vector<IoRequest> reqs(kN);
  for (int i = 0; i < kN; i++) {
    vals[i] = 0x5150u + i;
    reqs[i] = WriteReq(fd, &vals[i], 4, 4ull * i);
    b->Prepare(&reqs[i]);
  }
  EXPECT_EQ(b->Submit(), kN);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int reaped = b->Poll();
  if (reaped < kN) {
    // Slow machine: whatever was not done yet arrives later, but nothing that was
    // ready may be left behind by a cap.
    ASSERT_TRUE(Drain(b.get()));
    reaped = kN;
  }
  EXPECT_EQ(reaped, kN);
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST_P(IoTest, ManyLinkChainsBeyondQueueDepth) {
  auto small = MakeBackend(8);
  ASSERT_NE(small, nullptr);
  int fd = Open("chains", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  constexpr int kChains = 40;
  std::vector<IoRequest> writes(kChains), syncs(kChains);
  std::vector<uint64_t> vals(kChains);
  for (int i = 0; i < kChains; i++) {
    vals[i] = 1000 + i;
    writes[i] = WriteReq(fd, &vals[i], 8, 8ull * i);
    writes[i].flags = IoRequest::kLinkNext;
    syncs[i] = Req(IoOp::kFdatasync, fd);
    small->Prepare(&writes[i]);
    small->Prepare(&syncs[i]);
  }
  ASSERT_TRUE(Drain(small.get()));
  for (int i = 0; i < kChains; i++) {
    EXPECT_EQ(writes[i].result, 8);
    EXPECT_EQ(syncs[i].result, 0);
  }
  // Each sync completes after its own write.
  std::vector<int> pos(2 * kChains);
  for (size_t k = 0; k < done_.size(); k++) {
    for (int i = 0; i < kChains; i++) {
      if (done_[k] == &writes[i]) pos[2 * i] = static_cast<int>(k);
      if (done_[k] == &syncs[i]) pos[2 * i + 1] = static_cast<int>(k);
    }
  }
  for (int i = 0; i < kChains; i++) EXPECT_LT(pos[2 * i], pos[2 * i + 1]) << "chain " << i;
}

TEST_P(IoTest, WakeFromAnotherThreadInterruptsWait) {
  backend_->Poll();  // runs anything pending so the wait below has nothing to reap
  const uint64_t wakeups = backend_->counters().wakeups;
  std::thread waker([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    backend_->Wake();
  });
  const uint64_t t0 = util::NowNanos();
  backend_->Wait(10'000 * kMs);
  const uint64_t elapsed = util::NowNanos() - t0;
  waker.join();
  EXPECT_LT(elapsed, 5'000 * kMs) << "Wake() did not interrupt Wait()";
  EXPECT_GE(elapsed, 50 * kMs) << "Wait() returned before Wake()";
  EXPECT_EQ(backend_->counters().wakeups, wakeups + 1);
  backend_->Poll();
  EXPECT_EQ(backend_->in_flight(), 0u) << "the internal wake-up read must not count";
}

TEST_P(IoTest, WakeBeforeWaitMakesNextWaitReturn) {
  backend_->Wake();
  const uint64_t t0 = util::NowNanos();
  backend_->Wait(5'000 * kMs);
  EXPECT_LT(util::NowNanos() - t0, 2'000 * kMs);
  backend_->Poll();
  // The wake was consumed: the next wait runs to its timeout.
  const uint64_t t1 = util::NowNanos();
  backend_->Wait(50 * kMs);
  EXPECT_GE(util::NowNanos() - t1, 40 * kMs);
}

TEST_P(IoTest, WaitTimesOut) {
  backend_->Poll();
  const uint64_t wakeups = backend_->counters().wakeups;
  const uint64_t t0 = util::NowNanos();
  backend_->Wait(60 * kMs);
  const uint64_t elapsed = util::NowNanos() - t0;
  EXPECT_GE(elapsed, 50 * kMs);
  EXPECT_LT(elapsed, 2'000 * kMs);
  EXPECT_EQ(backend_->counters().wakeups, wakeups);
  EXPECT_EQ(backend_->Poll(), 0);
}

TEST_P(IoTest, WaitReturnsWhenIoCompletes) {
  int fd = Open("w", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  IoRequest s = Req(IoOp::kFsync, fd);
  backend_->Prepare(&s);
  const uint64_t t0 = util::NowNanos();
  while (backend_->in_flight() > 0 && util::NowNanos() - t0 < 5'000 * kMs) {
    backend_->Wait(10'000 * kMs);
    backend_->Poll();
  }
  EXPECT_EQ(s.result, 0);
  EXPECT_LT(util::NowNanos() - t0, 5'000 * kMs);
}

TEST_P(IoTest, ErrorsMapToNegativeErrno) {
  int fd = Open("e", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  const int closed = dup(fd);
  ASSERT_GE(closed, 0);
  close(closed);
  char buf[64];
  IoRequest r1 = ReadReq(closed, buf, sizeof(buf), 0);
  EXPECT_EQ(Run(&r1), -EBADF);

  int ro = Open("e", O_RDONLY);
  IoRequest r2 = WriteReq(ro, buf, sizeof(buf), 0);
  EXPECT_EQ(Run(&r2), -EBADF);

  IoRequest r3 = Req(IoOp::kOpen, AT_FDCWD);
  const std::string missing = Path("missing/file");
  r3.path = missing.c_str();
  r3.open_flags = O_RDONLY;
  EXPECT_EQ(Run(&r3), -ENOENT);

  IoRequest r4 = Req(IoOp::kUnlink, AT_FDCWD);
  r4.path = missing.c_str();
  EXPECT_EQ(Run(&r4), -ENOENT);

  IoRequest r5 = Req(IoOp::kFsync, 1'000'000);  // never a valid fd
  EXPECT_EQ(Run(&r5), -EBADF);

  int dfd = OpenDirect("ed");
  if (dfd >= 0) {
    AlignedBuffer ab(8192);
    ab.Zero();
    ASSERT_EQ(pwrite(dfd, ab.data(), 8192, 0), 8192);     // at EOF a DIO read returns 0 early
    IoRequest r6 = ReadReq(dfd, ab.data() + 1, 4096, 0);  // misaligned buffer
    EXPECT_EQ(Run(&r6), -EINVAL);
  }
}

TEST_P(IoTest, OneSubmitCallPerBatch) {
  int fd = Open("c", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  backend_->Submit();  // flush anything internal (the armed wake-up read)
  const BackendCounters before = backend_->counters();
  constexpr int kN = 32;
  std::vector<IoRequest> reqs(kN);
  std::vector<char> bufs(kN * 16, 'x');
  for (int i = 0; i < kN; i++) {
    reqs[i] = WriteReq(fd, &bufs[i * 16], 16, 16ull * i);
    backend_->Prepare(&reqs[i]);
  }
  EXPECT_EQ(backend_->counters().submit_calls, before.submit_calls) << "Prepare() submitted";
  EXPECT_EQ(backend_->Submit(), kN);
  const BackendCounters after = backend_->counters();
  EXPECT_EQ(after.submit_calls, before.submit_calls + 1);
  EXPECT_EQ(after.requests_submitted, before.requests_submitted + kN);
  EXPECT_GE(after.max_batch, static_cast<uint64_t>(kN));
  EXPECT_EQ(backend_->in_flight(), static_cast<uint32_t>(kN));
  ASSERT_TRUE(Drain(backend_.get()));
  EXPECT_EQ(backend_->counters().requests_completed, before.requests_completed + kN);
  EXPECT_EQ(backend_->counters().submit_calls, before.submit_calls + 1) << "resubmitted";
  for (auto& r : reqs) {
    EXPECT_EQ(r.result, 16);
    EXPECT_GT(r.submit_ns, 0u);
    EXPECT_GE(r.complete_ns, r.submit_ns);
    EXPECT_GE(r.depth_at_submit, 1u);
    EXPECT_LE(r.depth_at_submit, static_cast<uint32_t>(kN));
  }
  EXPECT_EQ(reqs[kN - 1].depth_at_submit, static_cast<uint32_t>(kN));
}

TEST_P(IoTest, UsableFromThreadOtherThanCreator) {
  // Reactors may be built on one thread and run on another (SINGLE_ISSUER binds late).
  int fd = Open("t", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  auto b = MakeBackend(16);
  ASSERT_NE(b, nullptr);
  int64_t result = 1;
  std::thread t([&] {
    IoRequest w = WriteReq(fd, "abc", 3, 0);
    w.done = nullptr;
    b->Prepare(&w);
    Drain(b.get());
    result = w.result;
  });
  t.join();
  EXPECT_EQ(result, 3);
}

TEST_P(IoTest, EnvVarOverridesAuto) {
  const char* old = std::getenv("RINGDB_IO_BACKEND");
  std::string saved = old != nullptr ? old : "";
  setenv("RINGDB_IO_BACKEND", GetParam() == BackendKind::kUring ? "uring" : "aio", 1);
  BackendOptions opt;  // kAuto
  std::unique_ptr<IoBackend> b;
  BackendChoice choice;
  Status s = CreateBackend(opt, &b, &choice);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(choice.chosen, GetParam());
  EXPECT_NE(choice.reason.find("RINGDB_IO_BACKEND"), std::string::npos) << choice.reason;
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind(), GetParam());

  setenv("RINGDB_IO_BACKEND", "bogus", 1);
  b.reset();
  s = CreateBackend(opt, &b, &choice);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("bogus"), std::string::npos);

  if (old != nullptr)
    setenv("RINGDB_IO_BACKEND", saved.c_str(), 1);
  else
    unsetenv("RINGDB_IO_BACKEND");
}

TEST_P(IoTest, FixedBuffersRoundTrip) {
  if (GetParam() != BackendKind::kUring) GTEST_SKIP() << "fixed buffers are io_uring only";
  auto* uring = static_cast<UringBackend*>(backend_.get());
  AlignedBuffer arena(64 * 1024);
  const int idx = uring->RegisterBuffer(arena.data(), arena.capacity());
  if (idx < 0) GTEST_SKIP() << "cannot register buffers here: " << std::strerror(-idx);
  EXPECT_EQ(idx, 0);
  int fd = OpenDirect("fixed");
  if (fd < 0) fd = Open("fixed", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  std::memset(arena.data(), 'q', 4096);
  IoRequest w = WriteReq(fd, arena.data(), 4096, 0);
  EXPECT_EQ(Run(&w), 4096);
  IoRequest r = ReadReq(fd, arena.data() + 8192, 4096, 0);
  EXPECT_EQ(Run(&r), 4096);
  EXPECT_EQ(std::memcmp(arena.data(), arena.data() + 8192, 4096), 0);
  // A buffer outside every region still works (plain READ).
  AlignedBuffer other(4096);
  IoRequest r2 = ReadReq(fd, other.data(), 4096, 0);
  EXPECT_EQ(Run(&r2), 4096);
  EXPECT_EQ(std::memcmp(arena.data(), other.data(), 4096), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoTest,
                         ::testing::Values(BackendKind::kUring, BackendKind::kAio), ParamName);

TEST(IoNamesTest, ParseAndName) {
  BackendKind k;
  ASSERT_TRUE(ParseBackendKind("uring", &k));
  EXPECT_EQ(k, BackendKind::kUring);
  ASSERT_TRUE(ParseBackendKind("io_uring", &k));
  EXPECT_EQ(k, BackendKind::kUring);
  ASSERT_TRUE(ParseBackendKind("libaio", &k));
  EXPECT_EQ(k, BackendKind::kAio);
  ASSERT_TRUE(ParseBackendKind("auto", &k));
  EXPECT_EQ(k, BackendKind::kAuto);
  EXPECT_FALSE(ParseBackendKind("epoll", &k));
  EXPECT_STREQ(BackendKindName(BackendKind::kAio), "libaio");
  EXPECT_STREQ(IoOpName(IoOp::kFdatasync), "fdatasync");
  EXPECT_STREQ(IoClassName(IoClass::kWal), "wal");
}

TEST(AlignedBufferTest, AlignedAndRounded) {
  AlignedBuffer b(5000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % AlignedBuffer::kAlignment, 0u);
  EXPECT_EQ(b.capacity(), 8192u);
  EXPECT_EQ(b.size(), 0u);
  b.set_size(5000);
  AlignedBuffer moved = std::move(b);
  EXPECT_EQ(moved.size(), 5000u);
  EXPECT_EQ(b.data(), nullptr);
}

}  // namespace
}  // namespace ringdb::io
