// Reading a live WAL segment for recovery so that a bad read is not taken for bad data
// (simulator finding F6; docs/wal.md "Reading a segment twice"). A flipped bit or a
// misdirected read (the data of a neighbouring page) makes intact records look like a
// torn tail or like corruption; the durable records after it would be dropped, or the
// store refused. So before the walk's verdict is taken, the region it depends on is
// read again, and the verdict is made on bytes that read the same twice.
//
// Shard::ReplayWal and `ringdb-tool verify` both call ReadWalSegment, so they decide on
// the same bytes the same way.
//
// Thread ownership: the caller's thread; `read` runs on it (a fiber may suspend in it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/recovery_check.h"
#include "lsm/wal_format.h"
#include "ringdb/status.h"
#include "util/huge_buffer.h"

namespace ringdb::lsm {

// Reads exactly `len` bytes of the segment at `offset` into `dst`; a file that ends
// earlier is an error.
using WalReadFn = std::function<Status(uint64_t offset, char* dst, uint64_t len)>;

// How many times the region a verdict depends on is read again, at most, before the
// reads are declared unreliable (IOError). Two reads that agree end it earlier.
constexpr int kWalRereads = 3;

// What a live segment held, walked as recovery walks it.
struct WalSegmentRead {
  util::HugeBuffer bytes;          // item.read_bytes of the segment: the data decided on
  std::vector<WalRecord> records;  // valid records in order; payloads point into `bytes`
  WalWalk walk;                    // tail (when the reader stopped cleanly), records, max_seq
  // Corruption found in bytes that read the same twice: the reader's proof (a later
  // record says the break had been synced, a checksummed record breaks an invariant) or
  // CheckWalWalk's (the break lies inside what the MANIFEST records synced). Else OK.
  Status verdict;
  uint64_t bad_offset = 0;  // where the verdict points
  uint32_t rereads = 0;     // reads of part of the segment after the first
};

// Reads item.read_bytes of segment item.number through `read` and walks them. A clean
// end is confirmed by reading the 4 KiB page where the log ends again; a torn tail or a
// Corruption verdict by reading everything from the page of the last valid record's end
// to item.read_bytes again, up to kWalRereads times, until two reads of it agree (the
// walk is then made on those bytes). `shard`, `manifest_path`, `wal_path` and
// `torn_before` are CheckWalWalk's. Returns the read's error, or IOError when no two
// reads agreed; the verdict on the bytes is out->verdict.
Status ReadWalSegment(const WalReplayItem& item, const WalReadFn& read, std::string_view shard,
                      const std::string& manifest_path, const std::string& wal_path,
                      const std::string& torn_before, WalSegmentRead* out);

}  // namespace ringdb::lsm
