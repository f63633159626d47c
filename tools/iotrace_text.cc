// RenderTraceText: the text summary of `ringdb-tool iotrace` (docs/iotrace.md): the
// trace files, then per I/O class counts, bytes and latency percentiles, request sizes,
// queue depths, the read/write mix over time and the busiest files.
#include <algorithm>
#include <cinttypes>

#include "tools/iotrace_trace.h"

namespace ringdb::tools::iotrace {
namespace {

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
constexpr const char* kSizeLabels[kSizeBuckets] = {
    "<=512", "1K", "2K", "4K", "8K", "16K", "32K", "64K", "128K", "256K", "512K", "1M", ">1M"};
// Queue depth buckets: 1, 2, 3-4, 5-8, ..., 129-256, >256.
constexpr int kDepthBuckets = 10;
int DepthBucket(uint32_t d) {
  int b = 0;
  for (uint32_t lim = 1; b < kDepthBuckets - 1 && d > lim; lim <<= 1) b++;
  return b;
}
constexpr const char* kDepthLabels[kDepthBuckets] = {"1",     "2",     "3-4",    "5-8",     "9-16",
                                                     "17-32", "33-64", "65-128", "129-256", ">256"};

// Everything the per-class tables show, in one pass over the events.
struct ClassTables {
  ClassSummary cs[kClasses];
  uint64_t size_hist[kClasses][kSizeBuckets] = {};
  uint64_t depth_hist[kClasses][kDepthBuckets] = {};
};

// Reads, writes and syncs with their bytes: a time bucket's or a file's share.
struct Mix {
  uint64_t reads = 0, writes = 0, syncs = 0, rb = 0, wb = 0;
  void Add(const Event& e) {
    if (e.kind == Kind::kRead) {
      reads++;
      rb += e.bytes();
    } else if (e.kind == Kind::kWrite) {
      writes++;
      wb += e.bytes();
    } else if (e.kind == Kind::kSync) {
      syncs++;
    }
  }
};

void TraceFiles(const Trace& t, std::string* out) {
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
}

void Summarize(const Trace& t, ClassTables* ct) {
  for (const Event& e : t.events) {
    ClassSummary& c = ct->cs[e.cls];
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
    if (e.kind == Kind::kRead || e.kind == Kind::kWrite) ct->size_hist[e.cls][SizeBucket(e.len)]++;
    if (e.depth > 0) ct->depth_hist[e.cls][DepthBucket(e.depth)]++;
  }
  for (ClassSummary& c : ct->cs) std::sort(c.latencies.begin(), c.latencies.end());
}

void Totals(const Trace& t, const ClassTables& ct, std::string* out) {
  uint64_t total_r = 0, total_w = 0;
  for (const ClassSummary& c : ct.cs) {
    total_r += c.read_bytes;
    total_w += c.write_bytes;
  }
  Appendf(out, "\nTotal: %zu I/Os over %.3f s, %.2f MiB read, %.2f MiB written\n", t.events.size(),
          static_cast<double>(t.span_ns) / 1e9, MiB(total_r), MiB(total_w));
}

void ClassTable(const ClassTables& ct, std::string* out) {
  Appendf(out, "\nPer class (latency = submit to completion, us):\n");
  Appendf(out, "  %-16s %9s %8s %8s %7s %6s %10s %10s %9s %9s %9s %9s %9s\n", "class", "count",
          "reads", "writes", "syncs", "errors", "read_MiB", "write_MiB", "p50", "p90", "p99",
          "p99.9", "max");
  for (size_t k = 0; k < kClasses; k++) {
    const ClassSummary& c = ct.cs[k];
    if (c.count == 0) continue;
    Appendf(out,
            "  %-16s %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 " %6" PRIu64
            " %10.2f %10.2f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
            ClassName(k), c.count, c.reads, c.writes, c.syncs, c.errors, MiB(c.read_bytes),
            MiB(c.write_bytes), Us(Pct(c.latencies, 0.5)), Us(Pct(c.latencies, 0.9)),
            Us(Pct(c.latencies, 0.99)), Us(Pct(c.latencies, 0.999)), Us(c.latencies.back()));
  }
}

// A histogram per class: one row per class with `include(k)`, one column per bucket.
template <int N>
void BucketTable(const char* title, const char* const (&labels)[N],
                 const uint64_t (&hist)[kClasses][N], bool (*include)(const ClassSummary&),
                 const ClassTables& ct, std::string* out) {
  Appendf(out, "\n%s\n  %-16s", title, "class");
  for (const char* l : labels) Appendf(out, " %7s", l);
  out->push_back('\n');
  for (size_t k = 0; k < kClasses; k++) {
    if (!include(ct.cs[k])) continue;
    Appendf(out, "  %-16s", ClassName(k));
    for (int b = 0; b < N; b++) Appendf(out, " %7" PRIu64, hist[k][b]);
    out->push_back('\n');
  }
}

void MixOverTime(const Trace& t, uint64_t width_ns, std::string* out) {
  const size_t nb = t.events.empty() ? 0 : static_cast<size_t>(t.span_ns / width_ns) + 1;
  std::vector<Mix> mix(nb);
  for (const Event& e : t.events)
    mix[std::min(nb - 1, static_cast<size_t>(e.t_ns / width_ns))].Add(e);
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
}

void BusiestFiles(const Trace& t, std::string* out) {
  std::vector<Mix> files(t.names.size());
  for (const Event& e : t.events) files[e.file].Add(e);
  std::vector<size_t> order(files.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return files[a].rb + files[a].wb > files[b].rb + files[b].wb;
  });
  Appendf(out, "\nBusiest files (by bytes):\n  %-28s %9s %9s %7s %10s %10s\n", "file", "reads",
          "writes", "syncs", "read_MiB", "write_MiB");
  for (size_t i = 0; i < order.size() && i < 15; i++) {
    const Mix& u = files[order[i]];
    if (u.reads + u.writes + u.syncs == 0) continue;
    Appendf(out, "  %-28s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %10.2f %10.2f\n",
            t.names[order[i]].c_str(), u.reads, u.writes, u.syncs, MiB(u.rb), MiB(u.wb));
  }
}

}  // namespace

void RenderTraceText(const Trace& t, uint64_t width_ns, std::string* out) {
  out->clear();
  TraceFiles(t, out);
  ClassTables ct;
  Summarize(t, &ct);
  Totals(t, ct, out);
  ClassTable(ct, out);
  BucketTable(
      "Request sizes (reads and writes, requests per size):", kSizeLabels, ct.size_hist,
      [](const ClassSummary& c) { return c.reads + c.writes > 0; }, ct, out);
  BucketTable(
      "Queue depth at submit (requests per depth):", kDepthLabels, ct.depth_hist,
      [](const ClassSummary& c) { return c.count > 0; }, ct, out);
  MixOverTime(t, width_ns, out);
  BusiestFiles(t, out);
}

}  // namespace ringdb::tools::iotrace
