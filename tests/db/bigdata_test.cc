// Big data set: many times more data than the block cache and the memtables hold, with
// overwrites and deletes, so that every read past the memtables goes to disk and
// compaction rewrites the data several times. Checks that
//   - every read is right: a random sample while loading (compactions running), every
//     key after loading, and every key again after Close + reopen (cold cache);
//   - compaction ran and the block cache never holds more than its share;
//   - the process's anonymous resident memory (RssAnon, sampled every 2 ms) grows,
//     from a baseline taken after Open, by no more than the options allow plus the
//     overhead the engine's design needs (RssBound below; docs/testing.md, "Memory
//     bound of the bigdata suite"). This suite found two engine problems (finished
//     compaction outputs kept their buffers; big O_DIRECT buffers fragmented the heap),
//     both fixed; it prints the measurement and the bound.
//
// Size: RINGDB_BIGDATA_MB (default 48, 12 under sanitizers; the 'soak' suite runs 400).
// Replay: RINGDB_SEED=<seed>.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lsm/table_format.h"
#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/db/db_test_util.h"

namespace ringdb {
namespace {

using dbtest::TempDir;

constexpr uint32_t kShards = 2;
constexpr size_t kMemtableBytes = 1 << 20;
constexpr size_t kCacheBytes = 2 << 20;
constexpr size_t kMinValue = 200, kMaxValue = 1800;  // 1000 bytes on average

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // own allocators: RSS says nothing about the engine
#else
constexpr bool kSanitized = false;
#endif

constexpr uint64_t kMiB = 1 << 20;

// What the engine may hold beyond its baseline after Open, term by term. Every term
// but the tables' follows from the options and from constants of the engine's design
// (src/lsm/write_behind.h, shard_compaction.cc, runtime/reactor.h); docs/testing.md
// explains each one.
struct RssBound {
  uint64_t memtables = 0;   // memtable_bytes * (1 + max_immutable_memtables) per shard
  uint64_t cache = 0;       // max(block_cache_bytes, pinned index/filter) + 5%
  uint64_t table_meta = 0;  // index/filter of replaced tables still open (one more copy)
  uint64_t io_buffers = 0;  // per shard: a flush and a compaction output, 6 MiB each
  uint64_t readahead = 0;   // per shard: 1 MiB per compaction input, 25 inputs
  uint64_t fibers = 0;      // per shard: 8 fiber stacks of 64 KiB
  uint64_t slack = 0;       // process: malloc metadata, thread stacks, the test itself

  uint64_t total() const {
    return memtables + cache + table_meta + io_buffers + readahead + fibers + slack;
  }
  std::string ToString() const {
    char buf[320];
    std::snprintf(buf, sizeof(buf),
                  "%.1f MiB = memtables %.1f + cache %.1f + table_meta %.1f + io_buffers %.1f + "
                  "readahead %.1f + fibers %.1f + slack %.1f",
                  total() / double(kMiB), memtables / double(kMiB), cache / double(kMiB),
                  table_meta / double(kMiB), io_buffers / double(kMiB), readahead / double(kMiB),
                  fibers / double(kMiB), slack / double(kMiB));
    return buf;
  }
};

RssBound ComputeBound(const Options& opt, uint64_t table_meta) {
  RssBound b;
  const uint64_t shards = opt.shards;
  b.memtables = shards * opt.memtable_bytes * (1 + opt.max_immutable_memtables);
  // Open tables pin their index and filter and charge them to the cache's budget; data
  // blocks are evicted to make room, and pinned bytes alone may exceed the budget.
  const uint64_t cache = std::max<uint64_t>(opt.block_cache_bytes, table_meta);
  b.cache = cache + cache / 20;
  // Tables a compaction replaced stay open until the last reader lets go of them.
  b.table_meta = table_meta;
  // TableBuilder output (grows to 2 MiB before it is handed on in 1 MiB chunks) plus
  // 4 write-behind slots of 1 MiB (lsm/write_behind.h), for the flush and for the
  // compaction output being written.
  b.io_buffers = shards * 2 * (2 + 4) * kMiB;
  // Two 512 KiB read-ahead chunks per input table (shard_compaction.cc). 25 inputs:
  // an L0 compaction takes up to 12 L0 files (the stop trigger) plus the L1 files they
  // overlap (L1 holds ~4 target-size files here); a deeper one takes a file and the
  // ~10 it overlaps one level down, or grows to 25 target sizes of inputs.
  b.readahead = shards * 25 * kMiB;
  b.fibers = shards * 8 * (64 << 10);
  b.slack = 4 * kMiB;
  return b;
}

// Anonymous resident memory of this process, in bytes (/proc/self/status RssAnon):
// heap, thread and fiber stacks, and every buffer the engine allocates. File-backed
// pages (the binary, libraries) and the page cache are not in it; the engine reads and
// writes tables with O_DIRECT anyway.
uint64_t RssAnonBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

// Samples RssAnon every 2 ms on its own thread and keeps the maximum.
class RssSampler {
 public:
  RssSampler() : thread_([this] { Run(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  uint64_t peak() const { return peak_.load(); }

 private:
  void Run() {
    while (!stop_.load()) {
      const uint64_t r = RssAnonBytes();
      if (r > peak_.load()) peak_.store(r);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0};
  std::thread thread_;
};

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string BigKey(uint32_t i) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "bd%010u", i);
  return buf;
}

// The value of key i at version v (>= 1): its length and bytes derive from (seed, i, v),
// so the test keeps only a version per key, not the data (which would blur the RSS
// measurement). The key and version are spelled out at the front for failure messages.
std::string BigValue(uint64_t seed, uint32_t i, uint32_t v) {
  uint64_t h = Mix(seed ^ (uint64_t{i} << 20) ^ v);
  std::string s = BigKey(i);
  s += '@';
  s += std::to_string(v);
  s += ':';
  const size_t len = kMinValue + h % (kMaxValue - kMinValue);
  while (s.size() < len) {
    h = Mix(h);
    for (int b = 0; b < 8 && s.size() < len; ++b) s += static_cast<char>(h >> (8 * b));
  }
  return s;
}

// Bytes the engine keeps in memory for every open table: its meta region (filter,
// properties, index; TableReader::Open keeps it) plus a parsed copy of the index block.
// Computed from the footers of the .sst files on disk, of one shard directory or of
// every shard when dir is empty.
uint64_t TableMetaBytes(const std::string& path, uint64_t* tables,
                        const std::string& dir_only = "") {
  uint64_t total = 0;
  *tables = 0;
  const std::vector<std::string> dirs =
      dir_only.empty() ? dbtest::ShardDirs(path) : std::vector<std::string>{dir_only};
  for (const std::string& dir : dirs) {
    for (const std::string& f :
         dbtest::ListFiles(dir, [](const std::string& n) { return dbtest::EndsWith(n, ".sst"); })) {
      std::ifstream in(f, std::ios::binary | std::ios::ate);
      const uint64_t size = static_cast<uint64_t>(in.tellg());
      if (size < lsm::kFooterBytes) continue;
      std::string tail(lsm::kFooterBytes, '\0');
      in.seekg(static_cast<std::streamoff>(size - lsm::kFooterBytes));
      in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
      lsm::Footer footer;
      if (!lsm::Footer::DecodeFrom(tail, size, &footer).ok()) continue;
      total += size - footer.meta_offset() + footer.index.read_size();
      ++*tables;
    }
  }
  return total;
}

class BigDataTest : public ::testing::TestWithParam<IoBackendKind> {
 protected:
  Options Opts() const {
    Options opt;
    opt.path = tmp_.Sub("db");
    opt.shards = kShards;
    opt.io_backend = GetParam();
    opt.durability = Durability::kNone;  // the subject is data size, not fsync latency
    opt.memtable_bytes = kMemtableBytes;
    opt.block_cache_bytes = kCacheBytes;
    opt.wal_preallocate_bytes = 1 << 20;
    return opt;
  }

  std::string Context() const {
    return " [RINGDB_SEED=" + std::to_string(seed_) +
           " RINGDB_BIGDATA_MB=" + std::to_string(data_mb_) + "]";
  }

  // Writes version v of key i (or deletes it when v == 0) into the batch or directly.
  Status Apply(uint32_t i, uint32_t v, WriteBatch* batch) {
    if (batch != nullptr) {
      if (v == 0) {
        batch->Delete(BigKey(i));
      } else {
        batch->Put(BigKey(i), BigValue(seed_, i, v));
      }
      return Status::OK();
    }
    return v == 0 ? db_->Delete(BigKey(i)) : db_->Put(BigKey(i), BigValue(seed_, i, v));
  }

  // Checks key i against the model; returns false (and reports the first few) if wrong.
  bool CheckKey(uint32_t i, const char* stage) {
    std::string got;
    Status s = db_->Get(BigKey(i), &got);
    const uint32_t v = live_[i] ? version_[i] : 0;
    const bool right = v == 0 ? s.IsNotFound() : (s.ok() && got == BigValue(seed_, i, v));
    if (!right && ++wrong_ <= 5) {
      ADD_FAILURE() << stage << ": " << BigKey(i) << " want "
                    << (v == 0 ? std::string("<absent>") : "version " + std::to_string(v))
                    << ", got " << s.ToString() << " " << dbtest::Printable(got) << Context();
    }
    return right;
  }

  void CheckSample(size_t n, size_t upto, const char* stage) {
    for (size_t j = 0; j < n; ++j) CheckKey(static_cast<uint32_t>(rng_() % upto), stage);
  }
  void CheckAll(const char* stage) {
    for (uint32_t i = 0; i < keys_; ++i) CheckKey(i, stage);
  }

  void Load();
  void Churn();
  void Run(bool assert_rss);

  TempDir tmp_;
  uint64_t seed_ = 0;
  uint64_t data_mb_ = 0;
  uint32_t keys_ = 0;
  std::mt19937_64 rng_;
  std::unique_ptr<DB> db_;
  std::vector<uint32_t> version_;  // last version written per key
  std::vector<bool> live_;         // false: never written or deleted
  uint64_t wrong_ = 0;
  uint64_t bytes_written_ = 0;
};

// Every key once, in random order (so every memtable spans the whole key range and each
// L0 compaction rewrites L1), half of them in batches of 8.
void BigDataTest::Load() {
  std::vector<uint32_t> order(keys_);
  for (uint32_t i = 0; i < keys_; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  for (size_t pos = 0; pos < order.size();) {
    const size_t n = std::min<size_t>(rng_() % 2 == 0 ? 8 : 1, order.size() - pos);
    WriteBatch b;
    for (size_t j = 0; j < n; ++j) {
      const uint32_t i = order[pos + j];
      version_[i] = 1;
      live_[i] = true;
      bytes_written_ += BigValue(seed_, i, 1).size();
      ASSERT_OK(Apply(i, 1, n > 1 ? &b : nullptr));
    }
    if (n > 1) {
      ASSERT_OK(db_->Write(b));
    }
    pos += n;
    if (pos % (keys_ / 8 + 1) < n) CheckSample(200, keys_, "while loading");
  }
}

// A quarter as many random overwrites and deletes (one in five) as there are keys.
void BigDataTest::Churn() {
  for (uint32_t op = 0; op < keys_ / 4; ++op) {
    const uint32_t i = static_cast<uint32_t>(rng_() % keys_);
    if (rng_() % 5 == 0) {
      live_[i] = false;
      ASSERT_OK(Apply(i, 0, nullptr));
    } else {
      live_[i] = true;
      ++version_[i];
      bytes_written_ += BigValue(seed_, i, version_[i]).size();
      ASSERT_OK(Apply(i, version_[i], nullptr));
    }
    if (op % 4096 == 4095) CheckSample(200, keys_, "while overwriting");
  }
}

void BigDataTest::Run(bool assert_rss) {
  seed_ = dbtest::TestSeed(::testing::UnitTest::GetInstance()->current_test_info()->name());
  rng_.seed(seed_);
  data_mb_ = dbtest::EnvU64("RINGDB_BIGDATA_MB", kSanitized ? 12 : 48);
  keys_ = static_cast<uint32_t>((data_mb_ << 20) / ((kMinValue + kMaxValue) / 2));
  version_.assign(keys_, 0);
  live_.assign(keys_, false);

  const Options opt = Opts();
  Status s = DB::Open(opt, &db_);
  if (s.IsNotSupported() || s.IsIOError()) {
    GTEST_SKIP() << "backend unavailable: " << s.ToString();
  }
  ASSERT_OK(s);
  ::malloc_trim(0);  // what earlier tests in this process freed is not ours to count
  const uint64_t baseline = RssAnonBytes();
  RssSampler sampler;
  const auto t0 = std::chrono::steady_clock::now();

  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(Churn());
  const auto t1 = std::chrono::steady_clock::now();
  CheckAll("after loading");
  Stats st;
  ASSERT_OK(db_->GetStats(&st));
  const auto t2 = std::chrono::steady_clock::now();
  sampler.Stop();
  const uint64_t growth = sampler.peak() > baseline ? sampler.peak() - baseline : 0;
  uint64_t tables = 0;
  const RssBound bound = ComputeBound(opt, TableMetaBytes(opt.path, &tables));

  auto ms = [](auto d) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  std::fprintf(stderr,
               "[ bigdata] keys=%u written=%.1f MiB load=%lld ms verify=%lld ms flushes=%llu "
               "compactions=%llu compaction_write=%.1f MiB tables=%llu cache=%.2f MiB\n"
               "[ bigdata] rss_anon baseline=%.1f MiB peak=%.1f MiB growth=%.1f MiB%s\n"
               "[ bigdata] bound %s\n",
               keys_, bytes_written_ / double(kMiB), ms(t1 - t0), ms(t2 - t1),
               static_cast<unsigned long long>(st.total.flushes),
               static_cast<unsigned long long>(st.total.compactions),
               st.total.compaction_write_bytes / double(kMiB),
               static_cast<unsigned long long>(tables), st.total.cache_bytes / double(kMiB),
               baseline / double(kMiB), sampler.peak() / double(kMiB), growth / double(kMiB),
               kSanitized               ? " (sanitizer build: not compared)"
               : growth > bound.total() ? " EXCEEDS THE BOUND"
                                        : " (within the bound)",
               bound.ToString().c_str());
  EXPECT_EQ(wrong_, 0u);
  EXPECT_GT(st.total.compactions, 0u) << "no compaction ran" << Context();
  EXPECT_EQ(st.total.compaction_errors, 0u);
  // A shard's cache holds at most its share, or only the pinned index and filter
  // blocks of its open tables when they alone exceed it.
  const std::vector<std::string> dirs = dbtest::ShardDirs(opt.path);
  for (const ShardStats& sh : st.shards) {
    uint64_t n = 0;
    const uint64_t pinned =
        sh.shard < dirs.size() ? TableMetaBytes(opt.path, &n, dirs[sh.shard]) : 0;
    EXPECT_LE(sh.cache_bytes, std::max<uint64_t>(kCacheBytes / kShards, pinned + pinned / 10))
        << "shard " << sh.shard << " (index/filter of its tables: " << pinned << " bytes)";
  }
  if (assert_rss && !kSanitized) {
    EXPECT_LE(growth, bound.total())
        << "resident memory grew by " << growth / double(kMiB) << " MiB, more than the bound "
        << bound.ToString() << Context();
  }

  ASSERT_OK(db_->Close());
  db_.reset();
  ASSERT_OK(DB::Open(opt, &db_));
  CheckAll("after reopen");
  ASSERT_OK(db_->Close());
  EXPECT_EQ(wrong_, 0u);
}

TEST_P(BigDataTest, ReadsRightWithDataManyTimesTheBudgets) {
  Run(/*assert_rss=*/true);
}

INSTANTIATE_TEST_SUITE_P(Backends, BigDataTest,
                         ::testing::Values(IoBackendKind::kUring, IoBackendKind::kAio),
                         [](const auto& info) {
                           return info.param == IoBackendKind::kUring ? "Uring" : "Aio";
                         });

}  // namespace
}  // namespace ringdb
