#include "tools/iotrace_report.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "io/io_trace.h"

namespace ringdb::tools {

namespace {

constexpr size_t kClasses = static_cast<size_t>(io::IoClass::kCount);
// One colour per class (Tableau 10), index = io::IoClass value.
constexpr const char* kClassColor[kClasses] = {"#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c",
                                               "#d62728", "#9467bd", "#8c564b"};

const char* ClassName(size_t c) {
  return io::IoClassName(static_cast<io::IoClass>(c));
}

// printf into a std::string.
void Appendf(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Appendf(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof(buf)) {
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  out->append(big);
}

enum class Kind : uint8_t { kRead, kWrite, kSync, kOther };

Kind KindOf(io::IoOp op) {
  switch (op) {
    case io::IoOp::kRead:
    case io::IoOp::kReadv:
      return Kind::kRead;
    case io::IoOp::kWrite:
    case io::IoOp::kWritev:
      return Kind::kWrite;
    case io::IoOp::kFsync:
    case io::IoOp::kFdatasync:
      return Kind::kSync;
    default:
      return Kind::kOther;
  }
}

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

struct TraceFile {
  std::string path;
  io::IoTraceHeader header;
  uint64_t records = 0;
  uint64_t dropped = 0;  // from drop markers (the header has the total once closed)
  Status status;
};

struct Trace {
  std::vector<TraceFile> files;
  std::vector<Event> events;
  std::vector<std::string> names;
  uint64_t span_ns = 0;
};

uint32_t Intern(const std::string& name, Trace* t, std::unordered_map<std::string, uint32_t>* ids) {
  auto [it, added] = ids->emplace(name, static_cast<uint32_t>(t->names.size()));
  if (added) t->names.push_back(name);
  return it->second;
}

Status Load(const std::vector<std::string>& paths, Trace* t) {
  std::unordered_map<std::string, uint32_t> ids;
  std::vector<uint64_t> abs_submit;
  uint64_t t0 = UINT64_MAX;
  for (const std::string& path : paths) {
    std::unique_ptr<io::IoTraceReader> r;
    Status s = io::IoTraceReader::Open(path, &r);
    if (!s.ok()) return s;
    TraceFile f;
    f.path = path;
    f.header = r->header();
    if (f.header.start_mono_ns != 0) t0 = std::min(t0, f.header.start_mono_ns);
    // GCC 12 warns falsely (-Wrestrict) on "literal" + std::to_string(): append instead.
    std::string prefix;
    if (paths.size() > 1) prefix.append("s").append(std::to_string(f.header.shard)).append("/");
    std::unordered_map<int32_t, uint32_t> fd_name;  // fd -> name id, as the trace goes
    io::IoTraceEntry e;
    while (r->Next(&e)) {
      if (e.type == io::IoTraceRecordType::kFile) {
        fd_name[e.fd] = Intern(prefix + e.name, t, &ids);
        continue;
      }
      if (e.type == io::IoTraceRecordType::kDropped) {
        f.dropped += e.dropped;
        continue;
      }
      Event ev;
      ev.latency_ns = e.latency_ns();
      ev.len = e.len;
      ev.result = e.result;
      ev.depth = e.depth_at_submit;
      ev.cls = static_cast<uint8_t>(e.io_class) < kClasses ? static_cast<uint8_t>(e.io_class) : 0;
      ev.kind = KindOf(e.op);
      auto it = fd_name.find(e.fd);
      if (it != fd_name.end()) {
        ev.file = it->second;
      } else if (e.file_number != 0) {
        ev.file =
            Intern(std::string(prefix).append("#").append(std::to_string(e.file_number)), t, &ids);
      } else {
        ev.file = Intern(std::string(prefix).append("fd ").append(std::to_string(e.fd)), t, &ids);
      }
      if (e.op == io::IoOp::kClose) fd_name.erase(e.fd);
      t0 = std::min(t0, e.submit_ns);
      abs_submit.push_back(e.submit_ns);
      t->events.push_back(ev);
      f.records++;
    }
    f.status = r->status();
    t->files.push_back(std::move(f));
  }
  if (t0 == UINT64_MAX) t0 = 0;
  for (size_t i = 0; i < t->events.size(); i++) {
    Event& ev = t->events[i];
    ev.t_ns = abs_submit[i] >= t0 ? abs_submit[i] - t0 : 0;
    t->span_ns = std::max(t->span_ns, ev.t_ns + ev.latency_ns);
  }
  std::stable_sort(t->events.begin(), t->events.end(),
                   [](const Event& a, const Event& b) { return a.t_ns < b.t_ns; });
  return Status::OK();
}

// Exact percentile of sorted values: the ceil(q * n)-th smallest.
uint64_t Pct(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

double Us(uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}
double MiB(uint64_t b) {
  return static_cast<double>(b) / 1048576.0;
}

// "100 ms", "2 s", "500 us".
std::string Duration(uint64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (v >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%g s", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%g ms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%g us", v / 1e3);
  }
  return buf;
}

// A 1-2-5 step >= x.
double NiceStep(double x) {
  if (x <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= x) return m * p;
  }
  return 10 * p;
}

uint64_t BucketWidth(const IotraceOptions& opt, const Trace& t) {
  if (opt.interval_ns > 0) return opt.interval_ns;
  const double w = NiceStep(static_cast<double>(t.span_ns) / 20.0);
  return std::max<uint64_t>(1000, static_cast<uint64_t>(w));
}

// ---------------------------------------------------------------- text summary

struct ClassSummary {
  uint64_t count = 0, reads = 0, writes = 0, syncs = 0, errors = 0;
  uint64_t read_bytes = 0, write_bytes = 0;
  std::vector<uint64_t> latencies;  // sorted
};

// Size buckets: <= 512 B, then powers of two up to 1 MiB, then larger.
constexpr int kSizeBuckets = 13;
int SizeBucket(uint64_t len) {
  int b = 0;
  for (uint64_t lim = 512; b < kSizeBuckets - 1 && len > lim; lim <<= 1) b++;
  return b;
}
const char* kSizeLabels[kSizeBuckets] = {"<=512", "1K",   "2K",   "4K",   "8K", "16K", "32K",
                                         "64K",   "128K", "256K", "512K", "1M", ">1M"};
// Queue depth buckets: 1, 2, 3-4, 5-8, ..., 129-256, >256.
constexpr int kDepthBuckets = 10;
int DepthBucket(uint32_t d) {
  int b = 0;
  for (uint32_t lim = 1; b < kDepthBuckets - 1 && d > lim; lim <<= 1) b++;
  return b;
}
const char* kDepthLabels[kDepthBuckets] = {"1",     "2",     "3-4",    "5-8",     "9-16",
                                           "17-32", "33-64", "65-128", "129-256", ">256"};

void RenderText(const Trace& t, uint64_t width_ns, std::string* out) {
  out->clear();
  Appendf(out, "I/O traces:\n");
  for (const TraceFile& f : t.files) {
    const bool closed = (f.header.flags & io::kIoTraceClosed) != 0;
    const uint64_t dropped = closed ? f.header.dropped : f.dropped;
    const double span =
        closed && f.header.end_mono_ns > f.header.start_mono_ns
            ? static_cast<double>(f.header.end_mono_ns - f.header.start_mono_ns) / 1e9
            : 0.0;
    Appendf(out, "  %s: shard %u, backend %s, %" PRIu64 " records, %" PRIu64 " dropped, ",
            f.path.c_str(), f.header.shard, f.header.backend.c_str(), f.records, dropped);
    if (closed) {
      Appendf(
          out, "%.3f s, closed cleanly%s\n", span,
          (f.header.flags & io::kIoTraceWriteError) ? " (a trace write failed: incomplete)" : "");
    } else {
      Appendf(out, "not closed (the process stopped first: the last buffered records are lost)\n");
    }
    if (!f.status.ok()) Appendf(out, "  WARNING: %s\n", f.status.ToString().c_str());
  }

  ClassSummary cs[kClasses];
  uint64_t size_hist[kClasses][kSizeBuckets] = {};
  uint64_t depth_hist[kClasses][kDepthBuckets] = {};
  for (const Event& e : t.events) {
    ClassSummary& c = cs[e.cls];
    c.count++;
    if (e.result < 0) c.errors++;
    if (e.kind == Kind::kRead) {
      c.reads++;
      c.read_bytes += e.bytes();
    } else if (e.kind == Kind::kWrite) {
      c.writes++;
      c.write_bytes += e.bytes();
    } else if (e.kind == Kind::kSync) {
      c.syncs++;
    }
    c.latencies.push_back(e.latency_ns);
    if (e.kind == Kind::kRead || e.kind == Kind::kWrite) size_hist[e.cls][SizeBucket(e.len)]++;
    if (e.depth > 0) depth_hist[e.cls][DepthBucket(e.depth)]++;
  }
  uint64_t total_r = 0, total_w = 0;
  for (ClassSummary& c : cs) {
    std::sort(c.latencies.begin(), c.latencies.end());
    total_r += c.read_bytes;
    total_w += c.write_bytes;
  }
  Appendf(out, "\nTotal: %zu I/Os over %.3f s, %.2f MiB read, %.2f MiB written\n", t.events.size(),
          static_cast<double>(t.span_ns) / 1e9, MiB(total_r), MiB(total_w));

  Appendf(out, "\nPer class (latency = submit to completion, us):\n");
  Appendf(out, "  %-16s %9s %8s %8s %7s %6s %10s %10s %9s %9s %9s %9s %9s\n", "class", "count",
          "reads", "writes", "syncs", "errors", "read_MiB", "write_MiB", "p50", "p90", "p99",
          "p99.9", "max");
  for (size_t k = 0; k < kClasses; k++) {
    const ClassSummary& c = cs[k];
    if (c.count == 0) continue;
    Appendf(out,
            "  %-16s %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 " %6" PRIu64
            " %10.2f %10.2f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
            ClassName(k), c.count, c.reads, c.writes, c.syncs, c.errors, MiB(c.read_bytes),
            MiB(c.write_bytes), Us(Pct(c.latencies, 0.5)), Us(Pct(c.latencies, 0.9)),
            Us(Pct(c.latencies, 0.99)), Us(Pct(c.latencies, 0.999)), Us(c.latencies.back()));
  }

  Appendf(out, "\nRequest sizes (reads and writes, requests per size):\n  %-16s", "class");
  for (const char* l : kSizeLabels) Appendf(out, " %7s", l);
  out->push_back('\n');
  for (size_t k = 0; k < kClasses; k++) {
    if (cs[k].reads + cs[k].writes == 0) continue;
    Appendf(out, "  %-16s", ClassName(k));
    for (int b = 0; b < kSizeBuckets; b++) Appendf(out, " %7" PRIu64, size_hist[k][b]);
    out->push_back('\n');
  }

  Appendf(out, "\nQueue depth at submit (requests per depth):\n  %-16s", "class");
  for (const char* l : kDepthLabels) Appendf(out, " %7s", l);
  out->push_back('\n');
  for (size_t k = 0; k < kClasses; k++) {
    if (cs[k].count == 0) continue;
    Appendf(out, "  %-16s", ClassName(k));
    for (int b = 0; b < kDepthBuckets; b++) Appendf(out, " %7" PRIu64, depth_hist[k][b]);
    out->push_back('\n');
  }

  // Read/write mix over time.
  const size_t nb = t.events.empty() ? 0 : static_cast<size_t>(t.span_ns / width_ns) + 1;
  struct Mix {
    uint64_t reads = 0, writes = 0, syncs = 0, rb = 0, wb = 0;
  };
  std::vector<Mix> mix(nb);
  for (const Event& e : t.events) {
    Mix& m = mix[std::min(nb - 1, static_cast<size_t>(e.t_ns / width_ns))];
    if (e.kind == Kind::kRead) {
      m.reads++;
      m.rb += e.bytes();
    } else if (e.kind == Kind::kWrite) {
      m.writes++;
      m.wb += e.bytes();
    } else if (e.kind == Kind::kSync) {
      m.syncs++;
    }
  }
  const double wsec = static_cast<double>(width_ns) / 1e9;
  Appendf(out, "\nRead/write mix over time (%s buckets, by submission time):\n",
          Duration(width_ns).c_str());
  Appendf(out, "  %10s %9s %9s %8s %10s %11s %12s %6s\n", "t_s", "reads", "writes", "syncs", "IOPS",
          "read_MiB/s", "write_MiB/s", "read%");
  for (size_t i = 0; i < nb; i++) {
    const Mix& m = mix[i];
    const uint64_t rw = m.reads + m.writes;
    Appendf(out, "  %10.3f %9" PRIu64 " %9" PRIu64 " %8" PRIu64 " %10.0f %11.2f %12.2f %6.1f\n",
            static_cast<double>(i * width_ns) / 1e9, m.reads, m.writes, m.syncs,
            static_cast<double>(rw + m.syncs) / wsec, MiB(m.rb) / wsec, MiB(m.wb) / wsec,
            rw ? 100.0 * static_cast<double>(m.reads) / static_cast<double>(rw) : 0.0);
  }

  // Busiest files.
  struct FileUse {
    uint64_t reads = 0, writes = 0, syncs = 0, rb = 0, wb = 0;
  };
  std::vector<FileUse> files(t.names.size());
  for (const Event& e : t.events) {
    FileUse& u = files[e.file];
    if (e.kind == Kind::kRead) {
      u.reads++;
      u.rb += e.bytes();
    } else if (e.kind == Kind::kWrite) {
      u.writes++;
      u.wb += e.bytes();
    } else if (e.kind == Kind::kSync) {
      u.syncs++;
    }
  }
  std::vector<size_t> order(files.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return files[a].rb + files[a].wb > files[b].rb + files[b].wb;
  });
  Appendf(out, "\nBusiest files (by bytes):\n  %-28s %9s %9s %7s %10s %10s\n", "file", "reads",
          "writes", "syncs", "read_MiB", "write_MiB");
  for (size_t i = 0; i < order.size() && i < 15; i++) {
    const FileUse& u = files[order[i]];
    if (u.reads + u.writes + u.syncs == 0) continue;
    Appendf(out, "  %-28s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %10.2f %10.2f\n",
            t.names[order[i]].c_str(), u.reads, u.writes, u.syncs, MiB(u.rb), MiB(u.wb));
  }
}

// ---------------------------------------------------------------- SVG

std::string XmlEscape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') o += c;
    }
  }
  return o;
}

std::string LatencyLabel(double us) {
  char buf[32];
  if (us >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%g s", us / 1e6);
  } else if (us >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%g ms", us / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%g us", us);
  }
  return buf;
}

struct Layout {
  static constexpr double kW = 1100, kLeft = 80, kRight = 190, kTop = 60;
  static constexpr double kLatH = 380, kGap = 70, kDepthH = 200, kBottom = 50;
  static constexpr double kPlotW = kW - kLeft - kRight;
  static constexpr double kLatTop = kTop, kDepthTop = kTop + kLatH + kGap;
  static constexpr double kH = kDepthTop + kDepthH + kBottom;
};

class Svg {
 public:
  void Line(double x1, double y1, double x2, double y2, const char* stroke, double w = 1,
            const char* extra = "") {
    Appendf(&s_,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"%.1f\"%s/>\n",
            x1, y1, x2, y2, stroke, w, extra);
  }
  void Text(double x, double y, const std::string& text, const char* anchor = "start",
            int size = 12, const char* extra = "") {
    Appendf(&s_, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" text-anchor=\"%s\"%s>%s</text>\n", x,
            y, size, anchor, extra, XmlEscape(text).c_str());
  }
  void Raw(const std::string& s) { s_ += s; }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

// X axis (time, seconds) at the bottom of a panel, with ticks and grid lines.
void TimeAxis(Svg* svg, double top, double height, uint64_t span_ns, bool labels) {
  const double span_s = std::max(1e-6, static_cast<double>(span_ns) / 1e9);
  const double step = NiceStep(span_s / 10.0);
  const double bottom = top + height;
  svg->Line(Layout::kLeft, bottom, Layout::kLeft + Layout::kPlotW, bottom, "#000");
  for (double v = 0; v <= span_s * 1.0001; v += step) {
    const double x = Layout::kLeft + v / span_s * Layout::kPlotW;
    svg->Line(x, top, x, bottom, "#e5e5e5");
    svg->Line(x, bottom, x, bottom + 5, "#000");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v);
    svg->Text(x, bottom + 18, buf, "middle", 11);
  }
  if (labels) svg->Text(Layout::kLeft + Layout::kPlotW / 2, bottom + 36, "time (s)", "middle");
}

// Samples: every event at or above its class's p99 latency, and an even spread of the
// rest so that about max_points are drawn in all.
std::vector<size_t> SamplePoints(const Trace& t, size_t max_points) {
  std::vector<uint64_t> p99(kClasses, UINT64_MAX);
  {
    std::vector<std::vector<uint64_t>> lat(kClasses);
    for (const Event& e : t.events) lat[e.cls].push_back(e.latency_ns);
    for (size_t c = 0; c < kClasses; c++) {
      std::sort(lat[c].begin(), lat[c].end());
      if (!lat[c].empty()) p99[c] = Pct(lat[c], 0.99);
    }
  }
  std::vector<size_t> keep;
  const double p = t.events.size() <= max_points
                       ? 1.0
                       : static_cast<double>(max_points) / static_cast<double>(t.events.size());
  double acc = 0;
  for (size_t i = 0; i < t.events.size(); i++) {
    acc += p;
    const bool spread = acc >= 1.0;
    if (spread) acc -= 1.0;
    if (spread || t.events[i].latency_ns >= p99[t.events[i].cls]) keep.push_back(i);
  }
  return keep;
}

void RenderSvg(const Trace& t, const std::vector<std::string>& paths, uint64_t width_ns,
               size_t max_points, std::string* out) {
  using L = Layout;
  Svg svg;
  Appendf(&svg.str(),
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
          "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n",
          L::kW, L::kH, L::kW, L::kH, L::kW, L::kH);
  std::string title = "ringdb I/O trace: ";
  for (size_t i = 0; i < paths.size() && i < 4; i++) title += (i ? ", " : "") + paths[i];
  if (paths.size() > 4) title += ", ...";
  svg.Text(L::kLeft, 24, title, "start", 15, " font-weight=\"bold\"");
  char sub[200];
  std::snprintf(sub, sizeof(sub),
                "%zu I/Os over %.3f s; points: individual I/Os (sampled; the slowest 1%% all), "
                "lines: p50 (solid) and p99 (dashed) per %s",
                t.events.size(), static_cast<double>(t.span_ns) / 1e9, Duration(width_ns).c_str());
  svg.Text(L::kLeft, 44, sub, "start", 11, " fill=\"#555\"");

  const double span = static_cast<double>(std::max<uint64_t>(t.span_ns, 1));
  auto X = [&](uint64_t ns) { return L::kLeft + static_cast<double>(ns) / span * L::kPlotW; };

  // ---- latency panel (log scale) ----
  uint64_t lo_ns = UINT64_MAX, hi_ns = 0;
  for (const Event& e : t.events) {
    lo_ns = std::min(lo_ns, std::max<uint64_t>(e.latency_ns, 1));
    hi_ns = std::max(hi_ns, e.latency_ns);
  }
  if (t.events.empty()) lo_ns = hi_ns = 1000;
  const double dlo = std::floor(std::log10(std::max(1e-3, static_cast<double>(lo_ns) / 1e3)));
  double dhi = std::ceil(std::log10(std::max(1e-3, static_cast<double>(hi_ns) / 1e3)));
  if (dhi <= dlo) dhi = dlo + 1;
  auto Y = [&](uint64_t ns) {
    const double us = std::max(static_cast<double>(ns) / 1e3, std::pow(10.0, dlo));
    const double f = (std::log10(us) - dlo) / (dhi - dlo);
    return L::kLatTop + L::kLatH - std::clamp(f, 0.0, 1.0) * L::kLatH;
  };
  svg.Raw("<g id=\"latency\">\n");
  for (double d = dlo; d <= dhi; d += 1) {
    const double y = L::kLatTop + L::kLatH - (d - dlo) / (dhi - dlo) * L::kLatH;
    svg.Line(L::kLeft, y, L::kLeft + L::kPlotW, y, "#e5e5e5");
    svg.Line(L::kLeft - 5, y, L::kLeft, y, "#000");
    svg.Text(L::kLeft - 8, y + 4, LatencyLabel(std::pow(10.0, d)), "end", 11);
  }
  TimeAxis(&svg, L::kLatTop, L::kLatH, t.span_ns, false);
  svg.Line(L::kLeft, L::kLatTop, L::kLeft, L::kLatTop + L::kLatH, "#000");
  {
    const double ymid = L::kLatTop + L::kLatH / 2;
    char rot[64];
    std::snprintf(rot, sizeof(rot), " transform=\"rotate(-90 22 %.1f)\"", ymid);
    svg.Text(22, ymid, "latency (log scale)", "middle", 12, rot);
  }
  for (size_t i : SamplePoints(t, max_points)) {
    const Event& e = t.events[i];
    Appendf(&svg.str(),
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\" fill-opacity=\"0.45\"/>\n",
            X(e.t_ns + e.latency_ns / 2), Y(e.latency_ns), kClassColor[e.cls]);
  }
  // p50 / p99 lines per class and time bucket.
  const size_t nb = static_cast<size_t>(t.span_ns / width_ns) + 1;
  std::vector<std::vector<std::vector<uint64_t>>> lat(kClasses,
                                                      std::vector<std::vector<uint64_t>>(nb));
  std::vector<std::vector<uint64_t>> depth_sum(kClasses, std::vector<uint64_t>(nb));
  std::vector<std::vector<uint64_t>> depth_n(kClasses, std::vector<uint64_t>(nb));
  for (const Event& e : t.events) {
    const size_t b = std::min(nb - 1, static_cast<size_t>(e.t_ns / width_ns));
    lat[e.cls][b].push_back(e.latency_ns);
    if (e.depth > 0) {
      depth_sum[e.cls][b] += e.depth;
      depth_n[e.cls][b]++;
    }
  }
  auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const char* color,
                      const char* dash) {
    if (pts.empty()) return;
    std::string p;
    for (const auto& [x, y] : pts) Appendf(&p, "%.1f,%.1f ", x, y);
    Appendf(&svg.str(),
            "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s/>\n",
            p.c_str(), color, dash);
  };
  for (size_t c = 0; c < kClasses; c++) {
    std::vector<std::pair<double, double>> p50, p99;
    for (size_t b = 0; b < nb; b++) {
      std::vector<uint64_t>& v = lat[c][b];
      if (v.empty()) {  // a gap: end the lines here
        polyline(p50, kClassColor[c], "");
        polyline(p99, kClassColor[c], " stroke-dasharray=\"5,3\"");
        p50.clear();
        p99.clear();
        continue;
      }
      std::sort(v.begin(), v.end());
      const double x = X(b * width_ns + width_ns / 2);
      p50.emplace_back(x, Y(Pct(v, 0.5)));
      p99.emplace_back(x, Y(Pct(v, 0.99)));
    }
    polyline(p50, kClassColor[c], "");
    polyline(p99, kClassColor[c], " stroke-dasharray=\"5,3\"");
  }
  svg.Raw("</g>\n");

  // ---- queue depth panel ----
  double max_depth = 1;
  for (size_t c = 0; c < kClasses; c++) {
    for (size_t b = 0; b < nb; b++) {
      if (depth_n[c][b] > 0) {
        max_depth = std::max(
            max_depth, static_cast<double>(depth_sum[c][b]) / static_cast<double>(depth_n[c][b]));
      }
    }
  }
  const double dstep = NiceStep(max_depth / 5.0);
  const double dmax = std::ceil(max_depth / dstep) * dstep;
  auto YD = [&](double d) { return L::kDepthTop + L::kDepthH - d / dmax * L::kDepthH; };
  svg.Raw("<g id=\"queue-depth\">\n");
  for (double d = 0; d <= dmax * 1.0001; d += dstep) {
    svg.Line(L::kLeft, YD(d), L::kLeft + L::kPlotW, YD(d), "#e5e5e5");
    svg.Line(L::kLeft - 5, YD(d), L::kLeft, YD(d), "#000");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", d);
    svg.Text(L::kLeft - 8, YD(d) + 4, buf, "end", 11);
  }
  TimeAxis(&svg, L::kDepthTop, L::kDepthH, t.span_ns, true);
  svg.Line(L::kLeft, L::kDepthTop, L::kLeft, L::kDepthTop + L::kDepthH, "#000");
  const double ymid = L::kDepthTop + L::kDepthH / 2;
  char rot[64];
  std::snprintf(rot, sizeof(rot), " transform=\"rotate(-90 22 %.1f)\"", ymid);
  svg.Text(22, ymid, "mean queue depth at submit", "middle", 12, rot);
  for (size_t c = 0; c < kClasses; c++) {
    std::vector<std::pair<double, double>> pts;
    for (size_t b = 0; b < nb; b++) {
      if (depth_n[c][b] == 0) {
        polyline(pts, kClassColor[c], "");
        pts.clear();
        continue;
      }
      const double d = static_cast<double>(depth_sum[c][b]) / static_cast<double>(depth_n[c][b]);
      pts.emplace_back(X(b * width_ns + width_ns / 2), YD(d));
      Appendf(&svg.str(), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n",
              pts.back().first, pts.back().second, kClassColor[c]);
    }
    polyline(pts, kClassColor[c], "");
  }
  svg.Raw("</g>\n");

  // ---- legend: the classes present ----
  bool present[kClasses] = {};
  for (const Event& e : t.events) present[e.cls] = true;
  double ly = L::kTop + 10;
  const double lx = L::kLeft + L::kPlotW + 20;
  svg.Raw("<g id=\"legend\">\n");
  svg.Text(lx, ly, "I/O class", "start", 12, " font-weight=\"bold\"");
  ly += 8;
  for (size_t c = 0; c < kClasses; c++) {
    if (!present[c]) continue;
    ly += 20;
    Appendf(&svg.str(), "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
            lx, ly - 11, kClassColor[c]);
    svg.Text(lx + 18, ly, ClassName(c), "start", 12);
  }
  ly += 30;
  svg.Line(lx, ly - 4, lx + 24, ly - 4, "#333", 1.8);
  svg.Text(lx + 30, ly, "p50", "start", 11);
  ly += 18;
  svg.Line(lx, ly - 4, lx + 24, ly - 4, "#333", 1.8, " stroke-dasharray=\"5,3\"");
  svg.Text(lx + 30, ly, "p99", "start", 11);
  svg.Raw("</g>\n</svg>\n");
  *out = std::move(svg.str());
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
  Trace t;
  Status s = Load(opt.files, &t);
  if (!s.ok()) return s;
  const uint64_t width = BucketWidth(opt, t);
  RenderText(t, width, text);
  if (svg != nullptr) RenderSvg(t, opt.files, width, opt.max_points, svg);
  for (const TraceFile& f : t.files) {
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
