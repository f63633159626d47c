// SimBackend: completions in seeded virtual time, reordered but reproducible; link
// chains; the crash freeze.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "testing/sim/sim_disk.h"
#include "util/clock.h"

namespace ringdb::sim {
namespace {

uint64_t g_now = 1'000'000;
uint64_t FakeNow() {
  return g_now;
}

class SimBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    util::SetClockOverride(&FakeNow);
    char tmpl[] = "/dev/shm/ringdb-simbackend-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fd_ = ::open((dir_ + "/f").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    ::close(fd_);
    std::system(("rm -rf " + dir_).c_str());
    util::SetClockOverride(nullptr);
  }
  // Polls until nothing is in flight, advancing the clock; returns completion order.
  static std::vector<int> Drain(SimBackend* b, std::vector<io::IoRequest>* reqs) {
    std::vector<int> order;
    for (auto& r : *reqs) {
      r.user = &order;
      r.done = [](io::IoRequest* q) {
        auto* o = static_cast<std::vector<int>*>(q->user);
        o->push_back(static_cast<int>(q->backend_word_));
      };
    }
    for (size_t i = 0; i < reqs->size(); i++) {
      (*reqs)[i].backend_word_ = i;
      b->Prepare(&(*reqs)[i]);
    }
    b->Submit();
    while (b->in_flight() > 0) {
      g_now += 1'000;
      b->Poll();
    }
    return order;
  }
  std::vector<io::IoRequest> Writes(int n) {
    std::vector<io::IoRequest> reqs(n);
    for (int i = 0; i < n; i++) {
      reqs[i].op = io::IoOp::kWrite;
      reqs[i].fd = fd_;
      reqs[i].offset = 4096 * i;
      reqs[i].len = 1;
      reqs[i].buf = const_cast<char*>("x");
    }
    return reqs;
  }
  std::string dir_;
  int fd_ = -1;
};

TEST_F(SimBackendTest, CompletionsAreReorderedAndReproducible) {
  std::vector<int> first;
  for (int run = 0; run < 2; run++) {
    SimDisk disk(42, SimDiskOptions());
    SimBackend b(&disk, 0);
    auto reqs = Writes(32);
    std::vector<int> order = Drain(&b, &reqs);
    ASSERT_EQ(order.size(), 32u);
    if (run == 0) {
      first = order;
      EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << "no reordering at all";
    } else {
      EXPECT_EQ(order, first) << "the same seed must give the same order";
    }
  }
}

TEST_F(SimBackendTest, ChainRunsInOrderAndCancelsAfterAFailure) {
  SimDisk disk(7, SimDiskOptions());
  SimBackend b(&disk, 0);
  auto reqs = Writes(3);
  reqs[0].flags = io::IoRequest::kLinkNext;
  reqs[1].fd = 1'000'000;  // EBADF
  reqs[1].flags = io::IoRequest::kLinkNext;
  std::vector<int> order = Drain(&b, &reqs);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(reqs[0].result, 1);
  EXPECT_EQ(reqs[1].result, -EBADF);
  EXPECT_EQ(reqs[2].result, -ECANCELED);
}

TEST_F(SimBackendTest, FreezeFailsEverythingAndTouchesNothing) {
  SimDisk disk(9, SimDiskOptions());
  SimBackend b(&disk, 0);
  auto reqs = Writes(4);
  disk.Freeze();
  Drain(&b, &reqs);
  for (auto& r : reqs) EXPECT_EQ(r.result, -EIO);
  struct stat st;
  ASSERT_EQ(::fstat(fd_, &st), 0);
  EXPECT_EQ(st.st_size, 0) << "a frozen disk wrote";
}

}  // namespace
}  // namespace ringdb::sim
