// `ringdb-tool iotrace FILE...`: summarizes I/O traces (IOTRACE files, one per shard;
// docs/iotrace.md) and renders them as SVG.
//
//   ringdb-tool iotrace [--svg OUT.svg] [--interval-ms N] FILE...
//
// The summary: per trace file (shard, backend, records, dropped, span); per I/O class
// count, bytes, errors and latency percentiles; request sizes and queue depth at
// submit per class; the read/write mix over time; the busiest files. --svg writes a
// standalone SVG: latency of every I/O over time (log scale, sampled when there are
// many, with p50/p99 lines per class) above the mean queue depth over time, one
// colour per class, with axes and a legend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringdb/status.h"

namespace ringdb::tools {

struct IotraceOptions {
  std::vector<std::string> files;
  uint64_t interval_ns = 0;   // time bucket of the mix table and the plot; 0: about 1/20
  size_t max_points = 20000;  // SVG: latency points drawn (the slowest 1% always are)
};

// Reads every trace and renders the text summary into *text and, when svg is not null,
// the SVG document into *svg. A damaged trace is summarized up to the damage and the
// problem reported in *text; an unreadable one is an error.
Status IotraceReport(const IotraceOptions& opt, std::string* text, std::string* svg);

// argv[0] is "iotrace". Returns the process exit code (0 ok, 1 error, 2 usage).
int IotraceCommand(int argc, char** argv);

}  // namespace ringdb::tools
