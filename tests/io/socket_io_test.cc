// Socket operations of the I/O backends (ringdb-server): accept (multishot), recv,
// send, poll and cancel on io_uring; poll and cancel on libaio, which has no socket
// I/O and says so with EOPNOTSUPP. Socket requests never reach the observer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/io_backend.h"
#include "util/clock.h"

namespace ringdb::io {
namespace {

constexpr int64_t kMs = 1'000'000;

void RecordDone(IoRequest* r) {
  static_cast<std::vector<int64_t>*>(r->user)->push_back(r->result);
}

class CountingObserver final : public IoObserver {
 public:
  void OnIoComplete(const IoRequest&) override { seen++; }
  int seen = 0;
};

class SocketIoTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == BackendKind::kUring ? ProbeUring() : ProbeAio();
    if (!probe.ok()) GTEST_SKIP() << BackendKindName(GetParam()) << ": " << probe.ToString();
    BackendOptions opt;
    opt.kind = GetParam();
    opt.queue_depth = 64;
    ASSERT_TRUE(CreateBackend(opt, &b_).ok());
    b_->set_observer(&obs_);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_), 0);
  }
  void TearDown() override {
    if (b_ != nullptr) {
      EXPECT_TRUE(Drain(200 * kMs)) << "requests left in flight";
      EXPECT_EQ(obs_.seen, 0) << "socket requests must not reach the observer";
    }
    b_.reset();
    for (int fd : sv_) {
      if (fd >= 0) close(fd);
    }
  }
  // Polls until nothing is in flight or the time is up.
  bool Drain(int64_t ns) {
    const uint64_t end = util::NowNanos() + static_cast<uint64_t>(ns);
    b_->Submit();
    while (b_->in_flight() > 0 && util::NowNanos() < end) {
      if (b_->Poll() == 0) b_->Wait(10 * kMs);
    }
    return b_->in_flight() == 0;
  }
  // Polls until `done` has n results or the time is up.
  bool WaitFor(size_t n, int64_t ns = 2000 * kMs) {
    const uint64_t end = util::NowNanos() + static_cast<uint64_t>(ns);
    b_->Submit();
    while (done_.size() < n && util::NowNanos() < end) {
      if (b_->Poll() == 0) b_->Wait(10 * kMs);
    }
    return done_.size() >= n;
  }
  IoRequest Req(IoOp op, int fd) {
    IoRequest r;
    r.op = op;
    r.fd = fd;
    r.done = &RecordDone;
    r.user = &done_;
    return r;
  }
  bool uring() const { return GetParam() == BackendKind::kUring; }

  std::unique_ptr<IoBackend> b_;
  CountingObserver obs_;
  int sv_[2] = {-1, -1};
  std::vector<int64_t> done_;
};

TEST_P(SocketIoTest, PollReportsReadable) {
  IoRequest p = Req(IoOp::kPoll, sv_[0]);
  p.mode = POLLIN;
  b_->Prepare(&p);
  b_->Submit();
  b_->Poll();
  EXPECT_TRUE(done_.empty()) << "nothing to read yet";
  ASSERT_EQ(write(sv_[1], "x", 1), 1);
  ASSERT_TRUE(WaitFor(1));
  EXPECT_TRUE(done_[0] & POLLIN) << done_[0];
}

TEST_P(SocketIoTest, CancelEndsAPendingPoll) {
  IoRequest p = Req(IoOp::kPoll, sv_[0]);
  p.mode = POLLIN;
  b_->Prepare(&p);
  b_->Submit();
  IoRequest c = Req(IoOp::kCancel, -1);
  c.buf = &p;
  b_->Prepare(&c);
  ASSERT_TRUE(WaitFor(2));
  EXPECT_TRUE(Drain(1000 * kMs));
}

TEST_P(SocketIoTest, RecvAndSend) {
  IoRequest s = Req(IoOp::kSend, sv_[0]);
  char out[] = "hello";
  s.buf = out;
  s.len = 5;
  b_->Prepare(&s);
  ASSERT_TRUE(WaitFor(1));
  if (!uring()) {
    EXPECT_EQ(done_[0], -EOPNOTSUPP) << "libaio has no socket I/O";
    return;
  }
  EXPECT_EQ(done_[0], 5);
  char in[16] = {};
  IoRequest r = Req(IoOp::kRecv, sv_[1]);
  r.buf = in;
  r.len = sizeof(in);
  b_->Prepare(&r);
  ASSERT_TRUE(WaitFor(2));
  EXPECT_EQ(done_[1], 5);
  EXPECT_EQ(std::string(in, 5), "hello");
}

TEST_P(SocketIoTest, CancelledRecvReportsCanceled) {
  if (!uring()) GTEST_SKIP() << "no recv on libaio";
  char in[16];
  IoRequest r = Req(IoOp::kRecv, sv_[1]);
  r.buf = in;
  r.len = sizeof(in);
  b_->Prepare(&r);
  b_->Submit();
  b_->Poll();
  IoRequest c = Req(IoOp::kCancel, -1);
  c.buf = &r;
  b_->Prepare(&c);
  ASSERT_TRUE(WaitFor(2));
  EXPECT_EQ(r.result, -ECANCELED);
  EXPECT_EQ(c.result, 0);
}

TEST_P(SocketIoTest, MultishotAcceptCompletesPerConnection) {
  if (!uring()) GTEST_SKIP() << "no accept on libaio";
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(ls, 16), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len), 0);
  IoRequest acc = Req(IoOp::kAccept, ls);
  acc.flags = IoRequest::kMultishot;
  acc.open_flags = SOCK_CLOEXEC;
  acc.done = [](IoRequest* r) {
    static_cast<std::vector<int64_t>*>(r->user)->push_back(r->more ? r->result : -1000 + r->result);
  };
  b_->Prepare(&acc);
  b_->Submit();
  std::vector<int> clients;
  for (int i = 0; i < 3; i++) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    clients.push_back(c);
  }
  ASSERT_TRUE(WaitFor(3));
  if (done_[0] == -1000 - EINVAL) GTEST_SKIP() << "kernel without multishot accept";
  for (int i = 0; i < 3; i++) {
    ASSERT_GE(done_[i], 0) << "completion " << i << " (negative: final or failed)";
    close(static_cast<int>(done_[i]));
  }
  EXPECT_EQ(b_->in_flight(), 1u) << "still armed";
  IoRequest c = Req(IoOp::kCancel, -1);
  c.buf = &acc;
  c.done = [](IoRequest*) {};
  b_->Prepare(&c);
  EXPECT_TRUE(Drain(2000 * kMs));
  EXPECT_EQ(done_.back(), -1000 - ECANCELED) << "the last completion ends it";
  for (int fd : clients) close(fd);
  close(ls);
}

INSTANTIATE_TEST_SUITE_P(Backends, SocketIoTest,
                         ::testing::Values(BackendKind::kUring, BackendKind::kAio),
                         [](const ::testing::TestParamInfo<BackendKind>& i) {
                           return i.param == BackendKind::kUring ? "Uring" : "Aio";
                         });

}  // namespace
}  // namespace ringdb::io
