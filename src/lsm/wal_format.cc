#include "lsm/wal_format.h"

#include <algorithm>
#include <cstring>

#include "util/assert.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace ringdb::lsm {

namespace {

// Header field offsets (docs/wal.md).
constexpr size_t kCrcOff = 0;
constexpr size_t kLenOff = 4;
constexpr size_t kTypeOff = 8;
constexpr size_t kReservedOff = 9;
constexpr size_t kCountOff = 12;
constexpr size_t kSeqOff = 16;
constexpr size_t kSyncedOff = 24;
static_assert(kSyncedOff + 8 == kWalHeaderBytes);

uint32_t RecordCrc(uint64_t segment_no, uint64_t offset, const char* header,
                   std::string_view payload) {
  char where[16];
  util::EncodeFixed64(where, segment_no);
  util::EncodeFixed64(where + 8, offset);
  uint32_t crc = util::crc32c::Value(where, sizeof(where));
  crc = util::crc32c::Extend(crc, header + kLenOff, kWalHeaderBytes - kLenOff);
  return util::crc32c::Extend(crc, payload.data(), payload.size());
}

bool IsZero(const char* p, size_t n) {
  static const char kZeros[4096] = {};
  while (n > 0) {
    size_t chunk = std::min(n, sizeof(kZeros));
    if (std::memcmp(p, kZeros, chunk) != 0) return false;
    p += chunk;
    n -= chunk;
  }
  return true;
}

bool IsAligned(uint64_t x) {
  return (x & (kWalBlockBytes - 1)) == 0;
}

}  // namespace

void EncodeRecord(uint64_t segment_no, uint64_t offset, const WalRecord& meta,
                  std::string_view payload, std::string* out) {
  RINGDB_ASSERT(payload.size() <= kMaxBatchBytes);
  RINGDB_ASSERT(meta.synced_upto <= offset);
  RINGDB_ASSERT(meta.type == WalRecordType::kBatch || meta.type == WalRecordType::kMeta);
  char h[kWalHeaderBytes] = {};
  util::EncodeFixed32(h + kLenOff, static_cast<uint32_t>(payload.size()));
  h[kTypeOff] = static_cast<char>(meta.type);
  util::EncodeFixed32(h + kCountOff, meta.count);
  util::EncodeFixed64(h + kSeqOff, meta.first_seq);
  util::EncodeFixed64(h + kSyncedOff, meta.synced_upto);
  util::EncodeFixed32(h + kCrcOff, util::crc32c::Mask(RecordCrc(segment_no, offset, h, payload)));
  out->append(h, kWalHeaderBytes);
  out->append(payload.data(), payload.size());
}

WalWriteEncoder::WalWriteEncoder(uint64_t segment_no, uint64_t write_offset, uint64_t synced_upto,
                                 std::string* buf)
    : segment_no_(segment_no), write_offset_(write_offset), synced_upto_(synced_upto), buf_(buf) {
  RINGDB_ASSERT(IsAligned(write_offset) && IsAligned(synced_upto));
  RINGDB_ASSERT(synced_upto <= write_offset);
  buf_->clear();
}

WalWriteEncoder::~WalWriteEncoder() {
  RINGDB_ASSERT_MSG(finished_ || num_records_ == 0, "WalWriteEncoder: FinishPadded() not called");
}

void WalWriteEncoder::Add(const WalRecord& meta, std::string_view payload) {
  RINGDB_ASSERT(!finished_);
  EncodeRecord(segment_no_, next_offset(), meta, payload, buf_);
  num_records_++;
}

void WalWriteEncoder::AddBatch(SequenceNumber first_seq, std::string_view rep) {
  RINGDB_ASSERT(rep.size() >= 4);
  WalRecord meta;
  meta.type = WalRecordType::kBatch;
  meta.count = util::DecodeFixed32(rep.data());
  meta.first_seq = first_seq;
  meta.synced_upto = synced_upto_;
  RINGDB_ASSERT(first_seq + meta.count <= kMaxSequenceNumber + 1);
  Add(meta, rep);
}

void WalWriteEncoder::AddMeta(std::string_view payload) {
  WalRecord meta;
  meta.type = WalRecordType::kMeta;
  meta.synced_upto = synced_upto_;
  Add(meta, payload);
}

size_t WalWriteEncoder::FinishPadded() {
  RINGDB_ASSERT(!finished_);
  finished_ = true;
  buf_->resize(WalAlignUp(buf_->size()), '\0');
  return buf_->size();
}

WalReader::WalReader(uint64_t segment_no, std::string_view segment)
    : segment_no_(segment_no), seg_(segment) {}

bool WalReader::AllZero(uint64_t from, uint64_t to) const {
  return from >= to || IsZero(seg_.data() + from, to - from);
}

WalReader::Check WalReader::CheckRecord(uint64_t x, WalRecord* rec) const {
  const uint64_t size = seg_.size();
  if (x > size || size - x < kWalHeaderBytes) return Check::kBadFit;
  const char* h = seg_.data() + x;
  uint8_t type = static_cast<uint8_t>(h[kTypeOff]);
  uint32_t length = util::DecodeFixed32(h + kLenOff);
  if ((type != static_cast<uint8_t>(WalRecordType::kBatch) &&
       type != static_cast<uint8_t>(WalRecordType::kMeta)) ||
      h[kReservedOff] != 0 || h[kReservedOff + 1] != 0 || h[kReservedOff + 2] != 0 ||
      length > kMaxBatchBytes) {
    return Check::kBadHeader;
  }
  if (size - x - kWalHeaderBytes < length) return Check::kBadFit;
  rec->offset = x;
  rec->type = static_cast<WalRecordType>(type);
  rec->count = util::DecodeFixed32(h + kCountOff);
  rec->first_seq = util::DecodeFixed64(h + kSeqOff);
  rec->synced_upto = util::DecodeFixed64(h + kSyncedOff);
  rec->payload = seg_.substr(x + kWalHeaderBytes, length);
  uint32_t expected = util::crc32c::Unmask(util::DecodeFixed32(h + kCrcOff));
  if (RecordCrc(segment_no_, x, h, rec->payload) != expected) return Check::kBadChecksum;
  return Check::kValid;
}

bool WalReader::Fail(uint64_t x, const std::string& what) {
  done_ = true;
  status_ = Status::Corruption("wal segment " + std::to_string(segment_no_) + " offset " +
                               std::to_string(x) + ": " + what);
  return false;
}

bool WalReader::Next(WalRecord* rec) {
  while (!done_) {
    const uint64_t x = pos_;
    const uint64_t size = seg_.size();
    if (x >= size) {
      Stop(x, "end of segment", nullptr);
      return false;
    }
    uint64_t boundary = std::min<uint64_t>(WalAlignUp(x + 1), size);
    WalRecord r;
    Check check = Check::kBadHeader;
    if (AllZero(x, boundary)) {
      if (IsAligned(x)) {
        Stop(x, "zero block", nullptr);
        return false;
      }
      // Zeros up to the page boundary are padding after a padded write, unless they are
      // the first bytes of an unpadded record that straddles the boundary (its masked
      // checksum may start with zero bytes): a record that checks out is a record.
      check = CheckRecord(x, &r);
      if (check != Check::kValid) {
        pos_ = boundary;  // padding after a write
        continue;
      }
    } else {
      check = CheckRecord(x, &r);
    }
    switch (check) {
      case Check::kBadHeader:
        Stop(x, "malformed record header", nullptr);
        return false;
      case Check::kBadFit:
        Stop(x, "record extends past the end of the segment", nullptr);
        return false;
      case Check::kBadChecksum:
        Stop(x, "record checksum mismatch", &r);
        return false;
      case Check::kValid:
        break;
    }
    // The record is checksummed: a broken invariant is a writer bug or corruption
    // that slipped past the CRC, never a torn write.
    // Padded (O_DIRECT) writes sync whole pages, buffered ones any byte: synced_upto
    // need not be aligned, only behind the record.
    if (r.synced_upto > x) {
      return Fail(x, "synced_upto " + std::to_string(r.synced_upto) + " is past the record");
    }
    if (r.type == WalRecordType::kBatch) {
      if (r.payload.size() < 4 || util::DecodeFixed32(r.payload.data()) != r.count) {
        return Fail(x, "batch count does not match the record header");
      }
      // Sequences need not increase within a segment: posted writes carry the numbers
      // their writers took, in whatever order they reached the shard (docs/wal.md).
      if (r.first_seq == 0 || r.first_seq + r.count > kMaxSequenceNumber + 1) {
        return Fail(x, "sequence " + std::to_string(r.first_seq) + " is out of range");
      }
    }
    pos_ = valid_end_ = r.end_offset();
    *rec = r;
    return true;
  }
  return false;
}

void WalReader::Stop(uint64_t x, const char* reason, const WalRecord* plausible) {
  done_ = true;
  const uint64_t size = seg_.size();
  const uint64_t e = valid_end_;
  uint64_t orphans = 0;
  uint64_t proof_offset = 0;
  uint64_t proof_synced = 0;
  bool proven = false;
  // Follows a chain of valid records from c; returns where it ends.
  auto visit_chain = [&](uint64_t c) {
    WalRecord r;
    while (c < size && CheckRecord(c, &r) == Check::kValid) {
      orphans++;
      // Proof: the bad point itself had been synced. (Not E: in padded writes the
      // padding between E and the next write's start is synced with E, so a lost
      // pipelined write right after it is a torn tail, not corruption.)
      if (!proven && r.synced_upto > x) {
        proven = true;
        proof_offset = c;
        proof_synced = r.synced_upto;
      }
      c = r.end_offset();
    }
    return c;
  };
  // Boundaries inside records already validated by a chain need no second look.
  uint64_t covered = x + 1;
  if (plausible != nullptr) {
    uint64_t start = plausible->end_offset();
    uint64_t end = visit_chain(start);
    if (end > start) covered = end;
  }
  for (uint64_t b = WalAlignUp(x + 1); b < size && !proven; b += kWalBlockBytes) {
    if (b < covered) continue;
    uint64_t end = visit_chain(b);
    if (end > b) covered = end;
  }
  // Buffered (unpadded) writes start at any offset: look at every one past the chains
  // found so far, skipping zero blocks whole. Only a record that checks out counts.
  for (uint64_t c = std::max(x + 1, covered); c + kWalHeaderBytes <= size && !proven;) {
    if (IsAligned(c) && AllZero(c, std::min<uint64_t>(c + kWalBlockBytes, size))) {
      c += kWalBlockBytes;
      continue;
    }
    const uint8_t type = static_cast<uint8_t>(seg_[c + kTypeOff]);
    if (type != static_cast<uint8_t>(WalRecordType::kBatch) &&
        type != static_cast<uint8_t>(WalRecordType::kMeta)) {
      c++;
      continue;
    }
    const uint64_t end = visit_chain(c);
    c = end > c ? end : c + 1;
  }
  if (proven) {
    Fail(x, std::string(reason) + ", but the record at offset " + std::to_string(proof_offset) +
                " was written after offset " + std::to_string(proof_synced) + " had been synced");
    return;
  }
  tail_.valid_end = e;
  tail_.next_write_offset = WalAlignUp(e);
  tail_.bad_offset = x;
  tail_.orphan_records = orphans;
  if (AllZero(x, size)) {
    tail_.kind = WalTail::Kind::kClean;
  } else {
    tail_.kind = WalTail::Kind::kTorn;
    tail_.reason = reason;
  }
}

// A write cut short by a crash leaves whole sectors unwritten (zero, as the file's new
// space was), while media corruption of a complete record leaves every sector written.
// A record with no all-zero sector (ignoring intersections under 16 bytes, which may be
// zero by content) is therefore reported as corruption rather than dropped.
Status CheckManifestTear(std::string_view data, uint64_t bad, const std::string& path) {
  constexpr uint64_t kSector = 512, kMinRun = 16;
  if (bad + kWalHeaderBytes > data.size()) return Status::OK();  // cut inside the header
  const uint64_t len = util::DecodeFixed32(data.data() + bad + 4);
  const uint64_t end = bad + kWalHeaderBytes + len;
  if (end > data.size()) return Status::OK();  // the file ends inside the record
  for (uint64_t sec = bad & ~(kSector - 1); sec < end; sec += kSector) {
    const uint64_t a = std::max(sec, bad), b = std::min(sec + kSector, end);
    if (b - a < kMinRun) continue;
    bool zero = true;
    for (uint64_t i = a; i < b && zero; i++) zero = data[i] == 0;
    if (zero) return Status::OK();
  }
  return Status::Corruption(path + " offset " + std::to_string(bad) +
                            ": checksum mismatch in a completely written record (not a torn "
                            "write); the MANIFEST is damaged");
}

}  // namespace ringdb::lsm
