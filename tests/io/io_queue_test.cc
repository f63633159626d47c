// I/O backends, per kind (the fixture: io_test_fixture.h): linked chains, more requests
// than the queue depth, poll batches, and Wait/Wake across threads.
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
#include "tests/io/io_test_fixture.h"
#include "util/clock.h"

namespace ringdb::io::iotest {
namespace {

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

}  // namespace
}  // namespace ringdb::io::iotest
