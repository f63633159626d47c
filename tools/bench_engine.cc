#include "bench_engine.h"

#include <map>
#include <mutex>

namespace ringdb_bench {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, EngineOpener> openers;
};

Registry& GetRegistry() {
  static Registry r;
  return r;
}

}  // namespace

bool RegisterEngine(const char* name, EngineOpener opener) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> g(r.mu);
  return r.openers.emplace(name, opener).second;
}

EngineOpener FindEngine(const std::string& name) {
  if (name == "ringdb") return &OpenRingdbEngine;
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> g(r.mu);
  auto it = r.openers.find(name);
  return it == r.openers.end() ? nullptr : it->second;
}

std::vector<std::string> EngineNames() {
  std::vector<std::string> names{"ringdb"};
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> g(r.mu);
  for (const auto& [name, opener] : r.openers) names.push_back(name);
  return names;
}

}  // namespace ringdb_bench
