// RenderTraceSvg: `ringdb-tool iotrace --svg` (docs/iotrace.md). Two panels sharing
// the time axis: the latency of every I/O (log scale, sampled when there are many,
// with p50 and p99 lines per class and time bucket) above the mean queue depth at
// submit per class and bucket; a legend of the classes present on the right.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <utility>

#include "tools/iotrace_trace.h"

namespace ringdb::tools::iotrace {
namespace {

// One colour per class (Tableau 10), index = io::IoClass value.
constexpr const char* kClassColor[kClasses] = {"#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c",
                                               "#d62728", "#9467bd", "#8c564b"};
constexpr const char* kDashed = " stroke-dasharray=\"5,3\"";

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
using L = Layout;

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
  // A vertical axis title, centred on the panel at height ymid.
  void YTitle(double ymid, const char* text) {
    char rot[64];
    std::snprintf(rot, sizeof(rot), " transform=\"rotate(-90 22 %.1f)\"", ymid);
    Text(22, ymid, text, "middle", 12, rot);
  }
  // A line through pts (nothing when empty).
  void Polyline(const std::vector<std::pair<double, double>>& pts, const char* color,
                const char* dash) {
    if (pts.empty()) return;
    std::string p;
    for (const auto& [x, y] : pts) Appendf(&p, "%.1f,%.1f ", x, y);
    Appendf(&s_, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s/>\n",
            p.c_str(), color, dash);
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
  svg->Line(L::kLeft, bottom, L::kLeft + L::kPlotW, bottom, "#000");
  for (double v = 0; v <= span_s * 1.0001; v += step) {
    const double x = L::kLeft + v / span_s * L::kPlotW;
    svg->Line(x, top, x, bottom, "#e5e5e5");
    svg->Line(x, bottom, x, bottom + 5, "#000");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v);
    svg->Text(x, bottom + 18, buf, "middle", 11);
  }
  if (labels) svg->Text(L::kLeft + L::kPlotW / 2, bottom + 36, "time (s)", "middle");
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

// The trace cut into time buckets of width_ns, per class: latencies (sorted) and the
// queue depths at submit, plus the mappings from time and latency to the plot.
struct Plot {
  Plot(const Trace& trace, uint64_t width) : t(trace), width_ns(width) {
    nb = static_cast<size_t>(t.span_ns / width_ns) + 1;
    lat.assign(kClasses, std::vector<std::vector<uint64_t>>(nb));
    depth_sum.assign(kClasses, std::vector<uint64_t>(nb));
    depth_n.assign(kClasses, std::vector<uint64_t>(nb));
    uint64_t lo_ns = UINT64_MAX, hi_ns = 0;
    for (const Event& e : t.events) {
      const size_t b = std::min(nb - 1, static_cast<size_t>(e.t_ns / width_ns));
      lat[e.cls][b].push_back(e.latency_ns);
      if (e.depth > 0) {
        depth_sum[e.cls][b] += e.depth;
        depth_n[e.cls][b]++;
      }
      lo_ns = std::min(lo_ns, std::max<uint64_t>(e.latency_ns, 1));
      hi_ns = std::max(hi_ns, e.latency_ns);
    }
    for (auto& per_class : lat) {
      for (auto& v : per_class) std::sort(v.begin(), v.end());
    }
    if (t.events.empty()) lo_ns = hi_ns = 1000;
    // Decades of microseconds the latency axis spans.
    dlo = std::floor(std::log10(std::max(1e-3, static_cast<double>(lo_ns) / 1e3)));
    dhi = std::ceil(std::log10(std::max(1e-3, static_cast<double>(hi_ns) / 1e3)));
    if (dhi <= dlo) dhi = dlo + 1;
  }

  double X(uint64_t ns) const {
    const double span = static_cast<double>(std::max<uint64_t>(t.span_ns, 1));
    return L::kLeft + static_cast<double>(ns) / span * L::kPlotW;
  }
  double BucketX(size_t b) const { return X(b * width_ns + width_ns / 2); }
  double LatencyY(uint64_t ns) const {
    const double us = std::max(static_cast<double>(ns) / 1e3, std::pow(10.0, dlo));
    const double f = (std::log10(us) - dlo) / (dhi - dlo);
    return L::kLatTop + L::kLatH - std::clamp(f, 0.0, 1.0) * L::kLatH;
  }
  double MeanDepth(size_t c, size_t b) const {
    return static_cast<double>(depth_sum[c][b]) / static_cast<double>(depth_n[c][b]);
  }

  const Trace& t;
  uint64_t width_ns;
  size_t nb = 0;
  std::vector<std::vector<std::vector<uint64_t>>> lat;  // [class][bucket]: sorted
  std::vector<std::vector<uint64_t>> depth_sum, depth_n;
  double dlo = 0, dhi = 1;
};

void Header(const Trace& t, const std::vector<std::string>& paths, uint64_t width_ns, Svg* svg) {
  Appendf(&svg->str(),
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
          "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n",
          L::kW, L::kH, L::kW, L::kH, L::kW, L::kH);
  std::string title = "ringdb I/O trace: ";
  for (size_t i = 0; i < paths.size() && i < 4; i++) title += (i ? ", " : "") + paths[i];
  if (paths.size() > 4) title += ", ...";
  svg->Text(L::kLeft, 24, title, "start", 15, " font-weight=\"bold\"");
  char sub[200];
  std::snprintf(sub, sizeof(sub),
                "%zu I/Os over %.3f s; points: individual I/Os (sampled; the slowest 1%% all), "
                "lines: p50 (solid) and p99 (dashed) per %s",
                t.events.size(), static_cast<double>(t.span_ns) / 1e9, Duration(width_ns).c_str());
  svg->Text(L::kLeft, 44, sub, "start", 11, " fill=\"#555\"");
}

void LatencyPanel(const Plot& p, size_t max_points, Svg* svg) {
  svg->Raw("<g id=\"latency\">\n");
  for (double d = p.dlo; d <= p.dhi; d += 1) {
    const double y = L::kLatTop + L::kLatH - (d - p.dlo) / (p.dhi - p.dlo) * L::kLatH;
    svg->Line(L::kLeft, y, L::kLeft + L::kPlotW, y, "#e5e5e5");
    svg->Line(L::kLeft - 5, y, L::kLeft, y, "#000");
    svg->Text(L::kLeft - 8, y + 4, LatencyLabel(std::pow(10.0, d)), "end", 11);
  }
  TimeAxis(svg, L::kLatTop, L::kLatH, p.t.span_ns, false);
  svg->Line(L::kLeft, L::kLatTop, L::kLeft, L::kLatTop + L::kLatH, "#000");
  svg->YTitle(L::kLatTop + L::kLatH / 2, "latency (log scale)");
  for (size_t i : SamplePoints(p.t, max_points)) {
    const Event& e = p.t.events[i];
    Appendf(&svg->str(),
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\" fill-opacity=\"0.45\"/>\n",
            p.X(e.t_ns + e.latency_ns / 2), p.LatencyY(e.latency_ns), kClassColor[e.cls]);
  }
  // p50 / p99 lines per class and time bucket; an empty bucket ends the lines.
  for (size_t c = 0; c < kClasses; c++) {
    std::vector<std::pair<double, double>> p50, p99;
    for (size_t b = 0; b < p.nb; b++) {
      const std::vector<uint64_t>& v = p.lat[c][b];
      if (v.empty()) {
        svg->Polyline(p50, kClassColor[c], "");
        svg->Polyline(p99, kClassColor[c], kDashed);
        p50.clear();
        p99.clear();
        continue;
      }
      p50.emplace_back(p.BucketX(b), p.LatencyY(Pct(v, 0.5)));
      p99.emplace_back(p.BucketX(b), p.LatencyY(Pct(v, 0.99)));
    }
    svg->Polyline(p50, kClassColor[c], "");
    svg->Polyline(p99, kClassColor[c], kDashed);
  }
  svg->Raw("</g>\n");
}

void DepthPanel(const Plot& p, Svg* svg) {
  double max_depth = 1;
  for (size_t c = 0; c < kClasses; c++) {
    for (size_t b = 0; b < p.nb; b++) {
      if (p.depth_n[c][b] > 0) max_depth = std::max(max_depth, p.MeanDepth(c, b));
    }
  }
  const double dstep = NiceStep(max_depth / 5.0);
  const double dmax = std::ceil(max_depth / dstep) * dstep;
  auto YD = [&](double d) { return L::kDepthTop + L::kDepthH - d / dmax * L::kDepthH; };
  svg->Raw("<g id=\"queue-depth\">\n");
  for (double d = 0; d <= dmax * 1.0001; d += dstep) {
    svg->Line(L::kLeft, YD(d), L::kLeft + L::kPlotW, YD(d), "#e5e5e5");
    svg->Line(L::kLeft - 5, YD(d), L::kLeft, YD(d), "#000");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", d);
    svg->Text(L::kLeft - 8, YD(d) + 4, buf, "end", 11);
  }
  TimeAxis(svg, L::kDepthTop, L::kDepthH, p.t.span_ns, true);
  svg->Line(L::kLeft, L::kDepthTop, L::kLeft, L::kDepthTop + L::kDepthH, "#000");
  svg->YTitle(L::kDepthTop + L::kDepthH / 2, "mean queue depth at submit");
  for (size_t c = 0; c < kClasses; c++) {
    std::vector<std::pair<double, double>> pts;
    for (size_t b = 0; b < p.nb; b++) {
      if (p.depth_n[c][b] == 0) {
        svg->Polyline(pts, kClassColor[c], "");
        pts.clear();
        continue;
      }
      pts.emplace_back(p.BucketX(b), YD(p.MeanDepth(c, b)));
      Appendf(&svg->str(), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n",
              pts.back().first, pts.back().second, kClassColor[c]);
    }
    svg->Polyline(pts, kClassColor[c], "");
  }
  svg->Raw("</g>\n");
}

// The classes present, then what the solid and dashed lines mean.
void Legend(const Trace& t, Svg* svg) {
  bool present[kClasses] = {};
  for (const Event& e : t.events) present[e.cls] = true;
  double ly = L::kTop + 10;
  const double lx = L::kLeft + L::kPlotW + 20;
  svg->Raw("<g id=\"legend\">\n");
  svg->Text(lx, ly, "I/O class", "start", 12, " font-weight=\"bold\"");
  ly += 8;
  for (size_t c = 0; c < kClasses; c++) {
    if (!present[c]) continue;
    ly += 20;
    Appendf(&svg->str(), "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
            lx, ly - 11, kClassColor[c]);
    svg->Text(lx + 18, ly, ClassName(c), "start", 12);
  }
  ly += 30;
  svg->Line(lx, ly - 4, lx + 24, ly - 4, "#333", 1.8);
  svg->Text(lx + 30, ly, "p50", "start", 11);
  ly += 18;
  svg->Line(lx, ly - 4, lx + 24, ly - 4, "#333", 1.8, kDashed);
  svg->Text(lx + 30, ly, "p99", "start", 11);
  svg->Raw("</g>\n");
}

}  // namespace

void RenderTraceSvg(const Trace& t, const std::vector<std::string>& paths, uint64_t width_ns,
                    size_t max_points, std::string* out) {
  Svg svg;
  Header(t, paths, width_ns, &svg);
  const Plot plot(t, width_ns);
  LatencyPanel(plot, max_points, &svg);
  DepthPanel(plot, &svg);
  Legend(t, &svg);
  svg.Raw("</svg>\n");
  *out = std::move(svg.str());
}

}  // namespace ringdb::tools::iotrace
