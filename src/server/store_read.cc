// The engine adapter's reads (see store.h): point reads on the owner and from any
// shard (lock-free through the owner's published view; cache misses read by the
// owner), and the scans of SCAN, KEYS, DBSIZE and FLUSHALL. Deadlines are the
// engine's: it hides expired values and reports the others' deadlines.
#include <algorithm>

#include "runtime/rcu.h"
#include "runtime/reactor.h"
#include "server/store.h"
#include "server/store_internal.h"
#include "util/assert.h"
#include "util/clock.h"

namespace ringdb::server {
namespace {

// Stands in for a reader on the first pass over keys of another shard: it reads
// nothing and remembers that a block was missing, so that pass never leaves this
// thread; the keys it stopped are looked up again together (OwnerReader).
class ProbeReader final : public lsm::BlockReader {
 public:
  void Read(lsm::BlockRead* reads, size_t n) override {
    for (size_t i = 0; i < n; i++) reads[i].status = Status::Busy("block not cached");
    missed_ = true;
  }
  // True (and reset) if the last lookup stopped at a missing block.
  bool TakeMiss() { return std::exchange(missed_, false); }

 private:
  bool missed_ = false;
};

// Reads blocks of `owner` that missed its cache: the owner reads them (one
// submission) and fills its cache on its own thread (it is the cache's only
// writer), while the calling fiber waits. Never called inside a read-side section
// (lsm::Shard::GetWith and MultiGetWith call readers outside theirs).
class OwnerReader final : public lsm::BlockReader {
 public:
  OwnerReader(Store* store, lsm::Shard* owner_shard, uint32_t owner)
      : store_(store), shard_(owner_shard), owner_(owner) {}

  void Read(lsm::BlockRead* reads, size_t n) override {
    RINGDB_ASSERT_MSG(!rt::rcu::InReadSection(), "a fiber would suspend in a read-side section");
    struct Arg {
      lsm::Shard* shard;
      lsm::BlockRead* reads;
      size_t n;
    } arg{shard_, reads, n};
    ShardCall call;
    call.shard = owner_;
    call.arg = &arg;
    call.fn = [](void* p) {
      auto* a = static_cast<Arg*>(p);
      a->shard->ReadBlocks(a->reads, a->n);
    };
    store_->RunAll(&call, 1);  // inline when the owner is this shard
  }

 private:
  Store* const store_;
  lsm::Shard* const shard_;
  const uint32_t owner_;
};

// An engine result into a KeyRead (the engine already hid expired values).
void Settle(const Status& s, uint64_t expire_at_ms, KeyRead* r) {
  r->expire_at_ms = s.ok() ? expire_at_ms : 0;
  r->status = s;
}

}  // namespace

// This thread's stats block for reads of shard i (see db/thread_stats.h).
static db::ThreadShardStats& ReadStats(DB* db, Store::PerShard* self, uint32_t i) {
  db::ThreadShardStats*& s = self->read_stats[i];
  if (s == nullptr) s = &Impl(db)->thread_stats().ForThisThread().shard(i);
  return *s;
}

Status Store::Get(std::string_view key, std::string* value, uint64_t* expire_at_ms, bool* expired) {
  if (key.size() > kMaxKeyBytes) return db::CheckKeyValue(key, {});
  const uint32_t sh = rt::ShardId();
  PerShard* ps = per_shard_[sh].get();
  const uint64_t start = util::NowNanos();
  lsm::ReadCounters rc;
  // The server posts no writes, so what is published is all there is to see.
  Status s = ps->shard->GetWith(key, value, lsm::Shard::kLatest, /*fill_cache=*/true,
                                ps->shard->fiber_reader(), &rc, expire_at_ms);
  db::ThreadShardStats& ts = ReadStats(db_.get(), ps, sh);
  ts.AddReads(rc);
  if (s.ok()) ts.user_bytes_read.Add(key.size() + value->size());
  ts.get.Record(util::NowNanos() - start, s, 1);
  if (expired != nullptr) *expired = rc.expired > 0;
  return s;
}

bool Store::ReadPoint(uint32_t owner, uint64_t* seq) const {
  const PerShard& ps = *per_shard_[owner];
  const lsm::SequenceNumber published = ps.shard->published_sequence();
  if (opt_.durability == Durability::kSync) {
    *seq = published;  // applied only once durable
    return true;
  }
  // Loaded after `published`: if it has caught up, everything published then is
  // acknowledged.
  const lsm::SequenceNumber acked = ps.acked_seq.load(std::memory_order_acquire);
  if (published > acked) return false;
  *seq = published;
  return true;
}

bool Store::ReadInPlace(uint32_t owner, KeyRead* reads, size_t n) {
  lsm::SequenceNumber seq = 0;
  if (!ReadPoint(owner, &seq)) return false;
  PerShard* self = per_shard_[rt::ShardId()].get();
  lsm::Shard* shard = per_shard_[owner]->shard;
  const uint64_t start = util::NowNanos();
  db::ThreadShardStats& ts = ReadStats(db_.get(), self, owner);
  lsm::ReadCounters rc;
  ProbeReader probe;
  std::vector<size_t> missed;  // allocated only when a block is missing
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; i++) {
    KeyRead& r = reads[i];
    uint64_t expire_at_ms = 0;
    Status s =
        r.key.size() > kMaxKeyBytes
            ? db::CheckKeyValue(r.key, {})
            : shard->GetWith(r.key, r.value, seq, /*fill_cache=*/true, &probe, &rc, &expire_at_ms);
    if (probe.TakeMiss()) {
      missed.push_back(i);
      continue;
    }
    if (s.ok()) bytes += r.key.size() + r.value->size();
    ts.get.Record(util::NowNanos() - start, s, 1);
    Settle(s, expire_at_ms, &r);
  }
  if (!missed.empty()) {
    // Every key stopped by a missing block again, at once: one hop to the owner per
    // round of reads (MultiGetWith batches each round's blocks).
    const size_t m = missed.size();
    std::vector<std::string_view> keys(m);
    std::vector<std::string> values(m);
    std::vector<Status> statuses(m);
    std::vector<uint64_t> expire_ats(m);
    for (size_t j = 0; j < m; j++) keys[j] = reads[missed[j]].key;
    OwnerReader reader(this, shard, owner);
    shard->MultiGetWith(keys.data(), m, values.data(), statuses.data(), seq, /*fill_cache=*/true,
                        &reader, &rc, expire_ats.data());
    for (size_t j = 0; j < m; j++) {
      KeyRead& r = reads[missed[j]];
      r.value->swap(values[j]);
      if (statuses[j].ok()) bytes += r.key.size() + r.value->size();
      ts.get.Record(util::NowNanos() - start, statuses[j], 1);
      Settle(statuses[j], expire_ats[j], &r);
    }
  }
  ts.AddReads(rc);
  ts.user_bytes_read.Add(bytes);
  // A value found past its deadline is the owner's to delete and count (lazy expiry,
  // Keyspace::Lookup): hand the whole list to the owner. Rare: once per expired key,
  // after which the owner's tombstone answers in place.
  return rc.expired == 0;
}

// ---------------------------------------------------------------- scans

namespace {

// An iterator over the current shard's keys as of what it acknowledged, in a fiber.
std::unique_ptr<lsm::UserIterator> NewLocalIterator(lsm::Shard* shard, lsm::SequenceNumber seq,
                                                    std::optional<std::string> lower) {
  lsm::ReadViewRef view;
  {
    rt::rcu::ReadLock l;
    view = lsm::ReadViewRef(shard->view());  // a reference: the scan suspends
  }
  return shard->NewIterator(std::move(view), seq, std::move(lower), std::nullopt,
                            /*fill_cache=*/false, shard->fiber_reader());
}

}  // namespace

Status Store::ScanLocal(std::string_view after, bool first, size_t max,
                        std::vector<std::string>* keys, bool* end) {
  keys->clear();
  *end = false;
  const uint32_t sh = rt::ShardId();
  lsm::SequenceNumber seq = 0;
  if (!ReadPoint(sh, &seq)) seq = per_shard_[sh]->acked_seq.load(std::memory_order_relaxed);
  std::optional<std::string> lower;
  if (!first) lower = std::string(after);
  std::unique_ptr<lsm::UserIterator> it = NewLocalIterator(per_shard_[sh]->shard, seq, lower);
  it->SeekToFirst();
  // The iterator skips values expired at its creation.
  for (; it->Valid() && keys->size() < max; it->Next()) {
    if (!first && it->key() == after) continue;
    keys->emplace_back(it->key());
    rt::MaybeYield();
  }
  if (!it->Valid()) *end = it->status().ok();
  return it->status();
}

Status Store::CountLocal(uint64_t* keys, uint64_t* with_deadline, uint64_t* ttl_sum_ms) {
  *keys = *with_deadline = *ttl_sum_ms = 0;
  const uint64_t now = NowMs();
  const uint32_t sh = rt::ShardId();
  lsm::SequenceNumber seq = 0;
  if (!ReadPoint(sh, &seq)) seq = per_shard_[sh]->acked_seq.load(std::memory_order_relaxed);
  std::unique_ptr<lsm::UserIterator> it =
      NewLocalIterator(per_shard_[sh]->shard, seq, std::nullopt);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {  // expired values are skipped
    if (it->expire_at() != 0) {
      ++*with_deadline;
      *ttl_sum_ms += it->expire_at() > now ? it->expire_at() - now : 0;
    }
    ++*keys;
    rt::MaybeYield();
  }
  return it->status();
}

}  // namespace ringdb::server
