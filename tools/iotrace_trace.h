// The I/O traces `ringdb-tool iotrace` reads, as one time-ordered list of events, and
// the pieces that render it (iotrace_report.h is the command):
//   iotrace_load.cc   LoadTraces: IOTRACE files -> Trace;
//   iotrace_text.cc   RenderTraceText: the summary tables;
//   iotrace_svg.cc    RenderTraceSvg: latency and queue depth over time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/io_trace.h"
#include "ringdb/status.h"

namespace ringdb::tools::iotrace {

inline constexpr size_t kClasses = static_cast<size_t>(io::IoClass::kCount);

inline const char* ClassName(size_t c) {
  return io::IoClassName(static_cast<io::IoClass>(c));
}

enum class Kind : uint8_t { kRead, kWrite, kSync, kOther };

// One traced I/O.
struct Event {
  uint64_t t_ns = 0;  // submission, relative to the earliest trace start
  uint64_t latency_ns = 0;
  uint64_t len = 0;
  int64_t result = 0;
  uint32_t depth = 0;
  uint32_t file = 0;  // index into Trace::names
  uint8_t cls = 0;
  Kind kind = Kind::kOther;

  uint64_t bytes() const { return result > 0 ? static_cast<uint64_t>(result) : 0; }
};

// One IOTRACE file as read.
struct TraceFile {
  std::string path;
  io::IoTraceHeader header;
  uint64_t records = 0;
  uint64_t dropped = 0;  // from drop markers (the header has the total once closed)
  Status status;         // not ok: the file is damaged after `records` records
};

// Every trace file given, merged.
struct Trace {
  std::vector<TraceFile> files;
  std::vector<Event> events;       // by submission time
  std::vector<std::string> names;  // file names ("s1/000012.sst" with several traces)
  uint64_t span_ns = 0;            // from the first submission to the last completion
};

// Reads every trace into *t. An unreadable file is an error; a damaged one is read up
// to the damage (its TraceFile::status says where).
Status LoadTraces(const std::vector<std::string>& paths, Trace* t);

// The text summary (replaces *out). width_ns: the time bucket of the mix table.
void RenderTraceText(const Trace& t, uint64_t width_ns, std::string* out);

// The standalone SVG document (replaces *out): latency of every I/O over time (at most
// about max_points points, the slowest 1% always drawn) above the mean queue depth.
void RenderTraceSvg(const Trace& t, const std::vector<std::string>& paths, uint64_t width_ns,
                    size_t max_points, std::string* out);

// ---- helpers shared by the renderers ----

// printf into a std::string.
void Appendf(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Exact percentile of sorted values: the ceil(q * n)-th smallest; 0 when empty.
uint64_t Pct(const std::vector<uint64_t>& sorted, double q);
// "100 ms", "2 s", "500 us".
std::string Duration(uint64_t ns);
// A 1-2-5 step >= x.
double NiceStep(double x);

inline double Us(uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}
inline double MiB(uint64_t b) {
  return static_cast<double>(b) / 1048576.0;
}

}  // namespace ringdb::tools::iotrace
