// The I/O trace: one record per completed I/O of a shard (class, op, file, offset,
// length, submit/complete time, queue depth at submit), written to <shard dir>/IOTRACE
// for `ringdb-tool iotrace` to summarize and plot. The format is in docs/iotrace.md.
//
// IoTraceRecorder keeps records in a bounded buffer split in two halves. When the half
// being filled is full it is written in the background through the shard's own
// backend (one write in flight at most, flagged IoRequest::kNoTrace so the trace does
// not trace itself) while the other half fills; if that write has not completed when
// the second half is full too, records are dropped and counted. The reactor thread
// never blocks on the trace.
//
// The runtime drives it (rt::Reactor::StartIoTrace / StopIoTrace): it opens the file,
// writes the first header, installs the recorder behind its I/O accounting, and at
// the end writes the last partial block and the final header from a fiber.
//
// Thread ownership: a recorder belongs to its reactor's thread. IoTraceReader is a
// plain single-threaded reader (tools, tests).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "ringdb/status.h"

namespace ringdb::io {

// ---- on-disk format (docs/iotrace.md). DO NOT CHANGE: on-disk. ----
inline constexpr char kIoTraceMagic[8] = {'R', 'D', 'B', 'I', 'O', 'T', 'R', 'C'};
inline constexpr uint32_t kIoTraceVersion = 1;
inline constexpr size_t kIoTraceBlockBytes = 4096;  // header and data blocks
inline constexpr size_t kIoTraceRecordBytes = 64;
inline constexpr size_t kIoTraceRecordsPerBlock = 63;       // + one 64-byte trailer
inline constexpr uint32_t kIoTraceBlockMagic = 0x4b425452;  // "RTBK" little-endian
inline constexpr size_t kIoTraceBackendNameBytes = 32;
inline constexpr size_t kIoTraceFileNameBytes = 40;
inline constexpr uint32_t kIoTraceClosed = 1;      // header flag: closed cleanly
inline constexpr uint32_t kIoTraceWriteError = 2;  // header flag: a trace write failed
static_assert((kIoTraceRecordsPerBlock + 1) * kIoTraceRecordBytes == kIoTraceBlockBytes);

// Record types (first byte of a record). DO NOT CHANGE: on-disk.
enum class IoTraceRecordType : uint8_t {
  kIo = 1,       // one completed I/O
  kFile = 2,     // fd -> file name and number, from here on
  kDropped = 3,  // records were dropped just before this point
};

struct IoTraceHeader {
  uint32_t version = kIoTraceVersion;
  uint32_t shard = 0;
  uint64_t start_wall_ns = 0;  // CLOCK_REALTIME when the trace started
  uint64_t start_mono_ns = 0;  // CLOCK_MONOTONIC then; record times use this clock
  uint64_t end_mono_ns = 0;    // at close (0: not closed)
  uint64_t records = 0;        // I/O records in the file (0 until closed)
  uint64_t dropped = 0;        // I/O records dropped (0 until closed)
  uint32_t flags = 0;          // kIoTraceClosed, kIoTraceWriteError
  std::string backend;         // at most 31 bytes
};

// A decoded record.
struct IoTraceEntry {
  IoTraceRecordType type = IoTraceRecordType::kIo;
  // kIo
  IoClass io_class = IoClass::kOther;
  IoOp op = IoOp::kRead;
  uint8_t flags = 0;
  uint32_t depth_at_submit = 0;
  uint64_t submit_ns = 0;
  uint64_t complete_ns = 0;
  uint64_t offset = 0;
  uint64_t len = 0;  // requested bytes (readv/writev: the iovec total)
  int64_t result = 0;
  // kIo and kFile
  int32_t fd = -1;
  uint64_t file_number = 0;  // 0: unknown
  // kFile
  uint64_t at_ns = 0;  // kFile, kDropped
  std::string name;
  // kDropped
  uint64_t dropped = 0;

  uint64_t latency_ns() const { return complete_ns >= submit_ns ? complete_ns - submit_ns : 0; }
};

void EncodeIoTraceHeader(const IoTraceHeader& h, char* block);  // kIoTraceBlockBytes
Status DecodeIoTraceHeader(const char* block, IoTraceHeader* h);

// File number in a ringdb file name: "000123.sst" -> 123, "MANIFEST-000005" -> 5,
// else 0.
uint64_t FileNumberFromName(std::string_view name);

struct IoTraceCounters {
  uint64_t records = 0;        // I/O records kept
  uint64_t dropped = 0;        // I/O records dropped (disk behind, or a write failed)
  uint64_t bytes_written = 0;  // trace bytes written by completed background writes
  uint64_t write_errors = 0;
};

class IoTraceRecorder {
 public:
  // Traces into `fd` (opened by the caller, header block already at offset 0) from
  // offset kIoTraceBlockBytes on, writing through `backend`. buffer_bytes is rounded
  // down to two halves of whole blocks (at least one block each).
  IoTraceRecorder(IoBackend* backend, int fd, size_t buffer_bytes);
  ~IoTraceRecorder();
  IoTraceRecorder(const IoTraceRecorder&) = delete;
  IoTraceRecorder& operator=(const IoTraceRecorder&) = delete;

  // Records one completed I/O (called by the reactor's I/O accounting before
  // req.done). Requests flagged kNoTrace are skipped. Opens and closes done through
  // the backend name their fds automatically.
  void OnIo(const IoRequest& req);
  // Names `fd` (a file opened outside the backend, or before the trace started) from
  // now on. number 0: parsed from the name.
  void RegisterFile(int fd, uint64_t number, std::string_view name, uint64_t now_ns);

  // True while a background write is in flight (Finish must wait for it).
  bool write_in_flight() const { return writing_; }
  // Seals the block being filled and returns what is left to write: [*data, *data+*len)
  // at file offset *offset (len is a multiple of kIoTraceBlockBytes, maybe 0). After
  // this, records are no longer accepted. REQUIRES: !write_in_flight().
  void Finish(const char** data, size_t* len, uint64_t* offset);
  // The caller wrote the Finish() bytes (ok: all of them).
  void FinishWritten(size_t len, bool ok);

  const IoTraceCounters& counters() const { return counters_; }
  bool failed() const { return failed_; }
  size_t half_bytes() const { return half_bytes_; }

 private:
  static void OnWriteDone(IoRequest* req);
  char* Slot();
  void Commit();  // after a record was encoded into the last Slot()
  void SealBlock(char* block, uint32_t used);
  bool SwapHalves();
  char* HalfBase(int h) { return buf_.data() + static_cast<size_t>(h) * half_bytes_; }
  uint64_t FileOf(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < file_of_fd_.size()
               ? file_of_fd_[static_cast<size_t>(fd)]
               : 0;
  }
  void EmitFile(int fd, uint64_t number, std::string_view name, uint64_t now_ns);
  void EmitDropMarker();

  IoBackend* backend_;
  int fd_;
  AlignedBuffer buf_;
  size_t half_bytes_ = 0;
  size_t blocks_per_half_ = 0;
  int cur_ = 0;           // half being filled
  size_t block_ = 0;      // block being filled, within the half
  uint32_t slot_ = 0;     // records used in that block
  uint64_t seq_ = 0;      // blocks sealed so far (trailer sequence numbers)
  uint64_t file_off_;     // where the next half goes
  bool writing_ = false;  // the other half's write is in flight
  bool failed_ = false;   // a write failed: no more records
  bool finished_ = false;
  uint64_t pending_drops_ = 0;  // dropped since the last drop marker
  IoRequest write_req_;
  std::vector<uint64_t> file_of_fd_;  // fd -> file number (0: unknown)
  IoTraceCounters counters_;
};

// Reads an IOTRACE file front to back. A trace cut short (crash) ends at the last
// block that was written; a block whose checksum fails ends it with Corruption.
class IoTraceReader {
 public:
  static Status Open(const std::string& path, std::unique_ptr<IoTraceReader>* out);
  ~IoTraceReader();
  IoTraceReader(const IoTraceReader&) = delete;
  IoTraceReader& operator=(const IoTraceReader&) = delete;

  const IoTraceHeader& header() const { return header_; }
  // The next record, or false at the end (then status() says whether it was clean).
  bool Next(IoTraceEntry* e);
  const Status& status() const { return status_; }
  uint64_t blocks() const { return blocks_; }

 private:
  IoTraceReader(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  bool LoadBlock();

  std::FILE* f_;
  std::string path_;
  IoTraceHeader header_;
  Status status_;
  char block_[kIoTraceBlockBytes];
  uint32_t used_ = 0;  // records in block_
  uint32_t next_ = 0;
  uint64_t blocks_ = 0;
  bool eof_ = false;
};

}  // namespace ringdb::io
