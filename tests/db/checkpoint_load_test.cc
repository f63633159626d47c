// DB::Checkpoint under load: writer threads keep writing while checkpoints are taken;
// each checkpoint opens and holds every write acknowledged before its call started,
// with the right value (writes acknowledged later may or may not be there, but never
// with a wrong value). Both durability families: kSync (waited writes) and kPeriodic
// (posted writes, acknowledged before the shard applied them).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ringdb/db.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::TempDir;

constexpr int kWriters = 3;
constexpr int kCheckpoints = 3;

std::string Key(int writer, uint64_t i) {
  std::string prefix = dbtest::KeyN("w", static_cast<uint64_t>(writer));
  prefix += '-';
  return dbtest::KeyN(prefix, i);
}
// Writer w's i-th write. Keys repeat every kKeySpace writes, so later checkpoints see
// overwrites (a value names the write that made it).
constexpr uint64_t kKeySpace = 1500;
std::string Value(int writer, uint64_t i) {
  std::string v = dbtest::KeyN("v", i);
  v.append(40 + (i * 7 + static_cast<uint64_t>(writer)) % 90, 'x');
  return v;
}
uint64_t WriteOf(const std::string& value) {
  return std::stoull(value.substr(1));
}

class CheckpointLoadTest : public ::testing::TestWithParam<std::tuple<IoBackendKind, Durability>> {
};

// What one checkpoint must hold: writer w's writes [0, acked[w]).
struct Taken {
  std::string dir;
  std::vector<uint64_t> acked;
};

// Checks one checkpoint against the writes acknowledged before it was called.
void CheckTaken(const Taken& t) {
  Options opt = dbtest::SmallOptions(t.dir, 0);
  opt.create_if_missing = false;
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  ASSERT_TRUE(s.ok()) << t.dir << ": " << s.ToString();
  size_t wrong = 0;
  for (int w = 0; w < kWriters; w++) {
    // Every key written before the call: its last write before the call is the oldest
    // value it may hold.
    const uint64_t n = t.acked[w];
    for (uint64_t k = 0; k < std::min(n, kKeySpace); k++) {
      const uint64_t last = (n - 1 - k) / kKeySpace * kKeySpace + k;
      std::string got;
      s = db->Get(Key(w, k), &got);
      bool ok = s.ok() && WriteOf(got) >= last && (WriteOf(got) - k) % kKeySpace == 0 &&
                got == Value(w, WriteOf(got));
      if (!ok && ++wrong <= 5) {
        ADD_FAILURE() << t.dir << ": " << Key(w, k) << " (last acknowledged write " << last
                      << " before the call) reads " << s.ToString() << " "
                      << dbtest::Printable(got);
      }
    }
  }
  EXPECT_EQ(wrong, 0u);
  ASSERT_TRUE(db->Close().ok());
}

TEST_P(CheckpointLoadTest, HoldsEveryWriteAcknowledgedBeforeTheCall) {
  const auto [backend, durability] = GetParam();
  TempDir dir;
  Options opt = dbtest::SmallOptions(dir.Sub("db"), 4);
  opt.io_backend = backend;
  opt.durability = durability;
  opt.periodic_sync_ms = 20;
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  if (s.IsNotSupported() || s.IsIOError()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::vector<std::atomic<uint64_t>> acked(kWriters);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); i++) {
        if (!db->Put(Key(w, i % kKeySpace), Value(w, i)).ok()) {
          failures++;
          return;
        }
        acked[w].store(i + 1, std::memory_order_release);
      }
    });
  }
  std::vector<Taken> taken;
  for (int c = 0; c < kCheckpoints; c++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    Taken t{dir.Sub("cp" + std::to_string(c)), {}};
    for (auto& a : acked) t.acked.push_back(a.load(std::memory_order_acquire));
    s = db->Checkpoint(t.dir);
    ASSERT_TRUE(s.ok()) << s.ToString();
    taken.push_back(std::move(t));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(taken.back().acked[0], taken.front().acked[0]) << "the writers made no progress";
  ASSERT_TRUE(db->Close().ok());
  for (const Taken& t : taken) CheckTaken(t);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, CheckpointLoadTest,
    ::testing::Combine(::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                       ::testing::Values(Durability::kSync, Durability::kPeriodic)),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) == IoBackendKind::kUring ? "io_uring" : "libaio";
      return name + (std::get<1>(info.param) == Durability::kSync ? "_sync" : "_periodic");
    });

}  // namespace
}  // namespace ringdb
