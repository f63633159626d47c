// IoPacer: one shard's budget for background I/O (flush and compaction), so that
// foreground reads and commits keep their latency while background work runs
// (DESIGN.md "foreground first").
//
//   - At most max_inflight background I/Os at once; only one while the foreground is
//     deep (deep_foreground or more user reads and WAL groups in flight). The pacer is
//     told when foreground I/O starts and ends, and wakes background fibers as soon as
//     the foreground drains.
//   - Optionally at most bytes_per_sec of background I/O (a token bucket with one
//     second of burst), for users who want the SSD's bandwidth kept for the foreground.
//   - Urgent I/O (flush: writes stall behind it) ignores the foreground backoff and
//     the rate, but counts toward max_inflight.
// The reactor also submits background I/O after the foreground's in each loop pass
// (Reactor::PrepareIo), so a deep compaction queue never sits in front of a read.
//
// Thread ownership: the shard's reactor thread. Acquire() suspends (fiber only);
// Release() and the foreground hooks may run in I/O completion callbacks.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/reactor.h"
#include "runtime/sync.h"
#include "util/clock.h"

namespace ringdb::lsm {

struct IoPacerOptions {
  uint32_t max_inflight = 8;
  uint32_t deep_foreground = 8;
  uint64_t bytes_per_sec = 0;  // 0: no rate limit
};

class IoPacer {
 public:
  explicit IoPacer(const IoPacerOptions& opt = IoPacerOptions()) : opt_(opt) {}
  IoPacer(const IoPacer&) = delete;
  IoPacer& operator=(const IoPacer&) = delete;

  // (fiber) Waits until a background I/O of `bytes` may start, and counts it in flight.
  void Acquire(uint64_t bytes, bool urgent) {
    const uint64_t start = util::NowNanos();
    bool waited = false;
    for (;;) {
      const uint32_t limit =
          urgent ? opt_.max_inflight : (fg_ >= opt_.deep_foreground ? 1 : opt_.max_inflight);
      if (inflight_ < limit) break;
      waited = true;
      wake_.Reset();
      wake_.Wait();
    }
    if (opt_.bytes_per_sec > 0 && !urgent) {
      Refill();
      if (tokens_ < static_cast<double>(bytes)) {
        waited = true;
        const double need = static_cast<double>(bytes) - tokens_;
        rt::SleepFor(static_cast<uint64_t>(need * 1e9 / static_cast<double>(opt_.bytes_per_sec)));
        Refill();
      }
      tokens_ -= static_cast<double>(bytes);  // may go negative: a debt the next I/O pays
    }
    inflight_++;
    if (waited) {
      waits_++;
      wait_ns_ += util::NowNanos() - start;
    }
  }
  void Release() {
    inflight_--;
    wake_.Set();
  }

  void ForegroundStarted() { fg_++; }
  void ForegroundDone() {
    fg_--;
    if (fg_ + 1 == opt_.deep_foreground) wake_.Set();
  }

  uint32_t foreground_inflight() const { return fg_; }
  uint32_t background_inflight() const { return inflight_; }
  uint64_t waits() const { return waits_; }      // background I/Os that had to wait
  uint64_t wait_ns() const { return wait_ns_; }  // and how long in all

 private:
  void Refill() {
    const uint64_t now = util::NowNanos();
    if (last_ns_ != 0) {
      tokens_ +=
          static_cast<double>(now - last_ns_) * static_cast<double>(opt_.bytes_per_sec) / 1e9;
      tokens_ = std::min(tokens_, static_cast<double>(opt_.bytes_per_sec));
    }
    last_ns_ = now;
  }

  const IoPacerOptions opt_;
  uint32_t fg_ = 0;
  uint32_t inflight_ = 0;
  double tokens_ = 0;
  uint64_t last_ns_ = 0;
  uint64_t waits_ = 0;
  uint64_t wait_ns_ = 0;
  rt::Event wake_;
};

}  // namespace ringdb::lsm
