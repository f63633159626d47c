// Stats: counters each shard keeps (cheap enough to be always on), gathered on each
// shard's own thread by DB::GetStats.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringdb {

struct ShardStats {
  uint32_t shard = 0;
  uint64_t writes = 0;        // write requests acknowledged
  uint64_t write_groups = 0;  // group commits (WAL writes)
  uint64_t wal_bytes = 0;
  uint64_t wal_syncs = 0;  // fdatasyncs of the WAL
  uint64_t flushes = 0;    // memtables written to L0 tables
  uint64_t flush_bytes = 0;
  uint64_t stall_ns = 0;     // time writes waited for flushes
  uint64_t gets = 0;         // point reads that had to search tables
  uint64_t table_reads = 0;  // data blocks read from disk
  uint64_t bloom_skips = 0;  // tables skipped thanks to the bloom filter
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t cache_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t immutable_memtables = 0;
  uint64_t l0_files = 0;
  uint64_t level_files[7] = {};  // table files per level
  uint64_t compactions = 0;
  uint64_t compaction_errors = 0;  // failed compactions (the store is left as it was)
  uint64_t compaction_read_bytes = 0;
  uint64_t compaction_write_bytes = 0;
};

struct Stats {
  std::string io_backend;
  std::vector<ShardStats> shards;
  ShardStats total;  // sums (shard = number of shards)
};

}  // namespace ringdb
