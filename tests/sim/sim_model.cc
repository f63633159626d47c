#include "sim_model.h"

#include <algorithm>

namespace ringdb::sim {

std::string Describe(const Value& v) {
  if (!v) return "<absent>";
  std::string s = "\"";  // (appends: GCC 12's -Wrestrict misfires on "literal" + string)
  s.append(*v, 0, 24).append(v->size() > 24 ? "...\"" : "\"");
  return s;
}

size_t Model::Issue(uint32_t key, Value v, uint32_t shard, int64_t batch, const char* how) {
  ModelWrite w;
  w.how = how;
  w.key = key;
  w.value = std::move(v);
  w.shard = shard;
  w.batch = batch;
  writes_.push_back(std::move(w));
  history_[key].push_back(writes_.size() - 1);
  pending_++;
  return writes_.size() - 1;
}

std::string Model::History(uint32_t key) const {
  std::string out = "\n    base " + Describe(base_[key]);
  static const char* kState[] = {"pending", "ok", "failed"};
  for (size_t id : history_[key]) {
    const ModelWrite& w = writes_[id];
    out += "\n    #" + std::to_string(id) + " " + w.how + " " + Describe(w.value) + " shard " +
           std::to_string(w.shard) + " " + kState[static_cast<int>(w.state)] +
           (w.durable ? " durable" : "") + " acked at " + std::to_string(w.ack_ns);
  }
  return out;
}

void Model::Ack(size_t id, bool ok, bool durable, uint64_t now_ns) {
  ModelWrite& w = writes_[id];
  if (w.state != ModelWrite::State::kPending) return;
  w.state = ok ? ModelWrite::State::kOk : ModelWrite::State::kFailed;
  w.durable = ok && durable;
  w.ack_ns = now_ns;
  pending_--;
}

std::vector<Value> Model::Candidates(uint32_t key, bool across_crash,
                                     uint64_t periodic_durable_before_ns, bool tail_lost) const {
  const std::vector<size_t>& h = history_[key];
  size_t floor = 0;  // index into [base, h...]: the oldest value still allowed
  for (size_t i = 0; i < h.size(); i++) {
    const ModelWrite& w = writes_[h[i]];
    if (w.state != ModelWrite::State::kOk) continue;
    const bool promised =
        !across_crash ||
        (!tail_lost &&
         (w.durable || (periodic_durable_before_ns != 0 && w.ack_ns < periodic_durable_before_ns)));
    if (promised) floor = i + 1;
  }
  std::vector<Value> out;
  if (floor == 0) out.push_back(base_[key]);
  for (size_t i = floor == 0 ? 0 : floor - 1; i < h.size(); i++) out.push_back(writes_[h[i]].value);
  return out;
}

std::string Model::CheckKey(uint32_t key, const Value& got, bool across_crash,
                            uint64_t periodic_durable_before_ns, bool tail_lost) const {
  std::vector<Value> c = Candidates(key, across_crash, periodic_durable_before_ns, tail_lost);
  if (std::find(c.begin(), c.end(), got) != c.end()) return {};
  std::string why = "key " + std::to_string(key) + " shows " + Describe(got) + "; allowed:";
  for (const Value& v : c) why.append(" ").append(Describe(v));
  const std::vector<size_t>& h = history_[key];
  bool written = got == base_[key];
  for (size_t id : h) written |= writes_[id].value == got;
  why += written ? " (an older value: an acknowledged write was lost)" : " (never written)";
  why += History(key);
  return why;
}

std::string Model::CheckBatches(const std::vector<Value>& state) const {
  // batch -> (saw it applied, saw it missing)
  std::map<int64_t, std::pair<int, int>> seen;
  for (uint32_t k = 0; k < keys(); k++) {
    if (!state[k]) continue;  // absent is ambiguous (many deletes look alike)
    const std::vector<size_t>& h = history_[k];
    ptrdiff_t src = -1;  // index in h of the write that produced state[k]
    for (size_t i = 0; i < h.size(); i++) {
      if (writes_[h[i]].value == state[k]) src = static_cast<ptrdiff_t>(i);
    }
    for (size_t i = 0; i < h.size(); i++) {
      const ModelWrite& w = writes_[h[i]];
      if (w.batch < 0) continue;
      // Only the batch's own value proves it applied and only an older value proves it
      // missing: a newer write says nothing (the batch may have failed).
      auto& s = seen[w.batch];
      if (static_cast<ptrdiff_t>(i) == src) {
        s.first++;
      } else if (static_cast<ptrdiff_t>(i) > src) {
        s.second++;
      }
    }
  }
  for (const auto& [b, s] : seen) {
    if (s.first > 0 && s.second > 0) {
      return "batch part " + std::to_string(b) + " is torn: " + std::to_string(s.first) +
             " keys show it, " + std::to_string(s.second) + " do not";
    }
  }
  return {};
}

void Model::Rebase(const std::vector<Value>& state) {
  base_ = state;
  for (auto& h : history_) h.clear();
  writes_.clear();
  pending_ = 0;
  generation_++;
}

bool Model::Exact(uint32_t key, Value* out) const {
  std::vector<Value> c = Candidates(key, /*across_crash=*/false);
  if (c.size() != 1) return false;
  *out = c[0];
  return true;
}

}  // namespace ringdb::sim
