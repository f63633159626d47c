#include "sim_params.h"

#include <cstdio>

namespace ringdb::sim {
namespace {
const char* DurabilityName(Durability d) {
  return d == Durability::kSync ? "sync" : d == Durability::kPeriodic ? "periodic" : "none";
}

}  // namespace

Params Draw(Random& r) {
  Params p;
  p.shards = static_cast<uint32_t>(r.Range(1, 4));
  p.durability = static_cast<Durability>(r.Uniform(3));
  p.post_writes = r.Chance(0.7);
  p.memtable_bytes = r.Range(64, 256) << 10;
  p.wal_preallocate_bytes = r.Chance(0.5) ? 0 : r.Range(16, 512) << 10;
  p.block_cache_bytes = r.Range(16, 1024) << 10;
  p.block_bytes = size_t{512} << r.Uniform(4);
  p.poll_batch = static_cast<uint32_t>(r.Range(0, 8));
  p.keys = static_cast<uint32_t>(r.Range(16, 400));
  p.epochs = static_cast<uint32_t>(r.Range(2, 6));
  p.bursts = static_cast<uint32_t>(r.Range(10, 60));
  p.value_max = static_cast<uint32_t>(r.Range(8, 1200));
  p.periodic_sync_ms = static_cast<uint32_t>(r.Range(5, 200));
  p.faults = r.Chance(0.5);
  if (p.faults) {
    p.write_err_p = r.Chance(0.5) ? 0.0005 * static_cast<double>(r.Range(0, 4)) : 0;
    p.sync_err_p = r.Chance(0.5) ? 0.001 * static_cast<double>(r.Range(0, 4)) : 0;
    p.nospc_p = r.Chance(0.3) ? 0.0005 : 0;
    p.read_err_p = r.Chance(0.5) ? 0.001 * static_cast<double>(r.Range(0, 4)) : 0;
    p.flip_p = r.Chance(0.5) ? 0.001 * static_cast<double>(r.Range(0, 4)) : 0;
    p.misdirect_p = r.Chance(0.3) ? 0.001 : 0;
  }
  p.damage = r.Chance(0.2);
  // Page-aligned tables for half the seeds, derived from what was drawn rather than drawn
  // itself: every later draw (and so every recorded seed's schedule) stays as it was.
  p.block_align = (p.keys + p.value_max) % 2 == 0;
  return p;
}

std::string Summarize(const Params& p) {
  char buf[352];
  std::snprintf(buf, sizeof(buf),
                "shards=%u durability=%s post=%d memtable=%zuK block=%zu%s keys=%u epochs=%u "
                "bursts=%u faults=%d(w%.4f s%.4f n%.4f r%.4f f%.4f m%.4f) damage=%d",
                p.shards, DurabilityName(p.durability), p.post_writes ? 1 : 0,
                p.memtable_bytes >> 10, p.block_bytes, p.block_align ? "-aligned" : "", p.keys,
                p.epochs, p.bursts, p.faults ? 1 : 0, p.write_err_p, p.sync_err_p, p.nospc_p,
                p.read_err_p, p.flip_p, p.misdirect_p, p.damage ? 1 : 0);
  return buf;
}

std::string KeyName(uint32_t k) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%05u", k);
  return buf;
}

}  // namespace ringdb::sim
