// WriteRequest: one write handed to a shard (a write-batch rep of that shard's keys).
//
// Ownership: the submitter owns the request until done() runs on the shard thread;
// done() may free it. A waited request completes when it is acknowledged or failed
// (status set). A posted request (none/periodic durability, see docs/engine.md
// "Posted writes") was acknowledged to its caller when it was queued: the shard calls
// done() as soon as the batch is in the memtable and its WAL bytes are encoded, so the
// submitter may reuse the bytes; its status is then OK (a later failure of the WAL
// write turns the shard read-only and is reported to later writes).
#pragma once

#include <cstdint>
#include <string_view>

#include "ringdb/stats.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

struct WriteRequest {
  std::string_view rep;  // write-batch rep (lsm/write_batch_rep.h) of this shard's part
  bool sync = false;     // fdatasync before completing, whatever the durability mode
  bool posted = false;   // acknowledged at queueing; see above
  OpKind kind = OpKind::kWriteBatch;  // for the per-op stats
  uint64_t post_ticket = 0;           // posted: the shard's ticket (Shard::TakePostTicket)
  uint64_t start_ns = 0;              // set by Shard::SubmitWrite
  Status status;                      // set before done()
  void (*done)(WriteRequest*) = nullptr;
  void* arg = nullptr;
  WriteRequest* next = nullptr;  // intrusive queue link (shard-private)
};

}  // namespace ringdb::lsm
