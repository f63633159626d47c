// WAL record framing, shared by WAL segments and MANIFEST files. Pure encode/decode of
// in-memory buffers; the engine does the I/O. The format and the torn-tail versus
// corruption rules are specified in docs/wal.md; read that first.
//
//   record := header(32) payload
//   header := masked_crc fixed32 | length fixed32 | type u8 | reserved[3] = 0
//           | count fixed32 | first_seq fixed64 | synced_upto fixed64
//   masked_crc = Mask(crc32c(fixed64 segment_no | fixed64 record_offset
//                            | header[4..32) | payload))
//   every group-commit write starts at a 4 KiB boundary and is zero-padded to the next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lsm/dbformat.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

constexpr size_t kWalBlockBytes = 4096;
constexpr size_t kWalHeaderBytes = 32;
static_assert((kWalBlockBytes & (kWalBlockBytes - 1)) == 0, "alignment is a power of two");

// DO NOT CHANGE: on-disk. 0 is never written: a zero type byte means "no record".
enum class WalRecordType : uint8_t {
  kBatch = 1,  // payload: write-batch rep (write_batch_rep.h)
  kMeta = 2,   // payload: opaque (MANIFEST version edits); count = first_seq = 0
};

inline size_t WalEncodedBytes(size_t payload_bytes) {
  return kWalHeaderBytes + payload_bytes;
}
inline uint64_t WalAlignUp(uint64_t x) {
  return (x + kWalBlockBytes - 1) & ~uint64_t{kWalBlockBytes - 1};
}

// A decoded record. `payload` points into the buffer given to WalReader.
struct WalRecord {
  uint64_t offset = 0;  // file offset of the header
  WalRecordType type = WalRecordType::kBatch;
  uint32_t count = 0;
  SequenceNumber first_seq = 0;
  uint64_t synced_upto = 0;
  std::string_view payload;
  uint64_t end_offset() const { return offset + kWalHeaderBytes + payload.size(); }
};

// Appends one framed record for file `segment_no` that will sit at file offset
// `offset`. REQUIRES: payload.size() <= kMaxBatchBytes; synced_upto <= offset (4 KiB
// aligned for padded writes; buffered writes record the exact synced byte). Only `type`, `count`,
// `first_seq`, `synced_upto` of `meta` are used.
void EncodeRecord(uint64_t segment_no, uint64_t offset, const WalRecord& meta,
                  std::string_view payload, std::string* out);

// Builds the bytes of one group-commit write: records back to back from a 4 KiB
// aligned offset, then zero padding to the next 4 KiB boundary.
//
//   WalWriteEncoder enc(segment_no, write_offset, synced_upto, &buf);
//   enc.AddBatch(first_seq, rep); ...; enc.FinishPadded();  // buf -> one O_DIRECT write
class WalWriteEncoder {
 public:
  // REQUIRES: write_offset, synced_upto multiples of kWalBlockBytes; synced_upto <=
  // write_offset (all bytes before synced_upto are durable: an fdatasync covering them
  // completed). *buf is cleared.
  WalWriteEncoder(uint64_t segment_no, uint64_t write_offset, uint64_t synced_upto,
                  std::string* buf);
  ~WalWriteEncoder();
  WalWriteEncoder(const WalWriteEncoder&) = delete;
  WalWriteEncoder& operator=(const WalWriteEncoder&) = delete;

  // REQUIRES: rep is a valid write-batch rep with at least one entry; first_seq is
  // the previous batch's first_seq + count.
  void AddBatch(SequenceNumber first_seq, std::string_view rep);
  void AddMeta(std::string_view payload);
  // Zero-pads to a 4 KiB boundary; returns the write's size (a multiple of 4096).
  size_t FinishPadded();

  // File offset where the next record would go.
  uint64_t next_offset() const { return write_offset_ + buf_->size(); }
  size_t num_records() const { return num_records_; }

 private:
  void Add(const WalRecord& meta, std::string_view payload);

  uint64_t segment_no_;
  uint64_t write_offset_;
  uint64_t synced_upto_;
  std::string* buf_;
  size_t num_records_ = 0;
  bool finished_ = false;
};

// How the valid part of a segment ended (see docs/wal.md "Reading a segment").
struct WalTail {
  enum class Kind {
    kClean,  // zeros (padding / never written) after the last record, to EOF
    kTorn,   // non-zero bytes that are not valid records: an unsynced write was torn
  };
  Kind kind = Kind::kClean;
  uint64_t valid_end = 0;          // end of the last valid record (truncate here)
  uint64_t next_write_offset = 0;  // WalAlignUp(valid_end)
  uint64_t bad_offset = 0;         // where the walk stopped
  uint64_t orphan_records = 0;     // valid records after bad_offset, not replayed
  std::string reason;              // why the walk stopped at bad_offset (kTorn)
};

// Parses a whole segment (or MANIFEST) held in memory, yielding records in order.
//
//   WalReader r(segment_no, bytes);
//   WalRecord rec;
//   while (r.Next(&rec)) Apply(rec);
//   if (!r.status().ok()) fail open;  else r.tail() says where valid data ends.
//
// Thread ownership: the caller's thread; `segment` must outlive the reader.
class WalReader {
 public:
  WalReader(uint64_t segment_no, std::string_view segment);

  // The next valid record; false at the end of valid data or on corruption.
  bool Next(WalRecord* rec);
  // Corruption ("wal segment N offset X: ...") when a break in the log is proven to lie
  // in synced data, or a checksummed record breaks an invariant.
  const Status& status() const { return status_; }
  // REQUIRES: Next() returned false and status().ok().
  const WalTail& tail() const { return tail_; }

 private:
  enum class Check { kValid, kBadHeader, kBadFit, kBadChecksum };
  // Examines a record at x. For kBadChecksum, rec has the (untrusted) header.
  Check CheckRecord(uint64_t x, WalRecord* rec) const;
  bool AllZero(uint64_t from, uint64_t to) const;
  bool Fail(uint64_t x, const std::string& what);
  // The walk stopped at x: scan what follows and classify.
  void Stop(uint64_t x, const char* reason, const WalRecord* plausible);

  uint64_t segment_no_;
  std::string_view seg_;
  uint64_t pos_ = 0;
  uint64_t valid_end_ = 0;
  bool done_ = false;
  Status status_;
  WalTail tail_;
};

// Every MANIFEST record is synced on its own before anything relies on it, so a bad
// last record is acceptable only as the remains of a write cut short by a crash: OK
// when the record at `bad` (data[bad..]) is torn (unwritten sectors), Corruption naming
// `path` when it was written completely (media corruption). Shared with ringdb-tool so
// the two cannot disagree. See docs/manifest.md.
Status CheckManifestTear(std::string_view data, uint64_t bad, const std::string& path);

}  // namespace ringdb::lsm
