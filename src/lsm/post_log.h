// Post logs: what makes a posted write (docs/engine.md "Posted writes") survive the
// death of the process that acknowledged it.
//
// A posted write is acknowledged as soon as its writer has queued it for the shard,
// before the shard has applied or logged it. Its queue is the writer's post buffer to
// that shard (runtime/post_buffer.h), and that buffer is a file mapped MAP_SHARED into
// the shard directory: once the record is written into it, the kernel holds it (the
// page cache outlives the process), exactly as a buffered WAL write would. The shard
// releases a record only after its WAL write has completed, so after a crash every
// record still unreleased may be missing from the WAL, and recovery replays it from
// here (skipping the ones the WAL or the tables already hold).
//
// Post logs are never fsync'ed: they carry the kPeriodic/kNone promise "a process crash
// loses nothing acknowledged"; a machine crash loses what the WAL had not synced, as
// before.
//
// File: POST-<pid>-<n> (one per writer thread and shard; deleted once drained)
//   file   := header (kPostHeaderBytes) | ring[capacity]
//   header := magic "RDBPOST1" fixed64 | version fixed32 (1) | shard fixed32
//             | capacity fixed64 | ... | produced fixed64 @64 | released fixed64 @128
//   produced, released: ring positions (grow forever; position p is ring byte
//   p % capacity); records in [released, produced) are unreleased.
//   record := magic fixed32 "RPST" | masked crc32c fixed32 | pos fixed64
//             | first_seq fixed64 | count fixed32 | rep_bytes fixed32 | record_bytes fixed32
//             | reserved fixed32 | rep[rep_bytes] | (in-memory message, not covered)
//   crc covers bytes 8 .. 40 + rep_bytes of the record (pos through the rep), so a stale
//   or torn record never passes. A record sits at a 16-byte aligned position and never
//   wraps: when the ring's tail is too short the writer skips to the next lap, and
//   recovery follows it there (pos names the record's true position).
//
// Thread ownership: a PostLogFile is created by its writer thread (blocking system
// calls on an application thread) and read by the shard's thread; ReadPostLog runs at
// recovery.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/dbformat.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

constexpr size_t kPostHeaderBytes = 4096;
constexpr size_t kPostRecordHeaderBytes = 40;
constexpr uint32_t kPostRecordMagic = 0x54535052;  // "RPST"

// A mapped post log.
struct PostLogFile {
  int fd = -1;
  char* map = nullptr;
  size_t map_bytes = 0;
  std::string path;
  char* ring = nullptr;
  size_t capacity = 0;
  std::atomic<uint64_t>* produced = nullptr;  // in the mapping
  std::atomic<uint64_t>* released = nullptr;  // in the mapping
};

// Creates, sizes and maps a new post log in `dir` for `shard`. capacity: a power of
// two. Blocking (application threads only).
Status CreatePostLog(const std::string& dir, uint32_t shard, size_t capacity, PostLogFile* out);
// Unmaps and closes it; deletes the file when `unlink`.
void DestroyPostLog(PostLogFile* f, bool unlink);

// Fills in the durable header of the record at `rec` (ring position pos) whose rep is
// already at rec + kPostRecordHeaderBytes.
void SealPostRecord(char* rec, uint64_t pos, SequenceNumber first_seq, uint32_t count,
                    uint32_t rep_bytes, uint32_t record_bytes);

// One unreleased record found at recovery.
struct PostedRecord {
  SequenceNumber first_seq = 0;
  uint32_t count = 0;
  std::string rep;
};
// Parses a post log's bytes: every sealed record in [released, produced). Stops at the
// first record that is not sealed (a writer killed while filling it: never
// acknowledged). Corruption only for a header that is not a post log's.
Status ParsePostLog(std::string_view file, const std::string& path, std::vector<PostedRecord>* out);
// Whether the log has no unreleased record (reads the header only).
bool PostLogDrained(std::string_view header);

}  // namespace ringdb::lsm
