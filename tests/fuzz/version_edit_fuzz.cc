// Fuzz target `version_edit`: the MANIFEST edit decoder (VersionEdit::DecodeFrom,
// docs/manifest.md) on raw payload bytes, without the framing and its checksum, and
// VersionState::Apply of the decoded edit.
//
// Input: one encoded version edit (a MANIFEST record's payload).
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/version_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb;
  using namespace ringdb::fuzz;
  lsm::VersionEdit edit;
  if (!DecodeEdit(AsView(data, size), &edit).ok()) return 0;
  lsm::VersionState state;
  if (!ApplyEdit(edit, &state).ok()) return 0;
  CheckSnapshotRoundTrip(state, 1);
  // Applying it twice: its files are live now, so an edit that adds any must fail (and
  // change nothing); one that only moves counters succeeds.
  Status again = ApplyEdit(edit, &state);
  FUZZ_CHECK(again.ok() == edit.new_files().empty(), "applying an edit twice: %s",
             Str(again).c_str());
  return 0;
}
