// The store-level files (src/db/store_files.h; docs/store-files.md) on their own: the
// OPTIONS encoding and every way its decoder rejects a file, the atomic write and the
// read back, the LOCK file (a second opener is Busy, in this process and in another),
// and the directory helpers.
#include "db/store_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "util/crc32c.h"

namespace ringdb::db {
namespace {

namespace fs = std::filesystem;

class StoreFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringdb-store-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& name, const std::string& data) {
    std::ofstream out(dir_ + "/" + name, std::ios::binary | std::ios::trunc);
    out << data;
  }
  std::string ReadFile(const std::string& name) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

// An OPTIONS body with a correct checksum line, for decoder tests.
std::string WithCrc(const std::string& body) {
  char crc[32];
  std::snprintf(crc, sizeof(crc), "crc32c=%08x\n", util::crc32c::Value(body.data(), body.size()));
  return body + crc;
}

Status Decode(const std::string& contents, StoreOptions* so) {
  return DecodeStoreOptions(contents, "OPTIONS", so);
}

// ---------------------------------------------------------------- OPTIONS encoding

TEST_F(StoreFilesTest, EncodingIsTheDocumentedText) {
  StoreOptions so;
  so.shards = 4;
  const std::string body = "ringdb-options\nformat_version=1\nshards=4\n";
  EXPECT_EQ(EncodeStoreOptions(so), WithCrc(body));
}

TEST_F(StoreFilesTest, EncodeDecodeRoundTrips) {
  for (uint32_t shards : {1u, 2u, 255u, 256u}) {
    StoreOptions so;
    so.shards = shards;
    StoreOptions back;
    Status s = Decode(EncodeStoreOptions(so), &back);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(back.shards, shards);
    EXPECT_EQ(back.format_version, kFormatVersion);
  }
}

TEST_F(StoreFilesTest, UnknownKeysAreIgnored) {
  StoreOptions so;
  Status s = Decode(WithCrc("ringdb-options\nformat_version=1\nfuture_knob=7\nshards=3\n"), &so);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(so.shards, 3u);
}

TEST_F(StoreFilesTest, NotAnOptionsFileIsCorruption) {
  StoreOptions so;
  EXPECT_TRUE(Decode("", &so).IsCorruption());
  EXPECT_TRUE(Decode(WithCrc("something-else\nformat_version=1\nshards=2\n"), &so).IsCorruption());
  EXPECT_TRUE(Decode("ringdb-options\nformat_version=1\nshards=2\n", &so).IsCorruption())
      << "no checksum line";
}

TEST_F(StoreFilesTest, MalformedChecksumLineIsCorruption) {
  StoreOptions so;
  const std::string body = "ringdb-options\nformat_version=1\nshards=2\n";
  EXPECT_TRUE(Decode(body + "crc32c=12345\n", &so).IsCorruption());
  EXPECT_TRUE(Decode(body + "crc32c=zzzzzzzz\n", &so).IsCorruption());
  EXPECT_TRUE(Decode(body + "crc32c=123456789\n", &so).IsCorruption());
}

TEST_F(StoreFilesTest, EveryFlippedBodyByteIsCaughtByTheChecksum) {
  StoreOptions so;
  so.shards = 8;
  const std::string good = EncodeStoreOptions(so);
  const size_t body_len = good.rfind("crc32c=");
  for (size_t i = 0; i < body_len; i++) {
    std::string bad = good;
    bad[i] ^= 0x01;
    StoreOptions out;
    Status s = Decode(bad, &out);
    EXPECT_FALSE(s.ok()) << "flipped byte " << i << " was accepted";
  }
}

TEST_F(StoreFilesTest, MissingOrInvalidFieldsAreCorruption) {
  StoreOptions so;
  for (const char* body : {
           "ringdb-options\nformat_version=1\n",                     // no shards
           "ringdb-options\nshards=2\n",                             // no version
           "ringdb-options\nformat_version=1\nshards=0\n",           // zero shards
           "ringdb-options\nformat_version=1\nshards=-1\n",          // not a number
           "ringdb-options\nformat_version=1\nshards=2x\n",          // trailing junk
           "ringdb-options\nformat_version=1\nshards=\n",            // empty
           "ringdb-options\nformat_version=1\nshards=4294967296\n",  // over 32 bits
           "ringdb-options\nformat_version=1\nshards=257\n",         // over kMaxShards
       }) {
    Status s = Decode(WithCrc(body), &so);
    EXPECT_TRUE(s.IsCorruption()) << body << " -> " << s.ToString();
  }
}

TEST_F(StoreFilesTest, NewerFormatVersionIsNotSupported) {
  StoreOptions so;
  Status s = Decode(WithCrc("ringdb-options\nformat_version=2\nshards=2\n"), &so);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
}

TEST_F(StoreFilesTest, DecodeErrorsNameTheFile) {
  StoreOptions so;
  Status s = DecodeStoreOptions("junk", "/some/store/OPTIONS", &so);
  EXPECT_NE(s.ToString().find("/some/store/OPTIONS"), std::string::npos) << s.ToString();
}

// ---------------------------------------------------------------- OPTIONS on disk

TEST_F(StoreFilesTest, WriteThenReadBack) {
  StoreOptions so;
  so.shards = 6;
  ASSERT_TRUE(WriteStoreOptions(dir_, so).ok());
  EXPECT_EQ(ReadFile("OPTIONS"), EncodeStoreOptions(so));
  EXPECT_FALSE(fs::exists(dir_ + "/OPTIONS.tmp")) << "the temporary file was left behind";
  StoreOptions back;
  Status s = ReadStoreOptions(dir_, &back);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(back.shards, 6u);
}

TEST_F(StoreFilesTest, RewriteReplacesTheFile) {
  StoreOptions so;
  so.shards = 2;
  ASSERT_TRUE(WriteStoreOptions(dir_, so).ok());
  WriteFile("OPTIONS.tmp", "a stale temporary file from a crash");
  so.shards = 3;
  ASSERT_TRUE(WriteStoreOptions(dir_, so).ok());
  StoreOptions back;
  ASSERT_TRUE(ReadStoreOptions(dir_, &back).ok());
  EXPECT_EQ(back.shards, 3u);
}

TEST_F(StoreFilesTest, ReadWithoutOptionsIsNotFound) {
  StoreOptions so;
  EXPECT_TRUE(ReadStoreOptions(dir_, &so).IsNotFound());
}

TEST_F(StoreFilesTest, ReadOfADamagedFileIsCorruption) {
  StoreOptions so;
  so.shards = 2;
  std::string data = EncodeStoreOptions(so);
  data[data.find("shards=2") + 7] = '5';  // the checksum no longer matches
  WriteFile("OPTIONS", data);
  EXPECT_TRUE(ReadStoreOptions(dir_, &so).IsCorruption());
}

TEST_F(StoreFilesTest, ReadOfAHugeFileIsCorruption) {
  WriteFile("OPTIONS", std::string((1 << 20) + 10, 'x'));
  StoreOptions so;
  EXPECT_TRUE(ReadStoreOptions(dir_, &so).IsCorruption());
}

TEST_F(StoreFilesTest, WriteIntoAMissingDirectoryFails) {
  StoreOptions so;
  so.shards = 1;
  EXPECT_FALSE(WriteStoreOptions(dir_ + "/missing", so).ok());
}

// ---------------------------------------------------------------- LOCK

TEST_F(StoreFilesTest, SecondLockInThisProcessIsBusyUntilReleased) {
  DirLock a, b;
  ASSERT_TRUE(a.Acquire(dir_).ok());
  EXPECT_TRUE(fs::exists(dir_ + "/LOCK"));
  Status s = b.Acquire(dir_);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.ToString().find(dir_ + "/LOCK"), std::string::npos) << "Busy names the file";
  a.Release();
  EXPECT_TRUE(b.Acquire(dir_).ok());
}

TEST_F(StoreFilesTest, DestructorReleasesTheLock) {
  {
    DirLock a;
    ASSERT_TRUE(a.Acquire(dir_).ok());
  }
  DirLock b;
  EXPECT_TRUE(b.Acquire(dir_).ok());
}

TEST_F(StoreFilesTest, LockHeldInAnotherProcessIsBusy) {
  DirLock a;
  ASSERT_TRUE(a.Acquire(dir_).ok());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the child: no gtest here, only an exit code
    DirLock b;
    Status s = b.Acquire(dir_);
    ::_exit(s.IsBusy() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "another process got the lock";
}

TEST_F(StoreFilesTest, LockOnAMissingDirectoryFails) {
  DirLock a;
  Status s = a.Acquire(dir_ + "/missing");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.IsBusy());
}

// ---------------------------------------------------------------- directories

TEST_F(StoreFilesTest, CreateDirsMakesEveryParent) {
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(CreateDirs(deep).ok());
  EXPECT_TRUE(fs::is_directory(deep));
  EXPECT_TRUE(CreateDirs(deep).ok()) << "an existing directory is fine";
}

TEST_F(StoreFilesTest, CreateDirsRejectsAFileAndAnEmptyPath) {
  WriteFile("plain", "x");
  EXPECT_TRUE(CreateDirs(dir_ + "/plain").IsInvalidArgument());
  EXPECT_TRUE(CreateDirs("").IsInvalidArgument());
}

TEST_F(StoreFilesTest, SyncDirBlocking) {
  EXPECT_TRUE(SyncDirBlocking(dir_).ok());
  EXPECT_FALSE(SyncDirBlocking(dir_ + "/missing").ok());
}

}  // namespace
}  // namespace ringdb::db
