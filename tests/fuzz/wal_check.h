// The WAL reader's contract (docs/wal.md "Reading a segment"), checked on any input.
// Shared by the WAL and MANIFEST targets: both files use the same framing.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "lsm/wal_format.h"
#include "ringdb/status.h"

namespace ringdb::fuzz {

struct WalWalk {
  std::vector<lsm::WalRecord> records;  // payloads view the segment
  Status status;
  lsm::WalTail tail;  // when status is OK
};

// Runs a WalReader over `seg` to the end, as recovery and ringdb-tool do, and checks on
// the way: records lie in order inside the segment with only zero padding between them,
// every header invariant the reader promises holds, re-encoding a record with
// EncodeRecord gives back its bytes exactly, the reader stays finished, the tail's
// fields agree with the records and the bytes, a failure is a Corruption naming the
// segment, and cutting the segment where the tail says leaves the same records.
WalWalk CheckWalWalk(uint64_t segment_no, std::string_view seg);

}  // namespace ringdb::fuzz
