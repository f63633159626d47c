// Fuzz target `table`: an SST opened the way the engine opens one (Shard's OpenTable:
// the footer from the last FooterReadBytes(), then TableReader::Open on the meta
// region; docs/sst.md), iterated in both directions and point-looked-up through
// TableReader::Get with a fetcher over the file; and as ringdb-tool reads it: CheckTable
// (verify) and every block the index names (dump-sst).
//
// Input: the .sst file's bytes. Read as given and, when that differs, once more with
// the footer's and every reachable block's CRC recomputed (ResealTable).
//
// Any input: no crash, a Corruption or NotSupported status where something is wrong,
// iterators that end and are never Valid() with a bad status. The decoded footer and
// properties re-encode to what was read. A table that CheckTable accepts must open and
// read back consistently: the scans agree with each other and with the check, every
// Seek and Get finds the first entry >= its target, and the filter never rules out a
// key the table holds.
#include <memory>
#include <string>

#include "lsm/table_reader.h"
#include "tests/fuzz/iter_check.h"
#include "tools/tool_store.h"

namespace ringdb::fuzz {
namespace {

using lsm::LookupResult;

void CheckPropertiesRoundTrip(const lsm::TableProperties& p) {
  std::string enc;
  p.EncodeTo(&enc);
  lsm::TableProperties q;
  Status s = lsm::TableProperties::DecodeFrom(enc, &q);
  FUZZ_CHECK(s.ok() && q.num_entries == p.num_entries && q.num_deletions == p.num_deletions &&
                 q.num_data_blocks == p.num_data_blocks && q.raw_key_bytes == p.raw_key_bytes &&
                 q.raw_value_bytes == p.raw_value_bytes && q.smallest_key == p.smallest_key &&
                 q.largest_key == p.largest_key && q.smallest_seq == p.smallest_seq &&
                 q.largest_seq == p.largest_seq && q.bloom_bits_per_key == p.bloom_bits_per_key,
             "decode(encode(properties)) differs: %s", Str(s).c_str());
}

// Get(user key as of seq) as the engine does it, against the sorted entries.
void CheckGet(const lsm::TableReader& t, lsm::BlockFetcher* fetcher, const Entries& e,
              std::string_view user_key, lsm::SequenceNumber seq) {
  lsm::LookupKey lk(user_key, seq);
  LookupResult result;
  std::string value;
  Status s = t.Get(lk, fetcher, &result, &value);
  FUZZ_CHECK(s.ok(), "Get: %s", Str(s).c_str());
  const size_t i = LowerBound(e, lk.internal_key());
  lsm::ParsedInternalKey k;
  LookupResult want = LookupResult::kAbsent;
  if (i < e.size() && lsm::ParseInternalKey(e[i].first, &k) && k.user_key == user_key) {
    want = k.type == lsm::ValueType::kValue ? LookupResult::kFound : LookupResult::kDeleted;
  }
  FUZZ_CHECK(result == want, "Get('%s' @ %llu) = %d, the table holds %d (may contain: %d)",
             lsm::EscapeBytes(user_key).c_str(), static_cast<unsigned long long>(seq),
             static_cast<int>(result), static_cast<int>(want), t.MayContain(user_key));
  if (want == LookupResult::kFound) FUZZ_CHECK(value == e[i].second, "Get returns another value");
}

void CheckConsistent(const lsm::TableReader& t, lsm::StringBlockFetcher* fetcher,
                     const tools::TableCheck& tc, const Scan& fwd, const Scan& bwd) {
  const Entries& e = fwd.entries;
  FUZZ_CHECK(fwd.status.ok() && e.size() == tc.entries && SortedInternalKeys(e),
             "CheckTable accepts a table whose scan gives %zu entries (it counted %llu): %s",
             e.size(), static_cast<unsigned long long>(tc.entries), Str(fwd.status).c_str());
  FUZZ_CHECK(bwd.status.ok() && bwd.entries == Reversed(e),
             "backward scan (%zu entries, %s) does not mirror the forward one (%zu)",
             bwd.entries.size(), Str(bwd.status).c_str(), e.size());
  const lsm::TableProperties& p = t.properties();
  FUZZ_CHECK(p.num_entries == e.size() && (e.empty() || (p.smallest_key == e.front().first &&
                                                         p.largest_key == e.back().first)),
             "properties do not describe the data");
  std::unique_ptr<lsm::InternalIterator> it = t.NewIterator(fetcher);
  for (size_t i : Sample(e.size(), 32)) {
    lsm::ParsedInternalKey k;
    FUZZ_CHECK(lsm::ParseInternalKey(e[i].first, &k), "bad internal key in a verified table");
    for (const std::string& target : ProbesAround(e[i].first)) {
      CheckSeek(it.get(), e, target);
      lsm::ParsedInternalKey pk;
      if (lsm::ParseInternalKey(target, &pk)) CheckGet(t, fetcher, e, pk.user_key, pk.sequence);
    }
  }
}

// ringdb-tool dump-sst: every handle the index holds, fetched as it comes (no check of
// its own against the data area) and every entry of each block.
void DumpAllBlocks(const lsm::TableReader& t, std::string_view file) {
  lsm::StringBlockFetcher fetcher(file);
  std::unique_ptr<lsm::Block::Iter> idx = t.NewIndexIterator();
  size_t blocks = 0;
  for (idx->SeekToFirst(); idx->Valid() && blocks < 4096; idx->Next(), blocks++) {
    std::string_view v = idx->value();
    lsm::BlockHandle h;
    if (!lsm::DecodeBlockHandle(&v, &h) || !v.empty()) continue;
    lsm::BlockPtr block;
    Status s = fetcher.Fetch(h, lsm::BlockKind::kData, &block);
    if (!s.ok()) {
      FUZZ_CHECK(s.IsCorruption() || s.IsIOError(), "%s", Str(s).c_str());
      continue;
    }
    FUZZ_CHECK(block->contents().size() == h.size && h.size <= file.size(), "fetched block size");
    ScanAll(lsm::Block::NewIterator(block).get(), true, h.size / 3 + 1);
  }
}

void CheckTableFile(std::string_view file) {
  tools::TableCheck tc;
  uint64_t bad = 0;
  Status verified = tools::CheckTable(file, nullptr, &tc, &bad);
  FUZZ_CHECK(verified.ok() ||
                 ((verified.IsCorruption() || verified.IsNotSupported()) && bad <= file.size()),
             "CheckTable: %s at %llu", Str(verified).c_str(), static_cast<unsigned long long>(bad));

  // The engine's two reads: the footer page, then the meta region.
  const uint64_t size = file.size();
  lsm::Footer footer;
  Status s = lsm::Footer::DecodeFrom(file.substr(size - lsm::TableReader::FooterReadBytes(size)),
                                     size, &footer);
  std::unique_ptr<lsm::TableReader> t;
  if (s.ok()) {
    std::string enc;
    footer.EncodeTo(&enc);
    FUZZ_CHECK(enc == file.substr(size - lsm::kFooterBytes), "re-encoding the footer differs");
    FUZZ_CHECK(footer.meta_offset() <= size, "meta region outside the file");
    s = lsm::TableReader::Open(size, footer, std::string(file.substr(footer.meta_offset())), &t);
  }
  FUZZ_CHECK(s.ok() || !verified.ok(), "CheckTable accepts a table that does not open: %s",
             Str(s).c_str());
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption() || s.IsNotSupported(), "%s", Str(s).c_str());
    return;
  }
  CheckPropertiesRoundTrip(t->properties());
  DumpAllBlocks(*t, file);
  lsm::StringBlockFetcher fetcher(file);
  const size_t limit = size / 3 + 1;
  Scan fwd = ScanAll(t->NewIterator(&fetcher).get(), true, limit);
  Scan bwd = ScanAll(t->NewIterator(&fetcher).get(), false, limit);
  for (const Status* st : {&fwd.status, &bwd.status}) {
    FUZZ_CHECK(st->ok() || st->IsCorruption() || st->IsIOError(), "%s", Str(*st).c_str());
  }
  if (verified.ok()) {
    CheckConsistent(*t, &fetcher, tc, fwd, bwd);
    return;
  }
  // No promise about the answers, only about safety.
  std::unique_ptr<lsm::InternalIterator> it = t->NewIterator(&fetcher);
  for (size_t i : Sample(fwd.entries.size(), 8)) {
    const std::string& key = fwd.entries[i].first;
    it->Seek(key);
    if (it->Valid()) it->Prev();
    lsm::ParsedInternalKey k;
    if (!lsm::ParseInternalKey(key, &k)) continue;
    LookupResult result;
    std::string value;
    Status g = t->Get(lsm::LookupKey(k.user_key, k.sequence), &fetcher, &result, &value);
    FUZZ_CHECK(g.ok() || g.IsCorruption() || g.IsIOError(), "Get: %s", Str(g).c_str());
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  std::string_view file = AsView(data, size);
  CheckTableFile(file);
  std::string sealed(file);
  ResealTable(&sealed);
  if (sealed != file) CheckTableFile(sealed);
  return 0;
}
