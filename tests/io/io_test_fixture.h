// The fixture of the I/O backend tests (io_test.cc, io_queue_test.cc): one backend of
// each kind (skipped with the probe's reason where it is unavailable) over files in a
// temporary directory, with helpers to run requests and read files back.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "io/uring_backend.h"
#include "util/clock.h"

// Not in an anonymous namespace: both files' TEST_Ps must share one fixture type.
namespace ringdb::io::iotest {

constexpr int64_t kMs = 1'000'000;

// done() callback: appends the request to the vector<IoRequest*> in req->user.
inline void RecordDone(IoRequest* r) {
  static_cast<std::vector<IoRequest*>*>(r->user)->push_back(r);
}

inline std::string ParamName(const ::testing::TestParamInfo<BackendKind>& info) {
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
}  // namespace ringdb::io::iotest
