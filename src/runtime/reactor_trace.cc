// Reactor: I/O accounting export and the I/O trace (its start, stop and file naming;
// every completion the reactor reaps feeds both). See reactor.h.
#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "io/aligned_buffer.h"
#include "io/io_trace.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::rt {

namespace {

uint64_t WallNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void Reactor::FillStats(ringdb::ShardStats* out) const {
  ringdb::IoStats& io = out->io;
  io = io_acct_.stats();
  io.backend = std::string(backend_->name());
  io.in_flight = backend_->in_flight();
  if (trace_ != nullptr) {
    const io::IoTraceCounters& t = trace_->counters();
    io.trace_records = t.records;
    io.trace_dropped = t.dropped;
    io.trace_bytes_written = t.bytes_written;
  }
  ringdb::RuntimeStats& r = out->runtime;
  r.loops = stats_.loops;
  r.sleeps = stats_.sleeps;
  r.fiber_switches = stats_.switches;
  r.messages = stats_.messages;
  r.timers_fired = stats_.timers_fired;
  r.long_fiber_runs = stats_.long_fiber_runs;
  r.ring_full_waits = stats_.ring_full_waits;
  r.ring_occupancy = ring_occupancy_;
}

Status Reactor::StartIoTrace(const std::string& path, size_t buffer_bytes) {
  if (trace_fd_ >= 0) {
    return Status::InvalidArgument("I/O trace already running: " + trace_path_);
  }
  // O_DIRECT keeps a libaio write from blocking the reactor; file systems without it
  // (tmpfs) get a buffered file.
  int fd = -1;
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  Status s = OpenAt(AT_FDCWD, path.c_str(), kFlags | O_DIRECT, 0644, &fd);
  if (!s.ok()) s = OpenAt(AT_FDCWD, path.c_str(), kFlags, 0644, &fd);
  if (!s.ok()) return s;

  trace_start_wall_ns_ = WallNanos();
  trace_start_mono_ns_ = util::NowNanos();
  io::IoTraceHeader h;
  h.shard = opts_.shard_id;
  h.start_wall_ns = trace_start_wall_ns_;
  h.start_mono_ns = trace_start_mono_ns_;
  h.backend = std::string(backend_->name());
  io::AlignedBuffer block(io::kIoTraceBlockBytes);
  io::EncodeIoTraceHeader(h, block.data());
  s = WriteFull(fd, block.data(), io::kIoTraceBlockBytes, 0, io::IoClass::kOther, path);
  if (!s.ok()) {
    Close(fd, path);
    return s;
  }
  trace_ = std::make_unique<io::IoTraceRecorder>(backend_.get(), fd, buffer_bytes);
  trace_fd_ = fd;
  trace_path_ = path;
  io_acct_.set_trace(trace_.get());
  RINGDB_LOG_INFO("shard %u: I/O trace to %s (%zu KiB buffer)", opts_.shard_id, path.c_str(),
                  2 * trace_->half_bytes() / 1024);
  return Status::OK();
}

Status Reactor::StopIoTrace() {
  if (trace_fd_ < 0) return Status::OK();
  io_acct_.set_trace(nullptr);  // nothing new from here on
  // Let the background write finish (it may start one more if the filling half was
  // full when it completed).
  while (trace_->write_in_flight()) {
    if (InFiber()) {
      SleepFor(100'000);
    } else {
      const int n = backend_->Submit();
      if (n > 0) io_acct_.RecordSubmitBatch(static_cast<uint32_t>(n));
      backend_->Wait(1'000'000);
      backend_->Poll();
    }
  }
  const char* data = nullptr;
  size_t len = 0;
  uint64_t offset = 0;
  trace_->Finish(&data, &len, &offset);
  Status s;
  if (len > 0) {
    s = WriteFull(trace_fd_, data, len, offset, io::IoClass::kOther, trace_path_);
    trace_->FinishWritten(len, s.ok());
  }
  const io::IoTraceCounters& c = trace_->counters();
  io::IoTraceHeader h;
  h.shard = opts_.shard_id;
  h.start_wall_ns = trace_start_wall_ns_;
  h.start_mono_ns = trace_start_mono_ns_;
  h.end_mono_ns = util::NowNanos();
  h.records = c.records;
  h.dropped = c.dropped;
  h.flags = io::kIoTraceClosed | (trace_->failed() ? io::kIoTraceWriteError : 0);
  h.backend = std::string(backend_->name());
  io::AlignedBuffer block(io::kIoTraceBlockBytes);
  io::EncodeIoTraceHeader(h, block.data());
  Status hs = WriteFull(trace_fd_, block.data(), io::kIoTraceBlockBytes, 0, io::IoClass::kOther,
                        trace_path_);
  if (hs.ok()) hs = Fdatasync(trace_fd_, io::IoClass::kOther, trace_path_);
  Status cs = Close(trace_fd_, trace_path_);
  trace_fd_ = -1;
  if (s.ok()) s = hs;
  if (s.ok()) s = cs;
  if (c.dropped > 0) {
    RINGDB_LOG_WARN(
        "shard %u: I/O trace %s dropped %llu of %llu records (disk behind; a larger "
        "io_trace_buffer_bytes helps)",
        opts_.shard_id, trace_path_.c_str(), static_cast<unsigned long long>(c.dropped),
        static_cast<unsigned long long>(c.dropped + c.records));
  }
  return s;
}

void Reactor::RegisterTraceFile(int fd, uint64_t file_number, std::string_view name) {
  if (trace_fd_ < 0) return;
  trace_->RegisterFile(fd, file_number, name, util::NowNanos());
}

// The reactor dies with a trace running (StopIoTrace was not called, or its fibers
// were abandoned): the file is left as a crash would leave it (readable up to the last
// half written). A write still in flight keeps its buffer: leaked on purpose.
void Reactor::AbandonIoTrace() {
  if (trace_fd_ < 0) return;
  io_acct_.set_trace(nullptr);
  RINGDB_LOG_WARN("shard %u: I/O trace %s was not stopped; it ends at its last full half",
                  opts_.shard_id, trace_path_.c_str());
  if (trace_->write_in_flight()) {
    (void)trace_.release();
  } else {
    ::close(trace_fd_);
  }
  trace_fd_ = -1;
}

}  // namespace ringdb::rt
