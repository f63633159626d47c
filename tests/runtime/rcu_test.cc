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

void CountUp(void* p) {
  static_cast<std::atomic<int>*>(p)->fetch_add(1, std::memory_order_release);
}

// Polls until *n reaches want; the milliseconds it took, or -1 after 10 s.
int64_t MsUntil(const std::atomic<int>& n, int want) {
  const auto start = std::chrono::steady_clock::now();
  while (n.load(std::memory_order_acquire) < want) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(10)) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// Deferrable items wait for their longer deadline; a prompt item retired after them
// takes them along with it at its own.
TEST(RcuTest, DeferrableItemsWaitUntilAPromptOneComes) {
  rcu::Barrier();  // nothing earlier is queued to set a sooner deadline
  std::atomic<int> deferred{0}, prompt{0};
  rcu::RetireList list;
  for (int i = 0; i < 10; i++) list.AddDeferrable(&CountUp, &deferred, 4096);
  list.Flush();
  // Waiting less than the deferrable deadline: no grace period has been asked for.
  std::this_thread::sleep_for(std::chrono::milliseconds(rcu::kDeferrableWaitMs / 4));
  EXPECT_EQ(deferred.load(), 0);
  list.Add(&CountUp, &prompt);
  list.Flush();
  const int64_t ms = MsUntil(prompt, 1);
  ASSERT_GE(ms, 0) << "a prompt item never ran";
  EXPECT_LT(ms, int64_t{rcu::kDeferrableWaitMs} * 3 / 4) << "the prompt item waited as deferrable";
  EXPECT_EQ(deferred.load(), 10) << "the deferrable items queued first were left behind";
}

// Deferrable items that would free kDeferrableBytes between them go at once; the
// deadline alone frees fewer.
TEST(RcuTest, DeferrableItemsGoOnceTheirBytesAddUp) {
  rcu::Barrier();
  std::atomic<int> few{0};
  {
    rcu::RetireList list;
    for (int i = 0; i < 4; i++) list.AddDeferrable(&CountUp, &few, 4096);
  }  // flushed
  const int64_t few_ms = MsUntil(few, 4);
  ASSERT_GE(few_ms, 0) << "deferrable items never ran";
  EXPECT_GE(few_ms, int64_t{rcu::kDeferrableWaitMs} / 2) << "ran long before their deadline";

  std::atomic<int> many{0};
  const size_t each = rcu::kDeferrableBytes / 16;
  {
    rcu::RetireList list;
    for (int i = 0; i < 17; i++) list.AddDeferrable(&CountUp, &many, each);
  }
  const int64_t many_ms = MsUntil(many, 17);
  ASSERT_GE(many_ms, 0) << "deferrable items never ran";
  EXPECT_LT(many_ms, int64_t{rcu::kDeferrableWaitMs} * 3 / 4)
      << "over kDeferrableBytes waited for the deadline";
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
