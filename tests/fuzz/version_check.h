// Checks shared by the MANIFEST and version-edit targets (docs/manifest.md).
#pragma once

#include <string_view>

#include "lsm/version_edit.h"
#include "ringdb/status.h"

namespace ringdb::fuzz {

// Decodes one edit; when it decodes, checks that decode(encode(edit)) == edit, that
// encoding is stable and never longer than the input, and renders DebugString().
Status DecodeEdit(std::string_view payload, lsm::VersionEdit* edit);

// Applies edit to *state as recovery does and checks all-or-nothing: on failure the
// state is unchanged and the error a Corruption; on success the state's invariants.
Status ApplyEdit(const lsm::VersionEdit& edit, lsm::VersionState* state);

// The invariants VersionState promises (version_edit.h).
void CheckStateInvariants(const lsm::VersionState& state);

bool SameState(const lsm::VersionState& a, const lsm::VersionState& b);

// What recovery does next: the state's snapshot edit, framed as the first record of a
// new MANIFEST, read back, decoded and applied to an empty state gives the same state.
void CheckSnapshotRoundTrip(const lsm::VersionState& state, uint64_t manifest_number);

}  // namespace ringdb::fuzz
