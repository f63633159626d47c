// I/O backends, per kind (IoTest, the fixture in io_test_fixture.h): single operations,
// errno mapping, submission batching, threads, the backend choice, fixed buffers, rings
// sharing a submission thread; names
// and AlignedBuffer. Linked chains, queue depth, poll batches and wake/wait:
// io_queue_test.cc.
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
#include "io/sqpoll_thread.h"
#include "io/uring_backend.h"
#include "tests/io/io_test_fixture.h"
#include "util/clock.h"

namespace ringdb::io::iotest {
namespace {

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

// kInline (a buffered write the backend may perform at Submit): the same result, the
// same bytes and the same completion path as any write; bad fds give the errno; on a
// link chain or with kDsync it is an ordinary request.
TEST_P(IoTest, InlineBufferedWritesCompleteLikeAnyWrite) {
  int fd = Open("inline", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  const std::string a = "first inline write", b = "second";
  IoRequest w1 = WriteReq(fd, a.data(), a.size(), 0);
  IoRequest w2 = WriteReq(fd, b.data(), b.size(), 4096);
  w1.flags = w2.flags = IoRequest::kInline;
  backend_->Prepare(&w1);
  backend_->Prepare(&w2);
  EXPECT_EQ(backend_->in_flight(), 2u);
  ASSERT_TRUE(Drain(backend_.get()));
  ASSERT_EQ(done_.size(), 2u);
  EXPECT_EQ(done_[0], &w1);  // completions in the order they were prepared
  EXPECT_EQ(w1.result, static_cast<int64_t>(a.size()));
  EXPECT_EQ(w2.result, static_cast<int64_t>(b.size()));
  EXPECT_EQ(FileContents(fd, a.size(), 0), a);
  EXPECT_EQ(FileContents(fd, b.size(), 4096), b);

  IoRequest bad = WriteReq(-1, a.data(), a.size(), 0);
  bad.flags = IoRequest::kInline;
  EXPECT_EQ(Run(&bad), -EBADF);

  IoRequest ds = WriteReq(fd, b.data(), b.size(), 8192);
  ds.flags = IoRequest::kInline | IoRequest::kDsync;
  EXPECT_EQ(Run(&ds), static_cast<int64_t>(b.size()));
  EXPECT_EQ(FileContents(fd, b.size(), 8192), b);
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

// A ring attached to a shared kernel submission thread (SqpollThread): requests are
// issued without a submit call of their own, complete, and are counted once each, round
// after round (their depth at submission stays within what was in flight).
TEST_P(IoTest, SqpollRingsShareOneSubmissionThread) {
  if (GetParam() != BackendKind::kUring) GTEST_SKIP() << "SQPOLL is io_uring only";
  std::unique_ptr<SqpollThread> sq;
  Status s = SqpollThread::Create(/*idle_ms=*/2, &sq);
  if (!s.ok()) GTEST_SKIP() << s.ToString();
  BackendOptions opt;
  opt.kind = BackendKind::kUring;
  opt.queue_depth = 16;
  opt.sqpoll_attach_fd = sq->fd();
  std::unique_ptr<IoBackend> b;
  BackendChoice choice;
  ASSERT_TRUE(CreateBackend(opt, &b, &choice).ok());
  ASSERT_NE(static_cast<UringBackend*>(b.get())->setup_flags() & IORING_SETUP_SQPOLL, 0u);
  EXPECT_NE(static_cast<UringBackend*>(b.get())->Describe().find("SQPOLL"), std::string::npos);
  int fd = Open("sq", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  constexpr int kN = 8;
  std::vector<char> out(kN * 64), in(kN * 64);
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<char>('a' + i % 26);
  uint64_t submitted = b->counters().requests_submitted;
  for (int round = 0; round < 20; round++) {
    std::vector<IoRequest> reqs(kN);
    for (int i = 0; i < kN; i++) {
      reqs[i] = round % 2 == 0 ? WriteReq(fd, &out[i * 64], 64, 64ull * i)
                               : ReadReq(fd, &in[i * 64], 64, 64ull * i);
      b->Prepare(&reqs[i]);
    }
    // The kernel thread takes them up after Submit() returns, while this thread sleeps
    // (it sleeps itself between rounds: idle_ms): counted all the same.
    b->Submit();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    ASSERT_TRUE(Drain(b.get())) << "round " << round;
    submitted += kN;
    EXPECT_EQ(b->counters().requests_submitted, submitted) << "round " << round;
    for (const IoRequest& r : reqs) {
      EXPECT_EQ(r.result, 64) << "round " << round;
      EXPECT_GE(r.depth_at_submit, 1u) << "round " << round;
      EXPECT_LE(r.depth_at_submit, static_cast<uint32_t>(kN)) << "round " << round;
    }
    if (round % 2 == 1) {
      EXPECT_EQ(in, out) << "round " << round;
    }
  }
  // Another ring attaches to the same thread and works beside the first.
  std::unique_ptr<IoBackend> b2;
  ASSERT_TRUE(CreateBackend(opt, &b2, &choice).ok());
  std::vector<char> again(64);
  IoRequest r = ReadReq(fd, again.data(), 64, 64);
  b2->Prepare(&r);
  ASSERT_TRUE(Drain(b2.get()));
  EXPECT_EQ(r.result, 64);
  EXPECT_EQ(std::memcmp(again.data(), &out[64], 64), 0);
}

// BackendOptions::register_ring_fd: the ring's descriptor is registered with the thread
// that first enters it. Destroying such a backend on another thread must leave that
// thread's own registered ring alone (the registration lives in the owner thread's
// table, where liburing would look it up in the destroying thread's).
TEST_P(IoTest, RegisteredRingDescriptorStaysWithItsThread) {
  if (GetParam() != BackendKind::kUring) GTEST_SKIP() << "io_uring only";
  int fd = Open("reg", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "0123456789", 10, 0), 10);
  BackendOptions opt;
  opt.kind = BackendKind::kUring;
  opt.queue_depth = 8;
  opt.register_ring_fd = true;
  auto read_at = [&](IoBackend* b, uint64_t off) {
    char c = 0;
    IoRequest r = ReadReq(fd, &c, 1, off);
    b->Prepare(&r);
    return Drain(b) && r.result == 1 ? c : '?';
  };
  std::unique_ptr<IoBackend> mine, theirs;
  BackendChoice choice;
  ASSERT_TRUE(CreateBackend(opt, &mine, &choice).ok());
  EXPECT_EQ(read_at(mine.get(), 1), '1');
  auto* u = static_cast<UringBackend*>(mine.get());
  if (!u->ring_fd_registered()) GTEST_SKIP() << "the kernel refused IORING_REGISTER_RING_FDS";
  EXPECT_NE(u->Describe().find("REGISTERED_FD"), std::string::npos) << u->Describe();
  // The other thread's ring shares a submission thread: such a ring has no
  // SINGLE_ISSUER, so the kernel would let another thread unregister in its own table.
  std::unique_ptr<SqpollThread> sq;
  Status s = SqpollThread::Create(/*idle_ms=*/2, &sq);
  if (!s.ok()) GTEST_SKIP() << s.ToString();
  BackendOptions attached = opt;
  attached.sqpoll_attach_fd = sq->fd();
  std::thread t([&] {
    ASSERT_TRUE(CreateBackend(attached, &theirs, &choice).ok());
    EXPECT_EQ(read_at(theirs.get(), 2), '2');
    EXPECT_TRUE(static_cast<UringBackend*>(theirs.get())->ring_fd_registered());
  });
  t.join();
  theirs.reset();  // here, not on its thread
  for (int i = 0; i < 10; i++) EXPECT_EQ(read_at(mine.get(), i), static_cast<char>('0' + i));
  // A new one on this thread registers beside it.
  ASSERT_TRUE(CreateBackend(attached, &theirs, &choice).ok());
  EXPECT_EQ(read_at(theirs.get(), 7), '7');
  EXPECT_EQ(read_at(mine.get(), 3), '3');
  theirs.reset();
  EXPECT_EQ(read_at(mine.get(), 4), '4');
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
}  // namespace ringdb::io::iotest
