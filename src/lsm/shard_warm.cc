// Shard: warms the block cache after Open (ShardOptions::warm_cache; docs/engine.md
// "Warming the cache after Open"). Table reads are O_DIRECT, so after a restart nothing
// is in the page cache either, and every first read of a block would wait for the disk.
// One fiber reads the live tables sequentially, newest first, and caches the blocks the
// cache lacks until the next one would need an eviction. Its reads are background I/O
// (class cache_warm, paced by the IoPacer): runs of whole blocks up to 512 KiB, four in
// flight, so that the device streams while the fiber verifies and caches.
#include <algorithm>
#include <vector>

#include "io/aligned_buffer.h"
#include "lsm/shard.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {
namespace {

using io::AlignDown;
using io::AlignUp;

constexpr uint64_t kWarmChunkBytes = 512 << 10;
constexpr size_t kWarmReadsInFlight = 4;
// Cached blocks between two runs cost a read of up to this much rather than a new run.
constexpr uint64_t kWarmMaxGapBytes = 64 << 10;

// One read: the aligned range that holds blocks[first, first + count) of the table.
struct WarmRun {
  uint64_t start = 0;
  uint64_t len = 0;
  size_t first = 0;
  size_t count = 0;
};

// The reads of one table, up to kWarmReadsInFlight at once, consumed in order.
class WarmReads {
 public:
  WarmReads(IoPacer* pacer, const TableHandle& table) : pacer_(pacer), table_(table) {}
  ~WarmReads() { Drain(); }
  WarmReads(const WarmReads&) = delete;
  WarmReads& operator=(const WarmReads&) = delete;

  // Starts the read of `run` into a free slot. REQUIRES: HasRoom().
  void Issue(const WarmRun& run) {
    Slot& s = slots_[(head_ + n_) % kWarmReadsInFlight];
    n_++;
    if (s.buf.capacity() < run.len) s.buf.Reset(std::max(run.len, kWarmChunkBytes));
    s.run = run;
    s.done = false;
    s.req = io::IoRequest();
    s.req.op = io::IoOp::kRead;
    s.req.io_class = io::IoClass::kCacheWarm;
    s.req.fd = table_.fd;
    s.req.offset = run.start;
    s.req.len = run.len;
    s.req.buf = s.buf.data();
    s.req.done = &OnDone;
    s.req.user = this;
    pacer_->Acquire(run.len, /*urgent=*/false);
    rt::CurrentReactor()->PrepareIo(&s.req);
  }
  bool HasRoom() const { return n_ < kWarmReadsInFlight; }
  bool Empty() const { return n_ == 0; }

  // Waits for the oldest read. Returns its bytes, or the error naming file and offset.
  Status Next(const WarmRun** run, const char** data) {
    Slot& s = slots_[head_];
    while (!s.done) Wait();
    *run = &s.run;
    *data = s.buf.data();
    if (s.req.result < 0) {
      return Status::FromErrno(static_cast<int>(-s.req.result),
                               "read " + table_.path + " offset " + std::to_string(s.run.start));
    }
    if (static_cast<uint64_t>(s.req.result) != s.run.len) {
      return Status::Corruption(table_.path + ": short read at offset " +
                                std::to_string(s.run.start));
    }
    return Status::OK();
  }
  // Frees the oldest read's slot (after Next).
  void Pop() {
    head_ = (head_ + 1) % kWarmReadsInFlight;
    n_--;
  }
  // Waits until no read is in flight (their buffers are ours).
  void Drain() {
    while (n_ > 0) {
      while (!slots_[head_].done) Wait();
      Pop();
    }
  }

 private:
  struct Slot {
    io::AlignedBuffer buf;
    io::IoRequest req;
    WarmRun run;
    bool done = true;
  };
  static void OnDone(io::IoRequest* req) {
    auto* self = static_cast<WarmReads*>(req->user);
    self->pacer_->Release();
    for (Slot& s : self->slots_) {
      if (&s.req == req) s.done = true;
    }
    if (self->waiter_ != nullptr) {
      rt::Fiber* w = self->waiter_;
      self->waiter_ = nullptr;
      rt::CurrentReactor()->MakeReady(w);
    }
  }
  void Wait() {
    waiter_ = rt::CurrentReactor()->current_fiber();
    rt::CurrentReactor()->Suspend();
  }

  IoPacer* const pacer_;
  const TableHandle& table_;
  Slot slots_[kWarmReadsInFlight];
  size_t head_ = 0;
  size_t n_ = 0;
  rt::Fiber* waiter_ = nullptr;
};

}  // namespace

void Shard::WarmCache() {
  const uint64_t start_ns = util::NowNanos();
  const uint64_t blocks_before = stats_.cache_warm_blocks;
  // The version keeps its tables open; one that a compaction drops meanwhile is
  // skipped from then on (TableHandle::evicted).
  const VersionPtr v = versions_.current();
  bool full = false;
  uint32_t tables = 0, failed = 0;
  for (int level = 0; level < kNumLevels && !full; level++) {
    for (const VersionFile& f : v->files(level)) {  // L0 newest first; then key order
      if (full || stopping_ || crashed_) break;
      if (!f.table->status.ok() || f.table->evicted) continue;
      tables++;
      Status s = WarmTable(f.table, &full);
      if (!s.ok()) {
        failed++;
        RINGDB_LOG_WARN("shard %u: cache warm-up skips the rest of table %llu: %s", opt_.shard_id,
                        static_cast<unsigned long long>(f.table->number), s.ToString().c_str());
      }
    }
    if (stopping_ || crashed_) break;
  }
  RINGDB_LOG_DEBUG(
      "shard %u: cache warm-up cached %llu blocks (%.1f MiB read) from %u tables (%u failed) in "
      "%.1f ms%s%s",
      opt_.shard_id, static_cast<unsigned long long>(stats_.cache_warm_blocks - blocks_before),
      static_cast<double>(warm_read_bytes_) / (1 << 20), tables, failed,
      static_cast<double>(util::NowNanos() - start_ns) / 1e6, full ? "; the cache is full" : "",
      stopping_ ? "; stopped by Close" : "");
}

Status Shard::WarmTable(const TableRef& table, bool* full) {
  BlockCache& cache = tables_.blocks();
  // The blocks the cache lacks, in file order (the index's order), grouped into runs.
  std::vector<BlockHandle> blocks;
  {
    std::unique_ptr<Block::Iter> index = table->reader->NewIndexIterator();
    for (index->SeekToFirst(); index->Valid(); index->Next()) {
      std::string_view value = index->value();
      BlockHandle h;
      if (!DecodeBlockHandle(&value, &h)) {
        return Status::Corruption(table->path + ": bad block handle in the index");
      }
      if (!cache.Contains(table->number, h.offset)) blocks.push_back(h);
    }
    if (!index->status().ok()) return index->status();
  }
  const uint64_t align = table->dio_align;
  std::vector<WarmRun> runs;
  for (size_t i = 0; i < blocks.size(); i++) {
    const BlockHandle& h = blocks[i];
    const uint64_t start = AlignDown(h.offset, align);
    const uint64_t end = AlignUp(h.offset + h.read_size(), align);
    if (!runs.empty()) {
      WarmRun& r = runs.back();
      if (start <= r.start + r.len + kWarmMaxGapBytes && end - r.start <= kWarmChunkBytes) {
        r.len = std::max(r.len, end - r.start);
        r.count++;
        continue;
      }
    }
    runs.push_back(WarmRun{start, end - start, i, 1});
  }

  WarmReads reads(&pacer_, *table);
  size_t issued = 0;
  uint32_t since_yield = 0;
  for (;;) {
    if (stopping_ || crashed_ || table->evicted || *full) return Status::OK();  // ~WarmReads drains
    while (issued < runs.size() && reads.HasRoom()) reads.Issue(runs[issued++]);
    if (reads.Empty()) return Status::OK();
    const WarmRun* run = nullptr;
    const char* data = nullptr;
    Status s = reads.Next(&run, &data);
    if (!s.ok()) return s;
    // The reads suspended this fiber: the table may have left the live set meanwhile.
    for (size_t i = run->first; i < run->first + run->count; i++) {
      if (stopping_ || crashed_ || table->evicted) break;
      const BlockHandle& h = blocks[i];
      BlockPtr block;
      s = Block::FromRaw(std::string_view(data + (h.offset - run->start), h.read_size()), h,
                         BlockKind::kData, &block);
      if (!s.ok()) return Status::Corruption(table->path + ": " + s.message());
      warm_read_bytes_ += h.read_size();
      const size_t charge = block->charge();
      if (cache.usage() + charge > cache.capacity()) {
        *full = true;
        break;
      }
      cache.Insert(table->number, h.offset, std::move(block), charge);
      stats_.cache_warm_blocks++;
      // Each block costs a copy and a checksum: let commits and reads handed to this
      // shard run between short stretches.
      if (++since_yield == 32) {
        since_yield = 0;
        rt::Yield();
      }
    }
    reads.Pop();
  }
}

}  // namespace ringdb::lsm
