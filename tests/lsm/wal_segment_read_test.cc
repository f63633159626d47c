// ReadWalSegment (lsm/wal_segment_read.h): a bad read of a WAL segment during recovery
// is read again, and the verdict is made on bytes that read the same twice (simulator
// finding F6). The segment lives in memory; each test scripts what its reads return.
// One edge case per test.
#include "lsm/wal_segment_read.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lsm/write_batch_rep.h"

namespace ringdb::lsm {
namespace {

constexpr uint64_t kSegNo = 7;

class WalSegmentReadTest : public ::testing::Test {
 protected:
  // Appends one synced group-commit write (one record) at the next 4 KiB boundary;
  // every earlier write was synced (sequential sync mode).
  void Write(size_t value_bytes) {
    std::string rep;
    WriteBatchRep::Clear(&rep);
    ASSERT_TRUE(
        WriteBatchRep::Put(&rep, "key" + std::to_string(next_seq_),
                           std::string(value_bytes, static_cast<char>('a' + next_seq_ % 26)))
            .ok());
    const uint64_t at = seg_.size();
    std::string buf;
    WalWriteEncoder enc(kSegNo, at, at, &buf);
    record_offsets_.push_back(at);
    enc.AddBatch(next_seq_++, rep);
    enc.FinishPadded();
    seg_ += buf;
  }
  void Writes(int n) {
    for (int i = 0; i < n; i++) Write(3000);
  }
  // The zero-filled, never written rest of a preallocated segment.
  void Preallocate(size_t bytes) { seg_.resize(seg_.size() + bytes, '\0'); }

  // Read number `call` (0 = the first) of `len` bytes at `offset`: by default what the
  // segment holds; a test changes what a given read returns with `bad_read_`.
  Status Read(uint64_t offset, char* dst, uint64_t len) {
    EXPECT_LE(offset + len, seg_.size());
    std::string got = seg_.substr(offset, len);
    if (bad_read_) bad_read_(reads_, offset, &got);
    reads_++;
    std::copy(got.begin(), got.end(), dst);
    return Status::OK();
  }

  Status Run(WalSegmentRead* out, WalSegmentMeta meta = {}) {
    WalReplayItem item;
    item.number = kSegNo;
    item.file_bytes = item.read_bytes = seg_.size();
    item.tracked = true;
    item.meta = meta;
    return ReadWalSegment(
        item, [this](uint64_t offset, char* dst, uint64_t len) { return Read(offset, dst, len); },
        "shard 0", "MANIFEST-000001", "000007.wal", "", out);
  }

  std::string seg_;
  std::vector<uint64_t> record_offsets_;
  SequenceNumber next_seq_ = 1;
  int reads_ = 0;
  std::function<void(int call, uint64_t offset, std::string* got)> bad_read_;
};

// Flips one bit of the first read at file offset `at`.
std::function<void(int, uint64_t, std::string*)> FlipFirstRead(uint64_t at) {
  return [at](int call, uint64_t offset, std::string* got) {
    if (call == 0 && at >= offset && at < offset + got->size()) (*got)[at - offset] ^= 0x10;
  };
}

TEST_F(WalSegmentReadTest, IntactSegmentIsReadOnce) {
  Writes(5);
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok()) << r.verdict.ToString();
  EXPECT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kClean);
  EXPECT_EQ(r.rereads, 0u);
  EXPECT_EQ(reads_, 1);
}

// A clean end before the end of the file costs one more page read, no more.
TEST_F(WalSegmentReadTest, CleanEndIsConfirmedByOnePageRead) {
  Writes(5);
  Preallocate(64 << 10);
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok());
  EXPECT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kClean);
  EXPECT_EQ(r.rereads, 1u);
}

// The bit flipped in the last record: read once, a torn tail that drops a synced write.
TEST_F(WalSegmentReadTest, FlippedLastRecordIsNotATornTail) {
  Writes(5);
  Preallocate(16 << 10);
  bad_read_ = FlipFirstRead(record_offsets_.back() + 100);
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok()) << r.verdict.ToString();
  EXPECT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kClean);
  EXPECT_EQ(r.rereads, 2u);  // the damaged region twice: the two agree
}

// The bit flipped in an earlier record: read once, the later records prove it synced and
// the store would be refused as corrupt.
TEST_F(WalSegmentReadTest, FlippedEarlierRecordIsNotCorruption) {
  Writes(5);
  bad_read_ = FlipFirstRead(record_offsets_[1] + 2000);
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok()) << r.verdict.ToString();
  EXPECT_EQ(r.records.size(), 5u);
}

// A read shifted forward by a page shows the zeros after the records: read once, a
// clean end with nothing in it.
TEST_F(WalSegmentReadTest, MisdirectedReadOfZerosIsNotACleanEnd) {
  Write(3000);
  Preallocate(16 << 10);
  bad_read_ = [this](int call, uint64_t offset, std::string* got) {
    if (call != 0) return;
    std::string shifted = seg_.substr(std::min<uint64_t>(offset + 4096, seg_.size()), got->size());
    shifted.resize(got->size(), '\0');
    *got = shifted;
  };
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok()) << r.verdict.ToString();
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kClean);
}

// What the disk holds is a torn tail (garbage after the last record, every read alike):
// it stays one, after one read of the region that agrees.
TEST_F(WalSegmentReadTest, TornTailThatReadsTheSameIsKept) {
  Writes(3);
  Preallocate(8 << 10);
  seg_[seg_.size() - 8192 + 10] = 'x';
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.ok()) << r.verdict.ToString();
  EXPECT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kTorn);
  EXPECT_EQ(r.rereads, 1u);
}

// Damage on the disk that a later record proves synced is Corruption, decided on two
// reads that agree.
TEST_F(WalSegmentReadTest, DamageThatReadsTheSameIsCorruption) {
  Writes(4);
  seg_[record_offsets_[1] + 500] ^= 1;
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_TRUE(r.verdict.IsCorruption()) << r.verdict.ToString();
  EXPECT_EQ(r.bad_offset, record_offsets_[1]);
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.rereads, 1u);
}

// Bytes the MANIFEST records synced that end early are Corruption the same way.
TEST_F(WalSegmentReadTest, SyncedBytesMissingIsCorruption) {
  Writes(2);
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r, WalSegmentMeta{seg_.size(), 10, false}).ok());
  EXPECT_TRUE(r.verdict.IsCorruption()) << r.verdict.ToString();
}

// The disk never returns the same bytes twice: after the first read and kWalRereads
// more, Open fails with an I/O error instead of guessing.
TEST_F(WalSegmentReadTest, ReadsThatNeverAgreeAreAnIOError) {
  Writes(3);
  bad_read_ = [](int call, uint64_t, std::string* got) {
    (*got)[static_cast<size_t>(call) * 7 % got->size()] ^= 0x40;
  };
  WalSegmentRead r;
  Status s = Run(&r);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(reads_, 1 + kWalRereads);
}

// The second read is bad, the third agrees with the first: decided on those.
TEST_F(WalSegmentReadTest, ThirdReadBreaksATie) {
  Writes(3);
  Preallocate(8 << 10);
  seg_[seg_.size() - 100] = 'x';  // a real torn tail, so the region is read again
  bad_read_ = [](int call, uint64_t, std::string* got) {
    if (call == 1) (*got)[0] ^= 1;
  };
  WalSegmentRead r;
  ASSERT_TRUE(Run(&r).ok());
  EXPECT_EQ(r.walk.tail.kind, WalTail::Kind::kTorn);
  EXPECT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.rereads, 2u);
}

}  // namespace
}  // namespace ringdb::lsm
