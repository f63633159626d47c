// Renders ringdb::Stats as JSON and in the Prometheus text exposition format.
#pragma once

#include <string>

#include "ringdb/stats.h"

namespace ringdb::db {

std::string RenderStatsJson(const Stats& stats);
std::string RenderStatsPrometheus(const Stats& stats);

}  // namespace ringdb::db
