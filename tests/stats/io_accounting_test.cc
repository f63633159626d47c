// The reactor's I/O accounting (io::IoAccounting behind rt::Reactor::FillStats) on real
// backends, plain and behind a FaultBackend, and the loop's ring occupancy.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/file_io.h"
#include "runtime/runtime.h"
#include "runtime/sync.h"
#include "stats_test_util.h"

namespace ringdb::stats_test {
namespace {

class IoAccountingTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    const std::string why = Unavailable(GetParam().kind);
    if (!why.empty()) GTEST_SKIP() << why;
    Status s = rt::Runtime::Start(RuntimeFor(GetParam(), 1), &rt_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (rt_) rt_->Stop();
  }

  ShardStats StatsOfShard0() {
    return rt_->SubmitTo(0, [] {
      ShardStats st;
      rt::CurrentReactor()->FillStats(&st);
      return st;
    });
  }

  TempDir dir_;
  std::unique_ptr<rt::Runtime> rt_;
};

TEST_P(IoAccountingTest, CountsEveryCompletedIoByClass) {
  const std::string path = dir_.File("data");
  const ShardStats before = StatsOfShard0();
  Status s = rt_->SubmitTo(0, [&] {
    int fd = -1;
    Status st = rt::OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd);
    if (!st.ok()) return st;
    std::vector<char> block(4096, 'x');
    for (int i = 0; st.ok() && i < 16; i++) {
      st = rt::WriteFull(fd, block.data(), block.size(), i * 4096ull, io::IoClass::kFlush);
    }
    if (st.ok()) st = rt::Fdatasync(fd, io::IoClass::kWal);
    for (int i = 0; st.ok() && i < 8; i++) {
      st = rt::ReadFull(fd, block.data(), block.size(), i * 4096ull, io::IoClass::kUserRead);
    }
    // A failing read: EBADF on a closed descriptor is still one completed request.
    Status c = rt::Close(fd);
    char byte;
    size_t got = 0;
    Status bad = rt::ReadAt(fd, &byte, 1, 0, io::IoClass::kCompactionRead, &got);
    EXPECT_FALSE(bad.ok());
    return st.ok() ? c : st;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ShardStats st = StatsOfShard0();
  EXPECT_EQ(before.io.total_count(), 0u);

  const IoClassStats& flush = st.io.of(IoClass::kFlush);
  EXPECT_EQ(flush.count, 16u);
  EXPECT_EQ(flush.writes, 16u);
  EXPECT_EQ(flush.write_bytes, 16u * 4096);
  EXPECT_EQ(flush.errors, 0u);
  EXPECT_EQ(flush.latency_ns.count(), 16u);
  EXPECT_GT(flush.latency_ns.max(), 0u);

  const IoClassStats& wal = st.io.of(IoClass::kWal);
  EXPECT_EQ(wal.count, 1u);
  EXPECT_EQ(wal.syncs, 1u);
  EXPECT_EQ(wal.write_bytes, 0u);

  const IoClassStats& user = st.io.of(IoClass::kUserRead);
  EXPECT_EQ(user.reads, 8u);
  EXPECT_EQ(user.read_bytes, 8u * 4096);

  const IoClassStats& bad = st.io.of(IoClass::kCompactionRead);
  EXPECT_EQ(bad.count, 1u);
  EXPECT_EQ(bad.errors, 1u);
  EXPECT_EQ(bad.read_bytes, 0u);

  EXPECT_EQ(st.io.of(IoClass::kOther).count, 2u);  // open and close
  const uint64_t total = 16 + 1 + 8 + 1 + 2;
  EXPECT_EQ(st.io.total_count(), total);
  EXPECT_EQ(st.io.total_write_bytes(), 16u * 4096);
  EXPECT_EQ(st.io.total_read_bytes(), 8u * 4096);

  // Every request went through one of the loop's Submit() calls (libaio does not count
  // the EBADF read, which io_submit rejects, as submitted).
  EXPECT_GE(st.io.submit_batch.count(), 1u);
  EXPECT_LE(st.io.submit_batch.sum(), total);
  EXPECT_GE(st.io.submit_batch.sum(), total - 1);
  // One depth sample per request that reached the kernel (all of them here; the EBADF
  // read may be rejected at submission by libaio).
  EXPECT_GE(st.io.depth_at_submit.count(), total - 1);
  EXPECT_GE(st.io.depth_at_submit.min(), 1u);
  EXPECT_EQ(st.io.in_flight, 0u);
  EXPECT_FALSE(st.io.backend.empty());
  EXPECT_EQ(st.io.backend.find("fault(") == 0, GetParam().fault) << st.io.backend;
  EXPECT_GT(st.runtime.loops, 0u);
  EXPECT_GT(st.runtime.fiber_switches, 0u);
}

TEST_P(IoAccountingTest, ConcurrentFibersShareOneSubmitBatch) {
  const std::string path = dir_.File("batch");
  constexpr int kFibers = 16;
  Status s = rt_->SubmitTo(0, [&] {
    int fd = -1;
    Status st = rt::OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd);
    if (!st.ok()) return st;
    std::vector<char> data(kFibers * 4096, 'y');
    st = rt::WriteFull(fd, data.data(), data.size(), 0, io::IoClass::kFlush);
    if (!st.ok()) return st;
    rt::WaitGroup wg;
    std::vector<Status> results(kFibers);
    for (int i = 0; i < kFibers; i++) {
      wg.Add();
      rt::CurrentReactor()->Spawn([&, i] {
        std::vector<char> buf(4096);
        results[i] = rt::ReadFull(fd, buf.data(), buf.size(), i * 4096ull, io::IoClass::kUserRead);
        wg.Done();
      });
    }
    wg.Wait();
    for (const Status& r : results) {
      if (!r.ok()) return r;
    }
    return rt::Close(fd);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ShardStats st = StatsOfShard0();
  EXPECT_EQ(st.io.of(IoClass::kUserRead).reads, static_cast<uint64_t>(kFibers));
  // The fibers all became ready in one pass, so their reads went out in one Submit().
  EXPECT_GE(st.io.submit_batch.max(), static_cast<uint64_t>(kFibers));
  EXPECT_GE(st.io.depth_at_submit.max(), static_cast<uint64_t>(kFibers));
}

INSTANTIATE_TEST_SUITE_P(Backends, IoAccountingTest, ::testing::ValuesIn(kBackendParams),
                         ParamName);

// Behind a FaultBackend with rules.
class IoAccountingFaultTest : public IoAccountingTest {};

TEST_P(IoAccountingFaultTest, InjectedErrorsAreCountedAtTheOutermostBackend) {
  rt_->Stop();
  rt_.reset();
  std::shared_ptr<io::FaultController> ctl;
  ASSERT_TRUE(rt::Runtime::Start(RuntimeFor(GetParam(), 1, &ctl), &rt_).ok());
  ctl->AddRule(io::FaultRule::Error(EIO).On(io::IoOp::kWrite).File("victim").Nth(2));
  const std::string path = dir_.File("victim");
  rt_->SubmitTo(0, [&] {
    int fd = -1;
    ASSERT_TRUE(rt::OpenAt(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR, 0644, &fd).ok());
    char block[512] = {};
    for (int i = 0; i < 3; i++)
      rt::WriteFull(fd, block, sizeof(block), i * 512ull, io::IoClass::kWal);
    rt::Close(fd);
  });
  const ShardStats st = StatsOfShard0();
  const IoClassStats& wal = st.io.of(IoClass::kWal);
  EXPECT_EQ(wal.writes, 3u);  // each seen once, as the engine saw it
  EXPECT_EQ(wal.errors, 1u);
  EXPECT_EQ(wal.write_bytes, 2u * 512);
  EXPECT_EQ(wal.latency_ns.count(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoAccountingFaultTest, ::testing::ValuesIn(kFaultParams),
                         ParamName);

TEST(RingOccupancy, SampledWhenInboundRingsAreDrained) {
  rt::RuntimeOptions opt;
  opt.shards = 2;
  opt.spin_ns = 0;
  std::unique_ptr<rt::Runtime> rt;
  ASSERT_TRUE(rt::Runtime::Start(opt, &rt).ok());
  constexpr int kCalls = 300;
  // Keep shard 1 busy (blocking its thread on purpose) while shard 0 sends, so that
  // the calls pile up in the ring whatever the machine's scheduling.
  std::atomic<bool> busy{true};
  rt->SubmitToAsync(
      1,
      [&busy] {
        while (busy.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return 0;
      },
      [](int) {});
  rt->SubmitTo(0, [&] {
    rt::CurrentReactor()->Spawn([&busy] {
      rt::SleepFor(30'000'000);
      busy.store(false);
    });
    rt::WaitGroup wg;
    for (int i = 0; i < kCalls; i++) {
      wg.Add();
      rt::CurrentReactor()->Spawn([&] {
        rt::SubmitTo(1, [] { return 1; });
        wg.Done();
      });
    }
    wg.Wait();
  });
  ShardStats st = rt->SubmitTo(1, [] {
    ShardStats s;
    rt::CurrentReactor()->FillStats(&s);
    return s;
  });
  const RuntimeStats& r = st.runtime;
  EXPECT_GE(r.messages, static_cast<uint64_t>(kCalls));
  ASSERT_GT(r.ring_occupancy.count(), 0u);
  // Each sample counts at least the messages taken in that drain.
  EXPECT_GE(r.ring_occupancy.sum(), r.messages);
  EXPECT_GE(r.ring_occupancy.max(), 2u) << "300 calls spawned at once should queue up";
  rt->Stop();
}

}  // namespace
}  // namespace ringdb::stats_test
