// End-to-end tests of the read API beyond Get: iterators across shards, snapshots,
// MultiGet and RunOnShards, on both I/O backends. The randomized cross-check against a
// model lives in model_test.cc; these pin down the documented edge cases.
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "io/io_backend.h"
#include "io/sqpoll_thread.h"
#include "ringdb/db.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::KeyN;
using dbtest::TempDir;

class ReadTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  void SetUp() override {
    Status probe = GetParam() == IoBackendKind::kUring ? io::ProbeUring() : io::ProbeAio();
    if (!probe.ok()) GTEST_SKIP() << "backend unavailable here: " << probe.ToString();
    opt_ = dbtest::SmallOptions(tmp_.Sub("db"), 3);
    opt_.io_backend = GetParam();
    opt_.durability = Durability::kNone;
  }
  void Open() { ASSERT_OK(DB::Open(opt_, &db_)); }
  // n keys "key000123" -> "value-123-<pad>", written in shuffled order, flushed in
  // pieces so every shard has memtable, L0 and (with enough data) deeper levels.
  void Fill(int n, size_t pad = 100) {
    std::vector<int> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    std::mt19937_64 rng(42);
    std::shuffle(order.begin(), order.end(), rng);
    for (int j = 0; j < n; j++) {
      const int i = order[j];
      std::string v = Value(i, pad);
      ASSERT_OK(db_->Put(Key(i), v));
      model_[Key(i)] = v;
      if (j % (n / 4 + 1) == n / 4) {
        ASSERT_OK(db_->Flush());
      }
    }
  }
  // The stats once every cache miss since `before` is counted as a table read: at once
  // for an application thread's own reads, when the shard next runs for a read handed
  // to it (an I/O trace running); waits up to 2 s.
  Stats AfterEveryMissCounted(const Stats& before) {
    Stats after;
    for (int polls = 0; polls < 400; polls++) {
      EXPECT_TRUE(db_->GetStats(&after).ok());
      if (after.total.table_reads - before.total.table_reads >=
          after.total.cache_misses - before.total.cache_misses) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return after;
  }
  // it, from SeekToFirst to its end, shows exactly model.
  static void ExpectForwardScanMatches(Iterator* it,
                                       const std::map<std::string, std::string>& model) {
    auto m = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_TRUE(m != model.end());
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
    }
    ASSERT_OK(it->status());
    ASSERT_TRUE(m == model.end());
  }
  static std::string Key(int i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "key%06d", i);
    return buf;
  }
  static std::string Value(int i, size_t pad) {
    std::string v = KeyN("value-", i);
    v.push_back('-');
    v.append(pad, 'x');
    return v;
  }

  TempDir tmp_;
  Options opt_;
  std::unique_ptr<DB> db_;
  std::map<std::string, std::string> model_;
};

TEST_P(ReadTest, IteratorScansAllShardsInOrderBothWays) {
  Open();
  Fill(3000);
  for (size_t chunk : {size_t{1}, size_t{700}, size_t{64 << 10}}) {
    ReadOptions ro;
    ro.iterator_chunk_bytes = chunk;
    std::unique_ptr<Iterator> it = db_->NewIterator(ro);
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    ExpectForwardScanMatches(it.get(), model_);
    auto r = model_.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      ASSERT_TRUE(r != model_.rend());
      ASSERT_EQ(it->key(), r->first);
    }
    ASSERT_OK(it->status());
    ASSERT_TRUE(r == model_.rend());
  }
}

TEST_P(ReadTest, SeekBoundsAndDirectionChanges) {
  Open();
  Fill(500);
  ReadOptions ro;
  ro.lower_bound = Key(100);
  ro.upper_bound = Key(200);
  ro.iterator_chunk_bytes = 256;
  std::unique_ptr<Iterator> it = db_->NewIterator(ro);
  it->Seek("key0001505");  // between key000150 and key000151
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(151));
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(150));
  it->Next();
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(152));
  it->SeekForPrev("key0001505");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(150));
  it->Seek("a");  // below the lower bound: the first key in bounds
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(100));
  it->Prev();
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(199));
  it->Next();
  EXPECT_FALSE(it->Valid());
  it->SeekForPrev("z");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Key(199));
  it->Seek(Key(200));
  EXPECT_FALSE(it->Valid());
  // Counting the range both ways.
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  EXPECT_EQ(n, 100);
  n = 0;
  for (it->SeekToLast(); it->Valid(); it->Prev()) n++;
  EXPECT_EQ(n, 100);
}

TEST_P(ReadTest, IteratorViewIsFixedAtCreation) {
  Open();
  Fill(200);
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  // Changes after creation, flushed and compacted away underneath the iterator.
  for (int i = 0; i < 200; i++) ASSERT_OK(db_->Delete(Key(i)));
  ASSERT_OK(db_->Put("key999999", "new"));
  ASSERT_OK(db_->Flush());
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSERT_EQ(it->value(), model_[std::string(it->key())]);
    n++;
  }
  ASSERT_OK(it->status());
  EXPECT_EQ(n, 200);
  it.reset();
  it = db_->NewIterator(ReadOptions());
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "key999999");
  it->Next();
  EXPECT_FALSE(it->Valid());
}

TEST_P(ReadTest, SnapshotKeepsOldVersionsThroughFlushAndCompaction) {
  opt_.memtable_bytes = 64 << 10;
  Open();
  Fill(300);
  const Snapshot* snap = db_->GetSnapshot();
  ASSERT_NE(snap, nullptr);
  const auto old_model = model_;
  // Overwrite and delete everything several times, with flushes: enough L0 files for
  // compactions to merge the old versions with the new ones.
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 300; i++) {
      if ((i + round) % 3 == 0) {
        ASSERT_OK(db_->Delete(Key(i)));
      } else {
        std::string v = KeyN("round", round);
        v.append(200, 'y');
        ASSERT_OK(db_->Put(Key(i), v));
      }
    }
    ASSERT_OK(db_->Flush());
  }
  Stats st;
  ASSERT_OK(db_->GetStats(&st));
  EXPECT_GT(st.total.compactions, 0u) << "the test wants compactions to have run";
  ReadOptions ro;
  ro.snapshot = snap;
  for (const auto& [k, v] : old_model) {
    std::string got;
    ASSERT_OK(db_->Get(ro, k, &got)) << k;
    ASSERT_EQ(got, v);
  }
  std::unique_ptr<Iterator> it = db_->NewIterator(ro);
  ExpectForwardScanMatches(it.get(), old_model);
  it.reset();
  db_->ReleaseSnapshot(snap);
  // Latest view: the last round.
  std::string got;
  ASSERT_OK(db_->Get(Key(0), &got));  // round 5 put it: (0 + 5) % 3 != 0
  std::string want = KeyN("round", 5);
  want.append(200, 'y');
  EXPECT_EQ(got, want);
  EXPECT_TRUE(db_->Get(Key(1), &got).IsNotFound());  // round 5 deleted it
}

TEST_P(ReadTest, MultiGetMixesHitsMissesAndBadKeys) {
  Open();
  Fill(1000);
  ASSERT_OK(db_->Close());
  opt_.warm_cache_on_open = false;  // a cold cache: the misses go to the disk
  Open();
  std::vector<std::string> keys;
  for (int i = 0; i < 64; i++) keys.push_back(Key(i * 37 % 1200));  // some past the end
  keys.push_back(std::string(kMaxKeyBytes + 1, 'k'));
  keys.push_back(Key(5));
  keys.push_back(Key(5));  // duplicates are fine
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<Status> st = db_->MultiGet(ReadOptions(), views, &values);
  ASSERT_EQ(st.size(), keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    if (keys[i].size() > kMaxKeyBytes) {
      EXPECT_TRUE(st[i].IsInvalidArgument()) << st[i].ToString();
      continue;
    }
    auto m = model_.find(keys[i]);
    if (m == model_.end()) {
      EXPECT_TRUE(st[i].IsNotFound()) << keys[i] << " " << st[i].ToString();
    } else {
      EXPECT_OK(st[i]);
      EXPECT_EQ(values[i], m->second);
    }
  }
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_GT(stats.total.table_reads, 0u);
}

// A block an application thread reads is cached at the size of its contents, not of
// the pages the O_DIRECT read spanned: an unaligned 4 KiB block and its trailer
// straddle two pages, so a cache charged per page read would hold half as many blocks.
TEST_P(ReadTest, BlocksReadOnTheCallingThreadAreChargedTheirSize) {
  Open();
  Fill(6000);
  ASSERT_OK(db_->Close());
  opt_.warm_cache_on_open = false;  // a cold cache: every first read of a block is a miss
  Open();
  dbtest::WaitForCompactionsToSettle(db_.get());  // they change what the cache holds
  Stats before;
  ASSERT_OK(db_->GetStats(&before));
  std::string v;
  for (int i = 0; i < 6000; i += 150) {  // ~50 keys apart in each of the 3 shards
    ASSERT_OK(db_->Get(Key(i), &v));
    EXPECT_EQ(v, model_[Key(i)]);
  }
  // The calling thread counts its reads; a shard caches a block when it next runs (the
  // hand-off is not waited for): wait for the cache below, not for the counts.
  Stats after;
  for (int polls = 0; polls < 400; polls++) {
    ASSERT_OK(db_->GetStats(&after));
    const uint64_t reads = after.total.table_reads - before.total.table_reads;
    if (after.total.cache_bytes >= before.total.cache_bytes + reads * 3072) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const uint64_t reads = after.total.table_reads - before.total.table_reads;
  ASSERT_EQ(reads, after.total.cache_misses - before.total.cache_misses);
  ASSERT_GE(reads, 20u);
  ASSERT_EQ(after.total.compactions, before.total.compactions);
  ASSERT_GT(after.total.cache_bytes, before.total.cache_bytes);
  const uint64_t per_block = (after.total.cache_bytes - before.total.cache_bytes) / reads;
  EXPECT_GT(per_block, 2048u);  // the blocks are cached (4 KiB blocks, ~35 entries each)
  EXPECT_LT(per_block, 4096u + 1024u) << reads << " blocks read";
}

// An application thread counts the blocks it reads in its shard's statistics itself (no
// message per read): GetStats right after the reads shows every one, as a table read and
// as a user read of the shard's I/O. With the cache full of other blocks, a block read
// once is not cached, but a block read again is (BlockCache::Admit), and then hits.
TEST_P(ReadTest, CallerReadsAreCountedAtOnceAndAHotBlockGetsIntoAFullCache) {
  Open();
  Fill(6000);
  ASSERT_OK(db_->Close());
  opt_.warm_cache_on_open = false;
  opt_.block_cache_bytes = 3 * (48 << 10);  // ~12 blocks a shard, of ~170 in the store
  Open();
  dbtest::WaitForCompactionsToSettle(db_.get());
  std::string v;
  for (int i = 0; i < 6000; i += 7) ASSERT_OK(db_->Get(Key(i), &v));  // fills the cache
  Stats before;
  ASSERT_OK(db_->GetStats(&before));
  for (int i = 3; i < 6000; i += 150) {
    ASSERT_OK(db_->Get(Key(i), &v));
    ASSERT_EQ(v, model_[Key(i)]);
  }
  Stats after;
  ASSERT_OK(db_->GetStats(&after));
  const uint64_t reads = after.total.table_reads - before.total.table_reads;
  EXPECT_GE(reads, 20u);
  EXPECT_EQ(reads, after.total.cache_misses - before.total.cache_misses);
  const IoClassStats& io0 = before.total.io.of(IoClass::kUserRead);
  const IoClassStats& io1 = after.total.io.of(IoClass::kUserRead);
  EXPECT_EQ(io1.reads - io0.reads, reads);
  EXPECT_EQ(io1.errors, io0.errors);
  EXPECT_GE(io1.read_bytes - io0.read_bytes, reads * 4096);
  EXPECT_EQ(io1.latency_ns.count() - io0.latency_ns.count(), reads);
  // A hot key: missed, admitted on its second miss (cached when its shard next runs),
  // then found in the cache.
  const std::string hot = Key(4321);
  uint64_t hits = 0;
  for (int tries = 0; tries < 500 && hits == 0; tries++) {
    ASSERT_OK(db_->Get(hot, &v));
    ASSERT_EQ(v, model_[hot]);
    Stats now;
    ASSERT_OK(db_->GetStats(&now));
    hits = now.total.cache_hits - after.total.cache_hits;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GT(hits, 0u) << "a block read again and again never got into the cache";
}

// Once the cache is full it refuses a block on its first miss, and the reading thread
// searches such a block where it landed, in the thread's read buffer, which its next
// read overwrites. Gets and MultiGet rounds (more misses than the buffer holds: the
// rest in buffers of their own) find every value; an iterator keeps its own copy of
// the block it stands on while Gets on the same thread read other blocks.
TEST_P(ReadTest, BlocksTheCacheRefusesAreSearchedWhereTheyLanded) {
  Open();
  Fill(6000, 400);
  ASSERT_OK(db_->Close());
  opt_.warm_cache_on_open = false;
  opt_.block_cache_bytes = 3 * (48 << 10);  // a few blocks a shard, of hundreds
  Open();
  dbtest::WaitForCompactionsToSettle(db_.get());
  std::string v;
  for (int i = 0; i < 6000; i += 11) {
    ASSERT_OK(db_->Get(Key(i), &v));
    ASSERT_EQ(v, model_[Key(i)]) << i;
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 48; i++) keys.push_back(Key((i * 997 + 13) % 6000));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  for (int round = 0; round < 3; round++) {
    std::vector<std::string> values;
    std::vector<Status> st = db_->MultiGet(ReadOptions(), views, &values);
    for (size_t i = 0; i < keys.size(); i++) {
      ASSERT_OK(st[i]);
      ASSERT_EQ(values[i], model_[keys[i]]) << keys[i];
    }
  }
  std::unique_ptr<Iterator> it(db_->NewIterator(ReadOptions()));
  it->Seek(Key(2500));
  ASSERT_TRUE(it->Valid());
  for (int i = 0; i < 6000; i += 37) {
    ASSERT_OK(db_->Get(Key(i), &v));
    ASSERT_EQ(v, model_[Key(i)]);
  }
  for (int i = 2500; i < 2540; i++, it->Next()) {
    ASSERT_TRUE(it->Valid()) << i;
    ASSERT_EQ(it->key(), Key(i));
    ASSERT_EQ(it->value(), model_[Key(i)]);
  }
  ASSERT_OK(it->status());
  Stats stats;
  ASSERT_OK(db_->GetStats(&stats));
  EXPECT_GT(stats.total.table_reads, 500u);
}

// With an I/O trace running, each block an application thread reads goes to its shard,
// which counts and traces it: the trace holds a record of every read.
TEST_P(ReadTest, CallerReadsReachTheIoTrace) {
  Open();
  Fill(3000);
  ASSERT_OK(db_->Close());
  opt_.warm_cache_on_open = false;
  opt_.io_trace = true;
  Open();
  dbtest::WaitForCompactionsToSettle(db_.get());
  Stats before;
  ASSERT_OK(db_->GetStats(&before));
  std::string v;
  for (int i = 0; i < 3000; i += 100) ASSERT_OK(db_->Get(Key(i), &v));
  const Stats after = AfterEveryMissCounted(before);  // the shards count these
  const uint64_t reads = after.total.table_reads - before.total.table_reads;
  EXPECT_GE(reads, 10u);
  EXPECT_EQ(reads, after.total.cache_misses - before.total.cache_misses);
  EXPECT_EQ(
      after.total.io.of(IoClass::kUserRead).reads - before.total.io.of(IoClass::kUserRead).reads,
      reads);
  EXPECT_GE(after.total.io.trace_records - before.total.io.trace_records, reads);
}

// Whether this kernel lets the process make an SQPOLL thread (else the DB reads without
// one, as documented, and the test expects none).
bool SqpollAllowedHere() {
  std::unique_ptr<io::SqpollThread> t;
  return io::SqpollThread::Create(/*idle_ms=*/1, &t).ok();
}

// Options::caller_read_sqpoll: with kAlways, every block an application thread reads
// goes through the DB's submission thread on io_uring (and none on libaio, which has
// none); with kNever, none. Gets, MultiGets and iterators on four threads read every
// key right either way.
TEST_P(ReadTest, ColdReadsThroughTheSubmissionThreadReadEveryKeyRight) {
  opt_.warm_cache_on_open = false;  // a cold cache: every first read of a block is a miss
  Open();
  Fill(4000);
  ASSERT_OK(db_->Close());
  for (SqpollReads mode : {SqpollReads::kAlways, SqpollReads::kNever}) {
    opt_.caller_read_sqpoll = mode;
    Open();
    dbtest::WaitForCompactionsToSettle(db_.get());
    Stats before;
    ASSERT_OK(db_->GetStats(&before));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([&, t] {
        std::string v;
        for (int i = t; i < 4000; i += 4) {
          if (!db_->Get(Key(i), &v).ok() || v != model_[Key(i)]) wrong++;
        }
        std::vector<std::string> keys;
        for (int i = t * 1000; i < t * 1000 + 64; i++) keys.push_back(Key(i));
        keys.push_back("absent");
        std::vector<std::string_view> views(keys.begin(), keys.end());
        std::vector<std::string> values;
        std::vector<Status> st = db_->MultiGet(ReadOptions(), views, &values);
        for (size_t i = 0; i + 1 < keys.size(); i++) {
          if (!st[i].ok() || values[i] != model_[keys[i]]) wrong++;
        }
        if (!st.back().IsNotFound()) wrong++;
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
    ExpectForwardScanMatches(it.get(), model_);
    it.reset();
    const Stats after = AfterEveryMissCounted(before);
    const uint64_t reads = after.total.table_reads - before.total.table_reads;
    const uint64_t sqpoll = after.total.caller_sqpoll_reads - before.total.caller_sqpoll_reads;
    ASSERT_GE(reads, 30u);
    if (mode == SqpollReads::kAlways && GetParam() == IoBackendKind::kUring &&
        SqpollAllowedHere()) {
      EXPECT_EQ(sqpoll, reads);  // every one was an application thread's
    } else {
      EXPECT_EQ(sqpoll, 0u);
    }
    ASSERT_OK(db_->Close());
  }
}

TEST_P(ReadTest, RunOnShardsWorksOnOwnedKeysOnly) {
  Open();
  std::atomic<uint64_t> puts{0}, wrong{0};
  ASSERT_OK(db_->RunOnShards(4, [&](ShardContext& ctx, uint32_t fiber) {
    for (int i = 0; i < 400; i++) {
      const std::string k = KeyN("task", i);
      if (!ctx.Owns(k)) {
        if (i % 50 == 0 && ctx.Put(WriteOptions(), k, "x").IsInvalidArgument()) wrong++;
        continue;
      }
      if (static_cast<uint32_t>(i) % 4 != fiber) continue;
      Status s = ctx.Put(WriteOptions(), k, KeyN("v", i));
      if (s.ok()) puts++;
      std::string got;
      if (!ctx.Get(ReadOptions(), k, &got).ok() || got != KeyN("v", i)) wrong += 1000;
    }
  }));
  EXPECT_EQ(puts.load(), 400u);
  EXPECT_GT(wrong.load(), 0u);     // keys of other shards were refused
  EXPECT_LT(wrong.load(), 1000u);  // and every owned key read back
  for (int i = 0; i < 400; i++) {
    std::string got;
    ASSERT_OK(db_->Get(KeyN("task", i), &got));
    EXPECT_EQ(got, KeyN("v", i));
  }
}

TEST_P(ReadTest, IteratorsAndSnapshotsOutlivingCloseAreSafe) {
  Open();
  Fill(100);
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  const Snapshot* snap = db_->GetSnapshot();
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  ASSERT_OK(db_->Close());
  // Misuse the docs forbid, but it must not crash: the cursors were freed by Close.
  it.reset();
  db_->ReleaseSnapshot(snap);
  db_.reset();
}

TEST_P(ReadTest, ConcurrentIteratorsWhileWriting) {
  opt_.memtable_bytes = 64 << 10;
  Open();
  Fill(2000, 50);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); i++) {
      ASSERT_OK(db_->Put(Key(2000 + i % 5000), std::string(100, 'w')));
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; t++) {
    readers.emplace_back([&, t] {
      for (int round = 0; round < 5; round++) {
        ReadOptions ro;
        ro.iterator_chunk_bytes = 1024 << t;
        std::unique_ptr<Iterator> it = db_->NewIterator(ro);
        std::string prev;
        int n = 0;
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          ASSERT_LT(prev, it->key());
          prev = std::string(it->key());
          n++;
        }
        ASSERT_OK(it->status());
        ASSERT_GE(n, 2000);
      }
    });
  }
  for (auto& r : readers) r.join();
  stop = true;
  writer.join();
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const ::testing::TestParamInfo<IoBackendKind>& info) {
                           return info.param == IoBackendKind::kUring ? std::string("Uring")
                                                                      : std::string("Aio");
                         });

}  // namespace
}  // namespace ringdb
