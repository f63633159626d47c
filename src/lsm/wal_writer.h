// WalWriter: a shard's write-ahead log: the open segment and the group commits in
// flight to it. One write path for every durability mode (docs/wal.md, docs/engine.md):
//
//   group := the batches the commit fiber took at once, framed back to back
//   kSync:           O_DIRECT; each group starts on a fresh 4 KiB page and is zero-
//                    padded to the next, written with RWF_DSYNC (durable on completion)
//   kPeriodic/kNone: buffered (page cache); records follow each other unpadded; a
//                    group carries a linked fdatasync when the mode asks for one
//                    (periodic deadline, WriteOptions::sync)
//
// Up to kMaxInFlight groups are in the kernel at once; they complete in any order and
// are handed back in WAL order (PopCompleted), so the shard acknowledges in order.
//
// Every record carries `synced_upto`: the bytes of the segment that were durable when
// it was encoded. Recovery uses it to tell corruption of durable data from a torn
// unsynced tail (docs/wal.md "Torn tail or corruption").
//
// Thread ownership: the shard thread. Issue/Sync/Open/Close run in fibers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "lsm/dbformat.h"
#include "lsm/io_pacer.h"
#include "lsm/write_request.h"
#include "ringdb/status.h"
#include "runtime/sync.h"

namespace ringdb::lsm {

class WalWriter;

// One group commit's write (and optional linked fdatasync).
struct WalGroup {
  WriteRequest* head = nullptr;  // the requests, linked through next
  size_t requests = 0;
  uint64_t offset = 0;  // in the segment
  uint64_t len = 0;
  bool sync = false;
  bool applied = false;       // already in the memtable (buffered modes apply before the write)
  Status status;              // set when it completed
  bool write_failed = false;  // the write itself failed (not only its linked fdatasync)

 private:
  friend class WalWriter;
  WalWriter* owner = nullptr;
  uint64_t segment = 0;
  io::AlignedBuffer direct_buf;  // kSync
  std::string bytes;             // buffered
  io::IoRequest wr;
  io::IoRequest fs;
  int pending = 0;
  bool pending_sync = false;  // fs is a linked fdatasync
  bool written = false;       // wr completed (fs may still be in flight)
  bool done = false;
};

struct WalWriterOptions {
  bool direct = true;  // kSync: O_DIRECT padded groups
  uint64_t preallocate_bytes = 64ull << 20;
};

class WalWriter {
 public:
  // Measured on a 2-core VM (16 sync writers, 2 shards): 1 and 4 in flight performed
  // alike (the path is CPU-bound there); 2 lets a group's write overlap the previous
  // group's fdatasync without splitting groups much.
  static constexpr size_t kMaxInFlight = 8;
  // Buffered groups up to this size are written synchronously by the reactor
  // (IoRequest::kInline): a copy into the page cache of a few microseconds.
  static constexpr uint64_t kInlineWriteMax = 1 << 20;

  WalWriter(const WalWriterOptions& opt, std::string dir, int dir_fd, IoPacer* pacer);
  ~WalWriter();  // closes the segment's descriptor if still open (after a crash)
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  // The shard directory's descriptor, once the shard opened it (Recover).
  void set_dir_fd(int fd) { dir_fd_ = fd; }

  // Called from an I/O completion on the shard thread whenever the oldest group in
  // flight completes; the owner then takes it with PopCompleted().
  void set_on_complete(void (*fn)(void*), void* arg) {
    on_complete_ = fn;
    on_complete_arg_ = arg;
  }

  // One WAL file.
  struct Segment {
    int fd = -1;
    uint64_t number = 0;
    std::string path;            // built once per segment
    uint64_t write_offset = 0;   // next write goes here; only moves forward
    uint64_t synced_upto = 0;    // bytes before this are durable
    uint64_t allocated = 0;      // preallocated size
    SequenceNumber max_seq = 0;  // highest sequence framed into it (0: none)
    // Where the first failed group starts (kNoBreak: none failed). Groups after it may
    // have landed, but recovery must never replay past a hole: the valid prefix is
    // [0, break_offset), and good_max_seq is the highest sequence in it.
    uint64_t break_offset = kNoBreak;
    SequenceNumber good_max_seq = 0;
    bool broken() const { return break_offset != kNoBreak; }
  };
  static constexpr uint64_t kNoBreak = ~uint64_t{0};

  // (fiber) Creates segment `number` (O_EXCL), preallocates it and makes its directory
  // entry durable, without making it the segment written to.
  Status CreateSegment(uint64_t number, Segment* out);
  // Makes `next` the segment written to and returns the previous one (fd -1 when
  // none). Never suspends, so a caller can switch segment and memtable together.
  // REQUIRES: no group in flight.
  Segment Swap(Segment next);
  // (fiber) CreateSegment + Swap for the first segment. REQUIRES: none open.
  Status OpenSegment(uint64_t number);
  // (fiber) Closes a segment returned by Swap, fdatasync'ing first when `sync` and
  // anything in it is unsynced.
  Status Close(Segment* seg, bool sync);
  // (fiber) Closes the segment written to (Swap with nothing, then Close).
  Status CloseSegment(bool sync);
  // (fiber) fdatasync of everything written so far. REQUIRES: no group in flight.
  Status Sync();

  // A group object for the next write (recycled; never null).
  WalGroup* NewGroup();
  // Frames every request's batch (at its first_seq) into g's bytes and sets
  // g->requests. REQUIRES: an open segment; every request has its sequence numbers.
  void Encode(WalGroup* g, WriteRequest* head);
  // (fiber: preallocation may suspend) Queues g's write, with a linked fdatasync when
  // `sync`, for the reactor's next submission. On error nothing is queued (g is
  // recycled by the caller). Buffered: a synced group first waits until the write of
  // every earlier group in flight completed, so that its fdatasync covers every earlier
  // byte of the segment (an fdatasync covers only writes that reached the page cache).
  Status Issue(WalGroup* g, bool sync);
  // The oldest group, once completed (in WAL order), else null.
  WalGroup* PopCompleted();
  // Returns a group taken from PopCompleted() or refused by Issue().
  void Recycle(WalGroup* g);
  // (fiber) Waits until at most n groups are in flight.
  void WaitInFlightAtMost(size_t n);

  // Direct mode (kSync): keeps the space ahead of the write position written with zeros
  // and synced. An O_RDWR|O_DSYNC write into fallocated (unwritten) space must commit a
  // journal transaction for the extent conversion, into written space it is one device
  // write (fio, 4 KiB O_DSYNC at depth 4 on the 2-core VM: 14.9k/s into a fallocated
  // file, 26.9k/s into a written one; ringdb's 16-thread sync writes: 42k/s -> 58k/s).
  // Runs in its own fiber until `stop` returns true; zeroing is background I/O.
  void ZeroAheadLoop(const std::function<bool()>& stop, rt::Event* wakeup);
  // (fiber) Waits until no zero-fill write is in flight on the open segment (before it
  // is swapped out).
  void WaitZeroIdle();

  size_t in_flight() const { return inflight_.size(); }
  bool segment_open() const { return seg_.fd >= 0; }
  // A group of the open segment failed (Segment::break_offset).
  bool broken() const { return seg_.broken(); }
  uint64_t number() const { return seg_.number; }
  uint64_t write_offset() const { return seg_.write_offset; }
  uint64_t synced_upto() const { return seg_.synced_upto; }
  uint64_t last_sync_ns() const { return last_sync_ns_; }
  uint64_t syncs() const { return syncs_; }
  uint64_t bytes_written() const { return bytes_written_; }
  const std::string& path() const { return seg_.path; }

 private:
  static void OnIo(io::IoRequest* req);
  Status Grow(uint64_t len);
  // (fiber) fallocate `want` bytes past seg->allocated, degrading on ENOSPC (a warning).
  Status Preallocate(Segment* seg, uint64_t want);
  void Finish(WalGroup* g);  // a group's I/O completed: set its status, advance counters
  // (fiber) Until every group in flight has its write completed.
  void WaitWritesLanded();

  const WalWriterOptions opt_;
  const std::string dir_;
  int dir_fd_;
  IoPacer* const pacer_;
  void (*on_complete_)(void*) = nullptr;
  void* on_complete_arg_ = nullptr;

  Segment seg_;  // the segment written to
  // Direct mode: [seg_.write_offset, zeroed_) is zero-filled; a zero write of
  // [zero_start_, zero_end_) may be in flight (groups wait for it if they overlap it).
  uint64_t zeroed_ = 0;
  uint64_t zero_start_ = 0, zero_end_ = 0;
  bool zero_in_flight_ = false;
  rt::Event zero_done_;
  rt::Event* zero_wakeup_ = nullptr;  // the zero fiber's, set when the writer advances
  uint64_t last_sync_ns_ = 0;
  uint64_t syncs_ = 0;
  uint64_t bytes_written_ = 0;
  std::string encode_buf_;
  // Invariant: in WAL order; a group is handed back only after every earlier one.
  std::deque<WalGroup*> inflight_;
  std::vector<std::unique_ptr<WalGroup>> groups_;  // every group object ever made
  std::vector<WalGroup*> spare_;
  rt::Event progress_;  // set whenever a group completes
};

}  // namespace ringdb::lsm
