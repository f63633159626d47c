// Renders ringdb::Stats as JSON (stats_json.cc) and in the Prometheus text exposition
// format (stats_prometheus.cc). DB::StatsJson() and DB::StatsPrometheus() call these.
#pragma once

#include <string>

#include "ringdb/stats.h"

namespace ringdb::db {

std::string RenderStatsJson(const Stats& stats);
std::string RenderStatsPrometheus(const Stats& stats);

}  // namespace ringdb::db
