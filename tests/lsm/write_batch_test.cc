#include <vector>

#include "gtest/gtest.h"
#include "lsm/memtable.h"
#include "lsm/write_batch_rep.h"

namespace ringdb::lsm {
namespace {

class Recorder : public WriteBatchRep::Handler {
 public:
  void Put(std::string_view k, std::string_view v) override {
    ops.push_back("Put(" + std::string(k) + "," + std::string(v) + ")");
  }
  void PutExpiring(std::string_view k, std::string_view stored) override {
    ops.push_back("PutExpiring(" + std::string(k) + "," + std::to_string(stored.size()) + ")");
  }
  void Delete(std::string_view k) override { ops.push_back("Delete(" + std::string(k) + ")"); }
  std::vector<std::string> ops;
};

TEST(WriteBatchRepTest, EmptyBatch) {
  std::string rep;
  WriteBatchRep::Clear(&rep);
  EXPECT_EQ(rep.size(), WriteBatchRep::kHeaderBytes);
  EXPECT_EQ(WriteBatchRep::Count(rep), 0u);
  EXPECT_TRUE(WriteBatchRep::Empty(rep));
  EXPECT_TRUE(WriteBatchRep::Validate(rep).ok());
}

TEST(WriteBatchRepTest, PutDeleteIterateInOrder) {
  std::string rep;
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "a", "1").ok());
  ASSERT_TRUE(WriteBatchRep::Delete(&rep, "b").ok());
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "", "").ok());
  EXPECT_EQ(WriteBatchRep::Count(rep), 3u);
  Recorder r;
  ASSERT_TRUE(WriteBatchRep::Iterate(rep, &r).ok());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Put(a,1)", "Delete(b)", "Put(,)"}));
}

TEST(WriteBatchRepTest, InsertIntoAssignsConsecutiveSequences) {
  std::string rep;
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "k", "v1").ok());
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "k", "v2").ok());
  ASSERT_TRUE(WriteBatchRep::Delete(&rep, "j").ok());
  MemTable mem;
  ASSERT_TRUE(WriteBatchRep::InsertInto(rep, 10, &mem).ok());
  std::string v;
  EXPECT_EQ(mem.Get(LookupKey("k", 10), &v), LookupResult::kFound);
  EXPECT_EQ(v, "v1");
  EXPECT_EQ(mem.Get(LookupKey("k", 11), &v), LookupResult::kFound);
  EXPECT_EQ(v, "v2");
  EXPECT_EQ(mem.Get(LookupKey("j", 12), &v), LookupResult::kDeleted);
  EXPECT_EQ(mem.Get(LookupKey("j", 11), &v), LookupResult::kAbsent);
  EXPECT_EQ(mem.largest_seq(), 12u);
}

TEST(WriteBatchRepTest, DeadlinesTravelWithTheirPuts) {
  std::string rep;
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "a", "1", 5000).ok());
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "b", "2").ok());
  Recorder r;
  ASSERT_TRUE(WriteBatchRep::Iterate(rep, &r).ok());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"PutExpiring(a,9)", "Put(b,2)"}));
  MemTable mem;
  ASSERT_TRUE(WriteBatchRep::InsertInto(rep, 1, &mem).ok());
  std::string v;
  uint64_t deadline = 0;
  EXPECT_EQ(mem.Get(LookupKey("a", 1), &v, &deadline), LookupResult::kFound);
  EXPECT_EQ(v, "1");
  EXPECT_EQ(deadline, 5000u);
  // The single-entry encoding matches the batch one.
  std::string single(WriteBatchRep::SingleBytes(true, "a", "1", 5000), '\0');
  WriteBatchRep::EncodeSingle(single.data(), true, "a", "1", 5000);
  std::string one;
  ASSERT_TRUE(WriteBatchRep::Put(&one, "a", "1", 5000).ok());
  EXPECT_EQ(single, one);
}

TEST(WriteBatchRepTest, ExpiringEntryTooShortForItsDeadlineIsCorruption) {
  std::string rep;
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "a", "1234567").ok());
  rep[WriteBatchRep::kHeaderBytes] = static_cast<char>(ValueType::kValueExpiring);
  Recorder r;
  EXPECT_TRUE(WriteBatchRep::Iterate(rep, &r).IsCorruption());
  EXPECT_TRUE(WriteBatchRep::Validate(rep).IsCorruption());
}

TEST(WriteBatchRepTest, AppendMergesCounts) {
  std::string a, b;
  ASSERT_TRUE(WriteBatchRep::Put(&a, "a", "1").ok());
  ASSERT_TRUE(WriteBatchRep::Put(&b, "b", "2").ok());
  ASSERT_TRUE(WriteBatchRep::Delete(&b, "c").ok());
  ASSERT_TRUE(WriteBatchRep::Append(&a, b).ok());
  Recorder r;
  ASSERT_TRUE(WriteBatchRep::Iterate(a, &r).ok());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Put(a,1)", "Put(b,2)", "Delete(c)"}));
}

TEST(WriteBatchRepTest, OversizedKeyOrValueRejected) {
  std::string rep;
  EXPECT_TRUE(WriteBatchRep::Put(&rep, std::string(kMaxUserKeyBytes, 'k'), "v").ok());
  EXPECT_TRUE(
      WriteBatchRep::Put(&rep, std::string(kMaxUserKeyBytes + 1, 'k'), "v").IsInvalidArgument());
  EXPECT_TRUE(
      WriteBatchRep::Delete(&rep, std::string(kMaxUserKeyBytes + 1, 'k')).IsInvalidArgument());
  EXPECT_TRUE(
      WriteBatchRep::Put(&rep, "k", std::string(kMaxValueBytes + 1, 'v')).IsInvalidArgument());
  EXPECT_EQ(WriteBatchRep::Count(rep), 1u);
}

TEST(WriteBatchRepTest, MalformedRepsAreCorruption) {
  std::string rep;
  ASSERT_TRUE(WriteBatchRep::Put(&rep, "key", "value").ok());
  EXPECT_TRUE(WriteBatchRep::Validate("ab").IsCorruption());
  // Every truncation is detected (count or lengths no longer match).
  for (size_t n = WriteBatchRep::kHeaderBytes; n < rep.size(); n++) {
    EXPECT_TRUE(WriteBatchRep::Validate(rep.substr(0, n)).IsCorruption()) << n;
  }
  std::string bad_type = rep;
  bad_type[4] = 9;
  EXPECT_TRUE(WriteBatchRep::Validate(bad_type).IsCorruption());
  std::string bad_count = rep;
  bad_count[0] = 2;
  EXPECT_TRUE(WriteBatchRep::Validate(bad_count).IsCorruption());
  MemTable mem;
  EXPECT_TRUE(WriteBatchRep::InsertInto(bad_count, 1, &mem).IsCorruption());
  EXPECT_EQ(mem.num_entries(), 0u);  // nothing applied
}

}  // namespace
}  // namespace ringdb::lsm
