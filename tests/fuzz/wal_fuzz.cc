// Fuzz target `wal`: the WAL record reader (src/lsm/wal_format.h, docs/wal.md) and the
// write-batch payload decoder (src/lsm/write_batch_rep.h), the way recovery
// (Shard::ReplayWal) and ringdb-tool (ScanWal: verify, dump-wal) use them.
//
// Input: fixed64 segment number | the segment's bytes (the CRC covers the number).
// Each input is read as given and, when that differs, once more with every record's
// CRC recomputed (ResealWal), so that the checks behind the checksum are reached too.
#include <string>
#include <vector>

#include "lsm/expiry.h"
#include "lsm/write_batch_rep.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/wal_check.h"
#include "tools/tool_store.h"

namespace ringdb::fuzz {
namespace {

using lsm::WriteBatchRep;

struct Entry {
  bool put;
  std::string key, value;
  uint64_t expire_at = 0;  // kValueExpiring's deadline (0 reads as no deadline)
  bool operator==(const Entry&) const = default;
};

class Collect final : public WriteBatchRep::Handler {
 public:
  void Put(std::string_view key, std::string_view value) override {
    entries.push_back({true, std::string(key), std::string(value)});
  }
  void PutExpiring(std::string_view key, std::string_view stored) override {
    uint64_t deadline = 0;
    std::string_view payload;
    FUZZ_CHECK(lsm::SplitExpiring(stored, &deadline, &payload),
               "Iterate passed an expiring value too short for its deadline");
    entries.push_back({true, std::string(key), std::string(payload), deadline});
  }
  void Delete(std::string_view key) override { entries.push_back({false, std::string(key), {}}); }
  std::vector<Entry> entries;
};

// What recovery does with a kBatch payload (InsertInto = Validate, then Iterate into
// the memtable), plus decode(encode(decode(rep))) == decode(rep).
bool CheckBatch(std::string_view rep) {
  Status s = WriteBatchRep::Validate(rep);
  Collect c;
  Status it = WriteBatchRep::Iterate(rep, &c);
  FUZZ_CHECK(s.ok() == it.ok(), "Validate and Iterate disagree: %s / %s", Str(s).c_str(),
             Str(it).c_str());
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption(), "%s", Str(s).c_str());
    return false;
  }
  FUZZ_CHECK(c.entries.size() == WriteBatchRep::Count(rep), "count");
  std::string again;
  WriteBatchRep::Clear(&again);
  for (const Entry& e : c.entries) {
    FUZZ_CHECK(e.key.size() <= lsm::kMaxUserKeyBytes && e.value.size() <= lsm::kMaxValueBytes,
               "an entry over the limits was accepted");
    Status a = e.put ? WriteBatchRep::Put(&again, e.key, e.value, e.expire_at)
                     : WriteBatchRep::Delete(&again, e.key);
    FUZZ_CHECK(a.ok(), "re-encoding a decoded batch: %s", Str(a).c_str());
  }
  FUZZ_CHECK(again.size() <= rep.size(), "re-encoding grew the batch");
  Collect c2;
  FUZZ_CHECK(WriteBatchRep::Iterate(again, &c2).ok() && c2.entries == c.entries,
             "decode(encode(batch)) differs");
  return true;
}

void CheckSegment(uint64_t number, std::string_view seg) {
  WalWalk w = CheckWalWalk(number, seg);
  // Recovery: every record must be a valid kBatch; the first one that is not fails Open.
  bool replayable = w.status.ok();
  uint64_t entries = 0;
  for (const lsm::WalRecord& rec : w.records) {
    if (rec.type != lsm::WalRecordType::kBatch || !CheckBatch(rec.payload)) {
      replayable = false;
      break;
    }
    entries += rec.count;
  }
  // ringdb-tool's scan (verify, dump-wal) accepts exactly what recovery replays.
  tools::WalScan scan;
  uint64_t bad = 0;
  Status s = tools::ScanWal(number, seg, "fuzz.wal", &scan, &bad);
  FUZZ_CHECK(s.ok() == replayable, "ScanWal says %s, recovery would %s", Str(s).c_str(),
             replayable ? "replay" : "fail");
  if (s.ok()) {
    FUZZ_CHECK(scan.records == w.records.size() && scan.entries == entries &&
                   scan.tail.valid_end == w.tail.valid_end && scan.tail.kind == w.tail.kind,
               "ScanWal disagrees with the reader");
  } else {
    FUZZ_CHECK(s.IsCorruption() && bad <= seg.size(), "ScanWal: %s at %llu", Str(s).c_str(),
               static_cast<unsigned long long>(bad));
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  uint64_t number;
  std::string_view seg;
  if (!SplitNumbered(AsView(data, size), &number, &seg)) return 0;
  CheckSegment(number, seg);
  std::string sealed(seg);
  ResealWal(number, &sealed);
  if (sealed != seg) CheckSegment(number, sealed);
  return 0;
}
