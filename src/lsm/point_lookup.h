// Point lookups over a ReadView, on any thread (docs/engine.md "Reads on any thread").
//
// A lookup is a small state machine so that the same code serves every caller:
//   1. SearchMemtables: the mutable memtable, then the immutable ones, newest first.
//   2. SearchTables: the candidate tables of the version (L0 files whose key range
//      holds the key, newest first; then at most one file per deeper level), each
//      through its bloom filter and index (in memory), then its data block from the
//      block cache. When a block is not cached it stops with kNeedBlock, the cursor on
//      that candidate and the block to read in `miss`; the caller reads it (a fiber on
//      the shard, the shard on behalf of an application thread, or the application
//      thread itself) and calls SearchTables again with the block.
//
// Thread ownership: a PointLookup belongs to one caller. SearchMemtables/SearchTables
// only read shared state. REQUIRES for both: the view (or the version) stays alive for
// the call: inside an rcu::ReadLock that found it, or holding a reference; and the
// block cache may only be consulted inside a read-side section.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/block.h"
#include "lsm/block_cache.h"
#include "lsm/dbformat.h"
#include "lsm/expiry.h"
#include "lsm/version.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

// What a read did, for the stats (ringdb/stats.h); added up by whoever owns the stats.
struct ReadCounters {
  uint64_t table_searches = 0;  // lookups that went past the memtables
  uint64_t bloom_skips = 0;
  uint64_t bloom_false_positives = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t table_reads = 0;  // blocks read from disk
  uint64_t expired = 0;      // lookups whose newest version was a value past its deadline
  void Add(const ReadCounters& o) {
    table_searches += o.table_searches;
    bloom_skips += o.bloom_skips;
    bloom_false_positives += o.bloom_false_positives;
    cache_hits += o.cache_hits;
    cache_misses += o.cache_misses;
    table_reads += o.table_reads;
    expired += o.expired;
  }
};

// The next candidate table of a lookup.
struct TableCursor {
  int level = 0;
  size_t index = 0;  // L0: next file to examine; deeper: 0 = not searched, i + 1 = file i
};

struct PointLookup {
  PointLookup(std::string_view user_key, SequenceNumber seq) : lk(user_key, seq) {}
  PointLookup(const PointLookup&) = delete;
  PointLookup& operator=(const PointLookup&) = delete;

  LookupKey lk;
  uint64_t bloom_hash = 0;  // Hash64(user key, kBloomHashSeed), once tables are searched
  bool hashed = false;
  TableCursor cursor;
  // When done: kFound (value set, with its deadline or 0), kDeleted / kAbsent
  // (NotFound), or an error in status.
  LookupResult result = LookupResult::kAbsent;
  uint64_t expire_at = 0;
  Status status;
  // After kNeedBlock: the table and block to read (the table lives as long as the view).
  const TableHandle* miss_table = nullptr;
  BlockHandle miss_block;

  // When done: OK, NotFound (absent, deleted, or its deadline has passed on `clock`;
  // *value cleared) or the error. The clock is read only for a value with a deadline.
  Status Finish(std::string* value, const ExpiryClock& clock) const {
    if (!status.ok()) return status;
    if (result == LookupResult::kFound && !Expired(expire_at, expire_at ? clock.NowMs() : 0)) {
      return Status::OK();
    }
    value->clear();
    return Status::NotFound();
  }
  // After Finish returned s: true when the key's newest version is a value whose
  // deadline had passed (it read as absent).
  bool FoundExpired(const Status& s) const {
    return status.ok() && result == LookupResult::kFound && s.IsNotFound();
  }
};

// True when the memtables settle the lookup (result kFound or kDeleted).
bool SearchMemtables(const ReadView& view, PointLookup* p, std::string* value);

enum class LookupStep { kDone, kNeedBlock };
// Continues with the tables of `v` from p->cursor. `block`: the block of the candidate
// at the cursor when resuming after kNeedBlock, else null. `cache`: null to skip it.
LookupStep SearchTables(const Version& v, const BlockCache* cache, const Block* block,
                        PointLookup* p, std::string* value, ReadCounters* rc);

// Many point lookups in one view, driven in rounds so that every block still needed is
// read in one batch: Start() answers what the memtables and the cache can; while
// reads() is not empty, the caller fills each read's block or status and calls
// Resume(). Thread ownership: one caller; see the header comment for what must stay
// alive (Start pins the version when blocks are needed, so Resume needs no section of
// its own beyond the one it takes).
class BatchLookup {
 public:
  // Results go to values[i] / statuses[i] (OK, NotFound or an error) and, when
  // expire_ats is not null, expire_ats[i] (the deadline of a found value, else 0);
  // deadlines are judged on `clock` (which must outlive the lookup).
  BatchLookup(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
              SequenceNumber seq, bool fill_cache, const ExpiryClock* clock, ReadCounters* rc,
              uint64_t* expire_ats = nullptr);
  BatchLookup(const BatchLookup&) = delete;
  BatchLookup& operator=(const BatchLookup&) = delete;

  // REQUIRES: inside an rcu::ReadLock that found `view`; `cache` is the shard's.
  void Start(const ReadView& view, const BlockCache* cache);
  // The blocks the unsettled lookups need next; empty when every key is settled.
  std::vector<BlockRead>& reads() { return reads_; }
  bool done() const { return reads_.empty(); }
  // Takes a read-side section itself.
  void Resume(const BlockCache* cache);

 private:
  void Collect(const std::vector<size_t>& pending);
  // Settles key i from its finished lookup.
  void Finish(size_t i);

  const std::string_view* keys_;
  size_t n_;
  std::string* values_;
  Status* statuses_;
  uint64_t* expire_ats_;  // may be null
  const SequenceNumber seq_;
  const bool fill_cache_;
  const ExpiryClock* clock_;
  ReadCounters* rc_;
  std::vector<std::unique_ptr<PointLookup>> lookups_;
  std::vector<size_t> pending_;  // parallel to reads_
  std::vector<BlockRead> reads_;
  VersionPtr pinned_;
};

}  // namespace ringdb::lsm
