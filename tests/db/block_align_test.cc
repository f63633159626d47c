// Options::block_align through the public API, on both I/O backends: a store written
// with it (flushes and compactions, values from a few bytes to more than a page) reads
// back through Get, MultiGet and iterators in both directions, before and after
// reopening (with and without the option), and every table it wrote, compaction outputs
// included, has page-aligned data blocks (docs/sst.md "Aligned data blocks").
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "db_test_util.h"
#include "lsm/table_reader.h"
#include "ringdb/db.h"
#include "ringdb/stats.h"

namespace ringdb {
namespace {

using dbtest::TempDir;

class BlockAlignTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options MakeOptions() const {
    Options opt;
    opt.path = dir_.Sub("db");
    opt.shards = 2;
    opt.memtable_bytes = 64 << 10;
    opt.durability = Durability::kNone;
    opt.io_backend = GetParam();
    opt.block_cache_bytes = 128 << 10;  // most reads go to the disk
    opt.block_align = true;
    return opt;
  }
  void CheckAll(DB* db, const char* when) {
    size_t wrong = 0;
    std::vector<std::string_view> batch;
    std::vector<std::string> expect;
    auto flush_batch = [&] {
      std::vector<std::string> values;
      std::vector<Status> st = db->MultiGet(ReadOptions(), batch, &values);
      for (size_t i = 0; i < batch.size(); i++) {
        if (!st[i].ok() || values[i] != expect[i]) {
          if (++wrong <= 3) ADD_FAILURE() << when << ": MultiGet(" << batch[i] << ")";
        }
      }
      batch.clear();
      expect.clear();
    };
    for (const auto& [k, v] : model_) {
      std::string got;
      if (!db->Get(k, &got).ok() || got != v) {
        if (++wrong <= 3) ADD_FAILURE() << when << ": Get(" << k << ")";
      }
      batch.push_back(k);
      expect.push_back(v);
      if (batch.size() == 32) flush_batch();
    }
    flush_batch();
    std::unique_ptr<Iterator> it = db->NewIterator(ReadOptions());
    auto m = model_.begin();
    for (it->SeekToFirst(); it->Valid() && m != model_.end(); it->Next(), ++m) {
      if (it->key() != m->first || it->value() != m->second) wrong++;
    }
    EXPECT_TRUE(!it->Valid() && m == model_.end()) << when << ": forward scan length";
    auto r = model_.rbegin();
    for (it->SeekToLast(); it->Valid() && r != model_.rend(); it->Prev(), ++r) {
      if (it->key() != r->first || it->value() != r->second) wrong++;
    }
    EXPECT_TRUE(!it->Valid() && r == model_.rend()) << when << ": backward scan length";
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    EXPECT_EQ(wrong, 0u) << when << " [RINGDB_SEED=" << seed_ << "]";
  }
  // Every data block of every table in the store starts on a page; returns the tables.
  size_t CheckTablesAligned() {
    size_t tables = 0;
    for (const std::string& dir : dbtest::ShardDirs(dir_.Sub("db"))) {
      for (const std::string& f : dbtest::ListFiles(
               dir, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); })) {
        const std::string file = dbtest::ReadWholeFile(f);
        std::unique_ptr<lsm::TableReader> t;
        Status s = lsm::TableReader::OpenFromFile(file, &t);
        if (!s.ok()) {
          ADD_FAILURE() << f << ": " << s.ToString();
          continue;
        }
        tables++;
        auto idx = t->NewIndexIterator();
        for (idx->SeekToFirst(); idx->Valid(); idx->Next()) {
          std::string_view v = idx->value();
          lsm::BlockHandle h;
          EXPECT_TRUE(lsm::DecodeBlockHandle(&v, &h));
          EXPECT_EQ(h.offset % 4096, 0u) << f << " block at " << h.offset;
        }
      }
    }
    return tables;
  }
  void Write(DB* db, int ops) {
    std::mt19937_64 rng(seed_);
    for (int i = 0; i < ops; i++) {
      char key[32];
      std::snprintf(key, sizeof(key), "key%08d", static_cast<int>(rng() % 5000));
      if (rng() % 10 == 0) {
        ASSERT_TRUE(db->Delete(key).ok());
        model_.erase(key);
        continue;
      }
      const size_t len = rng() % 200 == 0 ? 5000 + rng() % 4000 : 20 + rng() % 400;
      std::string v = std::to_string(i);
      v.append(len, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(db->Put(key, v).ok());
      model_[key] = v;
    }
  }

  TempDir dir_;
  uint64_t seed_ = 0;
  std::map<std::string, std::string> model_;
};

TEST_P(BlockAlignTest, AlignedStoreReadsCompactsAndReopens) {
  seed_ = dbtest::TestSeed("BlockAlign");
  Options opt = MakeOptions();
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  if (s.IsNotSupported() || s.IsIOError()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();
  Write(db.get(), 20000);  // ~5 MB: dozens of flushes per shard, and compactions
  CheckAll(db.get(), "while compacting");
  ASSERT_TRUE(db->Flush().ok());
  dbtest::WaitForCompactionsToSettle(db.get());
  CheckAll(db.get(), "after flush");
  Stats st;
  ASSERT_TRUE(db->GetStats(&st).ok());
  EXPECT_GT(st.total.compactions, 0u) << "no compaction ran";
  uint64_t deeper = 0;
  for (int l = 1; l < 7; l++) deeper += st.total.level_files[l];
  EXPECT_GT(deeper, 0u) << "no compaction output below L0";
  EXPECT_EQ(st.total.compaction_errors, 0u);
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  EXPECT_GT(CheckTablesAligned(), 2u);

  ASSERT_TRUE(DB::Open(opt, &db).ok());
  CheckAll(db.get(), "after reopen");
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  // Without the option: the aligned tables read the same, new ones are back to back.
  opt.block_align = false;
  ASSERT_TRUE(DB::Open(opt, &db).ok());
  Write(db.get(), 3000);
  ASSERT_TRUE(db->Flush().ok());
  CheckAll(db.get(), "mixed tables");
  ASSERT_TRUE(db->Close().ok());
}

TEST_P(BlockAlignTest, RequiresBlocksOfAtMostAPage) {
  Options opt = MakeOptions();
  opt.block_bytes = 8192;
  std::unique_ptr<DB> db;
  Status s = DB::Open(opt, &db);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  opt.block_bytes = 4096;
  s = DB::Open(opt, &db);
  if (s.IsNotSupported() || s.IsIOError()) GTEST_SKIP() << "backend unavailable: " << s.ToString();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, BlockAlignTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const auto& info) {
                           return info.param == IoBackendKind::kUring ? "Uring" : "Aio";
                         });

}  // namespace
}  // namespace ringdb
