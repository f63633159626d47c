#include "lsm/wal_segment_read.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/reactor.h"
#include "util/hash.h"
#include "util/log.h"

namespace ringdb::lsm {
namespace {

uint64_t AlignDown(uint64_t x) {
  return x & ~uint64_t{kWalBlockBytes - 1};
}

// The offset a WalReader's Corruption names ("wal segment N offset X: ..."), else fallback.
uint64_t OffsetOf(const Status& s, uint64_t fallback) {
  const std::string& m = s.message();
  const size_t at = m.find(" offset ");
  if (at == std::string::npos) return fallback;
  return std::strtoull(m.c_str() + at + 8, nullptr, 10);
}

struct WalkContext {
  const WalReplayItem& item;
  std::string_view shard;
  const std::string& manifest_path;
  const std::string& wal_path;
  const std::string& torn_before;
};

// Walks out->bytes and judges what it found; fills everything but `bytes` and `rereads`.
void Walk(const WalkContext& c, WalSegmentRead* out) {
  out->records.clear();
  out->walk = WalWalk{};
  out->verdict = Status::OK();
  out->bad_offset = 0;
  WalReader reader(c.item.number, std::string_view(out->bytes.get(), c.item.read_bytes));
  WalRecord rec;
  while (reader.Next(&rec)) {
    out->records.push_back(rec);
    out->walk.records++;
    if (rec.type == WalRecordType::kBatch && rec.count > 0) {
      out->walk.max_seq = std::max<uint64_t>(out->walk.max_seq, rec.first_seq + rec.count - 1);
    }
    rt::MaybeYield();  // a long segment: let the reactor run its other fibers
  }
  if (!reader.status().ok()) {
    const uint64_t valid_end = out->records.empty() ? 0 : out->records.back().end_offset();
    out->bad_offset = OffsetOf(reader.status(), valid_end);
    out->verdict = Status::Corruption(std::string(c.shard) + ": " + c.wal_path + ": " +
                                      reader.status().message());
    return;
  }
  out->walk.tail = reader.tail();
  out->verdict =
      CheckWalWalk(c.shard, c.manifest_path, c.wal_path, c.item, out->walk, c.torn_before);
  if (!out->verdict.ok()) out->bad_offset = WalBreakOffset(c.item, out->walk);
}

// Whether the walk's verdict stands on one read: a clean end (zeros from where the log
// stops to the end) with nothing wrong. Anything else may be a bad read.
bool CleanEnd(const WalSegmentRead& r) {
  return r.verdict.ok() && r.walk.tail.kind == WalTail::Kind::kClean;
}

}  // namespace

Status ReadWalSegment(const WalReplayItem& item, const WalReadFn& read, std::string_view shard,
                      const std::string& manifest_path, const std::string& wal_path,
                      const std::string& torn_before, WalSegmentRead* out) {
  const WalkContext c{item, shard, manifest_path, wal_path, torn_before};
  const uint64_t n = item.read_bytes;
  out->rereads = 0;
  out->bytes = util::HugeBuffer(n);
  char* const data = out->bytes.get();
  Status s = read(0, data, n);
  if (!s.ok()) return s;
  Walk(c, out);
  if (CleanEnd(*out)) {
    // A misdirected read can show zeros where records are (the page after the last
    // one): read the page where the log ends again. (Zeros cannot come from a flipped
    // bit, and a read shifted by a page shifts every page after it, so the first page
    // that reads as zeros is where a bad read shows.)
    const uint64_t page = AlignDown(out->walk.tail.bad_offset);
    if (page >= n) return Status::OK();
    const uint64_t len = std::min<uint64_t>(n - page, kWalBlockBytes);
    auto again = std::make_unique_for_overwrite<char[]>(len);
    s = read(page, again.get(), len);
    out->rereads++;
    if (!s.ok()) return s;
    if (std::memcmp(again.get(), data + page, len) == 0) return Status::OK();
    RINGDB_LOG_WARN("%s: the page at offset %llu read differently the second time",
                    wal_path.c_str(), static_cast<unsigned long long>(page));
  }
  // The verdict depends on the bytes from the last valid record's end on. Bytes before
  // it belong to records whose checksum (bound to segment and offset) matched: a bad
  // read does not produce those.
  const uint64_t valid_end = out->records.empty() ? 0 : out->records.back().end_offset();
  const uint64_t from = AlignDown(valid_end);
  const uint64_t len = n - from;
  if (len == 0) return Status::OK();  // the verdict rests on checksummed records only
  uint64_t seen[kWalRereads + 1];
  int reads = 0;
  seen[reads++] = util::Hash64(data + from, len);
  uint64_t walked = seen[0];
  for (int i = 0; i < kWalRereads; i++) {
    s = read(from, data + from, len);
    out->rereads++;
    if (!s.ok()) return s;
    const uint64_t h = util::Hash64(data + from, len);
    const bool agreed = std::find(seen, seen + reads, h) != seen + reads;
    seen[reads++] = h;
    if (!agreed) {
      RINGDB_LOG_WARN("%s: reading offsets [%llu, %llu) again returned different data",
                      wal_path.c_str(), static_cast<unsigned long long>(from),
                      static_cast<unsigned long long>(n));
      continue;
    }
    if (h != walked) Walk(c, out);
    return Status::OK();
  }
  return Status::IOError(std::string(shard) + ": " + wal_path + ": " + std::to_string(reads) +
                         " reads of offsets [" + std::to_string(from) + ", " + std::to_string(n) +
                         ") returned different data each time; cannot tell a torn tail from a "
                         "bad read");
}

}  // namespace ringdb::lsm
