// WriteRequest: one write handed to a shard (a write-batch rep of that shard's keys).
//
// Ownership: the submitter owns the request until done() runs on the shard thread;
// done() may free it. A waited request completes when it is acknowledged or failed
// (status set). A posted request (none/periodic durability, see docs/engine.md
// "Posted writes") was acknowledged to its caller when it was queued, with sequence
// numbers its writer took (Shard::AllocateSequences) and its bytes in the writer's
// post log; the shard applies it to the memtable at once and calls done() once its WAL
// write completed (status OK: the post log may forget it) or failed (not OK: the post
// log must keep it for recovery).
#pragma once

#include <cstdint>
#include <string_view>

#include "lsm/dbformat.h"
#include "ringdb/stats.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

struct WriteRequest {
  std::string_view rep;  // write-batch rep (lsm/write_batch_rep.h) of this shard's part
  bool sync = false;     // fdatasync before completing, whatever the durability mode
  bool posted = false;   // acknowledged at queueing; see above
  OpKind kind = OpKind::kWriteBatch;  // for the per-op stats
  SequenceNumber first_seq = 0;       // posted: set by the writer; else by the shard
  uint64_t start_ns = 0;              // set by Shard::SubmitWrite (round_ns if set)
  // Synced rounds (lsm/sync_round.h): when the request arrived (0: the shard stamps and
  // counts it as it queues it; else its sender did, before pushing it).
  uint64_t round_ns = 0;
  // done() only wakes a thread parked on the request (a blocking write): in kSync it may
  // run before the shard inserts the batch, since readers that begin after it wait for
  // the insert (docs/engine.md "Synced rounds"). Else done() runs after the insert.
  bool early_ack = false;
  Status status;  // set before done()
  void (*done)(WriteRequest*) = nullptr;
  void* arg = nullptr;
  WriteRequest* next = nullptr;  // intrusive queue link (shard-private)
};

}  // namespace ringdb::lsm
