// DB stats renderers: JSON (parsed back with nlohmann) and Prometheus text format 0.0.4
// (checked by a small validating parser).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "db/stats_render.h"
#include "ringdb/stats.h"

namespace ringdb {
namespace {

// Two shards with distinct, recognizable values, and their total.
Stats SampleStats() {
  Stats st;
  st.io_backend = "io_uring (probe \"ok\")";
  st.sync_rounds = 77;
  st.sync_round_timeouts = 3;
  for (uint32_t i = 0; i < 2; i++) {
    ShardStats s;
    s.shard = i;
    s.writes = 100 + i;
    s.wal_bytes = 4096 * (i + 1);
    s.user_bytes_written = 1000;
    s.stall_ns = 1'500'000'000;
    s.cache_hits = 30;
    s.cache_misses = 10;
    s.level_files[0] = 2;
    s.level_bytes[0] = 1 << 20;
    s.level_bytes[1] = 4 << 20;
    OpStats& get = s.op(OpKind::kGet);
    get.count = 1000;
    for (uint64_t v = 1; v <= 1000; v++) get.latency_ns.Record(v * 1000);  // 1 us .. 1 ms
    s.op(OpKind::kPut).count = 7;
    s.op(OpKind::kPut).latency_ns.Record(20'000);
    s.io.backend = "io_uring";
    IoClassStats& wal = s.io.of(IoClass::kWal);
    wal.count = wal.writes = 5;
    wal.write_bytes = 5 * 4096;
    for (int k = 0; k < 5; k++) wal.latency_ns.Record(50'000 + k);
    s.io.submit_batch.Record(3);
    s.io.submit_batch.Record(40);
    s.io.depth_at_submit.Record(1);
    s.io.depth_at_submit.Record(33);
    s.runtime.messages = 12;
    s.runtime.ring_occupancy.Record(4);
    st.shards.push_back(s);
  }
  st.total.shard = 2;
  for (const ShardStats& s : st.shards) AccumulateShardStats(s, &st.total);
  return st;
}

TEST(StatsJson, ParsesAndHasTheExpectedFields) {
  const Stats st = SampleStats();
  const std::string text = db::RenderStatsJson(st);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(text)) << text.substr(0, 400);
  EXPECT_EQ(j["io_backend"], st.io_backend);
  EXPECT_EQ(j["shard_count"], 2);
  EXPECT_EQ(j["sync_rounds"], 77);
  EXPECT_EQ(j["sync_round_timeouts"], 3);
  ASSERT_EQ(j["shards"].size(), 2u);
  const auto& s1 = j["shards"][1];
  EXPECT_EQ(s1["shard"], 1);
  EXPECT_EQ(s1["writes"], 101);
  EXPECT_EQ(s1["level_bytes"][1], 4 << 20);
  EXPECT_EQ(s1["ops"]["get"]["count"], 1000);
  const auto& lat = s1["ops"]["get"]["latency_ns"];
  for (const char* k : {"count", "sum", "min", "mean", "p50", "p90", "p99", "p999", "max"}) {
    EXPECT_TRUE(lat.contains(k)) << k;
  }
  EXPECT_EQ(lat["count"], 1000);
  EXPECT_EQ(lat["max"], 1'000'000);
  EXPECT_NEAR(lat["p50"].get<double>(), 500'000, 500'000 / 16.0 + 1);
  EXPECT_NEAR(lat["p99"].get<double>(), 990'000, 990'000 / 16.0 + 1);
  for (const char* op :
       {"put", "delete", "write_batch", "get", "multiget", "iter_seek", "iter_next"}) {
    EXPECT_TRUE(s1["ops"].contains(op)) << op;
  }
  const auto& io = s1["io"];
  EXPECT_EQ(io["backend"], "io_uring");
  for (const char* c :
       {"other", "wal", "flush", "compaction_read", "compaction_write", "user_read", "manifest"}) {
    EXPECT_TRUE(io["classes"].contains(c)) << c;
  }
  EXPECT_EQ(io["classes"]["wal"]["write_bytes"], 5 * 4096);
  EXPECT_EQ(io["classes"]["wal"]["latency_ns"]["count"], 5);
  EXPECT_EQ(io["submit_batch"]["max"], 40);
  EXPECT_EQ(io["depth_at_submit"]["count"], 2);
  EXPECT_TRUE(io["trace"].contains("dropped"));
  EXPECT_EQ(s1["runtime"]["ring_occupancy"]["count"], 1);
  const auto& d = s1["derived"];
  EXPECT_DOUBLE_EQ(d["cache_hit_rate"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(d["write_amplification"].get<double>(), 5 * 4096 / 1000.0);
  EXPECT_DOUBLE_EQ(d["space_amplification"].get<double>(), 5.0 / 4.0);

  const auto& t = j["total"];
  EXPECT_EQ(t["shard"], 2);
  EXPECT_EQ(t["writes"], 201);
  EXPECT_EQ(t["ops"]["get"]["latency_ns"]["count"], 2000);
  EXPECT_EQ(t["io"]["classes"]["wal"]["write_bytes"], 10 * 4096);
}

// ---------------------------------------------------------------- Prometheus parser

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool ParseValue(const std::string& s, double* v) {
  if (s == "+Inf") {
    *v = INFINITY;
    return true;
  }
  if (s == "-Inf") {
    *v = -INFINITY;
    return true;
  }
  if (s == "NaN") {
    *v = NAN;
    return true;
  }
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

// Parses `name{a="x",b="y"} value`; false on any syntax error.
bool ParseSample(const std::string& line, PromSample* out) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') i++;
  out->name = line.substr(0, i);
  if (!std::regex_match(out->name, kName)) return false;
  out->labels.clear();
  if (i < line.size() && line[i] == '{') {
    i++;
    while (true) {
      size_t eq = line.find('=', i);
      if (eq == std::string::npos) return false;
      const std::string lname = line.substr(i, eq - i);
      if (!std::regex_match(lname, kLabel)) return false;
      if (eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string v;
      size_t k = eq + 2;
      for (; k < line.size() && line[k] != '"'; k++) {
        if (line[k] == '\\') {
          if (++k >= line.size()) return false;
          if (line[k] == 'n') {
            v += '\n';
          } else if (line[k] == '\\' || line[k] == '"') {
            v += line[k];
          } else {
            return false;
          }
        } else {
          v += line[k];
        }
      }
      if (k >= line.size()) return false;
      if (!out->labels.emplace(lname, v).second) return false;  // duplicate label
      i = k + 1;
      if (i < line.size() && line[i] == ',') {
        i++;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        i++;
        break;
      }
      return false;
    }
  }
  if (i >= line.size() || line[i] != ' ') return false;
  return ParseValue(line.substr(i + 1), &out->value);
}

std::string Family(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

std::string LabelKey(std::map<std::string, std::string> labels, bool drop_le) {
  if (drop_le) labels.erase("le");
  std::string k;
  for (const auto& [n, v] : labels) k += n + "=" + v + ";";
  return k;
}

// The exposition's lines: comments (# HELP, # TYPE) and samples, families contiguous
// and typed before their samples, counters named *_total. Fills *types and *samples.
// Empty string = valid, else why.
std::string ValidateLines(const std::string& text, std::map<std::string, std::string>* types,
                          std::vector<PromSample>* samples) {
  std::set<std::string> helps, finished, seen;
  std::string current;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    const std::string where = "line " + std::to_string(lineno) + " '" + line + "': ";
    if (line.empty()) return where + "empty line";
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name, rest;
      ls >> hash >> kind >> name;
      if (hash != "#") return where + "comment must start with '# '";
      if (kind == "TYPE") {
        ls >> rest;
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
            rest != "untyped") {
          return where + "bad type";
        }
        if (!types->emplace(name, rest).second) return where + "second TYPE";
        if (seen.count(name) != 0) return where + "TYPE after samples";
      } else if (kind == "HELP") {
        if (!helps.insert(name).second) return where + "second HELP";
      }
      continue;
    }
    PromSample s;
    if (!ParseSample(line, &s)) return where + "not `name{labels} value`";
    if (s.name.rfind("ringdb_", 0) != 0) return where + "metric not named ringdb_*";
    const std::string fam = Family(s.name, *types);
    if (types->count(fam) == 0) return where + "sample before its TYPE";
    if (fam != current) {
      if (finished.count(fam) != 0) return where + "family samples not contiguous";
      if (!current.empty()) finished.insert(current);
      current = fam;
    }
    seen.insert(fam);
    if ((*types)[fam] == "counter") {
      if (s.name.size() < 6 || s.name.compare(s.name.size() - 6, 6, "_total") != 0) {
        return where + "counter not named *_total";
      }
      if (!(s.value >= 0)) return where + "negative counter";
    }
    samples->push_back(std::move(s));
  }
  return "";
}

// Histograms: buckets monotone in le, +Inf bucket == _count, _sum present.
std::string ValidateHistograms(const std::map<std::string, std::string>& types,
                               const std::vector<PromSample>& samples) {
  struct Hist {
    std::vector<std::pair<double, double>> buckets;  // (le, value)
    double count = -1, sum = NAN;
  };
  std::map<std::string, Hist> hists;
  for (const PromSample& s : samples) {
    const std::string fam = Family(s.name, types);
    auto type = types.find(fam);
    if (type == types.end() || type->second != "histogram") continue;
    Hist& h = hists[fam + "|" + LabelKey(s.labels, true)];
    if (s.name == fam + "_bucket") {
      auto le = s.labels.find("le");
      double v;
      if (le == s.labels.end() || !ParseValue(le->second, &v)) return s.name + ": bad le";
      h.buckets.emplace_back(v, s.value);
    } else if (s.name == fam + "_count") {
      h.count = s.value;
    } else if (s.name == fam + "_sum") {
      h.sum = s.value;
    } else {
      return s.name + ": not a histogram sample name";
    }
  }
  for (const auto& [key, h] : hists) {
    if (h.buckets.empty()) return key + ": no buckets";
    for (size_t i = 1; i < h.buckets.size(); i++) {
      if (!(h.buckets[i].first > h.buckets[i - 1].first)) return key + ": le not increasing";
      if (h.buckets[i].second < h.buckets[i - 1].second) return key + ": buckets not monotone";
    }
    if (!std::isinf(h.buckets.back().first)) return key + ": no +Inf bucket";
    if (h.buckets.back().second != h.count) return key + ": +Inf bucket != _count";
    if (std::isnan(h.sum)) return key + ": no _sum";
  }
  return "";
}

// Validates the whole exposition; fills the samples. Empty string = valid, else why.
std::string ValidateExposition(const std::string& text, std::vector<PromSample>* samples) {
  if (text.empty() || text.back() != '\n') return "must end with a newline";
  std::map<std::string, std::string> types;
  std::string why = ValidateLines(text, &types, samples);
  if (!why.empty()) return why;
  // No duplicate series.
  std::set<std::string> series;
  for (const PromSample& s : *samples) {
    if (!series.insert(s.name + "|" + LabelKey(s.labels, false)).second) {
      return "duplicate series " + s.name + "{" + LabelKey(s.labels, false) + "}";
    }
  }
  return ValidateHistograms(types, *samples);
}

const PromSample* Find(const std::vector<PromSample>& samples, const std::string& name,
                       const std::map<std::string, std::string>& labels) {
  for (const PromSample& s : samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(StatsPrometheus, IsValidExpositionFormat) {
  const std::string text = db::RenderStatsPrometheus(SampleStats());
  std::vector<PromSample> samples;
  const std::string err = ValidateExposition(text, &samples);
  ASSERT_EQ(err, "") << text.substr(0, 2000);
  EXPECT_GT(samples.size(), 300u);

  const PromSample* p = Find(samples, "ringdb_writes_total", {{"shard", "1"}});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 101);
  p = Find(samples, "ringdb_info", {{"io_backend", "io_uring (probe \"ok\")"}});
  ASSERT_NE(p, nullptr) << "label values are escaped and round-trip";
  p = Find(samples, "ringdb_sync_rounds_total", {});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 77);
  p = Find(samples, "ringdb_sync_round_timeouts_total", {});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 3);
  p = Find(samples, "ringdb_io_written_bytes_total", {{"shard", "0"}, {"class", "wal"}});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 5 * 4096);
  p = Find(samples, "ringdb_stall_seconds_total", {{"shard", "0"}});
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->value, 1.5);
  p = Find(samples, "ringdb_op_latency_seconds_count", {{"shard", "0"}, {"op", "get"}});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 1000);
  // 1 us .. 1 ms uniformly: about half at or below 0.5 ms (bucket edges are within 6.25%).
  p = Find(samples, "ringdb_op_latency_seconds_bucket",
           {{"shard", "0"}, {"op", "get"}, {"le", "0.0005"}});
  ASSERT_NE(p, nullptr);
  EXPECT_NEAR(p->value, 500, 500 / 16.0 + 1);
  p = Find(samples, "ringdb_op_latency_seconds_bucket",
           {{"shard", "0"}, {"op", "get"}, {"le", "0.001"}});
  ASSERT_NE(p, nullptr);
  // Counts every internal bucket whose upper edge is <= le: the last ~6% below 1 ms
  // share a bucket that reaches past it.
  EXPECT_NEAR(p->value, 1000, 1000 / 16.0 + 1);
  EXPECT_LE(p->value, 1000);
  p = Find(samples, "ringdb_op_latency_seconds_sum", {{"shard", "0"}, {"op", "get"}});
  ASSERT_NE(p, nullptr);
  EXPECT_NEAR(p->value, 500.5 * 1000 * 1e-6, 1e-9);
  p = Find(samples, "ringdb_op_latency_quantile_seconds",
           {{"shard", "0"}, {"op", "get"}, {"quantile", "1"}});
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->value, 1e-3);
  p = Find(samples, "ringdb_io_submit_batch_bucket", {{"shard", "1"}, {"le", "4"}});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 1);
  p = Find(samples, "ringdb_level_bytes", {{"shard", "1"}, {"level", "1"}});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->value, 4 << 20);
  p = Find(samples, "ringdb_block_cache_hit_ratio", {{"shard", "0"}});
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->value, 0.75);
}

TEST(StatsPrometheus, TheValidatorRejectsBrokenInput) {
  std::vector<PromSample> s;
  EXPECT_NE(ValidateExposition("ringdb_x_total 1\n", &s), "");  // no TYPE
  s.clear();
  EXPECT_NE(ValidateExposition("# TYPE ringdb_x counter\nringdb_x 1\n", &s), "");  // not _total
  s.clear();
  EXPECT_NE(ValidateExposition("# TYPE ringdb_h histogram\n"
                               "ringdb_h_bucket{le=\"1\"} 5\nringdb_h_bucket{le=\"+Inf\"} 4\n"
                               "ringdb_h_sum 1\nringdb_h_count 4\n",
                               &s),
            "");  // not monotone
  s.clear();
  EXPECT_NE(ValidateExposition("# TYPE ringdb_g gauge\nringdb_g{a=\"x} 1\n", &s), "");
  s.clear();
  EXPECT_EQ(ValidateExposition("# HELP ringdb_g A gauge.\n# TYPE ringdb_g gauge\n"
                               "ringdb_g{a=\"x\\\"y\"} 1.5e-3\n",
                               &s),
            "");
}

TEST(StatsPrometheus, EmptyStatsStillRender) {
  Stats st;
  std::vector<PromSample> samples;
  EXPECT_EQ(ValidateExposition(db::RenderStatsPrometheus(st), &samples), "");
  nlohmann::json j;
  EXPECT_NO_THROW(j = nlohmann::json::parse(db::RenderStatsJson(st)));
  EXPECT_EQ(j["shard_count"], 0);
}

}  // namespace
}  // namespace ringdb
