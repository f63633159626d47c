// Fuzz target `block`: the key/value block reader (Block::FromContents and
// Block::Iter, src/lsm/block.h, docs/sst.md "Key/value blocks") on raw contents, with
// no trailer and no checksum in the way. Data and index blocks share this format.
//
// Input: block contents (entries | restart array | restart count).
//
// Any input: parsing either fails with Corruption or gives an iterator that stays in
// bounds, terminates and is never Valid() with a bad status. A block that is exactly
// what BlockBuilder writes for its own entries (restart interval 16 as in data blocks,
// 1 as in the index, or another) must also read back consistently: the backward scan mirrors the
// forward one and every Seek lands on the first entry >= its target.
#include <algorithm>
#include <memory>
#include <string>

#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "tests/fuzz/iter_check.h"

namespace ringdb::fuzz {
namespace {

bool BuiltBy(const Entries& e, int restart_interval, std::string_view contents) {
  lsm::BlockBuilder b(restart_interval);
  for (const auto& [k, v] : e) b.Add(k, v);
  return b.Finish() == contents;
}

void CheckBlock(std::string_view contents) {
  lsm::BlockPtr block;
  Status s = lsm::Block::FromContents(std::string(contents), 0, lsm::BlockKind::kData, &block);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption(), "%s", Str(s).c_str());
    return;
  }
  FUZZ_CHECK(block->num_restarts() >= 1 && block->contents() == contents, "parsed block");
  const size_t limit = contents.size() / 3 + 1;  // an entry takes at least 3 bytes
  Scan fwd = ScanAll(lsm::Block::NewIterator(block).get(), true, limit);
  Scan bwd = ScanAll(lsm::Block::NewIterator(block).get(), false, limit);
  for (const Status* st : {&fwd.status, &bwd.status}) {
    FUZZ_CHECK(st->ok() || st->IsCorruption(), "%s", Str(*st).c_str());
  }
  const Entries& e = fwd.entries;
  // Restart intervals: data blocks, the index, and whatever spreads e over the restarts.
  const size_t nr = block->num_restarts();
  const int spread = static_cast<int>(std::min<size_t>((e.size() + nr - 1) / nr, 1 << 16));
  const bool canonical = fwd.status.ok() && SortedInternalKeys(e) &&
                         (BuiltBy(e, 16, contents) || BuiltBy(e, 1, contents) ||
                          (spread > 1 && BuiltBy(e, spread, contents)));
  std::unique_ptr<lsm::Block::Iter> it = lsm::Block::NewIterator(block);
  if (!canonical) {
    // No promise about the answers, only about safety.
    for (size_t i : Sample(e.size(), 8)) {
      it->Seek(e[i].first);
      if (it->Valid()) it->Prev();
      if (it->Valid()) it->Next();
    }
    it->Seek("");
    return;
  }
  FUZZ_CHECK(bwd.status.ok() && bwd.entries == Reversed(e),
             "the backward scan (%zu entries, %s) does not mirror the forward one (%zu)",
             bwd.entries.size(), Str(bwd.status).c_str(), e.size());
  for (size_t i : Sample(e.size(), 64)) {
    for (const std::string& target : ProbesAround(e[i].first)) CheckSeek(it.get(), e, target);
  }
  CheckSeek(it.get(), e, std::string(lsm::kTrailerBytes, '\0'));
  CheckSeek(it.get(), e, std::string(lsm::kTrailerBytes + 1, '\xff'));
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringdb::fuzz::CheckBlock(ringdb::fuzz::AsView(data, size));
  return 0;
}
