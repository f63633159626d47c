// FaultRule's constructors and the rule matcher: which rule, if any, fires on a request
// (FaultController::Impl::Decide). The matcher numbers each rule's matches, draws its
// probability from the rule's own seeded generator, and lets the first rule added win.
#include <algorithm>
#include <string>

#include "testing/fault_internal.h"

namespace ringdb::io {

using namespace fault_detail;

FaultRule FaultRule::Error(int err) {
  FaultRule r;
  r.action = FaultAction::kError;
  r.error = err;
  return r;
}

FaultRule FaultRule::ShortTransfer(uint64_t bytes) {
  FaultRule r;
  r.action = FaultAction::kShortTransfer;
  r.short_len = bytes;
  r.ops = kReadOps | kWriteOps;
  return r;
}

FaultRule FaultRule::BitFlip() {
  FaultRule r;
  r.action = FaultAction::kBitFlip;
  r.ops = kReadOps;
  return r;
}

FaultRule FaultRule::Delay(uint64_t ns) {
  FaultRule r;
  r.action = FaultAction::kDelay;
  r.delay_ns = ns;
  return r;
}

namespace {

bool Applies(FaultAction a, const IoRequest& req) {
  switch (a) {
    case FaultAction::kShortTransfer:
      return IsRw(req.op) && RequestBytes(req) > 0;
    case FaultAction::kBitFlip:
      return IsRead(req.op);
    default:
      return true;
  }
}

}  // namespace

Decision FaultController::Impl::Decide(const IoRequest& req) {
  counters.requests_seen++;
  Decision d;
  if (rules.empty()) return d;
  std::string p1, p2;
  switch (req.op) {
    case IoOp::kOpen:
    case IoOp::kUnlink:
      p1 = Resolve(req.fd, req.path);
      break;
    case IoOp::kRename:
      p1 = Resolve(req.fd, req.path);
      p2 = Resolve(req.fd, req.path2);
      break;
    default:
      if (FdInfo* fi = LookupFd(req.fd)) p1 = fi->path;
  }
  for (RuleState& rs : rules) {
    const FaultRule& r = rs.rule;
    // A write with kDsync is a write and a sync in one: rules for either match it.
    IoOpMask bits = OpBit(req.op);
    if ((req.flags & IoRequest::kDsync) != 0 &&
        (req.op == IoOp::kWrite || req.op == IoOp::kWritev)) {
      bits |= OpBit(IoOp::kFdatasync);
    }
    if ((r.ops & bits) == 0 || !Applies(r.action, req)) continue;
    if (!r.any_class && req.io_class != r.io_class) continue;
    if (!r.path_substr.empty() && p1.find(r.path_substr) == std::string::npos &&
        p2.find(r.path_substr) == std::string::npos) {
      continue;
    }
    uint64_t n = ++rs.matches;
    if (n < r.first || n - r.first >= r.count || rs.fires >= r.max_fires) continue;
    if (r.probability < 1.0) {
      double u = static_cast<double>(SplitMix(&rs.rng) >> 11) * 0x1.0p-53;
      if (u >= r.probability) continue;
    }
    if (d.fire) continue;  // an earlier rule won
    rs.fires++;
    d.fire = true;
    d.action = r.action;
    d.error = r.error;
    uint64_t bytes = RequestBytes(req);
    d.short_len = std::min(r.short_len == 0 ? bytes / 2 : r.short_len, bytes - 1);
    d.delay_ns = r.delay_ns;
    d.rnd = SplitMix(&rs.rng);
  }
  return d;
}

}  // namespace ringdb::io
