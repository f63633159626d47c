// IoAccounting: a reactor's always-on I/O statistics. Installed as the observer of the
// reactor's outermost backend (IoBackend::set_observer), it sees every request that
// backend completes, just before the request's done() runs, and records per I/O
// class: count, reads/writes/syncs, errors, bytes transferred, and the latency
// complete_ns - submit_ns in a histogram; for every request the queue depth at
// submission; and (RecordSubmitBatch, called by the reactor) the number of requests
// each Submit() handed to the kernel. With an I/O trace installed it forwards each
// request to the trace recorder as well.
//
// Cost: a handful of increments and two HistogramData::Record calls per I/O, no
// allocation (bench/io/io_stats_bench.cc measures it).
//
// Thread ownership: the reactor's thread only. Other threads read a copy (Fill) taken
// on that thread.
#pragma once

#include <cstdint>

#include "io/io_backend.h"
#include "ringdb/stats.h"

namespace ringdb::io {

class IoTraceRecorder;

class IoAccounting final : public IoObserver {
 public:
  void OnIoComplete(const IoRequest& req) override;

  // Requests one Submit() handed to the kernel (call only when n > 0).
  void RecordSubmitBatch(uint32_t n) { stats_.submit_batch.Record(n); }

  // Forwards every completion to `trace` too (nullptr: stop). The trace must outlive
  // its installation.
  void set_trace(IoTraceRecorder* trace) { trace_ = trace; }
  IoTraceRecorder* trace() const { return trace_; }

  // What has been recorded (backend, in_flight and trace_* are left empty: the owner
  // of the backend and of the trace fills those).
  const ringdb::IoStats& stats() const { return stats_; }
  void Clear() { stats_ = ringdb::IoStats(); }

 private:
  ringdb::IoStats stats_;
  IoTraceRecorder* trace_ = nullptr;
};

// The public IoClass mirrors io::IoClass value for value.
static_assert(static_cast<size_t>(IoClass::kCount) == ringdb::kIoClassCount);
static_assert(static_cast<int>(IoClass::kWal) == static_cast<int>(ringdb::IoClass::kWal));
static_assert(static_cast<int>(IoClass::kFlush) == static_cast<int>(ringdb::IoClass::kFlush));
static_assert(static_cast<int>(IoClass::kCompactionRead) ==
              static_cast<int>(ringdb::IoClass::kCompactionRead));
static_assert(static_cast<int>(IoClass::kCompactionWrite) ==
              static_cast<int>(ringdb::IoClass::kCompactionWrite));
static_assert(static_cast<int>(IoClass::kUserRead) == static_cast<int>(ringdb::IoClass::kUserRead));
static_assert(static_cast<int>(IoClass::kManifest) == static_cast<int>(ringdb::IoClass::kManifest));
static_assert(static_cast<int>(IoClass::kCacheWarm) ==
              static_cast<int>(ringdb::IoClass::kCacheWarm));

}  // namespace ringdb::io
