// Block reads done by the application thread that missed the cache (docs/engine.md
// "Reads on any thread").
//
// A Get, MultiGet or iterator on an application thread searches the owning shard's
// published view in place; a data block missing from the shard's cache must be read
// from disk. ThreadBlockReader does that in one of two ways (Options::caller_block_reads):
//  - on the calling thread (default): every block in one submission of the thread's
//    own I/O backend (the DB's kind, io_uring or libaio, wrapped like the shards' in
//    tests so injected faults reach it; created on a thread's first miss and kept for
//    the last two DBs the thread read from), into the thread's read buffer (a fixed buffer
//    of its ring), submitted and waited for in one system call. The thread verifies what it
//    read and copies each block out at its size. The thread counts the reads in its own
//    stats block for the shard (thread_stats.h), which GetStats adds into the shard's I/O
//    statistics. A block the cache admits (BlockCache::Admit) goes to the shard in a
//    message the caller does not wait for (the cache has one writer, the shard); other
//    reads send nothing. While the DB records an I/O trace (Options::io_trace) every read
//    goes to the shard in such a message instead, and the shard counts and traces it.
//    The caller never queues behind the shard's other work: under a steady writer that
//    wait was most of a miss's latency.
//  - handed to the shard: one message with every block, issued by the shard in one
//    submission and cached there; the caller waits for it (spin, then park).
//
// Many threads reading at once (Options::caller_read_sqpoll): a call's reads go to a
// second ring of the thread's, attached to the DB's kernel submission thread
// (io::SqpollThread), which issues them; the thread only sleeps until they complete.
//
// Thread ownership: a ThreadBlockReader belongs to one call (or iterator) on one thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "io/io_backend.h"
#include "lsm/shard.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"

namespace ringdb::db {

class StatsRegistry;

// What a thread needs to make its own backend for one DB.
struct CallerIoConfig {
  uint64_t db_id = 0;  // unique per DB instance in the process
  io::BackendOptions backend;
  rt::BackendWrapFn wrap;  // tests: the fault wrapper; else empty
  // Options::caller_read_sqpoll: the DB's submission thread (io::SqpollThread; -1:
  // none), and from how many calls reading at once (this one included) a call's reads
  // go through it, on a second ring of the thread's attached to it (1: always).
  int sqpoll_fd = -1;
  uint32_t sqpoll_from = 1;
  // The DB's count of calls reading now; null where nothing needs it (no submission
  // thread, or kAlways).
  std::atomic<uint32_t>* in_flight = nullptr;
  // Where the thread counts its reads; null, or an I/O trace running: every read goes
  // to its shard, which counts (and traces) it.
  StatsRegistry* stats = nullptr;
  bool reads_to_shard = false;
};

// One block an application thread reads for shard `shard`.
struct CallerRead {
  uint32_t shard = 0;
  lsm::Shard* owner = nullptr;
  lsm::BlockRead* read = nullptr;
};

// Reads every block on the calling thread, all in flight at once, verifies each, counts
// it and hands the blocks the cache admits to their shards (BlockReadDoneMsg, not waited
// for). Fills read->block or read->status.
// False (nothing read) when this thread cannot have a backend: the caller hands the
// reads to the shards instead.
bool ReadOnCaller(rt::Runtime* rt, const CallerIoConfig& io, const CallerRead* reads, size_t n);

// Hands the blocks to the shard and waits (the other way; see the header comment).
void ReadOnShard(rt::Runtime* rt, lsm::Shard* shard, uint32_t index, lsm::BlockRead* reads,
                 size_t n, uint64_t spin_ns);

class ThreadBlockReader final : public lsm::BlockReader {
 public:
  // io: null hands every miss to the shard.
  ThreadBlockReader(rt::Runtime* rt, lsm::Shard* shard, uint32_t index, uint64_t spin_ns,
                    const CallerIoConfig* io)
      : rt_(rt), shard_(shard), index_(index), spin_ns_(spin_ns), io_(io) {}
  void Read(lsm::BlockRead* reads, size_t n) override;

 private:
  rt::Runtime* rt_;
  lsm::Shard* shard_;
  uint32_t index_;
  uint64_t spin_ns_;
  const CallerIoConfig* io_;
};

}  // namespace ringdb::db
