#include "runtime/file_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace ringdb::rt {
namespace {

class FileIoTest : public ::testing::TestWithParam<io::BackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == io::BackendKind::kUring ? io::ProbeUring() : io::ProbeAio();
    if (!probe.ok())
      GTEST_SKIP() << io::BackendKindName(GetParam()) << " unavailable: " << probe.ToString();
    RuntimeOptions opt;
    opt.shards = 2;
    opt.backend.kind = GetParam();
    Status s = Runtime::Start(opt, &rt_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    dir_ = ::testing::TempDir() + "ringdb_file_io_XXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
  }
  void TearDown() override {
    if (rt_) rt_->Stop();
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      ASSERT_EQ(system(cmd.c_str()), 0);
    }
  }
  std::string Path(const char* name) const { return dir_ + "/" + name; }

  std::unique_ptr<Runtime> rt_;
  std::string dir_;
};

TEST_P(FileIoTest, WriteThenReadBackThroughTheReactor) {
  const std::string path = Path("data");
  Status s = rt_->SubmitTo(1, [&] {
    int fd = -1;
    Status st = OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd);
    if (!st.ok()) return st;
    std::string data(100'000, '\0');
    for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>('a' + i % 26);
    st = WriteFull(fd, data.data(), data.size(), 4096, io::IoClass::kFlush, "data");
    if (st.ok()) st = Fdatasync(fd, io::IoClass::kFlush, "data");
    std::string back(data.size(), '\0');
    if (st.ok()) st = ReadFull(fd, back.data(), back.size(), 4096, io::IoClass::kUserRead, "data");
    if (st.ok() && back != data) st = Status::Corruption("read back differs");
    Status c = Close(fd, "data");
    return st.ok() ? c : st;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  struct stat sb;
  ASSERT_EQ(stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_size, 4096 + 100'000);
}

TEST_P(FileIoTest, ReadPastEndOfFileIsCorruptionNamingTheFile) {
  const std::string path = Path("short");
  Status s = rt_->SubmitTo(0, [&] {
    int fd = -1;
    Status st = OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR, 0644, &fd);
    if (!st.ok()) return st;
    st = WriteFull(fd, "hello", 5, 0, io::IoClass::kWal, "short.wal");
    char buf[16];
    if (st.ok()) st = ReadFull(fd, buf, sizeof(buf), 0, io::IoClass::kWal, "short.wal");
    size_t n = 0;
    Status partial = ReadAt(fd, buf, sizeof(buf), 0, io::IoClass::kWal, &n);
    EXPECT_TRUE(partial.ok()) << partial.ToString();
    EXPECT_EQ(n, 5u);
    Close(fd);
    return st;
  });
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("short.wal"), std::string::npos) << s.ToString();
}

TEST_P(FileIoTest, ErrnoBecomesStatusWithContext) {
  Status s = rt_->SubmitTo(0, [] {
    char buf[8];
    return ReadFull(-1, buf, sizeof(buf), 0, io::IoClass::kUserRead, "000042.sst");
  });
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("000042.sst"), std::string::npos) << s.ToString();
  Status missing = rt_->SubmitTo(0, [&] {
    int fd;
    return OpenAt(AT_FDCWD, Path("nope").c_str(), O_RDONLY, 0, &fd);
  });
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
}

TEST_P(FileIoTest, RenameUnlinkAndSyncDir) {
  const std::string a = Path("a"), b = Path("b");
  Status s = rt_->SubmitTo(0, [&] {
    int fd;
    Status st = OpenAt(AT_FDCWD, a.c_str(), O_CREAT | O_WRONLY, 0644, &fd);
    if (st.ok()) st = Close(fd);
    if (st.ok()) st = RenameAt(AT_FDCWD, a.c_str(), b.c_str());
    if (st.ok()) st = SyncDir(dir_.c_str());
    return st;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(access(a.c_str(), F_OK), 0);
  EXPECT_EQ(access(b.c_str(), F_OK), 0);
  s = rt_->SubmitTo(1, [&] { return UnlinkAt(AT_FDCWD, b.c_str()); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(access(b.c_str(), F_OK), 0);
}

// Fibers that queue I/O in the same loop pass share one Submit.
TEST_P(FileIoTest, ConcurrentReadsFromManyFibersAreBatched) {
  const std::string path = Path("many");
  constexpr int kFibers = 32;
  struct Result {
    Status status;
    int mismatches = 0;
    uint64_t max_batch = 0;
  };
  Result r = rt_->SubmitTo(0, [&] {
    Result res;
    int fd;
    res.status = OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR, 0644, &fd);
    if (!res.status.ok()) return res;
    std::vector<char> data(kFibers * 512);
    for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i / 512);
    res.status = WriteFull(fd, data.data(), data.size(), 0, io::IoClass::kOther);
    WaitGroup wg;
    for (int i = 0; i < kFibers; i++) {
      wg.Add();
      CurrentReactor()->Spawn([&, i] {
        char buf[512];
        Status st = ReadFull(fd, buf, sizeof(buf), i * 512, io::IoClass::kUserRead);
        if (!st.ok()) res.status = st;
        for (char c : buf) res.mismatches += c != static_cast<char>(i);
        wg.Done();
      });
    }
    wg.Wait();
    Close(fd);
    res.max_batch = CurrentReactor()->backend()->counters().max_batch;
    return res;
  });
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_GE(r.max_batch, 2u);
}

TEST_P(FileIoTest, HelpersRunSynchronouslyOutsideAFiber) {
  const std::string path = Path("sync");
  int fd = -1;
  ASSERT_TRUE(OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR, 0644, &fd).ok());
  ASSERT_TRUE(WriteFull(fd, "abcdef", 6, 0, io::IoClass::kOther).ok());
  char buf[6];
  ASSERT_TRUE(ReadFull(fd, buf, 6, 0, io::IoClass::kOther).ok());
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_TRUE(Fsync(fd).ok());
  EXPECT_TRUE(Close(fd).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, FileIoTest,
                         ::testing::Values(io::BackendKind::kUring, io::BackendKind::kAio),
                         [](const auto& info) {
                           return std::string(io::BackendKindName(info.param));
                         });

}  // namespace
}  // namespace ringdb::rt
