#include "runtime/rcu.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/runtime.h"

namespace ringdb::rt {
namespace {

struct CallbackThread {
  std::atomic<bool> ran{false};
  std::string name;
  int nice = 0;
};

void RecordCallbackThread(void* arg) {
  auto* t = static_cast<CallbackThread*>(arg);
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  t->name = name;
  errno = 0;
  t->nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  t->ran.store(true, std::memory_order_release);
}

TEST(RcuTest, RetiredCallbackWaitsForEveryEarlierReader) {
  std::atomic<bool> in_section{false};
  std::atomic<bool> leave{false};
  std::thread reader([&] {
    rcu::ReadLock lock;
    in_section.store(true);
    while (!leave.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!in_section.load()) std::this_thread::yield();

  CallbackThread t;
  rcu::Retire(&RecordCallbackThread, &t);
  // The reader's section began before the Retire, so no grace period can end while
  // it lasts.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(t.ran.load(std::memory_order_acquire));
  leave.store(true);
  reader.join();
  rcu::Barrier();
  EXPECT_TRUE(t.ran.load(std::memory_order_acquire));
}

TEST(RcuTest, RetireListRunsEveryItemAfterFlush) {
  constexpr int kItems = 3 * rcu::RetireList::kFlushItems + 5;
  std::atomic<int> ran{0};
  {
    rcu::RetireList list;
    for (int i = 0; i < kItems; i++) {
      list.Add([](void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(1); }, &ran);
    }
    EXPECT_EQ(list.pending(), 5u);  // three full batches went out on their own
    EXPECT_EQ(list.retired(), 3u * rcu::RetireList::kFlushItems);
  }  // the destructor flushes the rest
  rcu::Barrier();
  EXPECT_EQ(ran.load(), kItems);
}

// Barrier() returns once every callback retired before it (by any thread) has run,
// while other threads keep retiring.
TEST(RcuTest, BarrierWaitsForEverythingRetiredBeforeIt) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; round++) {
        std::atomic<int> ran{0};
        rcu::RetireList list;
        const int n = 1 + round * 37;
        for (int i = 0; i < n; i++) {
          list.Add([](void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(1); }, &ran);
        }
        list.Flush();
        rcu::Barrier();
        if (ran.load() != n) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Callbacks run on ringdb's reclaimer thread, named as such and at the nice value of
// the thread that opened the runtime, even when a shard thread (niced down) retires
// first.
TEST(RcuTest, CallbacksRunOnTheNamedReclaimerAtTheOpenersPriority) {
  errno = 0;
  const int opener_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  ASSERT_EQ(errno, 0);
  if (opener_nice >= 19) GTEST_SKIP() << "the test runs at nice 19: shards cannot go lower";

  RuntimeOptions opt;
  opt.shards = 2;
  opt.thread_nice = 10;
  std::unique_ptr<Runtime> rt;
  ASSERT_TRUE(Runtime::Start(opt, &rt).ok());
  CallbackThread from_shard;
  const int shard_nice = rt->SubmitTo(1, [&] {
    rcu::Retire(&RecordCallbackThread, &from_shard);
    return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  });
  ASSERT_EQ(shard_nice, std::min(opener_nice + 10, 19));
  rcu::Barrier();
  ASSERT_TRUE(from_shard.ran.load(std::memory_order_acquire));
  EXPECT_EQ(from_shard.name, rcu::kReclaimerThreadName);
  EXPECT_EQ(from_shard.nice, opener_nice);

  CallbackThread from_app;
  rcu::Retire(&RecordCallbackThread, &from_app);
  rcu::Barrier();
  EXPECT_EQ(from_app.name, rcu::kReclaimerThreadName);
  rt->Stop();
}

}  // namespace
}  // namespace ringdb::rt
