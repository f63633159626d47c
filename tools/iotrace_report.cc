// `ringdb-tool iotrace`: the command line, and IotraceReport tying the loader and the
// two renderers together (iotrace_trace.h).
#include "tools/iotrace_report.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tools/iotrace_trace.h"

namespace ringdb::tools {

namespace {

uint64_t BucketWidth(const IotraceOptions& opt, const iotrace::Trace& t) {
  if (opt.interval_ns > 0) return opt.interval_ns;
  const double w = iotrace::NiceStep(static_cast<double>(t.span_ns) / 20.0);
  return std::max<uint64_t>(1000, static_cast<uint64_t>(w));
}

int Usage(const char* why) {
  // --help goes to stdout; a usage error to stderr.
  std::FILE* out = why == nullptr ? stdout : stderr;
  if (why != nullptr) std::fprintf(stderr, "ringdb-tool iotrace: %s\n", why);
  std::fprintf(out,
               "usage: ringdb-tool iotrace [--svg OUT.svg] [--interval-ms N] [--max-points N] "
               "FILE...\n"
               "  Summarizes I/O traces (<store>/shard-NNN/IOTRACE, written with "
               "Options::io_trace;\n"
               "  docs/iotrace.md): per class counts, bytes and latency percentiles, request "
               "sizes,\n"
               "  queue depths, read/write mix over time, busiest files.\n"
               "  --svg OUT.svg     also plot latency and queue depth over time\n"
               "  --interval-ms N   time bucket (default: about 1/20 of the trace)\n"
               "  --max-points N    latency points drawn in the SVG (default 20000)\n");
  return why == nullptr ? 0 : 2;
}

}  // namespace

Status IotraceReport(const IotraceOptions& opt, std::string* text, std::string* svg) {
  iotrace::Trace t;
  Status s = iotrace::LoadTraces(opt.files, &t);
  if (!s.ok()) return s;
  const uint64_t width = BucketWidth(opt, t);
  iotrace::RenderTraceText(t, width, text);
  if (svg != nullptr) iotrace::RenderTraceSvg(t, opt.files, width, opt.max_points, svg);
  for (const iotrace::TraceFile& f : t.files) {
    if (!f.status.ok()) return f.status;  // the summary is still rendered
  }
  return Status::OK();
}

int IotraceCommand(int argc, char** argv) {
  IotraceOptions opt;
  std::string svg_path;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view flag, std::string* out) {
      if (a == flag) {
        if (i + 1 >= argc) return false;
        *out = argv[++i];
        return true;
      }
      if (a.size() > flag.size() && a.substr(0, flag.size()) == flag && a[flag.size()] == '=') {
        *out = std::string(a.substr(flag.size() + 1));
        return true;
      }
      return false;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      return Usage(nullptr);
    } else if (value("--svg", &v)) {
      svg_path = v;
    } else if (value("--interval-ms", &v)) {
      char* end = nullptr;
      const double ms = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(ms > 0)) return Usage("bad --interval-ms");
      opt.interval_ns = static_cast<uint64_t>(ms * 1e6);
    } else if (value("--max-points", &v)) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') return Usage("bad --max-points");
      opt.max_points = static_cast<size_t>(n);
    } else if (a.size() > 1 && a[0] == '-') {
      return Usage(std::string("unknown option ").append(a).c_str());
    } else {
      opt.files.emplace_back(a);
    }
  }
  if (opt.files.empty()) return Usage("give at least one trace file");
  std::string text, svg;
  Status s = IotraceReport(opt, &text, svg_path.empty() ? nullptr : &svg);
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);  // before any message on stderr
  if (!s.ok() && text.empty()) {
    std::fprintf(stderr, "ringdb-tool iotrace: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!svg_path.empty()) {
    std::FILE* f = std::fopen(svg_path.c_str(), "wb");
    bool ok = f != nullptr;
    if (ok) {
      ok = std::fwrite(svg.data(), 1, svg.size(), f) == svg.size();
      ok = std::fclose(f) == 0 && ok;
    }
    if (!ok) {
      std::fprintf(stderr, "ringdb-tool iotrace: cannot write %s: %s\n", svg_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::fprintf(stderr, "wrote %s\n", svg_path.c_str());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "ringdb-tool iotrace: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ringdb::tools
