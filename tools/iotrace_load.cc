// LoadTraces: reads IOTRACE files (docs/iotrace.md) into one Trace, with times relative
// to the earliest trace start and file names resolved from the trace's file records.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <unordered_map>

#include "tools/iotrace_trace.h"

namespace ringdb::tools::iotrace {

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

uint64_t Pct(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

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

double NiceStep(double x) {
  if (x <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= x) return m * p;
  }
  return 10 * p;
}

namespace {

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

uint32_t Intern(const std::string& name, Trace* t, std::unordered_map<std::string, uint32_t>* ids) {
  auto [it, added] = ids->emplace(name, static_cast<uint32_t>(t->names.size()));
  if (added) t->names.push_back(name);
  return it->second;
}

}  // namespace

Status LoadTraces(const std::vector<std::string>& paths, Trace* t) {
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

}  // namespace ringdb::tools::iotrace
