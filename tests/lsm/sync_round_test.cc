// SyncRound's counting (lsm/sync_round.h), without shards: when a round is complete,
// what a timed-out hold does to the next round, and which requests a release lets go.
// One shard, so a release kicks nobody (kicks need a reactor; tests/db/sync_round_test.cc
// covers them through the DB).
#include "lsm/sync_round.h"

#include <gtest/gtest.h>

#include "util/clock.h"

namespace ringdb::lsm {
namespace {

using Arrival = SyncRound::Arrival;
constexpr uint64_t kHold = 1'000'000;  // 1 ms

TEST(SyncRoundTest, LoneWriterCompletesEveryRoundOnArrival) {
  SyncRound r(1, kHold);
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ(r.Arrive(0), Arrival::kReleased);
    r.Taken(0, 1);
    r.Left(1);
  }
  EXPECT_EQ(r.releases(), 5u);
  EXPECT_EQ(r.timeouts(), 0u);
}

TEST(SyncRoundTest, RoundWaitsForEveryWriterInside) {
  SyncRound r(1, kHold);
  // Four writers arrive at once: the first finds no round yet and is released at once;
  // the other three follow while it is in flight, and the next round waits for all four.
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);
  r.Taken(0, 1);
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);  // target 1 (inside when released): complete
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);  // target 2
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);  // target 3 -> now 4 inside
  r.Taken(0, 3);
  r.Left(4);                                // all acknowledged; they come back one by one
  EXPECT_EQ(r.Arrive(0), Arrival::kFirst);  // starts the hold on its shard
  EXPECT_EQ(r.Arrive(0), Arrival::kHeld);
  EXPECT_EQ(r.Arrive(0), Arrival::kHeld);
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);
  EXPECT_EQ(r.timeouts(), 0u);
}

TEST(SyncRoundTest, HeldShardIssuesOnCompletionOrHoldEnd) {
  SyncRound r(1, kHold);
  for (int i = 0; i < 3; i++) r.Queued(0, 1);  // shard-side arrivals (fibers)
  // target 0: the first look releases (complete), and the next round waits for 3.
  const uint64_t start = util::NowNanos();
  ASSERT_TRUE(r.MayIssue(0, start, start + 10));
  r.Taken(0, 3);
  r.Left(3);
  // Releases stamp the monotonic clock: later requests are stamped after it.
  const uint64_t t0 = util::NowNanos() + 1'000'000;
  r.Queued(0, 1);
  EXPECT_FALSE(r.MayIssue(0, t0, t0 + 10));
  EXPECT_EQ(r.Deadline(t0), t0 + kHold);
  r.Queued(0, 1);
  EXPECT_FALSE(r.MayIssue(0, t0, t0 + kHold - 1));
  // The third writer left: the hold runs out, and the round after waits for two only.
  EXPECT_TRUE(r.MayIssue(0, t0, t0 + kHold));
  EXPECT_EQ(r.timeouts(), 1u);
  r.Taken(0, 2);
  r.Left(2);
  r.Queued(0, 1);
  const uint64_t t1 = t0 + 2 * kHold;
  EXPECT_FALSE(r.MayIssue(0, t1, t1 + 10));
  r.Queued(0, 1);
  EXPECT_TRUE(r.MayIssue(0, t1, t1 + 20));
  EXPECT_EQ(r.timeouts(), 1u);
}

TEST(SyncRoundTest, RequestsQueuedBeforeAReleaseGoWithIt) {
  SyncRound r(1, kHold);
  EXPECT_EQ(r.Arrive(0), Arrival::kReleased);  // stamped before this release
  // Any request stamped before the last release is issued at once, whatever the counts.
  EXPECT_TRUE(r.MayIssue(0, /*oldest_ns=*/1, /*now_ns=*/2));
}

TEST(SyncRoundTest, ZeroHoldNeverHolds) {
  SyncRound r(1, 0);
  EXPECT_FALSE(r.enabled());
  r.Queued(0, 5);
  EXPECT_TRUE(r.MayIssue(0, 100, 100));
  EXPECT_EQ(r.releases(), 0u);
}

}  // namespace
}  // namespace ringdb::lsm
