// The fixture of the fault-injection suite (tests/fault): a FaultBackend over one of
// the inner backends (io_uring, libaio, or the synchronous reference), a temporary
// directory, and helpers that run one request at a time through the backend.
#pragma once

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

#include "testing/fault_backend.h"
#include "tests/fault/sync_backend.h"

namespace ringdb::io::fault_test {

namespace fs = std::filesystem;

enum class Inner { kUring, kAio, kSync };

inline std::string InnerName(const ::testing::TestParamInfo<Inner>& info) {
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

inline void CountDown(IoRequest* r) {
  --*static_cast<int*>(r->user);
}

class FaultBackendTest : public ::testing::TestWithParam<Inner> {
 protected:
  void SetUp() override {
    std::unique_ptr<IoBackend> inner;
    if (GetParam() == Inner::kSync) {
      inner = std::make_unique<SyncBackend>();
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

}  // namespace ringdb::io::fault_test
