#include "tests/fuzz/wal_check.h"

#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "util/coding.h"

namespace ringdb::fuzz {

namespace {

using lsm::WalRecord;
using lsm::WalRecordType;
using lsm::WalTail;

WalWalk Walk(uint64_t segment_no, std::string_view seg) {
  WalWalk w;
  lsm::WalReader r(segment_no, seg);
  WalRecord rec;
  while (r.Next(&rec)) {
    w.records.push_back(rec);
    FUZZ_CHECK(w.records.size() <= seg.size() / lsm::kWalHeaderBytes, "the walk does not end");
  }
  FUZZ_CHECK(!r.Next(&rec), "Next() returned a record after the end");
  w.status = r.status();
  if (w.status.ok()) w.tail = r.tail();
  return w;
}

void CheckRecord(uint64_t segment_no, std::string_view seg, const WalRecord& rec,
                 uint64_t prev_end) {
  const uint64_t x = rec.offset;
  FUZZ_CHECK(x >= prev_end && rec.end_offset() <= seg.size(), "record at %llu outside [%llu, %zu)",
             static_cast<unsigned long long>(x), static_cast<unsigned long long>(prev_end),
             seg.size());
  // Only zero padding is skipped, and a record starts right after the previous one or
  // at a 4 KiB boundary (where a new group-commit write starts).
  FUZZ_CHECK(AllZero(seg, prev_end, x), "non-zero bytes skipped before offset %llu",
             static_cast<unsigned long long>(x));
  FUZZ_CHECK(x == prev_end || x % lsm::kWalBlockBytes == 0, "record at unaligned offset %llu",
             static_cast<unsigned long long>(x));
  FUZZ_CHECK(rec.payload.data() == seg.data() + x + lsm::kWalHeaderBytes,
             "payload does not follow the header");
  FUZZ_CHECK(rec.type == WalRecordType::kBatch || rec.type == WalRecordType::kMeta, "type %d",
             static_cast<int>(rec.type));
  FUZZ_CHECK(rec.payload.size() <= lsm::kMaxBatchBytes, "payload too large");
  FUZZ_CHECK(rec.synced_upto <= x, "synced_upto %llu at offset %llu",
             static_cast<unsigned long long>(rec.synced_upto), static_cast<unsigned long long>(x));
  if (rec.type == WalRecordType::kBatch) {
    FUZZ_CHECK(rec.payload.size() >= 4 && util::DecodeFixed32(rec.payload.data()) == rec.count,
               "batch count differs from the header");
    // Sequences need not increase within a segment: posted writes carry the numbers
    // their writers took, in whatever order they reached the shard (docs/wal.md).
    FUZZ_CHECK(rec.first_seq != 0, "sequence 0");
    FUZZ_CHECK(rec.first_seq + rec.count <= lsm::kMaxSequenceNumber + 1, "sequence overflow");
  }
  // decode(encode(x)) == x: the framing is canonical, so the encoder gives back the
  // very bytes (EncodeRecord also asserts the invariants the reader promised).
  std::string again;
  lsm::EncodeRecord(segment_no, x, rec, rec.payload, &again);
  FUZZ_CHECK(again == seg.substr(x, rec.end_offset() - x),
             "re-encoding the record at %llu gives other bytes",
             static_cast<unsigned long long>(x));
}

bool SameRecords(const WalWalk& a, const WalWalk& b) {
  if (a.records.size() != b.records.size()) return false;
  for (size_t i = 0; i < a.records.size(); i++) {
    if (a.records[i].offset != b.records[i].offset ||
        a.records[i].payload != b.records[i].payload) {
      return false;
    }
  }
  return true;
}

}  // namespace

WalWalk CheckWalWalk(uint64_t segment_no, std::string_view seg) {
  WalWalk w = Walk(segment_no, seg);
  uint64_t prev_end = 0;
  for (const WalRecord& rec : w.records) {
    CheckRecord(segment_no, seg, rec, prev_end);
    prev_end = rec.end_offset();
  }
  if (!w.status.ok()) {
    std::string prefix = "wal segment ";
    prefix.append(std::to_string(segment_no)).append(" offset ");
    FUZZ_CHECK(w.status.IsCorruption() && w.status.message().rfind(prefix, 0) == 0,
               "unexpected failure: %s", Str(w.status).c_str());
    return w;
  }
  const WalTail& t = w.tail;
  FUZZ_CHECK(t.valid_end == prev_end, "valid_end %llu, last record ends at %llu",
             static_cast<unsigned long long>(t.valid_end),
             static_cast<unsigned long long>(prev_end));
  FUZZ_CHECK(t.next_write_offset == lsm::WalAlignUp(t.valid_end), "next_write_offset");
  FUZZ_CHECK(t.bad_offset >= t.valid_end && t.bad_offset <= seg.size(), "bad_offset %llu",
             static_cast<unsigned long long>(t.bad_offset));
  FUZZ_CHECK(AllZero(seg, t.valid_end, t.bad_offset), "non-zero bytes before bad_offset");
  const bool zero_tail = AllZero(seg, t.bad_offset, seg.size());
  FUZZ_CHECK(zero_tail == (t.kind == WalTail::Kind::kClean), "kClean iff only zeros follow");
  if (t.kind == WalTail::Kind::kClean) {
    FUZZ_CHECK(t.orphan_records == 0 && t.reason.empty(), "a clean tail with orphans or a reason");
  } else {
    FUZZ_CHECK(!t.reason.empty(), "a torn tail without a reason");
  }
  // The engine may zero the segment from the end of the valid data (docs/wal.md): the
  // same records then read back with a clean end. Zeroing from next_write_offset on
  // keeps them too and can never prove corruption.
  if (t.valid_end < seg.size()) {
    std::string cut(seg);
    std::fill(cut.begin() + static_cast<std::ptrdiff_t>(t.valid_end), cut.end(), '\0');
    WalWalk c = Walk(segment_no, cut);
    FUZZ_CHECK(c.status.ok() && c.tail.kind == WalTail::Kind::kClean && SameRecords(w, c),
               "zeroing from valid_end changes the log: %s", Str(c.status).c_str());
  }
  if (t.next_write_offset < seg.size() && t.kind == WalTail::Kind::kTorn) {
    std::string cut(seg);
    std::fill(cut.begin() + static_cast<std::ptrdiff_t>(t.next_write_offset), cut.end(), '\0');
    WalWalk c = Walk(segment_no, cut);
    FUZZ_CHECK(c.status.ok() && SameRecords(w, c),
               "zeroing from next_write_offset changes the log: %s", Str(c.status).c_str());
  }
  return w;
}

}  // namespace ringdb::fuzz
