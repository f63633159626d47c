// Reading the files of a closed store with the lsm decoders (docs/format-overview.md):
// shard directory listing, CURRENT, MANIFEST replay, WAL segment scans and full SST
// checks. Shared by verify, stats and the dump-* commands. Everything works on bytes
// already read into memory and reports the first problem with its file offset.
//
// Thread ownership: the tool's single thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/dbformat.h"
#include "lsm/recovery_check.h"
#include "lsm/table_format.h"
#include "lsm/version_edit.h"
#include "lsm/wal_format.h"
#include "ringdb/status.h"

namespace ringdb::tools {

// The ringdb files of one shard directory, by kind.
struct ShardListing {
  bool has_current = false;
  std::set<uint64_t> wals, tables, manifests;
  std::vector<std::string> temps;
  std::vector<std::string> post_logs;      // POST-* (posted writes not yet in the WAL)
  std::map<uint64_t, uint64_t> wal_bytes;  // size of each WAL segment
};
Status ListShardDir(const std::string& dir, ShardListing* out);

// Reads and checks <shard>/CURRENT; *manifest_number is the MANIFEST it names.
Status ReadCurrent(const std::string& shard_dir, uint64_t* manifest_number);

// The MANIFEST replayed into a VersionState: the very code recovery runs
// (lsm/recovery_check.h), so verify and Open cannot disagree.
using lsm::ManifestReplay;
// Replays MANIFEST-<number> of shard `shard` held in `bytes`. On Corruption,
// *bad_offset is where.
Status ReplayManifest(uint32_t shard, uint64_t number, std::string_view bytes,
                      const std::string& path, ManifestReplay* out, uint64_t* bad_offset);

// A WAL segment walked record by record.
struct WalScan {
  uint64_t records = 0;
  uint64_t entries = 0;
  lsm::SequenceNumber first_seq = 0;  // of the first record (records > 0)
  lsm::SequenceNumber last_seq = 0;   // of the last entry (records > 0)
  lsm::SequenceNumber max_seq = 0;    // the highest sequence in any record
  lsm::WalTail tail;
};
// Walks segment `number` held in `bytes`: every record must be a kBatch whose payload
// is a valid write-batch rep. On Corruption, *bad_offset is where.
Status ScanWal(uint64_t number, std::string_view bytes, const std::string& path, WalScan* out,
               uint64_t* bad_offset);

// A whole SST checked block by block.
struct TableCheck {
  lsm::Footer footer;
  lsm::TableProperties props;
  uint64_t blocks = 0;  // data + meta blocks verified
  uint64_t entries = 0;
};
// Verifies the footer, every block's checksum and kind, the index, the order of the
// keys, that the filter admits every key, the zero padding, and that the properties
// match the data. When `meta` is given,
// also that every key lies inside the range the MANIFEST recorded. On failure,
// *bad_offset is the offset of the first bad block (or footer / padding byte).
Status CheckTable(std::string_view file, const lsm::FileMetaData* meta, TableCheck* out,
                  uint64_t* bad_offset);

// Reads only a table's footer and meta region (two reads) and returns its properties.
Status ReadTableProperties(const std::string& path, lsm::TableProperties* props);

// "put"/"del" for an internal key's type.
const char* TypeName(lsm::ValueType t);

}  // namespace ringdb::tools
