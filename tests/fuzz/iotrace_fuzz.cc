// Fuzz target `iotrace`: the I/O trace reader (IoTraceReader, src/io/io_trace.h,
// docs/iotrace.md) and `ringdb-tool iotrace`'s report on top of it (IotraceReport,
// tools/iotrace_report.h: text summary and SVG), both reading the file by path.
//
// Input: the IOTRACE file's bytes. Read as given and, when that differs, once more with
// every block's CRC recomputed (ResealIoTrace).
//
// The reader: Open fails with Corruption/NotSupported or decodes a header that
// re-encodes to the same header; records come out bounded by the blocks read, the
// reader stays finished, a failure is a Corruption naming the file. The report: no
// crash, the same verdict as the reader, and an SVG document without NaN or infinite
// coordinates.
#include <memory>
#include <string>

#include "io/io_trace.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/iotrace_report.h"

namespace ringdb::fuzz {
namespace {

void CheckHeaderRoundTrip(const io::IoTraceHeader& h) {
  FUZZ_CHECK(
      h.backend.size() < io::kIoTraceBackendNameBytes && h.backend.find('\0') == std::string::npos,
      "backend name");
  char block[io::kIoTraceBlockBytes];
  io::EncodeIoTraceHeader(h, block);
  io::IoTraceHeader back;
  Status s = io::DecodeIoTraceHeader(block, &back);
  FUZZ_CHECK(s.ok() && back.version == h.version && back.shard == h.shard &&
                 back.start_wall_ns == h.start_wall_ns && back.start_mono_ns == h.start_mono_ns &&
                 back.end_mono_ns == h.end_mono_ns && back.records == h.records &&
                 back.dropped == h.dropped && back.flags == h.flags && back.backend == h.backend,
             "decode(encode(header)) differs: %s", Str(s).c_str());
}

bool HasBadNumber(const std::string& svg) {
  for (const char* bad : {"=\"nan", "=\"-nan", "=\"inf", "=\"-inf", "nan,", "inf,"}) {
    if (svg.find(bad) != std::string::npos) return true;
  }
  return false;
}

void CheckTrace(std::string_view bytes) {
  MemFile file(bytes);
  std::unique_ptr<io::IoTraceReader> r;
  Status s = io::IoTraceReader::Open(file.path(), &r);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption() || s.IsNotSupported(), "%s", Str(s).c_str());
  } else {
    FUZZ_CHECK(bytes.size() >= io::kIoTraceBlockBytes, "a header from a short file");
    CheckHeaderRoundTrip(r->header());
    io::IoTraceEntry e;
    uint64_t n = 0;
    while (r->Next(&e)) {
      n++;
      FUZZ_CHECK(n <= r->blocks() * io::kIoTraceRecordsPerBlock, "more records than slots");
      FUZZ_CHECK(e.type == io::IoTraceRecordType::kIo || e.type == io::IoTraceRecordType::kFile ||
                     e.type == io::IoTraceRecordType::kDropped,
                 "record type %d", static_cast<int>(e.type));
      if (e.type == io::IoTraceRecordType::kFile) {
        FUZZ_CHECK(e.name.size() <= io::kIoTraceFileNameBytes, "file name too long");
      }
    }
    FUZZ_CHECK(!r->Next(&e), "a record after the end");
    FUZZ_CHECK(r->blocks() <= bytes.size() / io::kIoTraceBlockBytes, "more blocks than the file");
    s = r->status();
    FUZZ_CHECK(s.ok() || (s.IsCorruption() && s.message().rfind(file.path() + ": ", 0) == 0), "%s",
               Str(s).c_str());
  }

  tools::IotraceOptions opt;
  opt.files = {file.path()};
  std::string text, svg;
  Status rs = tools::IotraceReport(opt, &text, &svg);
  FUZZ_CHECK(rs.ok() == s.ok(), "the report says %s, the reader %s", Str(rs).c_str(),
             Str(s).c_str());
  if (r != nullptr) {
    FUZZ_CHECK(!text.empty() && svg.rfind("<?xml", 0) == 0 && svg.ends_with("</svg>\n"),
               "report documents");
    FUZZ_CHECK(!HasBadNumber(svg), "NaN or infinity in the SVG");
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  const std::string_view bytes = AsView(data, size);
  CheckTrace(bytes);
  std::string sealed(bytes);
  ResealIoTrace(&sealed);
  if (sealed != bytes) CheckTrace(sealed);
  return 0;
}
