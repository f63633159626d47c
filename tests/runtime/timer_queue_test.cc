// TimerQueue on its own (no reactor): deadline order with ties in insertion order,
// removal from any heap position, the FireExpired bound that keeps a re-arming
// callback from livelocking the reactor, callbacks that change the queue, and a seeded
// random sequence against a std::multimap model.
#include "runtime/timer_queue.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace ringdb::rt {
namespace {

// A timer that records its firing in a shared log.
struct LoggedTimer {
  TimerNode node;
  int id = 0;
  std::vector<int>* log = nullptr;

  LoggedTimer(int i, uint64_t deadline, std::vector<int>* l) : id(i), log(l) {
    node.deadline_ns = deadline;
    node.arg = this;
    node.fire = [](TimerNode* n) {
      auto* t = static_cast<LoggedTimer*>(n->arg);
      EXPECT_FALSE(n->queued()) << "a node is unlinked before its fire() runs";
      t->log->push_back(t->id);
    };
  }
};

TEST(TimerQueueTest, EmptyQueueFiresNothing) {
  TimerQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.FireExpired(~uint64_t{0}), 0u);
}

TEST(TimerQueueTest, FiresInDeadlineOrderOnlyWhenDue) {
  std::vector<int> log;
  LoggedTimer a(1, 300, &log), b(2, 100, &log), c(3, 200, &log);
  TimerQueue q;
  q.Add(&a.node);
  q.Add(&b.node);
  q.Add(&c.node);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_deadline_ns(), 100u);
  EXPECT_EQ(q.FireExpired(99), 0u);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(q.FireExpired(200), 2u);  // a deadline equal to now is due
  EXPECT_EQ(log, (std::vector<int>{2, 3}));
  EXPECT_EQ(q.next_deadline_ns(), 300u);
  EXPECT_EQ(q.FireExpired(1000), 1u);
  EXPECT_EQ(log, (std::vector<int>{2, 3, 1}));
  EXPECT_TRUE(q.empty());
}

TEST(TimerQueueTest, EqualDeadlinesFireInInsertionOrder) {
  std::vector<int> log;
  std::vector<std::unique_ptr<LoggedTimer>> timers;
  TimerQueue q;
  for (int i = 0; i < 50; i++) {
    timers.push_back(std::make_unique<LoggedTimer>(i, 42, &log));
    q.Add(&timers.back()->node);
  }
  EXPECT_EQ(q.FireExpired(42), 50u);
  for (int i = 0; i < 50; i++) EXPECT_EQ(log[static_cast<size_t>(i)], i);
}

TEST(TimerQueueTest, RemovedTimerNeverFiresAndRemoveIsIdempotent) {
  std::vector<int> log;
  LoggedTimer a(1, 10, &log), b(2, 20, &log), c(3, 30, &log);
  TimerQueue q;
  q.Add(&a.node);
  q.Add(&b.node);
  q.Add(&c.node);
  EXPECT_TRUE(q.Remove(&b.node));  // from the middle of the heap
  EXPECT_FALSE(b.node.queued());
  EXPECT_FALSE(q.Remove(&b.node));
  EXPECT_TRUE(q.Remove(&a.node));  // the root
  EXPECT_EQ(q.next_deadline_ns(), 30u);
  EXPECT_EQ(q.FireExpired(100), 1u);
  EXPECT_EQ(log, (std::vector<int>{3}));
  EXPECT_FALSE(q.Remove(&c.node)) << "a fired timer is no longer queued";
}

TEST(TimerQueueTest, NodeCanBeAddedAgainAfterFiringOrRemoval) {
  std::vector<int> log;
  LoggedTimer a(1, 10, &log);
  TimerQueue q;
  q.Add(&a.node);
  ASSERT_EQ(q.FireExpired(10), 1u);
  a.node.deadline_ns = 20;
  q.Add(&a.node);
  ASSERT_TRUE(q.Remove(&a.node));
  q.Add(&a.node);
  EXPECT_EQ(q.FireExpired(20), 1u);
  EXPECT_EQ(log, (std::vector<int>{1, 1}));
}

// A callback that re-arms its own timer with an expired deadline fires once per call:
// FireExpired handles at most the timers queued on entry.
TEST(TimerQueueTest, RearmingAnExpiredTimerCannotLivelock) {
  struct Rearm {
    TimerNode node;
    TimerQueue* q = nullptr;
    int fired = 0;
  } r;
  TimerQueue q;
  r.q = &q;
  r.node.deadline_ns = 5;
  r.node.arg = &r;
  r.node.fire = [](TimerNode* n) {
    auto* self = static_cast<Rearm*>(n->arg);
    self->fired++;
    self->q->Add(n);  // still expired at the same now
  };
  q.Add(&r.node);
  EXPECT_EQ(q.FireExpired(100), 1u);
  EXPECT_EQ(r.fired, 1);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.FireExpired(100), 1u);
  EXPECT_EQ(r.fired, 2);
  ASSERT_TRUE(q.Remove(&r.node));
}

// Callbacks may remove other timers (they then do not fire) and add new ones (which
// fire on a later call if they were not queued on entry).
TEST(TimerQueueTest, CallbacksMayRemoveAndAddOtherTimers) {
  std::vector<int> log;
  LoggedTimer victim(2, 20, &log), late(3, 1, &log);
  struct Killer {
    TimerNode node;
    TimerQueue* q;
    LoggedTimer* victim;
    LoggedTimer* late;
    std::vector<int>* log;
  };
  TimerQueue q;
  Killer k{{}, &q, &victim, &late, &log};
  k.node.deadline_ns = 10;
  k.node.arg = &k;
  k.node.fire = [](TimerNode* n) {
    auto* self = static_cast<Killer*>(n->arg);
    self->log->push_back(1);
    EXPECT_TRUE(self->q->Remove(&self->victim->node));
    self->q->Add(&self->late->node);  // due already
  };
  q.Add(&k.node);
  q.Add(&victim.node);
  EXPECT_EQ(q.FireExpired(100), 2u);  // the killer, then `late` (the queue held 2 on entry)
  EXPECT_EQ(log, (std::vector<int>{1, 3}));
  EXPECT_TRUE(q.empty());
}

// A callback may free its own node (a timer owned by what it wakes).
TEST(TimerQueueTest, CallbackMayFreeItsNode) {
  struct Owned {
    TimerNode node;
    int* fired;
  };
  int fired = 0;
  auto* o = new Owned{{}, &fired};
  o->node.deadline_ns = 1;
  o->node.arg = o;
  o->node.fire = [](TimerNode* n) {
    auto* self = static_cast<Owned*>(n->arg);
    (*self->fired)++;
    delete self;
  };
  TimerQueue q;
  q.Add(&o->node);
  EXPECT_EQ(q.FireExpired(1), 1u);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(q.empty());
}

// Random adds, removes and fires against a model: (deadline, insertion seq) -> id.
TEST(TimerQueueTest, RandomOperationsMatchAModel) {
  const char* env = std::getenv("RINGDB_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : 20240611;
  SCOPED_TRACE("RINGDB_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kTimers = 200;
  std::vector<int> log;
  std::vector<std::unique_ptr<LoggedTimer>> timers;
  for (int i = 0; i < kTimers; i++) timers.push_back(std::make_unique<LoggedTimer>(i, 0, &log));
  std::map<std::pair<uint64_t, uint64_t>, int> model;
  std::vector<std::pair<uint64_t, uint64_t>> key_of(kTimers);
  uint64_t seq = 0, now = 0;
  TimerQueue q;
  for (int step = 0; step < 20000; step++) {
    LoggedTimer& t = *timers[rng() % kTimers];
    switch (rng() % 4) {
      case 0:
      case 1:
        if (t.node.queued()) break;
        t.node.deadline_ns = now + rng() % 1000;
        q.Add(&t.node);
        key_of[static_cast<size_t>(t.id)] = {t.node.deadline_ns, seq++};
        model[key_of[static_cast<size_t>(t.id)]] = t.id;
        break;
      case 2: {
        const bool was = t.node.queued();
        ASSERT_EQ(q.Remove(&t.node), was);
        if (was) model.erase(key_of[static_cast<size_t>(t.id)]);
        break;
      }
      case 3: {
        now += rng() % 300;
        std::vector<int> want;
        while (!model.empty() && model.begin()->first.first <= now) {
          want.push_back(model.begin()->second);
          model.erase(model.begin());
        }
        log.clear();
        ASSERT_EQ(q.FireExpired(now), want.size());
        ASSERT_EQ(log, want) << "at step " << step;
        break;
      }
    }
    ASSERT_EQ(q.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(q.next_deadline_ns(), model.begin()->first.first);
    }
  }
}

}  // namespace
}  // namespace ringdb::rt
