// The I/O trace: recorder and reader round trip through real backends, drop counting
// when the disk lags, traces cut short, damaged blocks.
#include "io/io_trace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "runtime/file_io.h"
#include "runtime/runtime.h"
#include "stats_test_util.h"
#include "util/clock.h"

namespace ringdb::stats_test {
namespace {

using io::IoTraceEntry;
using io::IoTraceRecordType;

struct ReadBack {
  io::IoTraceHeader header;
  std::vector<IoTraceEntry> io;        // kIo records, in order
  std::vector<IoTraceEntry> files;     // kFile records
  uint64_t dropped_markers = 0;        // sum of kDropped counts
  std::vector<size_t> drop_positions;  // index into `io` where each marker appeared
  Status status;
};

ReadBack ReadTrace(const std::string& path) {
  ReadBack rb;
  std::unique_ptr<io::IoTraceReader> r;
  rb.status = io::IoTraceReader::Open(path, &r);
  if (!rb.status.ok()) return rb;
  rb.header = r->header();
  IoTraceEntry e;
  while (r->Next(&e)) {
    switch (e.type) {
      case IoTraceRecordType::kIo:
        rb.io.push_back(e);
        break;
      case IoTraceRecordType::kFile:
        rb.files.push_back(e);
        break;
      case IoTraceRecordType::kDropped:
        rb.dropped_markers += e.dropped;
        rb.drop_positions.push_back(rb.io.size());
        break;
    }
  }
  rb.status = r->status();
  return rb;
}

TEST(IoTraceFormat, HeaderRoundTripsAndChecksumIsChecked) {
  io::IoTraceHeader h;
  h.shard = 7;
  h.start_wall_ns = 123;
  h.start_mono_ns = 456;
  h.end_mono_ns = 789;
  h.records = 10;
  h.dropped = 2;
  h.flags = io::kIoTraceClosed;
  h.backend = "io_uring";
  std::vector<char> block(io::kIoTraceBlockBytes);
  io::EncodeIoTraceHeader(h, block.data());
  io::IoTraceHeader d;
  ASSERT_TRUE(io::DecodeIoTraceHeader(block.data(), &d).ok());
  EXPECT_EQ(d.shard, 7u);
  EXPECT_EQ(d.start_wall_ns, 123u);
  EXPECT_EQ(d.start_mono_ns, 456u);
  EXPECT_EQ(d.end_mono_ns, 789u);
  EXPECT_EQ(d.records, 10u);
  EXPECT_EQ(d.dropped, 2u);
  EXPECT_EQ(d.flags, io::kIoTraceClosed);
  EXPECT_EQ(d.backend, "io_uring");
  block[30] ^= 1;
  EXPECT_TRUE(io::DecodeIoTraceHeader(block.data(), &d).IsCorruption());
  block[0] = 'X';
  EXPECT_TRUE(io::DecodeIoTraceHeader(block.data(), &d).IsCorruption());
}

TEST(IoTraceFormat, FileNumbersFromNames) {
  EXPECT_EQ(io::FileNumberFromName("000123.sst"), 123u);
  EXPECT_EQ(io::FileNumberFromName("000045.wal"), 45u);
  EXPECT_EQ(io::FileNumberFromName("MANIFEST-000005"), 5u);
  EXPECT_EQ(io::FileNumberFromName("CURRENT"), 0u);
  EXPECT_EQ(io::FileNumberFromName(""), 0u);
}

// ---------------------------------------------------------------- through a reactor

class IoTraceTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    const std::string why = Unavailable(GetParam().kind);
    if (!why.empty()) GTEST_SKIP() << why;
  }
  void Start(std::shared_ptr<io::FaultController>* ctl = nullptr) {
    Status s = rt::Runtime::Start(RuntimeFor(GetParam(), 1, ctl), &rt_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (rt_) rt_->Stop();
  }

  TempDir dir_;
  std::unique_ptr<rt::Runtime> rt_;
};

// The records EveryIoRoundTripsWithFileNames issues, in order: open, 10 writes of
// 000007.sst, its fdatasync, 5 reads, a write of the registered MANIFEST-000003 (then
// the closes), and the two file names.
void ExpectRoundTripRecords(const ReadBack& rb) {
  const IoTraceEntry& open = rb.io[0];
  EXPECT_EQ(open.op, io::IoOp::kOpen);
  EXPECT_EQ(open.fd, AT_FDCWD);
  const int data_fd = static_cast<int>(open.result);
  for (int i = 0; i < 10; i++) {
    const IoTraceEntry& w = rb.io[1 + i];
    EXPECT_EQ(w.op, io::IoOp::kWrite);
    EXPECT_EQ(w.io_class, io::IoClass::kFlush);
    EXPECT_EQ(w.offset, i * 8192ull);
    EXPECT_EQ(w.len, 4096u);
    EXPECT_EQ(w.result, 4096);
    EXPECT_EQ(w.fd, data_fd);
    EXPECT_EQ(w.file_number, 7u);
    EXPECT_GE(w.depth_at_submit, 1u);
    EXPECT_GE(w.submit_ns, rb.header.start_mono_ns);
    EXPECT_GE(w.complete_ns, w.submit_ns);
  }
  EXPECT_EQ(rb.io[11].op, io::IoOp::kFdatasync);
  for (int i = 0; i < 5; i++) {
    const IoTraceEntry& rd = rb.io[12 + i];
    EXPECT_EQ(rd.op, io::IoOp::kRead);
    EXPECT_EQ(rd.io_class, io::IoClass::kUserRead);
    EXPECT_EQ(rd.len, 2048u);
    EXPECT_EQ(rd.result, 2048);
  }
  const IoTraceEntry& mw = rb.io[17];
  EXPECT_EQ(mw.io_class, io::IoClass::kManifest);
  EXPECT_EQ(mw.file_number, 3u);
  EXPECT_EQ(mw.len, 4u);

  ASSERT_EQ(rb.files.size(), 2u);
  EXPECT_EQ(rb.files[0].name, "000007.sst");
  EXPECT_EQ(rb.files[0].file_number, 7u);
  EXPECT_EQ(rb.files[0].fd, data_fd);
  EXPECT_EQ(rb.files[1].name, "MANIFEST-000003");
  EXPECT_EQ(rb.files[1].file_number, 3u);
}

TEST_P(IoTraceTest, EveryIoRoundTripsWithFileNames) {
  Start();
  const std::string trace = dir_.File("IOTRACE");
  const std::string sst = dir_.File("000007.sst");
  const std::string manifest = dir_.File("MANIFEST-000003");
  ShardStats st;
  rt_->SubmitTo(0, [&] {
    rt::Reactor* r = rt::CurrentReactor();
    ASSERT_TRUE(r->StartIoTrace(trace, 64 << 10).ok());
    EXPECT_TRUE(r->io_trace_running());
    EXPECT_FALSE(r->StartIoTrace(trace, 64 << 10).ok());  // one at a time
    int fd = -1;
    ASSERT_TRUE(rt::OpenAt(AT_FDCWD, sst.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd).ok());
    std::vector<char> block(4096, 'z');
    for (int i = 0; i < 10; i++) {
      ASSERT_TRUE(rt::WriteFull(fd, block.data(), 4096, i * 8192ull, io::IoClass::kFlush).ok());
    }
    ASSERT_TRUE(rt::Fdatasync(fd, io::IoClass::kFlush).ok());
    for (int i = 0; i < 5; i++) {
      ASSERT_TRUE(rt::ReadFull(fd, block.data(), 2048, i * 8192ull, io::IoClass::kUserRead).ok());
    }
    // A file opened outside the backend is named by registration.
    const int mfd = ::open(manifest.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_GE(mfd, 0);
    r->RegisterTraceFile(mfd, 0, "MANIFEST-000003");
    ASSERT_TRUE(rt::WriteFull(mfd, "edit", 4, 0, io::IoClass::kManifest).ok());
    ASSERT_TRUE(rt::Close(mfd).ok());
    ASSERT_TRUE(rt::Close(fd).ok());
    r->FillStats(&st);
    ASSERT_TRUE(r->StopIoTrace().ok());
    EXPECT_FALSE(r->io_trace_running());
    EXPECT_TRUE(r->StopIoTrace().ok());  // idempotent
  });
  // open + 10 writes + sync + 5 reads + manifest write + 2 closes
  constexpr uint64_t kIos = 1 + 10 + 1 + 5 + 1 + 2;
  EXPECT_EQ(st.io.trace_records, kIos);
  EXPECT_EQ(st.io.trace_dropped, 0u);

  ReadBack rb = ReadTrace(trace);
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_TRUE(rb.header.flags & io::kIoTraceClosed);
  EXPECT_FALSE(rb.header.flags & io::kIoTraceWriteError);
  EXPECT_EQ(rb.header.shard, 0u);
  EXPECT_EQ(rb.header.records, kIos);
  EXPECT_EQ(rb.header.dropped, 0u);
  EXPECT_FALSE(rb.header.backend.empty());
  EXPECT_GT(rb.header.end_mono_ns, rb.header.start_mono_ns);
  ASSERT_EQ(rb.io.size(), kIos);

  ExpectRoundTripRecords(rb);
}

TEST_P(IoTraceTest, BackgroundWritesLandInOrderAndEveryIoIsKeptOrCounted) {
  Start();
  const std::string trace = dir_.File("IOTRACE");
  const std::string data = dir_.File("000001.wal");
  // ~160 blocks of records through a 64 KiB buffer (halves of 8 blocks): about 20
  // background writes.
  constexpr int kWrites = 10000;
  ShardStats st;
  rt_->SubmitTo(0, [&] {
    rt::Reactor* r = rt::CurrentReactor();
    ASSERT_TRUE(r->StartIoTrace(trace, 64 << 10).ok());
    int fd = -1;
    ASSERT_TRUE(rt::OpenAt(AT_FDCWD, data.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd).ok());
    char buf[64] = {};
    for (int i = 0; i < kWrites; i++) {
      ASSERT_TRUE(rt::WriteFull(fd, buf, sizeof(buf), i * 64ull, io::IoClass::kWal).ok());
    }
    ASSERT_TRUE(rt::Close(fd).ok());
    ASSERT_TRUE(r->StopIoTrace().ok());
    r->FillStats(&st);
  });
  // Whether a background write ever lags behind 504 page-cache writes depends on the
  // machine (it does not, usually); either way nothing goes unaccounted.
  const uint64_t total = kWrites + 2;
  EXPECT_EQ(st.io.trace_records + st.io.trace_dropped, total);
  EXPECT_LT(st.io.trace_dropped, total / 2);
  EXPECT_GE(st.io.trace_bytes_written,
            st.io.trace_records / io::kIoTraceRecordsPerBlock * io::kIoTraceBlockBytes);
  // The trace's own writes are counted as I/O (class other) but not traced.
  EXPECT_GE(st.io.of(IoClass::kOther).writes, 10u);
  ReadBack rb = ReadTrace(trace);
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_EQ(rb.io.size(), st.io.trace_records);
  EXPECT_EQ(rb.dropped_markers, st.io.trace_dropped);
  uint64_t prev_offset = 0;
  bool first = true;
  for (size_t i = 0; i < rb.io.size(); i++) {
    const IoTraceEntry& e = rb.io[i];
    ASSERT_EQ(e.flags & io::IoRequest::kNoTrace, 0) << "the trace traced its own writes";
    if (e.op != io::IoOp::kWrite) continue;
    ASSERT_EQ(e.io_class, io::IoClass::kWal);
    if (!first) {
      ASSERT_GT(e.offset, prev_offset) << "record " << i;
    }
    first = false;
    prev_offset = e.offset;
  }
  if (st.io.trace_dropped == 0) {
    for (int i = 0; i < kWrites; i++) ASSERT_EQ(rb.io[1 + i].offset, i * 64ull);
  }
}

TEST_P(IoTraceTest, ATraceThatWasNotStoppedReadsUpToItsLastWrittenHalf) {
  Start();
  const std::string trace = dir_.File("IOTRACE");
  const std::string data = dir_.File("data");
  rt_->SubmitTo(0, [&] {
    rt::Reactor* r = rt::CurrentReactor();
    ASSERT_TRUE(r->StartIoTrace(trace, 8 << 10).ok());
    int fd = -1;
    ASSERT_TRUE(rt::OpenAt(AT_FDCWD, data.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd).ok());
    char buf[64] = {};
    for (int i = 0; i < 300; i++) {
      ASSERT_TRUE(rt::WriteFull(fd, buf, sizeof(buf), i * 64ull, io::IoClass::kWal).ok());
    }
    ASSERT_TRUE(rt::Close(fd).ok());
  });
  rt_->Stop();  // no StopIoTrace: as a crash would leave it
  rt_.reset();
  ReadBack rb = ReadTrace(trace);
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_FALSE(rb.header.flags & io::kIoTraceClosed);
  EXPECT_EQ(rb.header.records, 0u);
  // 302 I/O records and one file name in halves of one block: the full halves that were
  // written are there (four when the disk kept up), the rest was in memory.
  const size_t slots = rb.io.size() + rb.files.size() + rb.drop_positions.size();
  EXPECT_EQ(rb.files.size(), 1u);
  EXPECT_EQ(slots % io::kIoTraceRecordsPerBlock, 0u);
  EXPECT_GE(slots, io::kIoTraceRecordsPerBlock);
  EXPECT_LE(slots, 4u * io::kIoTraceRecordsPerBlock);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoTraceTest, ::testing::ValuesIn(kBackendParams), ParamName);

// Behind a FaultBackend that slows the trace's own writes down.
class IoTraceFaultTest : public IoTraceTest {};

TEST_P(IoTraceFaultTest, DropsAndCountsWhenTraceWritesLag) {
  std::shared_ptr<io::FaultController> ctl;
  Start(&ctl);
  // Every write to the trace file takes 100 ms more: an 8 KiB buffer cannot keep up.
  ctl->AddRule(io::FaultRule::Delay(100'000'000).On(io::IoOp::kWrite).File("IOTRACE"));
  const std::string trace = dir_.File("IOTRACE");
  const std::string data = dir_.File("data");
  constexpr int kWrites = 1000;
  ShardStats st;
  rt_->SubmitTo(0, [&] {
    rt::Reactor* r = rt::CurrentReactor();
    ASSERT_TRUE(r->StartIoTrace(trace, 8 << 10).ok());
    int fd = -1;
    ASSERT_TRUE(rt::OpenAt(AT_FDCWD, data.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd).ok());
    char buf[64] = {};
    for (int i = 0; i < kWrites; i++) {
      ASSERT_TRUE(rt::WriteFull(fd, buf, sizeof(buf), i * 64ull, io::IoClass::kWal).ok());
    }
    ASSERT_TRUE(rt::Close(fd).ok());
    r->FillStats(&st);
    ASSERT_TRUE(r->StopIoTrace().ok());
  });
  const uint64_t total = kWrites + 2;
  EXPECT_GT(st.io.trace_dropped, 0u);
  EXPECT_EQ(st.io.trace_records + st.io.trace_dropped, total);
  ReadBack rb = ReadTrace(trace);
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_EQ(rb.header.records, rb.io.size());
  EXPECT_EQ(rb.header.dropped, st.io.trace_dropped);
  EXPECT_EQ(rb.dropped_markers, rb.header.dropped) << "every drop is marked in the stream";
  EXPECT_EQ(rb.io.size() + rb.header.dropped, total);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoTraceFaultTest, ::testing::ValuesIn(kFaultParams), ParamName);

// ---------------------------------------------------------------- recorder, by hand

// Holds every prepared request until the test completes it (pwrite for writes).
class ManualBackend final : public io::IoBackend {
 public:
  io::BackendKind kind() const override { return io::BackendKind::kAuto; }
  std::string_view name() const override { return "manual"; }
  void Prepare(io::IoRequest* req) override { queue_.push_back(req); }
  int Submit() override { return 0; }
  int Poll() override { return 0; }
  void Wait(int64_t) override {}
  void Wake() override {}
  uint32_t in_flight() const override { return static_cast<uint32_t>(queue_.size()); }
  const io::BackendCounters& counters() const override { return counters_; }

  size_t pending() const { return queue_.size(); }
  void CompleteOne() {
    io::IoRequest* r = queue_.front();
    queue_.pop_front();
    r->submit_ns = util::NowNanos();
    const ssize_t n = ::pwrite(r->fd, r->buf, r->len, static_cast<off_t>(r->offset));
    r->result = n < 0 ? -errno : n;
    r->complete_ns = util::NowNanos();
    NotifyComplete(*r);
    r->done(r);
  }

 private:
  std::deque<io::IoRequest*> queue_;
  io::BackendCounters counters_;
};

io::IoRequest FakeIo(uint64_t i) {
  io::IoRequest r;
  r.op = io::IoOp::kWrite;
  r.io_class = io::IoClass::kWal;
  r.fd = 42;
  r.offset = i * 100;
  r.len = 100;
  r.result = 100;
  r.submit_ns = 1000 + i;
  r.complete_ns = 2000 + i;
  r.depth_at_submit = 1;
  return r;
}

TEST(IoTraceRecorder, DropsWhileBothHalvesAreFullAndMarksTheGap) {
  TempDir dir;
  const std::string path = dir.File("IOTRACE");
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  io::IoTraceHeader h;
  h.backend = "manual";
  std::vector<char> hdr(io::kIoTraceBlockBytes);
  io::EncodeIoTraceHeader(h, hdr.data());
  ASSERT_EQ(::pwrite(fd, hdr.data(), hdr.size(), 0), static_cast<ssize_t>(hdr.size()));

  ManualBackend backend;
  // 8 KiB: two halves of one block (63 records) each.
  io::IoTraceRecorder rec(&backend, fd, 8 << 10);
  ASSERT_EQ(rec.half_bytes(), io::kIoTraceBlockBytes);
  const uint64_t per = io::kIoTraceRecordsPerBlock;
  uint64_t n = 0;
  for (; n < per; n++) rec.OnIo(FakeIo(n));  // fills half 0
  EXPECT_EQ(backend.pending(), 0u);
  rec.OnIo(FakeIo(n++));  // half 0 goes to disk, half 1 takes this one
  EXPECT_EQ(backend.pending(), 1u);
  EXPECT_TRUE(rec.write_in_flight());
  for (uint64_t i = 1; i < per; i++) rec.OnIo(FakeIo(n++));  // half 1 full
  for (int i = 0; i < 10; i++) rec.OnIo(FakeIo(n++));        // nowhere to go
  EXPECT_EQ(rec.counters().dropped, 10u);
  EXPECT_EQ(rec.counters().records, 2 * per);

  backend.CompleteOne();  // half 0 written: half 1 is full, so it goes at once
  EXPECT_EQ(backend.pending(), 1u);
  for (int i = 0; i < 5; i++) rec.OnIo(FakeIo(n++));  // a drop marker, then 5 records
  backend.CompleteOne();
  EXPECT_FALSE(rec.write_in_flight());
  EXPECT_EQ(rec.counters().bytes_written, 2 * io::kIoTraceBlockBytes);

  const char* data;
  size_t len;
  uint64_t off;
  rec.Finish(&data, &len, &off);
  ASSERT_EQ(len, io::kIoTraceBlockBytes);
  EXPECT_EQ(off, 3 * io::kIoTraceBlockBytes);
  ASSERT_EQ(::pwrite(fd, data, len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
  rec.FinishWritten(len, true);
  rec.OnIo(FakeIo(n++));  // after Finish: ignored
  h.records = rec.counters().records;
  h.dropped = rec.counters().dropped;
  h.flags = io::kIoTraceClosed;
  io::EncodeIoTraceHeader(h, hdr.data());
  ASSERT_EQ(::pwrite(fd, hdr.data(), hdr.size(), 0), static_cast<ssize_t>(hdr.size()));
  ::close(fd);

  ReadBack rb = ReadTrace(path);
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_EQ(rb.header.records, 2 * per + 5);
  EXPECT_EQ(rb.header.dropped, 10u);
  ASSERT_EQ(rb.io.size(), 2 * per + 5);
  EXPECT_EQ(rb.dropped_markers, 10u);
  ASSERT_EQ(rb.drop_positions.size(), 1u);
  EXPECT_EQ(rb.drop_positions[0], 2 * per);  // the gap sits where the records went missing
  // Offsets: 0 .. 2*per-1, then the 10 dropped ones are missing.
  for (uint64_t i = 0; i < 2 * per; i++) ASSERT_EQ(rb.io[i].offset, i * 100);
  for (uint64_t i = 0; i < 5; i++) ASSERT_EQ(rb.io[2 * per + i].offset, (2 * per + 10 + i) * 100);
  EXPECT_EQ(rb.io[0].latency_ns(), 1000u);
  EXPECT_EQ(rb.io[0].fd, 42);
}

TEST(IoTraceRecorder, AFailedWriteStopsTracing) {
  ManualBackend backend;
  io::IoTraceRecorder rec(&backend, /*fd=*/-1, 8 << 10);
  const uint64_t per = io::kIoTraceRecordsPerBlock;
  for (uint64_t i = 0; i <= per; i++) rec.OnIo(FakeIo(i));
  ASSERT_EQ(backend.pending(), 1u);
  backend.CompleteOne();  // pwrite(-1): EBADF
  EXPECT_TRUE(rec.failed());
  EXPECT_EQ(rec.counters().write_errors, 1u);
  rec.OnIo(FakeIo(999));
  EXPECT_EQ(rec.counters().dropped, 1u);
  const char* data;
  size_t len;
  uint64_t off;
  rec.Finish(&data, &len, &off);
  EXPECT_EQ(len, 0u);
}

TEST(IoTraceReader, ADamagedBlockEndsTheTraceWithCorruption) {
  TempDir dir;
  const std::string path = dir.File("IOTRACE");
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ManualBackend backend;
    io::IoTraceRecorder rec(&backend, fd, 64 << 10);
    for (uint64_t i = 0; i < 200; i++) rec.OnIo(FakeIo(i));
    const char* data;
    size_t len;
    uint64_t off;
    rec.Finish(&data, &len, &off);
    ASSERT_EQ(len, 4 * io::kIoTraceBlockBytes);
    ASSERT_EQ(::pwrite(fd, data, len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    io::IoTraceHeader h;
    h.flags = io::kIoTraceClosed;
    h.records = 200;
    std::vector<char> hdr(io::kIoTraceBlockBytes);
    io::EncodeIoTraceHeader(h, hdr.data());
    ASSERT_EQ(::pwrite(fd, hdr.data(), hdr.size(), 0), static_cast<ssize_t>(hdr.size()));
    // Flip one bit in the second data block.
    char c;
    const off_t victim = 2 * io::kIoTraceBlockBytes + 100;
    ASSERT_EQ(::pread(fd, &c, 1, victim), 1);
    c ^= 0x10;
    ASSERT_EQ(::pwrite(fd, &c, 1, victim), 1);
    ::close(fd);
  }
  ReadBack rb = ReadTrace(path);
  EXPECT_TRUE(rb.status.IsCorruption()) << rb.status.ToString();
  EXPECT_NE(rb.status.ToString().find("block 1"), std::string::npos) << rb.status.ToString();
  EXPECT_EQ(rb.io.size(), io::kIoTraceRecordsPerBlock);  // the first block only
}

}  // namespace
}  // namespace ringdb::stats_test
