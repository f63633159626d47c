// fuzz_make_corpus OUT_DIR: writes the seed corpora of the fuzz targets
// (OUT_DIR/<target>/<name>) from real files: a small store run through the public API
// (writes, flushes, compactions, a reopen, the I/O trace on) and the engine's own
// encoders for the shapes a short run does not produce (torn and pipelined WAL writes,
// orphan records, tables without a filter, drop markers in a trace, ...). The `resp`
// target's seeds are requests as clients send them (multibulk frames as redis-cli and
// redis-benchmark encode them, pipelines, inline commands, binary values, each limit
// and protocol error: resp_seeds.cc); tests/fuzz/capture_resp.py adds traffic captured
// from the real clients beside them.
//
//   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus     # refresh the committed seeds
//
// The WAL and MANIFEST targets take fixed64 file number | file bytes (the checksums
// cover the number). Preallocated zero tails are cut at the first 4 KiB boundary after
// the last non-zero byte (they read the same: the end of the log), and every seed is
// kept under kMaxSeedBytes so that the fuzzers stay fast.
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "db/store_files.h"
#include "io/io_backend.h"
#include "io/io_trace.h"
#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/filenames.h"
#include "lsm/table_builder.h"
#include "lsm/table_reader.h"
#include "lsm/version_edit.h"
#include "lsm/wal_format.h"
#include "lsm/write_batch_rep.h"
#include "ringdb/db.h"
#include "ringdb/write_batch.h"
#include "tests/fuzz/resp_seeds.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::fuzz {
namespace {

constexpr size_t kMaxSeedBytes = 64 << 10;
constexpr size_t kMaxTableSeedBytes = 32 << 10;  // larger engine tables are left out

// prefix followed by n in decimal (GCC 12 raises a false -Wrestrict on
// `"literal" + std::to_string(n)`, GCC bug 105651).
std::string N(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz_make_corpus: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) Die("cannot list " + dir);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path);
}

std::string Numbered(uint64_t number, std::string_view bytes) {
  std::string out(8, '\0');
  util::EncodeFixed64(out.data(), number);
  out.append(bytes);
  return out;
}

// Cuts a preallocated file after its last non-zero byte, at the next 4 KiB boundary.
std::string TrimZeroTail(std::string bytes) {
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == 0) end--;
  bytes.resize(std::min(bytes.size(), lsm::WalAlignUp(end)));
  return bytes;
}

const char* const kTargets[] = {"wal",     "manifest", "version_edit", "block", "table",
                                "options", "current",  "iotrace",      "resp"};

class Corpus {
 public:
  explicit Corpus(std::string dir) : dir_(std::move(dir)) {
    ::mkdir(dir_.c_str(), 0755);
    for (const char* t : kTargets) {
      ::mkdir((dir_ + "/" + t).c_str(), 0755);
    }
  }
  // Writes a seed unless one with these bytes was written already.
  void Add(const std::string& target, const std::string& name, std::string_view bytes) {
    if (bytes.size() > kMaxSeedBytes) bytes = bytes.substr(0, kMaxSeedBytes);
    for (const auto& [t, b] : written_) {
      if (t == target && b == bytes) return;
    }
    written_.emplace_back(target, std::string(bytes));
    const std::string path = dir_ + "/" + target + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) Die("cannot write " + path);
    counts_[target]++;
  }
  void Print() const {
    for (const auto& [t, n] : counts_) std::printf("  %-13s %zu seeds\n", t.c_str(), n);
  }
  size_t count(const std::string& target) const {
    auto it = counts_.find(target);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> written_;
  std::map<std::string, size_t> counts_;
};

// The blocks of a table: the index block and the first data blocks (contents only).
void AddTableParts(Corpus* c, const std::string& name, std::string_view file) {
  std::unique_ptr<lsm::TableReader> t;
  Check(lsm::TableReader::OpenFromFile(file, &t), "open " + name);
  const lsm::Footer& f = t->footer();
  c->Add("block", name + "-index", file.substr(f.index.offset, f.index.size));
  std::unique_ptr<lsm::Block::Iter> it = t->NewIndexIterator();
  int n = 0;
  for (it->SeekToFirst(); it->Valid() && n < 3; it->Next(), n++) {
    std::string_view v = it->value();
    lsm::BlockHandle h;
    if (!lsm::DecodeBlockHandle(&v, &h)) Die("bad index in " + name);
    c->Add("block", N(name + "-data", n), file.substr(h.offset, h.size));
  }
}

// Every record payload of a MANIFEST as a version_edit seed.
void AddEdits(Corpus* c, const std::string& name, uint64_t number, std::string_view file) {
  lsm::WalReader r(number, file);
  lsm::WalRecord rec;
  int n = 0;
  while (r.Next(&rec)) c->Add("version_edit", N(name + "-edit", n++), rec.payload);
}

// Copies the files of a live or closed shard directory into the corpus.
void AddShardFiles(Corpus* c, const std::string& store, const std::string& tag) {
  const std::string sdir = store + "/shard-000";
  for (const std::string& name : ListDir(sdir)) {
    const std::string bytes = ReadFile(sdir + "/" + name);
    const std::string seed = tag + "-" + name;
    uint64_t number = 0;
    switch (lsm::ParseFileName(name, &number)) {
      case lsm::FileKind::kWal:
        c->Add("wal", seed, Numbered(number, TrimZeroTail(bytes)));
        break;
      case lsm::FileKind::kManifest:
        c->Add("manifest", seed, Numbered(number, TrimZeroTail(bytes)));
        AddEdits(c, seed, number, bytes);
        break;
      case lsm::FileKind::kTable:
        if (bytes.size() <= kMaxTableSeedBytes) c->Add("table", seed, bytes);
        AddTableParts(c, seed, bytes);
        break;
      case lsm::FileKind::kCurrent:
        c->Add("current", seed, bytes);
        break;
      default:
        if (name == "IOTRACE") {
          // The header and the first blocks (a longer closed trace reads the same: its end).
          c->Add("iotrace", seed, std::string_view(bytes).substr(0, 8 * io::kIoTraceBlockBytes));
        }
        break;
    }
  }
  c->Add("options", tag + "-OPTIONS", ReadFile(store + "/OPTIONS"));
}

// ---------------------------------------------------------------- a real store

std::string Value(int i) {
  std::string v = N("value-", i) + "-";
  v.resize(static_cast<size_t>((i * 37) % 120), static_cast<char>('a' + i % 26));
  return v;
}

void RunStore(Corpus* c, const std::string& tmp) {
  Options o;
  o.path = tmp + "/db";
  o.shards = 1;
  o.memtable_bytes = 64 << 10;  // the minimum: flushes every ~500 writes
  o.wal_preallocate_bytes = 64 << 10;
  o.block_bytes = 512;  // several data blocks per table
  o.block_cache_bytes = 1 << 20;
  o.io_trace = true;
  o.io_trace_buffer_bytes = 16 << 10;
  std::unique_ptr<DB> db;
  Check(DB::Open(o, &db), "open");
  WriteOptions wo;
  for (int i = 0; i < 1500; i++) {
    const std::string key = N("key", i % 300);
    if (i % 7 == 3) {
      Check(db->Delete(wo, key), "delete");
    } else if (i % 11 == 5) {
      WriteBatch b;
      b.Put(key, Value(i));
      b.Delete(N("key", i + 1));
      b.Put(std::string("bin\0\xff", 5) + key, Value(i + 1));
      Check(db->Write(wo, b), "write");
    } else {
      Check(db->Put(wo, key, Value(i)), "put");
    }
  }
  Check(db->Put(wo, "", "empty key"), "put");
  Check(db->Put(wo, std::string(300, 'k'), ""), "put");
  AddShardFiles(c, o.path, "live");  // a WAL with records, an unclosed trace
  Check(db->Flush(), "flush");
  for (int i = 0; i < 30; i++) Check(db->Put(wo, N("late", i), Value(i)), "put");
  Check(db->Flush(), "flush");  // a small table
  Check(db->Delete(wo, "late3"), "delete");
  Check(db->Close(), "close");
  AddShardFiles(c, o.path, "closed");
  db.reset();
  o.io_trace = false;
  Check(DB::Open(o, &db), "reopen");  // recovery: a new MANIFEST from the snapshot
  Check(db->Put(wo, "after-reopen", "x"), "put");
  Check(db->Close(), "close");
  AddShardFiles(c, o.path, "reopened");
}

// ---------------------------------------------------------------- encoders

std::string Rep(int first, int n, bool with_delete) {
  std::string rep;
  lsm::WriteBatchRep::Clear(&rep);
  for (int i = 0; i < n; i++) {
    Check(lsm::WriteBatchRep::Put(&rep, N("k", first + i), Value(first + i)), "rep");
  }
  if (with_delete) Check(lsm::WriteBatchRep::Delete(&rep, "gone"), "rep");
  return rep;
}

// One group-commit write of `reps` at `offset` into *seg (zero-extended).
void Write(uint64_t segno, uint64_t offset, uint64_t synced_upto, uint64_t* seq,
           const std::vector<std::string>& reps, std::string* seg) {
  std::string buf;
  lsm::WalWriteEncoder enc(segno, offset, synced_upto, &buf);
  for (const std::string& rep : reps) {
    enc.AddBatch(*seq, rep);
    *seq += lsm::WriteBatchRep::Count(rep);
  }
  enc.FinishPadded();
  if (seg->size() < offset + buf.size()) seg->resize(offset + buf.size(), '\0');
  seg->replace(offset, buf.size(), buf);
}

void AddWalShapes(Corpus* c) {
  constexpr uint64_t kSeg = 7;
  uint64_t seq = 1;
  std::string seg;
  Write(kSeg, 0, 0, &seq, {Rep(0, 3, false), Rep(10, 1, true)}, &seg);
  Write(kSeg, 4096, 4096, &seq, {Rep(20, 2, false)}, &seg);
  Write(kSeg, 8192, 4096, &seq, {Rep(30, 5, true)}, &seg);  // pipelined: synced lags
  c->Add("wal", "enc-three-writes", Numbered(kSeg, seg));
  std::string torn = seg;
  std::fill(torn.begin() + 8192 + 40, torn.begin() + 8192 + 80, '\x5a');  // last write torn
  c->Add("wal", "enc-torn-tail", Numbered(kSeg, torn));
  std::string proven = seg;
  proven[4096 + 40] ^= 1;  // a synced write broken: the next one's synced_upto proves it
  c->Add("wal", "enc-corrupt-synced", Numbered(kSeg, proven));

  // durability none: nothing synced, so a torn write followed by an intact one is a
  // torn tail with an orphan record.
  seq = 100;
  std::string none;
  Write(kSeg + 1, 0, 0, &seq, {Rep(40, 2, false)}, &none);
  Write(kSeg + 1, 4096, 0, &seq, {Rep(50, 2, false), Rep(60, 1, false)}, &none);
  Write(kSeg + 1, 8192, 0, &seq, {Rep(70, 1, true)}, &none);
  none[4096 + 8] = 0x33;  // bad type byte
  c->Add("wal", "enc-orphans", Numbered(kSeg + 1, none));

  std::string meta;  // a kMeta record where recovery expects batches
  lsm::WalWriteEncoder enc(kSeg + 2, 0, 0, &meta);
  enc.AddMeta("not a batch");
  enc.FinishPadded();
  c->Add("wal", "enc-meta-record", Numbered(kSeg + 2, meta));
}

lsm::FileMetaData File(uint64_t number, const std::string& a, const std::string& b, uint64_t s0,
                       uint64_t s1) {
  lsm::FileMetaData f;
  f.number = number;
  f.file_size = 4096 * number;
  f.smallest = lsm::MakeInternalKey(a, s1, lsm::ValueType::kValue);
  f.largest = lsm::MakeInternalKey(b, s0, lsm::ValueType::kDeletion);
  f.smallest_seq = s0;
  f.largest_seq = s1;
  return f;
}

void AddManifestShapes(Corpus* c) {
  std::vector<lsm::VersionEdit> edits(3);
  edits[0].SetLogNumber(3);
  edits[0].SetNextFileNumber(20);
  edits[0].SetLastSequence(500);
  edits[0].AddFile(0, File(10, "a", "m", 1, 100));
  edits[0].AddFile(0, File(11, "c", "z", 101, 200));
  edits[0].AddFile(1, File(5, "a", "f", 1, 50));
  edits[0].AddFile(1, File(6, "g", "p", 1, 60));
  edits[0].AddFile(2, File(2, "", "zzz", 1, 9));
  edits[1].DeleteFile(0, 10);
  edits[1].DeleteFile(1, 5);
  edits[1].AddFile(1, File(12, "a", "f", 1, 100));
  edits[1].SetNextFileNumber(21);
  edits[1].AddWal(19, lsm::WalSegmentMeta{4096, 600, true});
  edits[1].AddWal(22, lsm::WalSegmentMeta{});
  edits[2].SetLastSequence(900);
  edits[2].SetLogNumber(19);
  edits[2].AddWal(22, lsm::WalSegmentMeta{8192, 950, false});
  std::string file;
  uint64_t offset = 0;
  for (size_t i = 0; i < edits.size(); i++) {
    std::string payload, buf;
    edits[i].EncodeTo(&payload);
    c->Add("version_edit", N("enc-edit", i), payload);
    lsm::WalWriteEncoder enc(9, offset, offset, &buf);
    enc.AddMeta(payload);
    offset += enc.FinishPadded();
    file += buf;
  }
  c->Add("manifest", "enc-three-edits", Numbered(9, file));
  std::string torn = file;
  torn.resize(8192 + 20);  // the last edit cut inside its header
  c->Add("manifest", "enc-torn-tail", Numbered(9, torn));
}

std::string BuildTable(const lsm::TableOptions& opt, int n, int value_bytes, bool deletes) {
  lsm::TableBuilder b(opt);
  for (int i = 0; i < n; i++) {
    char key[32];
    std::snprintf(key, sizeof(key), "user%06d", i);
    for (int v = 0; v < 2; v++) {  // two versions of each key
      const bool del = deletes && v == 0 && i % 3 == 0;
      const lsm::SequenceNumber seq = static_cast<lsm::SequenceNumber>(1000 + 2 * i - v);
      std::string value(static_cast<size_t>(value_bytes), static_cast<char>('a' + (i + v) % 26));
      Check(b.Add(lsm::MakeInternalKey(key, seq,
                                       del ? lsm::ValueType::kDeletion : lsm::ValueType::kValue),
                  del ? std::string() : value),
            "table add");
    }
  }
  Check(b.Finish(), "table finish");
  return std::string(b.ready());
}

void AddTableShapes(Corpus* c) {
  lsm::TableOptions small;
  small.block_bytes = 256;
  c->Add("table", "enc-small-blocks", BuildTable(small, 60, 20, true));
  lsm::TableOptions nofilter = small;
  nofilter.bloom_bits_per_key = 0;
  c->Add("table", "enc-no-filter", BuildTable(nofilter, 20, 5, false));
  lsm::TableOptions restart1 = small;
  restart1.restart_interval = 1;
  c->Add("table", "enc-restart-1", BuildTable(restart1, 30, 10, true));
  lsm::TableOptions big;
  c->Add("table", "enc-one-entry", BuildTable(big, 1, 3, false));
  c->Add("table", "enc-large-values", BuildTable(big, 3, 3000, false));
  c->Add("table", "enc-empty", BuildTable(big, 0, 0, false));
  lsm::TableOptions aligned;  // page-aligned data blocks with zero padding between them
  aligned.block_align = true;
  aligned.block_bytes = 1024;
  c->Add("table", "enc-aligned", BuildTable(aligned, 12, 150, true));
  AddTableParts(c, "enc-small-blocks", BuildTable(small, 60, 20, true));
  AddTableParts(c, "enc-restart-1", BuildTable(restart1, 30, 10, true));

  lsm::BlockBuilder empty(16);
  c->Add("block", "enc-empty", empty.Finish());
  lsm::BlockBuilder b(4);
  for (int i = 0; i < 20; i++) {
    b.Add(lsm::MakeInternalKey(N("k", 100 + i), 7, lsm::ValueType::kValue),
          std::string(static_cast<size_t>(i), 'v'));
  }
  c->Add("block", "enc-restart-4", b.Finish());
}

void AddSmallFiles(Corpus* c) {
  for (uint32_t shards : {1u, 4u, 256u}) {
    db::StoreOptions so;
    so.shards = shards;
    c->Add("options", N("enc-shards-", shards), db::EncodeStoreOptions(so));
  }
  // A newer minor version's extra key (ignored), with a valid checksum.
  std::string body = "ringdb-options\nformat_version=1\nshards=2\nfuture_key=7\n";
  char crc[32];
  std::snprintf(crc, sizeof(crc), "crc32c=%08x\n", util::crc32c::Value(body.data(), body.size()));
  c->Add("options", "enc-unknown-key", body + crc);
  for (uint64_t n : {1ull, 42ull, 1234567ull}) {
    c->Add("current", N("enc-", n), lsm::EncodeCurrent(n));
  }
}

// ---------------------------------------------------------------- an I/O trace by hand

// Holds the trace's background writes until told to complete them, into a string.
class ManualBackend final : public io::IoBackend {
 public:
  explicit ManualBackend(std::string* file) : file_(file) {}
  io::BackendKind kind() const override { return io::BackendKind::kAuto; }
  std::string_view name() const override { return "manual"; }
  void Prepare(io::IoRequest* req) override { queue_.push_back(req); }
  int Submit() override { return 0; }
  int Poll() override { return 0; }
  void Wait(int64_t) override {}
  void Wake() override {}
  uint32_t in_flight() const override { return static_cast<uint32_t>(queue_.size()); }
  const io::BackendCounters& counters() const override { return counters_; }

  void CompleteAll(bool fail = false) {
    while (!queue_.empty()) {
      io::IoRequest* r = queue_.front();
      queue_.pop_front();
      if (!fail) Put(r->offset, static_cast<const char*>(r->buf), r->len);
      r->result = fail ? -5 : static_cast<int64_t>(r->len);
      r->done(r);
    }
  }
  void Put(uint64_t offset, const char* data, size_t len) {
    if (file_->size() < offset + len) file_->resize(offset + len, '\0');
    file_->replace(offset, len, data, len);
  }

 private:
  std::string* file_;
  std::deque<io::IoRequest*> queue_;
  io::BackendCounters counters_;
};

io::IoRequest FakeIo(uint64_t i) {
  static const io::IoOp kOps[] = {io::IoOp::kRead,  io::IoOp::kWrite, io::IoOp::kFdatasync,
                                  io::IoOp::kReadv, io::IoOp::kOpen,  io::IoOp::kClose};
  io::IoRequest r;
  r.op = kOps[i % 6];
  r.io_class = static_cast<io::IoClass>(i % static_cast<uint64_t>(io::IoClass::kCount));
  r.fd = 3 + static_cast<int>(i % 4);
  r.offset = i * 4096;
  r.len = 4096 << (i % 5);
  r.result = i % 13 == 0 ? -28 : static_cast<int64_t>(r.len);
  if (r.op == io::IoOp::kOpen) {
    r.path = i % 2 ? "shard-000/000012.sst" : "shard-000/MANIFEST-000007";
    r.result = 3 + static_cast<int64_t>(i % 4);
  }
  r.submit_ns = 1'000'000 + i * 50'000;
  r.complete_ns = r.submit_ns + 20'000 + (i * 7919) % 900'000;
  r.depth_at_submit = static_cast<uint32_t>(1 + i % 40);
  return r;
}

void AddTraceShapes(Corpus* c) {
  std::string file;
  ManualBackend backend(&file);
  io::IoTraceHeader h;
  h.shard = 3;
  h.start_wall_ns = 1'700'000'000'000'000'000ull;
  h.start_mono_ns = 1'000'000;
  h.backend = "manual";
  std::string hdr(io::kIoTraceBlockBytes, '\0');
  io::EncodeIoTraceHeader(h, hdr.data());
  backend.Put(0, hdr.data(), hdr.size());
  {
    io::IoTraceRecorder rec(&backend, 5, 8 << 10);  // halves of one block: drops happen
    rec.RegisterFile(9, 0, "000004.wal", 999'000);
    uint64_t i = 0;
    for (; i < 140; i++) rec.OnIo(FakeIo(i));  // both halves full, then drops
    backend.CompleteAll();
    for (; i < 170; i++) rec.OnIo(FakeIo(i));  // a drop marker first
    backend.CompleteAll();
    const char* data;
    size_t len;
    uint64_t off;
    rec.Finish(&data, &len, &off);
    backend.Put(off, data, len);
    rec.FinishWritten(len, true);
    c->Add("iotrace", "enc-unclosed-drops", file);
    h.end_mono_ns = 20'000'000;
    h.records = rec.counters().records;
    h.dropped = rec.counters().dropped;
    h.flags = io::kIoTraceClosed;
    io::EncodeIoTraceHeader(h, hdr.data());
    backend.Put(0, hdr.data(), hdr.size());
    c->Add("iotrace", "enc-closed-drops", file);
  }
  {
    std::string failed;
    ManualBackend fb(&failed);
    fb.Put(0, hdr.data(), hdr.size());
    io::IoTraceRecorder rec(&fb, 5, 8 << 10);
    for (uint64_t i = 0; i < 70; i++) rec.OnIo(FakeIo(i));
    fb.CompleteAll(/*fail=*/true);
    const char* data;
    size_t len;
    uint64_t off;
    rec.Finish(&data, &len, &off);
    h.flags = io::kIoTraceClosed | io::kIoTraceWriteError;
    h.records = rec.counters().records;
    h.dropped = rec.counters().dropped;
    io::EncodeIoTraceHeader(h, hdr.data());
    fb.Put(0, hdr.data(), hdr.size());
    c->Add("iotrace", "enc-write-error", failed);
  }
}

}  // namespace
}  // namespace ringdb::fuzz

int main(int argc, char** argv) {
  using namespace ringdb::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus OUT_DIR\n");
    return 2;
  }
  char tmpl[] = "/tmp/ringdb-fuzz-corpus-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string tmp = tmpl;
  Corpus c(argv[1]);
  RunStore(&c, tmp);
  AddWalShapes(&c);
  AddManifestShapes(&c);
  AddTableShapes(&c);
  AddSmallFiles(&c);
  AddTraceShapes(&c);
  for (const RespSeed& seed : RespSeeds()) c.Add("resp", seed.name, seed.bytes);
  ::nftw(tmp.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  std::printf("fuzz_make_corpus: seeds in %s\n", argv[1]);
  c.Print();
  for (const char* t : kTargets) {
    if (c.count(t) == 0) Die(std::string("no seed for ") + t);
  }
  return 0;
}
