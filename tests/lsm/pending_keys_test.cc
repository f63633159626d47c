// PendingKeys (lsm/pending_keys.h): a key is pending from Add until the batch that
// carried it is published, never longer and never shorter, whatever the order in which
// batches are applied.
#include "lsm/pending_keys.h"

#include <string>

#include "gtest/gtest.h"
#include "lsm/write_batch_rep.h"

namespace ringdb::lsm {
namespace {

std::string Batch(std::initializer_list<const char*> keys) {
  std::string rep;
  for (const char* k : keys) EXPECT_TRUE(WriteBatchRep::Put(&rep, k, "v").ok());
  return rep;
}

TEST(PendingKeysTest, NothingIsPendingAtFirst) {
  PendingKeys p;
  EXPECT_FALSE(p.MayHave("a"));
  EXPECT_FALSE(p.MayHave(""));
}

TEST(PendingKeysTest, PendingFromAddUntilPublished) {
  PendingKeys p;
  const std::string b = Batch({"a", "b"});
  p.Add(b);
  EXPECT_TRUE(p.MayHave("a"));
  EXPECT_TRUE(p.MayHave("b"));
  p.Applied(b, 11);             // sequence numbers 10 and 11
  EXPECT_TRUE(p.MayHave("a"));  // in the memtable, not yet published
  p.Publish(10);
  EXPECT_TRUE(p.MayHave("b"));  // the batch is published as a whole
  p.Publish(11);
  EXPECT_FALSE(p.MayHave("a"));
  EXPECT_FALSE(p.MayHave("b"));
}

// Reads of keys nobody writes should almost never wait: with 200 keys pending, one
// probe into 65,536 slots would flag about 300 of 100,000 other keys; two probes flag
// about 4 (both slots busy).
TEST(PendingKeysTest, OtherKeysRarelyLookPending) {
  PendingKeys p;
  std::string rep;
  for (int i = 0; i < 200; i++) {
    ASSERT_TRUE(WriteBatchRep::Put(&rep, "pending-" + std::to_string(i), "v").ok());
  }
  p.Add(rep);
  for (int i = 0; i < 200; i++) EXPECT_TRUE(p.MayHave("pending-" + std::to_string(i)));
  int flagged = 0;
  for (int i = 0; i < 100'000; i++) flagged += p.MayHave("other-" + std::to_string(i));
  EXPECT_LE(flagged, 40) << "false positives among 100,000 keys not written";
  p.Applied(rep, 200);
  p.Publish(200);
  for (int i = 0; i < 200; i++) EXPECT_FALSE(p.MayHave("pending-" + std::to_string(i)));
}

TEST(PendingKeysTest, ABatchAppliedAheadOfAHoleWaitsForIt) {
  PendingKeys p;
  const std::string first = Batch({"x"}), second = Batch({"y", "x"});
  p.Add(first);   // sequence 1, pushed late
  p.Add(second);  // sequences 2..3, applied first
  p.Applied(second, 3);
  p.Publish(0);  // the prefix has not moved: 1 is missing
  EXPECT_TRUE(p.MayHave("y"));
  p.Applied(first, 1);
  p.Publish(3);
  EXPECT_FALSE(p.MayHave("x"));
  EXPECT_FALSE(p.MayHave("y"));
}

TEST(PendingKeysTest, OneKeyWrittenTwiceStaysPendingUntilBoth) {
  PendingKeys p;
  const std::string a1 = Batch({"k"}), a2 = Batch({"k"});
  p.Add(a1);
  p.Add(a2);
  p.Applied(a1, 5);
  p.Publish(5);
  EXPECT_TRUE(p.MayHave("k"));  // the second write is still unpublished
  p.Applied(a2, 6);
  p.Publish(6);
  EXPECT_FALSE(p.MayHave("k"));
}

}  // namespace
}  // namespace ringdb::lsm
