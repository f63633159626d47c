#include "lsm/version_edit.h"

#include "gtest/gtest.h"
#include "lsm/version.h"
#include "lsm/wal_format.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

FileMetaData File(uint64_t number, std::string_view lo, std::string_view hi, SequenceNumber s0 = 1,
                  SequenceNumber s1 = 9) {
  FileMetaData f;
  f.number = number;
  f.file_size = number * 1000;
  f.smallest = MakeInternalKey(lo, s1, ValueType::kValue);
  f.largest = MakeInternalKey(hi, s0, ValueType::kDeletion);
  f.smallest_seq = s0;
  f.largest_seq = s1;
  return f;
}

TEST(VersionEditTest, EncodeDecodeRoundTrip) {
  VersionEdit e;
  e.SetLogNumber(17);
  e.SetNextFileNumber(99);
  e.SetLastSequence(kMaxSequenceNumber);
  e.AddFile(0, File(12, "a", "m"));
  e.AddFile(6, File(13, std::string(300, '\xff'), std::string(301, '\xff')));
  e.DeleteFile(3, 7);
  e.DeleteFile(1, 1ull << 40);
  std::string enc;
  e.EncodeTo(&enc);
  VersionEdit d;
  ASSERT_TRUE(d.DecodeFrom(enc).ok());
  EXPECT_EQ(d, e) << d.DebugString() << " vs " << e.DebugString();
}

TEST(VersionEditTest, EmptyEditRoundTrips) {
  std::string enc;
  VersionEdit().EncodeTo(&enc);
  EXPECT_TRUE(enc.empty());
  VersionEdit d;
  EXPECT_TRUE(d.DecodeFrom(enc).ok());
  EXPECT_EQ(d, VersionEdit());
}

TEST(VersionEditTest, MalformedInputIsCorruption) {
  VersionEdit e;
  e.AddFile(2, File(5, "b", "c"));
  std::string enc;
  e.EncodeTo(&enc);
  VersionEdit d;
  for (size_t n = 1; n < enc.size(); n++) {
    EXPECT_TRUE(d.DecodeFrom(std::string_view(enc).substr(0, n)).IsCorruption()) << n;
  }
  EXPECT_TRUE(d.DecodeFrom("\x63").IsCorruption());  // unknown tag 99
  std::string bad_level = enc;
  bad_level[1] = 7;  // level 7 >= kNumLevels
  EXPECT_TRUE(d.DecodeFrom(bad_level).IsCorruption());
  VersionEdit inverted;
  inverted.AddFile(1, File(6, "z", "a"));
  std::string inv;
  inverted.EncodeTo(&inv);
  EXPECT_TRUE(d.DecodeFrom(inv).IsCorruption());
}

TEST(VersionStateTest, ApplyAddsDeletesAndOrders) {
  VersionState v;
  VersionEdit e;
  e.AddFile(0, File(1, "a", "z", 1, 10));
  e.AddFile(0, File(2, "b", "y", 11, 20));
  e.AddFile(1, File(4, "m", "p"));
  e.AddFile(1, File(3, "a", "c"));
  e.SetNextFileNumber(5);
  e.SetLastSequence(20);
  ASSERT_TRUE(v.Apply(e).ok());
  ASSERT_EQ(v.files(0).size(), 2u);
  EXPECT_EQ(v.files(0)[0].number, 2u);  // newest first
  EXPECT_EQ(v.files(1)[0].number, 3u);  // by smallest key
  EXPECT_EQ(v.next_file_number(), 5u);
  VersionEdit del;
  del.DeleteFile(0, 1);
  del.DeleteFile(1, 4);
  del.AddFile(2, File(5, "a", "z"));
  del.SetLastSequence(3);  // counters never go backwards
  ASSERT_TRUE(v.Apply(del).ok());
  EXPECT_EQ(v.NumFiles(), 3u);
  EXPECT_EQ(v.last_sequence(), 20u);
  EXPECT_EQ(v.LevelBytes(2), 5000u);
}

TEST(VersionStateTest, InvalidEditsLeaveStateUnchanged) {
  VersionState v;
  VersionEdit e;
  e.AddFile(1, File(1, "a", "c"));
  ASSERT_TRUE(v.Apply(e).ok());
  VersionEdit overlap;
  overlap.AddFile(1, File(2, "b", "d"));
  EXPECT_TRUE(v.Apply(overlap).IsCorruption());
  VersionEdit dup;
  dup.AddFile(3, File(1, "x", "y"));
  EXPECT_TRUE(v.Apply(dup).IsCorruption());
  VersionEdit missing;
  missing.DeleteFile(2, 1);
  missing.AddFile(4, File(9, "a", "b"));
  EXPECT_TRUE(v.Apply(missing).IsCorruption());
  EXPECT_EQ(v.NumFiles(), 1u);
  EXPECT_EQ(v.files(4).size(), 0u);
  // Level 0 files may overlap.
  VersionEdit l0;
  l0.AddFile(0, File(10, "a", "z"));
  l0.AddFile(0, File(11, "a", "z"));
  EXPECT_TRUE(v.Apply(l0).ok());
}

TEST(VersionStateTest, SnapshotRecreatesState) {
  VersionState v;
  VersionEdit e;
  e.SetLogNumber(4);
  e.SetNextFileNumber(30);
  e.SetLastSequence(1000);
  for (uint64_t n = 1; n <= 20; n++) {
    std::string lo = testing::Cat("k", 100 + n * 2);
    e.AddFile(static_cast<int>(n % kNumLevels), File(n, lo, lo + "z", n, n + 5));
  }
  ASSERT_TRUE(v.Apply(e).ok());
  VersionEdit snap;
  v.EncodeSnapshot(&snap);
  std::string enc;
  snap.EncodeTo(&enc);
  VersionEdit decoded;
  ASSERT_TRUE(decoded.DecodeFrom(enc).ok());
  VersionState w;
  ASSERT_TRUE(w.Apply(decoded).ok());
  for (int l = 0; l < kNumLevels; l++) EXPECT_EQ(w.files(l), v.files(l)) << l;
  EXPECT_EQ(w.log_number(), 4u);
  EXPECT_EQ(w.next_file_number(), 30u);
  EXPECT_EQ(w.last_sequence(), 1000u);
}

// A MANIFEST is version edits in WAL framing; a torn last edit is dropped.
// Version::Seal copies every file's user key bounds, level by level, into the array
// point lookups search; empty keys, long keys and empty levels included.
TEST(VersionTest, SealedBoundsAreTheFilesUserKeys) {
  Version v;
  v.mutable_files(0).push_back(VersionFile{File(3, "k", "p"), nullptr});
  v.mutable_files(0).push_back(VersionFile{File(2, "", "z"), nullptr});
  v.mutable_files(2).push_back(VersionFile{File(5, "a", "c"), nullptr});
  v.mutable_files(2).push_back(VersionFile{File(6, "d", std::string(300, '\xff')), nullptr});
  v.mutable_files(kNumLevels - 1).push_back(VersionFile{File(9, "m", "m"), nullptr});
  v.Seal();
  for (int level = 0; level < kNumLevels; level++) {
    const std::vector<VersionFile>& files = v.files(level);
    for (size_t i = 0; i < files.size(); i++) {
      EXPECT_EQ(v.smallest_key(level, i), files[i].smallest_user_key()) << level << " " << i;
      EXPECT_EQ(v.largest_key(level, i), files[i].largest_user_key()) << level << " " << i;
    }
  }
  EXPECT_EQ(v.smallest_key(0, 1), "");
  EXPECT_EQ(v.largest_key(2, 1), std::string(300, '\xff'));
  EXPECT_EQ(v.largest_key(kNumLevels - 1, 0), "m");
  // Sealing again (a builder that added a file afterwards) starts over.
  v.mutable_files(1).push_back(VersionFile{File(7, "e", "f"), nullptr});
  v.Seal();
  EXPECT_EQ(v.smallest_key(1, 0), "e");
  EXPECT_EQ(v.smallest_key(2, 0), "a");
  EXPECT_EQ(v.largest_key(kNumLevels - 1, 0), "m");
}

TEST(ManifestTest, EditsThroughWalFramingWithTornTail) {
  const uint64_t manifest_no = 7;
  std::string file(16 * 1024, '\0');
  std::vector<VersionEdit> edits(3);
  edits[0].SetNextFileNumber(10);
  edits[1].AddFile(0, File(8, "a", "b"));
  edits[2].DeleteFile(0, 8);
  uint64_t offset = 0;
  std::vector<uint64_t> starts;
  for (const auto& e : edits) {
    std::string payload, buf;
    e.EncodeTo(&payload);
    WalWriteEncoder enc(manifest_no, offset, offset, &buf);
    starts.push_back(offset);
    enc.AddMeta(payload);
    offset += enc.FinishPadded();
    file.replace(starts.back(), buf.size(), buf);
  }
  file[starts[2] + kWalHeaderBytes] ^= 1;  // the last edit is torn
  WalReader reader(manifest_no, file);
  WalRecord rec;
  VersionState v;
  int n = 0;
  while (reader.Next(&rec)) {
    VersionEdit e;
    ASSERT_TRUE(e.DecodeFrom(rec.payload).ok());
    ASSERT_TRUE(v.Apply(e).ok());
    n++;
  }
  ASSERT_TRUE(reader.status().ok());
  EXPECT_EQ(n, 2);
  EXPECT_EQ(reader.tail().kind, WalTail::Kind::kTorn);
  EXPECT_EQ(v.files(0).size(), 1u);
  EXPECT_EQ(v.next_file_number(), 10u);
}

}  // namespace
}  // namespace ringdb::lsm
