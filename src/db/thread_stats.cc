#include "db/thread_stats.h"

#include <algorithm>
#include <array>

namespace ringdb::db {
namespace {

std::atomic<uint64_t> g_next_registry_id{1};

// The last few registries this thread recorded into (a thread rarely uses more DBs).
struct ThreadCache {
  static constexpr size_t kEntries = 4;
  struct Entry {
    uint64_t id = 0;
    ThreadStats* stats = nullptr;
  };
  std::array<Entry, kEntries> entries;
  size_t next = 0;  // round-robin victim
};
thread_local ThreadCache tl_cache;

void AddOp(const ThreadOpStats& t, OpStats* o) {
  o->count += t.count.Get();
  o->errors += t.errors.Get();
  o->items += t.items.Get();
  t.latency_ns.AddTo(&o->latency_ns);
}

}  // namespace

void ConcurrentHistogram::AddTo(HistogramData* out) const {
  uint64_t counts[HistogramData::kBuckets];
  uint64_t total = 0;
  for (size_t b = 0; b < static_cast<size_t>(HistogramData::kBuckets); b++) {
    counts[b] = buckets_[b].load(std::memory_order_relaxed);
    total += counts[b];
  }
  // A snapshot taken while the writer records may be a sample ahead in one field; the
  // bucket total is the count that matches the buckets.
  out->MergeCounts(counts, total, sum_.Get(), min_.load(std::memory_order_relaxed),
                   max_.load(std::memory_order_relaxed));
}

void ThreadIoStats::Record(const io::IoRequest& r, bool through_sqpoll) {
  count.Add(1);
  if (r.result < 0) {
    errors.Add(1);
  } else {
    read_bytes.Add(static_cast<uint64_t>(r.result));
  }
  sqpoll.Add(through_sqpoll ? 1 : 0);
  if (r.submit_ns != 0 && r.complete_ns >= r.submit_ns)
    latency_ns.Record(r.complete_ns - r.submit_ns);
  if (r.depth_at_submit != 0) depth_at_submit.Record(r.depth_at_submit);
}

void ThreadIoStats::AddTo(lsm::InternalShardStats* out) const {
  IoClassStats& c = out->io.of(IoClass::kUserRead);
  const uint64_t n = count.Get();
  const uint64_t failed = errors.Get();
  c.count += n;
  c.reads += n;
  c.errors += failed;
  c.read_bytes += read_bytes.Get();
  latency_ns.AddTo(&c.latency_ns);
  depth_at_submit.AddTo(&out->io.depth_at_submit);
  out->table_reads += n - std::min(n, failed);
  out->caller_sqpoll_reads += sqpoll.Get();
}

void ThreadShardStats::AddTo(lsm::InternalShardStats* out) const {
  AddOp(get, &out->op(OpKind::kGet));
  AddOp(multiget, &out->op(OpKind::kMultiGet));
  AddOp(iter_seek, &out->op(OpKind::kIterSeek));
  AddOp(iter_next, &out->op(OpKind::kIterNext));
  out->user_bytes_read += user_bytes_read.Get();
  out->gets += table_searches.Get();
  out->bloom_skips += bloom_skips.Get();
  out->bloom_false_positives += bloom_false_positives.Get();
  out->cache_hits += cache_hits.Get();
  out->cache_misses += cache_misses.Get();
  block_reads.AddTo(out);
}

ThreadStats::~ThreadStats() {
  for (auto& s : shards_) delete s.load(std::memory_order_acquire);
}

ThreadShardStats& ThreadStats::Create(uint32_t i) {
  auto* s = new ThreadShardStats;
  shards_[i].store(s, std::memory_order_release);
  return *s;
}

StatsRegistry::StatsRegistry(uint32_t shards)
    : id_(g_next_registry_id.fetch_add(1, std::memory_order_relaxed)), shards_(shards) {}

StatsRegistry::~StatsRegistry() = default;

ThreadStats& StatsRegistry::ForThisThread() {
  ThreadCache& c = tl_cache;
  for (const ThreadCache::Entry& e : c.entries) {
    if (e.id == id_) return *e.stats;
  }
  ThreadStats* t;
  {
    std::lock_guard<std::mutex> g(mu_);
    threads_.push_back(std::make_unique<ThreadStats>(shards_));
    t = threads_.back().get();
  }
  c.entries[c.next] = ThreadCache::Entry{id_, t};
  c.next = (c.next + 1) % ThreadCache::kEntries;
  return *t;
}

void StatsRegistry::AddTo(uint32_t i, lsm::InternalShardStats* out) const {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& t : threads_) {
    if (const ThreadShardStats* s = t->shard_if_any(i)) s->AddTo(out);
  }
}

}  // namespace ringdb::db
