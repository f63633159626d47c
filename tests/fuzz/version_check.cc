#include "tests/fuzz/version_check.h"

#include <string>
#include <unordered_set>

#include "lsm/dbformat.h"
#include "lsm/wal_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace ringdb::fuzz {

Status DecodeEdit(std::string_view payload, lsm::VersionEdit* edit) {
  Status s = edit->DecodeFrom(payload);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption(), "%s", Str(s).c_str());
    return s;
  }
  std::string enc;
  edit->EncodeTo(&enc);
  FUZZ_CHECK(enc.size() <= payload.size(), "re-encoding grew the edit from %zu to %zu bytes",
             payload.size(), enc.size());
  lsm::VersionEdit again;
  Status s2 = again.DecodeFrom(enc);
  FUZZ_CHECK(s2.ok() && again == *edit, "decode(encode(edit)) differs: %s", Str(s2).c_str());
  std::string enc2;
  again.EncodeTo(&enc2);
  FUZZ_CHECK(enc2 == enc, "encoding a decoded edit is not stable");
  FUZZ_CHECK(!edit->DebugString().empty(), "DebugString");
  return s;
}

void CheckStateInvariants(const lsm::VersionState& state) {
  const lsm::InternalKeyComparator icmp;
  std::unordered_set<uint64_t> numbers;
  for (int l = 0; l < lsm::kNumLevels; l++) {
    const auto& files = state.files(l);
    for (size_t i = 0; i < files.size(); i++) {
      const lsm::FileMetaData& f = files[i];
      FUZZ_CHECK(numbers.insert(f.number).second, "file %llu is live twice",
                 static_cast<unsigned long long>(f.number));
      FUZZ_CHECK(icmp.Compare(f.smallest, f.largest) <= 0, "smallest > largest");
      if (i == 0) continue;
      const lsm::FileMetaData& p = files[i - 1];
      if (l == 0) {
        FUZZ_CHECK(p.largest_seq > f.largest_seq ||
                       (p.largest_seq == f.largest_seq && p.number > f.number),
                   "L0 is not newest first");
      } else {
        FUZZ_CHECK(icmp.Compare(p.largest, f.smallest) < 0, "L%d files overlap or are unordered",
                   l);
      }
    }
  }
}

bool SameState(const lsm::VersionState& a, const lsm::VersionState& b) {
  for (int l = 0; l < lsm::kNumLevels; l++) {
    if (a.files(l) != b.files(l)) return false;
  }
  return a.log_number() == b.log_number() && a.next_file_number() == b.next_file_number() &&
         a.last_sequence() == b.last_sequence() && a.wals() == b.wals();
}

Status ApplyEdit(const lsm::VersionEdit& edit, lsm::VersionState* state) {
  const lsm::VersionState before = *state;
  Status s = state->Apply(edit);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption(), "%s", Str(s).c_str());
    FUZZ_CHECK(SameState(before, *state), "a failed Apply changed the state");
    return s;
  }
  CheckStateInvariants(*state);
  FUZZ_CHECK(state->wals().empty() || state->wals().begin()->first >= state->log_number(),
             "a WAL segment below the log number is still tracked");
  FUZZ_CHECK(state->log_number() >= before.log_number() &&
                 state->next_file_number() >= before.next_file_number() &&
                 state->last_sequence() >= before.last_sequence(),
             "a counter went backwards");
  return s;
}

void CheckSnapshotRoundTrip(const lsm::VersionState& state, uint64_t manifest_number) {
  lsm::VersionEdit snap;
  state.EncodeSnapshot(&snap);
  std::string payload;
  snap.EncodeTo(&payload);
  if (payload.size() > lsm::kMaxBatchBytes) return;  // not reachable with fuzz-sized inputs
  std::string file;
  lsm::WalWriteEncoder enc(manifest_number, 0, 0, &file);
  enc.AddMeta(payload);
  enc.FinishPadded();
  lsm::WalReader r(manifest_number, file);
  lsm::WalRecord rec;
  FUZZ_CHECK(r.Next(&rec) && rec.type == lsm::WalRecordType::kMeta && rec.payload == payload,
             "the snapshot record does not read back");
  FUZZ_CHECK(!r.Next(&rec) && r.status().ok() && r.tail().kind == lsm::WalTail::Kind::kClean,
             "the new MANIFEST does not end cleanly");
  lsm::VersionEdit back;
  Status s = back.DecodeFrom(rec.payload);
  FUZZ_CHECK(s.ok() && back == snap, "the snapshot edit does not decode: %s", Str(s).c_str());
  lsm::VersionState fresh;
  s = fresh.Apply(back);
  FUZZ_CHECK(s.ok(), "the snapshot of a recovered state does not apply: %s", Str(s).c_str());
  FUZZ_CHECK(SameState(state, fresh), "the snapshot recreates another state");
}

}  // namespace ringdb::fuzz
