// Helpers shared by the fuzz targets in tests/fuzz (docs/testing.md "Fuzzing").
//
// FUZZ_CHECK states an invariant of a decoder: when it fails the target prints what
// broke and aborts, so libFuzzer keeps the input as a crash (and the replay driver of
// the normal build fails the test).
//
// Every on-disk record is checksummed, so a random mutation almost never gets past the
// CRC. The Reseal* helpers recompute the checksums of a mutated input the way the
// writer would, so that the fuzzer also explores what the decoders do with damage the
// checksum does not catch (a writer bug, or corruption that happens before the CRC is
// taken). They mirror the formulas of docs/wal.md, docs/sst.md and docs/iotrace.md
// (all DO NOT CHANGE: on-disk).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ringdb/status.h"

#define FUZZ_CHECK(cond, ...)                                                             \
  do {                                                                                    \
    if (__builtin_expect(!(cond), 0)) {                                                   \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::fprintf(stderr, "  " __VA_ARGS__);                                             \
      std::fprintf(stderr, "\n");                                                         \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// One libFuzzer entry point per target; the replay driver (replay_main.cc) calls it too.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringdb::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits the input of the WAL and MANIFEST targets: fixed64 segment/file number, then
// the file's bytes. False when the input is too short to hold the number.
bool SplitNumbered(std::string_view in, uint64_t* number, std::string_view* file);

// True iff bytes [from, to) of s are all zero.
bool AllZero(std::string_view s, size_t from, size_t to);

// WAL/MANIFEST framing: walks *seg as the reader would (zero padding to the next 4 KiB
// boundary, plausible headers whose payload fits) and rewrites the CRC of every record
// it meets; after a header that is not plausible it resumes at the next 4 KiB boundary.
void ResealWal(uint64_t segment_no, std::string* seg);

// SST: the footer CRC, the trailers of the blocks the footer names and, when the index
// block parses, the trailers of the data blocks it names.
void ResealTable(std::string* file);
// The masked CRC of an SST block trailer (kind byte included) for contents at offset.
uint32_t TableBlockCrc(uint64_t offset, std::string_view contents, char kind);

// IOTRACE: the CRC at the end of every whole 4 KiB block (header and data blocks).
void ResealIoTrace(std::string* file);

// OPTIONS ("...crc32c=XXXXXXXX\n" covering everything before "crc32c=") and CURRENT
// ("NAME crc32c=XXXXXXXX\n" covering NAME): rewrites the 8 hex digits when they are
// where the encoder puts them.
void ResealOptions(std::string* contents);
void ResealCurrent(std::string* contents);

// A file holding `bytes` that the readers can open by path (a memfd: no disk I/O).
class MemFile {
 public:
  explicit MemFile(std::string_view bytes);
  ~MemFile();
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// "Corruption: ..." etc. for messages.
inline std::string Str(const Status& s) {
  return s.ToString();
}

}  // namespace ringdb::fuzz
