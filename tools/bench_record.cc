#include "bench_record.h"

namespace ringdb_bench {

const char* KindName(int kind) {
  switch (kind) {
    case kRead:
      return "reads";
    case kWrite:
      return "writes";
    case kInsert:
      return "inserts";
    case kScan:
      return "scans";
    case kRmw:
      return "rmw";
    case kMultiGet:
      return "multiget";
  }
  return "?";
}

void Counts::Add(const Slot& s) {
  if (const Histogram* h = s.latency.Peek()) latency.Merge(*h);
  ops += s.ops.load(std::memory_order_relaxed);
  found += s.found.load(std::memory_order_relaxed);
  bytes += s.bytes.load(std::memory_order_relaxed);
  entries += s.entries.load(std::memory_order_relaxed);
}

void Counts::Add(const Counts& c) {
  if (c.latency.count()) latency.Merge(c.latency);
  ops += c.ops;
  found += c.found;
  bytes += c.bytes;
  entries += c.entries;
}

Agg Aggregate(const std::vector<const Recorder*>& recs, uint32_t shards) {
  Agg a;
  a.shard.resize(shards + 1);
  for (const Recorder* rec : recs) {
    for (int k = 0; k < kKinds; k++) {
      for (uint32_t s = 0; s <= shards; s++) {
        const Slot& sl = rec->at(k, s);
        if (sl.latency.Peek() == nullptr && sl.ops.load(std::memory_order_relaxed) == 0) continue;
        Counts c;
        c.Add(sl);
        a.kind[k].Add(c);
        a.shard[s].Add(c);
        a.all.Add(c);
      }
    }
  }
  return a;
}

}  // namespace ringdb_bench
