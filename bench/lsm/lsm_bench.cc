// Micro-benchmarks of the per-shard LSM building blocks: memtable, blocks, bloom
// filter, table building and point lookups in open tables, crc32c.
#include <benchmark/benchmark.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/bloom.h"
#include "lsm/dbformat.h"
#include "lsm/memtable.h"
#include "lsm/table_builder.h"
#include "lsm/table_reader.h"
#include "lsm/wal_format.h"
#include "lsm/write_batch_rep.h"
#include "util/crc32c.h"

namespace ringdb::lsm {
namespace {

std::string KeyOf(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%016llu", static_cast<unsigned long long>(i));
  return buf;
}

std::vector<uint64_t> Shuffled(size_t n) {
  std::vector<uint64_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = i;
  std::shuffle(v.begin(), v.end(), std::mt19937_64(1));
  return v;
}

void BM_MemTableInsert(benchmark::State& state) {
  const size_t n = 100000;
  auto order = Shuffled(n);
  std::string value(100, 'v');
  for (auto _ : state) {
    MemTable m;
    for (size_t i = 0; i < n; i++) m.Add(i + 1, ValueType::kValue, KeyOf(order[i]), value);
    benchmark::DoNotOptimize(m.num_entries());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MemTableInsert)->Unit(benchmark::kMillisecond);

void BM_MemTableGet(benchmark::State& state) {
  const size_t n = 100000;
  MemTable m;
  std::string value(100, 'v');
  auto order = Shuffled(n);
  for (size_t i = 0; i < n; i++) m.Add(i + 1, ValueType::kValue, KeyOf(order[i]), value);
  std::vector<std::string> keys;
  for (size_t i = 0; i < 4096; i++) keys.push_back(KeyOf(order[(i * 7919) % n]));
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    LookupKey lk(keys[i++ & 4095], kMaxSequenceNumber);
    benchmark::DoNotOptimize(m.Get(lk, &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemTableGet);

void BM_BlockSeek(benchmark::State& state) {
  BlockBuilder b(16);
  std::vector<std::string> keys;
  for (int i = 0; i < 40; i++) {  // ~4 KiB block
    keys.push_back(MakeInternalKey(KeyOf(i * 3), 1, ValueType::kValue));
    b.Add(keys.back(), std::string(80, 'v'));
  }
  BlockPtr block;
  if (!Block::FromContents(std::string(b.Finish()), 0, BlockKind::kData, &block).ok()) {
    state.SkipWithError("bad block");
    return;
  }
  Block::Iter it(block);
  size_t i = 0;
  for (auto _ : state) {
    it.Seek(keys[(i++ * 17) % keys.size()]);
    benchmark::DoNotOptimize(it.Valid());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BlockSeek);

// A cache miss's block: verify a 4 KiB read (contents and trailer) and copy it into a
// block of its own, then, as the cache does, drop blocks in the order they came
// (a window of 1024 live blocks, like a small cache evicting its oldest).
void BM_BlockFromRaw(benchmark::State& state) {
  BlockBuilder b(16);
  for (int i = 0; i < 40; i++)
    b.Add(MakeInternalKey(KeyOf(i * 3), 1, ValueType::kValue), std::string(80, 'v'));
  std::string raw(b.Finish());
  const BlockHandle h{8192, raw.size()};
  AppendBlockTrailer(h.offset, BlockKind::kData, raw, &raw);
  std::vector<BlockPtr> live(1024);
  size_t i = 0;
  for (auto _ : state) {
    BlockPtr block;
    if (!Block::FromRaw(raw, h, BlockKind::kData, &block).ok()) {
      state.SkipWithError("bad block");
      return;
    }
    live[i++ & 1023] = std::move(block);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(raw.size()));
}
BENCHMARK(BM_BlockFromRaw);

void BM_BloomProbe(benchmark::State& state) {
  BloomFilterBuilder b(10);
  for (int i = 0; i < 1000000; i++) b.AddKey(KeyOf(i));
  std::string contents = b.Finish();
  BloomFilter f;
  f.Parse(contents);
  std::vector<std::string> probes;
  for (int i = 0; i < 4096; i++) probes.push_back(KeyOf(2000000 + i * 31));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(f.MayContain(probes[i++ & 4095]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BloomProbe);

void BM_TableBuild(benchmark::State& state) {
  const size_t n = 200000;
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; i++)
    keys.push_back(MakeInternalKey(KeyOf(i), i + 1, ValueType::kValue));
  std::string value(100, 'v');
  uint64_t bytes = 0;
  for (auto _ : state) {
    TableBuilder t(TableOptions{});
    for (const auto& k : keys) {
      t.Add(k, value);
      if (t.ready().size() >= (256 << 10)) t.Consume(t.ready().size());
    }
    t.Finish();
    bytes += t.FileSize();
    t.Consume(t.ready().size());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_TableBuild)->Unit(benchmark::kMillisecond);

// A point lookup's search of open tables for the data block that may hold a key (bloom
// probe and index search, FindDataBlock) over the store of row d of
// scripts/compare_anythread.sh: 16-digit zero-padded keys, 1000-byte values (four to
// a 4 KiB block, so a quarter of the keys are their block's separator), here 16 tables
// of 64K keys, so the filters and indexes (about 8 MiB) do not fit the caches. Keys in
// random order. Arguments: a system call before each lookup (1), as a cold read makes
// one (its wait) before the next Get: on a kernel that flushes the TLB at each one (the
// development VM: page-table isolation without PCID) every probe then walks the page
// tables too; and the lookup's sequence: kMaxSequenceNumber (0) or the tables' largest
// (1), as a Get without a snapshot looks up at the shard's published sequence.
void BM_TableFindDataBlock(benchmark::State& state) {
  const bool syscall_first = state.range(0) != 0;
  const SequenceNumber seq = state.range(1) != 0 ? 1 : kMaxSequenceNumber;
  constexpr uint64_t kPerTable = 64 << 10, kTables = 16;
  auto key = [](uint64_t n) {
    std::string k(16, '0');
    for (int i = 15; i >= 0; i--, n /= 10) k[i] = static_cast<char>('0' + n % 10);
    return k;
  };
  std::vector<std::unique_ptr<TableReader>> tables;
  const std::string value(1000, 'v');
  for (uint64_t t = 0; t < kTables; t++) {
    TableBuilder b(TableOptions{});
    std::string file;
    for (uint64_t i = t * kPerTable; i < (t + 1) * kPerTable; i++) {
      b.Add(MakeInternalKey(key(i), 1, ValueType::kValue), value);
      file.append(b.ready());
      b.Consume(b.ready().size());
    }
    b.Finish();
    file.append(b.ready());
    std::unique_ptr<TableReader> r;
    if (!TableReader::OpenFromFile(file, &r).ok()) {
      state.SkipWithError("table did not open");
      return;
    }
    tables.push_back(std::move(r));
  }
  const std::vector<uint64_t> order = Shuffled(kPerTable * kTables);
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const uint64_t n = order[i++ % order.size()];
    if (syscall_first) benchmark::DoNotOptimize(::syscall(SYS_getppid));
    LookupKey lk(key(n), seq);
    BlockHandle h;
    bool may_exist = false;
    benchmark::DoNotOptimize(tables[n / kPerTable]->FindDataBlock(lk, &h, &may_exist));
    found += may_exist ? 1 : 0;
  }
  if (static_cast<benchmark::IterationCount>(found) != state.iterations())
    state.SkipWithError("a key the filter rejected");
}
BENCHMARK(BM_TableFindDataBlock)->ArgsProduct({{0, 1}, {0, 1}});

void BM_WalEncode(benchmark::State& state) {
  std::string rep;
  for (int i = 0; i < 16; i++) WriteBatchRep::Put(&rep, KeyOf(i), std::string(100, 'v'));
  std::string buf;
  uint64_t bytes = 0;
  for (auto _ : state) {
    WalWriteEncoder enc(1, 0, 0, &buf);
    for (int i = 0; i < 32; i++) enc.AddBatch(1 + i * 16, rep);
    bytes += enc.FinishPadded();
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_WalEncode);

void BM_Crc32c(benchmark::State& state) {
  std::string data(state.range(0), 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(util::crc32c::Value(data.data(), data.size()));
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_Crc32c)->Arg(4096)->Arg(1 << 20);

}  // namespace
}  // namespace ringdb::lsm

BENCHMARK_MAIN();
