#include "lsm/point_lookup.h"

#include "lsm/bloom.h"
#include "runtime/rcu.h"
#include "util/assert.h"
#include "util/hash.h"

namespace ringdb::lsm {
namespace {

// The candidate at the cursor (moving the cursor to it), or null when none is left.
const VersionFile* Candidate(const Version& v, std::string_view ukey, TableCursor* c) {
  while (c->level < kNumLevels) {
    // The bounds come from the version's own array (Version::Seal), not the files.
    const std::vector<VersionFile>& files = v.files(c->level);
    const int level = c->level;
    if (level == 0) {
      for (; c->index < files.size(); c->index++) {
        if (v.smallest_key(0, c->index) <= ukey && ukey <= v.largest_key(0, c->index)) {
          return &files[c->index];
        }
      }
    } else if (c->index == 0) {
      // Sorted and not overlapping: the first file whose largest key is >= ukey.
      size_t lo = 0, hi = files.size();
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (v.largest_key(level, mid) < ukey) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo < files.size() && v.smallest_key(level, lo) <= ukey) {
        c->index = lo + 1;
        return &files[lo];
      }
    } else {
      return &files[c->index - 1];
    }
    c->level++;
    c->index = 0;
  }
  return nullptr;
}

void Advance(TableCursor* c) {
  if (c->level == 0) {
    c->index++;
  } else {
    c->level++;
    c->index = 0;
  }
}

bool Settle(LookupResult r, PointLookup* p) {
  if (r == LookupResult::kAbsent) return false;
  p->result = r;
  return true;
}

}  // namespace

bool SearchMemtables(const ReadView& view, PointLookup* p, std::string* value) {
  if (Settle(view.mem->Get(p->lk, value, &p->expire_at), p)) return true;
  for (const auto& m : view.imm) {
    if (Settle(m->Get(p->lk, value, &p->expire_at), p)) return true;
  }
  return false;
}

LookupStep SearchTables(const Version& v, const BlockCache* cache, const Block* block,
                        PointLookup* p, std::string* value, ReadCounters* rc) {
  const std::string_view ukey = p->lk.user_key();
  if (block == nullptr && p->cursor.level == 0 && p->cursor.index == 0) rc->table_searches++;
  for (const VersionFile* f; (f = Candidate(v, ukey, &p->cursor)) != nullptr; Advance(&p->cursor)) {
    const TableHandle& t = *f->table;
    if (!t.status.ok()) {
      p->status = t.status;
      return LookupStep::kDone;
    }
    const Block* b = block;
    block = nullptr;  // only for the first candidate
    if (b == nullptr) {
      BlockHandle h;
      bool may_exist = false;
      if (!p->hashed) {
        p->bloom_hash = util::Hash64(ukey, kBloomHashSeed);
        p->hashed = true;
      }
      Status s = t.reader->FindDataBlock(p->lk, p->bloom_hash, &h, &may_exist);
      if (!s.ok()) {
        p->status = Status::Corruption(t.path + ": " + s.message());
        return LookupStep::kDone;
      }
      if (!may_exist) {
        rc->bloom_skips++;
        continue;
      }
      if (cache != nullptr) {
        if (const BlockPtr* hit = cache->Lookup(t.number, h.offset)) b = hit->get();
      }
      if (b == nullptr) {
        rc->cache_misses++;
        p->miss_table = &t;
        p->miss_block = h;
        return LookupStep::kNeedBlock;
      }
      rc->cache_hits++;
    }
    LookupResult r = LookupResult::kAbsent;
    Status s = TableReader::SearchDataBlock(*b, p->lk, &r, value, &p->expire_at);
    if (!s.ok()) {
      p->status = Status::Corruption(t.path + ": " + s.message());
      return LookupStep::kDone;
    }
    if (Settle(r, p)) return LookupStep::kDone;
    // The filter let through a key the table does not hold.
    if (t.reader->has_filter()) rc->bloom_false_positives++;
  }
  p->result = LookupResult::kAbsent;
  return LookupStep::kDone;
}

BatchLookup::BatchLookup(const std::string_view* keys, size_t n, std::string* values,
                         Status* statuses, SequenceNumber seq, bool fill_cache,
                         const ExpiryClock* clock, ReadCounters* rc, uint64_t* expire_ats)
    : keys_(keys),
      n_(n),
      values_(values),
      statuses_(statuses),
      expire_ats_(expire_ats),
      seq_(seq),
      fill_cache_(fill_cache),
      clock_(clock),
      rc_(rc),
      lookups_(n) {}

void BatchLookup::Collect(const std::vector<size_t>& pending) {
  pending_ = pending;
  reads_.assign(pending_.size(), BlockRead());
  for (size_t j = 0; j < pending_.size(); j++) {
    const PointLookup& p = *lookups_[pending_[j]];
    reads_[j].table = p.miss_table;
    reads_[j].handle = p.miss_block;
    reads_[j].fill_cache = fill_cache_;
    reads_[j].may_borrow = true;  // Resume is done with the blocks before the next round
  }
}

void BatchLookup::Finish(size_t i) {
  const PointLookup& p = *lookups_[i];
  statuses_[i] = p.Finish(&values_[i], *clock_);
  if (rc_ != nullptr && p.FoundExpired(statuses_[i])) rc_->expired++;
  if (expire_ats_ != nullptr) expire_ats_[i] = statuses_[i].ok() ? p.expire_at : 0;
}

void BatchLookup::Start(const ReadView& view, const BlockCache* cache) {
  std::vector<size_t> pending;
  for (size_t i = 0; i < n_; i++) {
    lookups_[i] = std::make_unique<PointLookup>(keys_[i], seq_);
    PointLookup& p = *lookups_[i];
    if (SearchMemtables(view, &p, &values_[i]) ||
        SearchTables(*view.version, cache, nullptr, &p, &values_[i], rc_) == LookupStep::kDone) {
      Finish(i);
    } else {
      pending.push_back(i);
    }
  }
  // The reads happen outside this section (they may suspend or block): pin the tables.
  if (!pending.empty()) pinned_ = view.version;
  Collect(pending);
}

void BatchLookup::Resume(const BlockCache* cache) {
  std::vector<size_t> still;
  rt::rcu::ReadLock l;
  for (size_t j = 0; j < pending_.size(); j++) {
    const size_t i = pending_[j];
    PointLookup& p = *lookups_[i];
    BlockRead& r = reads_[j];
    if (!r.status.ok()) {
      statuses_[i] = r.status;
      if (expire_ats_ != nullptr) expire_ats_[i] = 0;
      continue;
    }
    if (SearchTables(*pinned_, cache, r.block.get(), &p, &values_[i], rc_) == LookupStep::kDone) {
      Finish(i);
    } else {
      still.push_back(i);
    }
  }
  Collect(still);
  if (still.empty()) pinned_.reset();
}

}  // namespace ringdb::lsm
