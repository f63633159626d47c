// TableOptions::block_align (docs/sst.md "Aligned data blocks"): every data block starts
// on a 4 KiB boundary and, when its entries allow, block + trailer fit in that page;
// an entry too big for a page gets a block of its own. Readers need no flag: they go
// through the index, so the zero padding between blocks is never read as a block.
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "lsm/table_builder.h"
#include "lsm/table_cache.h"
#include "lsm/table_reader.h"
#include "test_util.h"

namespace ringdb::lsm {
namespace {

using testing::Rng;
using Model = std::map<std::string, std::string, InternalKeyComparator>;

std::string BuildTable(const Model& model, const TableOptions& opt,
                       std::vector<TableBuilder::BuiltBlock>* kept = nullptr) {
  TableBuilder b(opt);
  if (kept != nullptr) b.KeepDataBlocks();
  std::string file;
  for (const auto& [k, v] : model) {
    EXPECT_TRUE(b.Add(k, v).ok());
    if (b.ready().size() >= 2 * kTableAlignBytes) {
      EXPECT_EQ(b.ready_offset(), file.size());
      file.append(b.ready());
      b.Consume(b.ready().size());
    }
  }
  EXPECT_TRUE(b.Finish().ok());
  file.append(b.ready());
  b.Consume(b.ready().size());
  EXPECT_EQ(file.size(), b.FileSize());
  EXPECT_EQ(file.size() % kTableAlignBytes, 0u);
  if (kept != nullptr) *kept = std::move(b.kept_blocks());
  return file;
}

// Values of 0 .. max_value bytes, plus `big` entries of 5-12 KB among them.
Model MakeModel(uint64_t seed, int n, size_t max_value, int big) {
  Rng rng(seed);
  Model m;
  for (int i = 0; i < n; i++) {
    const std::string k = testing::Cat("user", rng.Uniform(1u << 30));
    const bool del = rng.OneIn(10);
    m[MakeInternalKey(k, 1 + rng.Uniform(1000000),
                      del ? ValueType::kDeletion : ValueType::kValue)] =
        del ? std::string() : rng.Bytes(rng.Uniform(max_value + 1));
  }
  for (int i = 0; i < big; i++) {
    const std::string k = testing::Cat("user", rng.Uniform(1u << 30));
    m[MakeInternalKey(k, 1 + rng.Uniform(1000000), ValueType::kValue)] =
        rng.Bytes(5000 + rng.Uniform(7000));
  }
  return m;
}

std::vector<BlockHandle> DataHandles(const TableReader& t) {
  std::vector<BlockHandle> out;
  auto it = t.NewIndexIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view v = it->value();
    BlockHandle h;
    EXPECT_TRUE(DecodeBlockHandle(&v, &h));
    out.push_back(h);
  }
  EXPECT_TRUE(it->status().ok());
  return out;
}

// Checks the layout rule; returns how many blocks span more than one page.
size_t CheckAligned(const std::string& file, const TableReader& t) {
  size_t oversized = 0;
  uint64_t end = 0;
  StringBlockFetcher fetcher(file);
  for (const BlockHandle& h : DataHandles(t)) {
    EXPECT_EQ(h.offset % kTableAlignBytes, 0u) << "block at " << h.offset;
    EXPECT_LT(h.offset - end, kTableAlignBytes) << "more than the padding before " << h.offset;
    EXPECT_EQ(file.substr(end, h.offset - end).find_first_not_of('\0'), std::string::npos)
        << "padding before " << h.offset;
    end = h.offset + h.read_size();
    if (h.read_size() > kTableAlignBytes) {
      oversized++;
      BlockPtr block;
      EXPECT_TRUE(fetcher.Fetch(h, BlockKind::kData, &block).ok());
      if (block == nullptr) continue;
      auto bi = Block::NewIterator(block);
      int entries = 0;
      for (bi->SeekToFirst(); bi->Valid(); bi->Next()) entries++;
      EXPECT_EQ(entries, 1) << "a block over a page holds one big entry (" << h.offset << ")";
    }
  }
  EXPECT_EQ(end, t.footer().meta_offset()) << "meta blocks follow the last data block";
  return oversized;
}

void CheckReads(const std::string& file, const TableReader& t, const Model& model) {
  StringBlockFetcher fetcher(file);
  for (const auto& [k, v] : model) {
    ParsedInternalKey p;
    ASSERT_TRUE(ParseInternalKey(k, &p));
    std::string got;
    LookupResult r;
    ASSERT_TRUE(t.Get(LookupKey(p.user_key, p.sequence), &fetcher, &r, &got).ok());
    if (p.type == ValueType::kDeletion) {
      EXPECT_EQ(r, LookupResult::kDeleted);
    } else {
      ASSERT_EQ(r, LookupResult::kFound);
      EXPECT_EQ(got, v);
    }
  }
  auto it = t.NewIterator(&fetcher);
  auto m = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(it->key(), m->first);
    ASSERT_EQ(it->value(), m->second);
  }
  EXPECT_EQ(m, model.end());
  auto r = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
    ASSERT_NE(r, model.rend());
    ASSERT_EQ(it->key(), r->first);
  }
  EXPECT_EQ(r, model.rend());
  EXPECT_TRUE(it->status().ok());
  // Seek to every 97th key, then step across block (and padding) boundaries both ways.
  auto pos = model.begin();
  for (size_t i = 0; pos != model.end(); i++, ++pos) {
    if (i % 97 != 0) continue;
    it->Seek(pos->first);
    ASSERT_TRUE(it->Valid());
    ASSERT_EQ(it->key(), pos->first);
    it->Prev();
    if (pos == model.begin()) {
      EXPECT_FALSE(it->Valid());
    } else {
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), std::prev(pos)->first);
    }
  }
}

TEST(TableAlignTest, EveryDataBlockStartsAPageAndFitsIt) {
  const Model model = MakeModel(testing::TestSeed(), 20000, 300, 0);
  TableOptions opt;
  opt.block_align = true;
  const std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  EXPECT_GT(t->properties().num_data_blocks, 100u);
  EXPECT_EQ(CheckAligned(file, *t), 0u);
  CheckReads(file, *t, model);
  // The cost is the padding: blocks no longer pass 4096 bytes, so a few percent.
  const std::string plain = BuildTable(model, TableOptions{});
  EXPECT_LT(file.size(), plain.size() * 104 / 100);
  std::unique_ptr<TableReader> p;
  ASSERT_TRUE(TableReader::OpenFromFile(plain, &p).ok());
  size_t straddling = 0;
  for (const BlockHandle& h : DataHandles(*p)) {
    straddling += h.offset / kTableAlignBytes != (h.offset + h.read_size() - 1) / kTableAlignBytes;
  }
  EXPECT_GT(straddling, DataHandles(*p).size() / 2) << "unaligned blocks are back to back";
}

TEST(TableAlignTest, BigEntriesGetBlocksOfTheirOwn) {
  const Model model = MakeModel(testing::TestSeed() + 1, 3000, 600, 40);
  TableOptions opt;
  opt.block_align = true;
  opt.restart_interval = 4;
  const std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  EXPECT_EQ(CheckAligned(file, *t), 40u);
  CheckReads(file, *t, model);
}

TEST(TableAlignTest, SmallerBlocksAreAlignedToo) {
  const Model model = MakeModel(testing::TestSeed() + 2, 2000, 200, 3);
  TableOptions opt;
  opt.block_align = true;
  opt.block_bytes = 1024;
  const std::string file = BuildTable(model, opt);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  EXPECT_EQ(CheckAligned(file, *t), 3u);
  CheckReads(file, *t, model);
}

TEST(TableAlignTest, EmptyAndOneEntryTables) {
  TableOptions opt;
  opt.block_align = true;
  for (int n : {0, 1}) {
    Model model;
    if (n == 1) model.emplace(MakeInternalKey("k", 1, ValueType::kValue), std::string(1, 'v'));
    const std::string file = BuildTable(model, opt);
    EXPECT_EQ(file, BuildTable(model, TableOptions{})) << "nothing to pad with one block";
  }
}

TEST(TableAlignTest, KeptBlocksHaveTheIndexHandles) {
  const Model model = MakeModel(testing::TestSeed() + 3, 3000, 300, 2);
  TableOptions opt;
  opt.block_align = true;
  std::vector<TableBuilder::BuiltBlock> kept;
  const std::string file = BuildTable(model, opt, &kept);
  std::unique_ptr<TableReader> t;
  ASSERT_TRUE(TableReader::OpenFromFile(file, &t).ok());
  const std::vector<BlockHandle> handles = DataHandles(*t);
  ASSERT_EQ(kept.size(), handles.size());
  for (size_t i = 0; i < kept.size(); i++) {
    EXPECT_EQ(kept[i].handle, handles[i]);
    EXPECT_EQ(kept[i].block->contents(), file.substr(handles[i].offset, handles[i].size));
    EXPECT_EQ(kept[i].block->offset(), handles[i].offset);
    EXPECT_EQ(kept[i].block->kind(), BlockKind::kData);
  }
}

// The O_DIRECT request for a block that fits its page stays inside that page, whatever
// the device's alignment (4096, or 512 where only the touched sectors are read).
TEST(TableAlignTest, ReadOfAnAlignedBlockIsOnePage) {
  for (uint32_t align : {4096u, 512u}) {
    TableHandle table;
    table.dio_align = align;
    for (uint64_t size : {4091u, 4000u, 100u}) {
      BlockRead r;
      r.table = &table;
      r.handle = BlockHandle{7 * kTableAlignBytes, size};
      io::IoRequest q;
      io::AlignedBuffer buf;
      TableCache::PrepareBlockRead(r, &q, &buf);
      EXPECT_EQ(q.offset, 7 * kTableAlignBytes);
      EXPECT_LE(q.len, kTableAlignBytes) << "size " << size << " align " << align;
      EXPECT_GE(q.len, size + kBlockTrailerBytes);
      if (align == 4096) {
        EXPECT_EQ(q.len, kTableAlignBytes);
      }
    }
  }
}

}  // namespace
}  // namespace ringdb::lsm
