#include "io/io_stats.h"

#include "io/io_trace.h"

namespace ringdb::io {

namespace {

// Per op: 1 in the column it counts in. Branch-free updates: completions of different
// ops interleave (WAL write, fdatasync, reads), so a switch would mispredict.
struct OpColumns {
  uint8_t read, write, sync;
};
constexpr OpColumns kColumns[] = {
    {1, 0, 0},  // kRead
    {0, 1, 0},  // kWrite
    {1, 0, 0},  // kReadv
    {0, 1, 0},  // kWritev
    {0, 0, 1},  // kFsync
    {0, 0, 1},  // kFdatasync
    {0, 0, 0},  // kFallocate
    {0, 0, 0},  // kOpen
    {0, 0, 0},  // kClose
    {0, 0, 0},  // kRename
    {0, 0, 0},  // kUnlink
    // Socket ops never reach the observer (IoBackend::NotifyComplete); zero rows anyway.
    {0, 0, 0},  // kAccept
    {0, 0, 0},  // kRecv
    {0, 0, 0},  // kSend
    {0, 0, 0},  // kPoll
    {0, 0, 0},  // kCancel
};
static_assert(sizeof(kColumns) / sizeof(kColumns[0]) == static_cast<size_t>(IoOp::kCancel) + 1);

}  // namespace

void IoAccounting::OnIoComplete(const IoRequest& r) {
  const size_t cls = static_cast<size_t>(r.io_class);
  ringdb::IoClassStats& c = stats_.classes[cls < ringdb::kIoClassCount ? cls : 0];
  const OpColumns k = kColumns[static_cast<size_t>(r.op)];
  const uint64_t moved = r.result > 0 ? static_cast<uint64_t>(r.result) : 0;
  c.count++;
  c.errors += r.result < 0 ? 1 : 0;
  c.reads += k.read;
  c.writes += k.write;
  c.syncs += k.sync;
  c.read_bytes += k.read ? moved : 0;
  c.write_bytes += k.write ? moved : 0;
  // Every backend stamps submit_ns before completing a request; one that never reached
  // the kernel (cancelled in a chain, rejected) has submit_ns == complete_ns, depth 0.
  if (r.submit_ns != 0 && r.complete_ns >= r.submit_ns) {
    c.latency_ns.Record(r.complete_ns - r.submit_ns);
  }
  if (r.depth_at_submit != 0) stats_.depth_at_submit.Record(r.depth_at_submit);
  if (trace_ != nullptr) trace_->OnIo(r);
}

}  // namespace ringdb::io
