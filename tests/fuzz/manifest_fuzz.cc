// Fuzz target `manifest`: a MANIFEST file as recovery reads it (Shard::Recover,
// docs/manifest.md): the WAL framing over kMeta records, one version edit per record,
// each applied to the shard's VersionState; then the snapshot edit recovery writes into
// the next MANIFEST. ringdb-tool's ReplayManifest (verify, stats) must agree.
//
// Input: fixed64 MANIFEST number | the file's bytes. Read as given and, when that
// differs, once more with every record's CRC recomputed (ResealWal).
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/version_check.h"
#include "tests/fuzz/wal_check.h"
#include "tools/tool_store.h"

namespace ringdb::fuzz {
namespace {

void CheckManifest(uint64_t number, std::string_view bytes) {
  WalWalk w = CheckWalWalk(number, bytes);
  lsm::VersionState state;
  bool ok = w.status.ok();
  uint64_t edits = 0;
  for (const lsm::WalRecord& rec : w.records) {
    if (rec.type != lsm::WalRecordType::kMeta) {
      ok = false;  // recovery: "not a version edit record"
      break;
    }
    lsm::VersionEdit edit;
    if (!DecodeEdit(rec.payload, &edit).ok() || !ApplyEdit(edit, &state).ok()) {
      ok = false;
      break;
    }
    edits++;
  }
  ok = ok && edits > 0;

  tools::ManifestReplay replay;
  uint64_t bad = 0;
  Status s = tools::ReplayManifest(0, number, bytes, "MANIFEST", &replay, &bad);
  if (s.ok()) {
    // The tool adds recovery's tear rule (CheckManifestTear) on top of the reader.
    FUZZ_CHECK(ok, "ReplayManifest accepts a MANIFEST that recovery rejects");
    FUZZ_CHECK(replay.edits == edits && SameState(replay.state, state),
               "ReplayManifest recovers another state");
    CheckSnapshotRoundTrip(state, number + 1);
  } else {
    FUZZ_CHECK(s.IsCorruption() && bad <= bytes.size(), "ReplayManifest: %s", Str(s).c_str());
    FUZZ_CHECK(!ok || w.tail.kind == lsm::WalTail::Kind::kTorn,
               "ReplayManifest rejects a MANIFEST that recovery accepts: %s", Str(s).c_str());
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  uint64_t number;
  std::string_view bytes;
  if (!SplitNumbered(AsView(data, size), &number, &bytes)) return 0;
  CheckManifest(number, bytes);
  std::string sealed(bytes);
  ResealWal(number, &sealed);
  if (sealed != bytes) CheckManifest(number, sealed);
  return 0;
}
