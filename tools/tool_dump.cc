// dump-sst, dump-wal, dump-manifest: print one file of a closed store, decoded with the
// engine's own readers (src/lsm). Output formats are in docs/tools.md.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "lsm/block.h"
#include "lsm/expiry.h"
#include "lsm/filenames.h"
#include "lsm/table_reader.h"
#include "lsm/version_edit.h"
#include "lsm/wal_format.h"
#include "lsm/write_batch_rep.h"
#include "tools/tool_commands.h"
#include "tools/tool_common.h"
#include "tools/tool_store.h"

namespace ringdb::tools {
namespace {

// "'user' @ seq : put", or the escaped bytes of a malformed key.
std::string FormatInternalKey(std::string_view ikey, bool hex) {
  lsm::ParsedInternalKey p;
  if (!lsm::ParseInternalKey(ikey, &p)) return "(bad internal key) " + Quoted(ikey, hex);
  return Cat(Quoted(p.user_key, hex), " @ ", p.sequence, " : ", TypeName(p.type));
}

// " => value", or for an expiring value " expires <unix ms> => value" (its stored
// form: lsm/expiry.h); "" for a deletion or with --no-values.
std::string ValueText(lsm::ValueType t, std::string_view stored, const DumpArgs& a) {
  if (a.no_values || t == lsm::ValueType::kDeletion) return "";
  if (t == lsm::ValueType::kValue) return " => " + Quoted(stored, a.hex);
  uint64_t deadline = 0;
  std::string_view payload;
  if (!lsm::SplitExpiring(stored, &deadline, &payload)) {
    return " (CORRUPT: value too short for its deadline) " + Quoted(stored, a.hex);
  }
  return Cat(" expires ", deadline, " => ", Quoted(payload, a.hex));
}

std::string HandleText(const lsm::BlockHandle& h) {
  return Cat("offset ", h.offset, " size ", h.size);
}

// Reads the file to dump after checking that no running process holds its store.
Status LoadForDump(const DumpArgs& a, StoreReadLock* lock, std::string* bytes) {
  Status s = LockStoreOfFile(a.file, lock);
  if (!s.ok()) return s;
  return ReadWholeFile(a.file, bytes);
}

// The file number from the name (NNNNNN.wal, MANIFEST-NNNNNN), or --number.
Status FileNumber(const DumpArgs& a, lsm::FileKind want, uint64_t* number) {
  if (a.number) {
    *number = *a.number;
    return Status::OK();
  }
  size_t slash = a.file.find_last_of('/');
  std::string_view base(a.file);
  if (slash != std::string::npos) base.remove_prefix(slash + 1);
  uint64_t n = 0;
  if (lsm::ParseFileName(base, &n) != want) {
    return Status::InvalidArgument(
        a.file + ": cannot tell the file number from the name (expected " +
        (want == lsm::FileKind::kWal ? "NNNNNN.wal" : "MANIFEST-NNNNNN") +
        "); pass --number=N (record checksums cover it)");
  }
  *number = n;
  return Status::OK();
}

void PrintProperties(const lsm::TableProperties& p, bool hex) {
  std::printf("properties:\n");
  std::printf("  num_entries         %" PRIu64 "\n", p.num_entries);
  std::printf("  num_deletions       %" PRIu64 "\n", p.num_deletions);
  std::printf("  num_data_blocks     %" PRIu64 "\n", p.num_data_blocks);
  std::printf("  raw_key_bytes       %" PRIu64 "\n", p.raw_key_bytes);
  std::printf("  raw_value_bytes     %" PRIu64 "\n", p.raw_value_bytes);
  std::printf("  smallest_key        %s\n",
              p.num_entries ? FormatInternalKey(p.smallest_key, hex).c_str() : "-");
  std::printf("  largest_key         %s\n",
              p.num_entries ? FormatInternalKey(p.largest_key, hex).c_str() : "-");
  std::printf("  smallest_seq        %" PRIu64 "\n", p.smallest_seq);
  std::printf("  largest_seq         %" PRIu64 "\n", p.largest_seq);
  std::printf("  bloom_bits_per_key  %u\n", p.bloom_bits_per_key);
}

// Prints every entry of the data block at h; false (after printing why) when it is bad.
bool DumpDataBlock(lsm::StringBlockFetcher* fetcher, const lsm::BlockHandle& h, const DumpArgs& a,
                   uint64_t* entries) {
  lsm::BlockPtr block;
  Status s = fetcher->Fetch(h, lsm::BlockKind::kData, &block);
  std::printf("data block %s\n", HandleText(h).c_str());
  if (!s.ok()) {
    std::printf("  CORRUPT: %s\n", s.ToString().c_str());
    return false;
  }
  std::unique_ptr<lsm::Block::Iter> it = lsm::Block::NewIterator(block);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    lsm::ParsedInternalKey p;
    const std::string value =
        lsm::ParseInternalKey(it->key(), &p) ? ValueText(p.type, it->value(), a) : std::string();
    std::printf("  %s%s\n", FormatInternalKey(it->key(), a.hex).c_str(), value.c_str());
    (*entries)++;
  }
  if (!it->status().ok()) {
    std::printf("  CORRUPT: %s\n", it->status().ToString().c_str());
    return false;
  }
  return true;
}

class BatchPrinter final : public lsm::WriteBatchRep::Handler {
 public:
  BatchPrinter(lsm::SequenceNumber seq, const DumpArgs& a) : seq_(seq), a_(a) {}
  void Put(std::string_view key, std::string_view value) override {
    Print(key, lsm::ValueType::kValue, value);
  }
  void PutExpiring(std::string_view key, std::string_view stored) override {
    Print(key, lsm::ValueType::kValueExpiring, stored);
  }
  void Delete(std::string_view key) override {
    std::printf("  %s @ %" PRIu64 " : del\n", Quoted(key, a_.hex).c_str(), seq_++);
  }

 private:
  void Print(std::string_view key, lsm::ValueType t, std::string_view stored) {
    std::printf("  %s @ %" PRIu64 " : %s%s\n", Quoted(key, a_.hex).c_str(), seq_++, TypeName(t),
                ValueText(t, stored, a_).c_str());
  }

  lsm::SequenceNumber seq_;
  const DumpArgs& a_;
};

void PrintEdit(const lsm::VersionEdit& e, bool hex) {
  if (e.log_number()) std::printf("  log_number %" PRIu64 "\n", *e.log_number());
  if (e.next_file_number()) {
    std::printf("  next_file_number %" PRIu64 "\n", *e.next_file_number());
  }
  if (e.last_sequence()) std::printf("  last_sequence %" PRIu64 "\n", *e.last_sequence());
  for (const auto& [level, number] : e.deleted_files()) {
    std::printf("  delete L%d %s\n", level, lsm::TableFileName(number).c_str());
  }
  for (const auto& [level, f] : e.new_files()) {
    std::printf("  add L%d %s: %" PRIu64 " bytes, keys [%s .. %s], seq %" PRIu64 "..%" PRIu64 "\n",
                level, lsm::TableFileName(f.number).c_str(), f.file_size,
                FormatInternalKey(f.smallest, hex).c_str(),
                FormatInternalKey(f.largest, hex).c_str(), f.smallest_seq, f.largest_seq);
  }
  for (const auto& [number, m] : e.wals()) {
    std::printf("  wal %s: %s, %" PRIu64 " bytes synced, up to sequence %" PRIu64 "\n",
                lsm::WalFileName(number).c_str(), m.sealed ? "sealed" : "open", m.synced_bytes,
                m.last_seq);
  }
}

// The end of a framed log (WAL or MANIFEST). `tear` is the MANIFEST's verdict on a torn
// tail (CheckManifestTear). Returns the exit code it implies.
int PrintTail(const lsm::WalReader& r, uint64_t records, uint64_t file_size,
              const Status& tear = Status::OK()) {
  if (!r.status().ok()) {
    std::printf("CORRUPT: %s\n", r.status().message().c_str());
    return kExitError;
  }
  const lsm::WalTail& t = r.tail();
  if (t.kind == lsm::WalTail::Kind::kClean) {
    std::printf("end: clean at offset %" PRIu64 " (zero bytes from there to the end, %" PRIu64
                " bytes)\n",
                t.valid_end, file_size);
    return kExitOk;
  }
  if (records == 0) {
    std::printf("CORRUPT: no valid record: offset %" PRIu64
                ": %s (not a ringdb log, or the "
                "wrong file number)\n",
                t.bad_offset, t.reason.c_str());
    return kExitError;
  }
  if (!tear.ok()) {
    std::printf("CORRUPT: %s\n", tear.message().c_str());
    return kExitError;
  }
  std::printf("end: torn tail at offset %" PRIu64 " (%s); valid data ends at offset %" PRIu64 "\n",
              t.bad_offset, t.reason.c_str(), t.valid_end);
  if (t.orphan_records > 0) {
    std::printf("%" PRIu64 " record(s) after it belong to unsynced writes and are not replayed\n",
                t.orphan_records);
  }
  std::printf(
      "note: a torn tail is the remains of an unsynced write cut short by a crash; "
      "recovery drops it (docs/wal.md)\n");
  return kExitOk;
}

}  // namespace

int CmdDumpSst(const DumpArgs& a) {
  StoreReadLock lock;
  std::string file;
  Status s = LoadForDump(a, &lock, &file);
  if (!s.ok()) return ReportError("dump-sst", s);
  std::unique_ptr<lsm::TableReader> table;
  s = lsm::TableReader::OpenFromFile(file, &table);
  if (!s.ok()) {
    return ReportError("dump-sst",
                       Status::Corruption(a.file + ": not a readable ringdb SST: " + s.message()));
  }
  const lsm::Footer& f = table->footer();
  std::printf("sst %s: %zu bytes\n", a.file.c_str(), file.size());
  std::printf("footer: format_version %u, meta region at offset %" PRIu64 "\n", f.format_version,
              f.meta_offset());
  std::printf("  filter      %s\n", f.filter.size ? HandleText(f.filter).c_str() : "none");
  std::printf("  properties  %s\n", HandleText(f.properties).c_str());
  std::printf("  index       %s (prefix ties: %u)\n", HandleText(f.index).c_str(),
              table->max_prefix_tie());
  PrintProperties(table->properties(), a.hex);

  std::vector<lsm::BlockHandle> handles;
  std::unique_ptr<lsm::Block::Iter> idx = table->NewIndexIterator();
  std::printf("index:\n");
  bool ok = true;
  for (idx->SeekToFirst(); idx->Valid(); idx->Next()) {
    std::string_view v = idx->value();
    lsm::BlockHandle h;
    if (!lsm::DecodeBlockHandle(&v, &h) || !v.empty()) {
      std::printf("  CORRUPT: index entry %s: bad block handle\n",
                  FormatInternalKey(idx->key(), a.hex).c_str());
      ok = false;
      continue;
    }
    std::printf("  %s -> data block %s\n", FormatInternalKey(idx->key(), a.hex).c_str(),
                HandleText(h).c_str());
    handles.push_back(h);
  }
  if (!idx->status().ok()) {
    std::printf("  CORRUPT: %s\n", idx->status().ToString().c_str());
    ok = false;
  }
  lsm::StringBlockFetcher fetcher(file);
  uint64_t entries = 0;
  for (const lsm::BlockHandle& h : handles) ok = DumpDataBlock(&fetcher, h, a, &entries) && ok;
  std::printf("%" PRIu64 " entries in %zu data blocks\n", entries, handles.size());
  if (!ok)
    std::fprintf(stderr, "ringdb-tool dump-sst: %s: corrupt blocks (see CORRUPT above)\n",
                 a.file.c_str());
  return ok ? kExitOk : kExitError;
}

int CmdDumpWal(const DumpArgs& a) {
  uint64_t number = 0;
  Status s = FileNumber(a, lsm::FileKind::kWal, &number);
  if (!s.ok()) return ReportError("dump-wal", s);
  StoreReadLock lock;
  std::string file;
  s = LoadForDump(a, &lock, &file);
  if (!s.ok()) return ReportError("dump-wal", s);
  std::printf("wal %s: segment %" PRIu64 ", %zu bytes\n", a.file.c_str(), number, file.size());
  lsm::WalReader reader(number, file);
  lsm::WalRecord rec;
  uint64_t records = 0, entries = 0;
  bool ok = true;
  while (reader.Next(&rec)) {
    records++;
    if (rec.type != lsm::WalRecordType::kBatch) {
      std::printf("offset %" PRIu64
                  ": meta record, %zu bytes (a MANIFEST edit: use "
                  "dump-manifest)\n",
                  rec.offset, rec.payload.size());
      continue;
    }
    std::printf("offset %" PRIu64 ": batch, first_seq %" PRIu64 ", count %u, synced_upto %" PRIu64
                ", %zu bytes\n",
                rec.offset, rec.first_seq, rec.count, rec.synced_upto, rec.payload.size());
    BatchPrinter printer(rec.first_seq, a);
    s = lsm::WriteBatchRep::Iterate(rec.payload, &printer);
    if (!s.ok()) {
      std::printf("  CORRUPT: offset %" PRIu64 ": %s\n", rec.offset, s.ToString().c_str());
      ok = false;
    }
    entries += rec.count;
  }
  std::printf("%" PRIu64 " records, %" PRIu64 " entries\n", records, entries);
  int rc = PrintTail(reader, records, file.size());
  if (rc == kExitOk && !ok) rc = kExitError;
  if (rc != kExitOk) {
    std::fprintf(stderr, "ringdb-tool dump-wal: %s: corrupt (see CORRUPT above)\n", a.file.c_str());
  }
  return rc;
}

int CmdDumpManifest(const DumpArgs& a) {
  uint64_t number = 0;
  Status s = FileNumber(a, lsm::FileKind::kManifest, &number);
  if (!s.ok()) return ReportError("dump-manifest", s);
  StoreReadLock lock;
  std::string file;
  s = LoadForDump(a, &lock, &file);
  if (!s.ok()) return ReportError("dump-manifest", s);
  std::printf("manifest %s: number %" PRIu64 ", %zu bytes\n", a.file.c_str(), number, file.size());
  lsm::WalReader reader(number, file);
  lsm::WalRecord rec;
  lsm::VersionState state;
  uint64_t records = 0;
  bool ok = true;
  while (reader.Next(&rec)) {
    records++;
    if (rec.type != lsm::WalRecordType::kMeta) {
      std::printf("offset %" PRIu64 ": CORRUPT: a write batch record, not a version edit\n",
                  rec.offset);
      ok = false;
      continue;
    }
    lsm::VersionEdit edit;
    s = edit.DecodeFrom(rec.payload);
    if (!s.ok()) {
      std::printf("offset %" PRIu64 ": CORRUPT: %s\n", rec.offset, s.ToString().c_str());
      ok = false;
      continue;
    }
    std::printf("offset %" PRIu64 ": version edit, %zu bytes\n", rec.offset, rec.payload.size());
    PrintEdit(edit, a.hex);
    s = state.Apply(edit);
    if (!s.ok()) {
      std::printf("  CORRUPT: cannot apply: %s\n", s.ToString().c_str());
      ok = false;
    }
  }
  Status tear;
  if (reader.status().ok() && reader.tail().kind == lsm::WalTail::Kind::kTorn) {
    tear = lsm::CheckManifestTear(file, reader.tail().bad_offset, a.file);
  }
  int rc = PrintTail(reader, records, file.size(), tear);
  std::printf("state after %" PRIu64 " edits: log_number %" PRIu64 ", next_file_number %" PRIu64
              ", last_sequence %" PRIu64 "\n",
              records, state.log_number(), state.next_file_number(), state.last_sequence());
  for (int level = 0; level < lsm::kNumLevels; level++) {
    const auto& files = state.files(level);
    if (files.empty()) continue;
    std::printf("  L%d: %zu files, %" PRIu64 " bytes:", level, files.size(),
                state.LevelBytes(level));
    for (const lsm::FileMetaData& f : files)
      std::printf(" %s", lsm::TableFileName(f.number).c_str());
    std::printf("\n");
  }
  if (rc == kExitOk && !ok) rc = kExitError;
  if (rc != kExitOk) {
    std::fprintf(stderr, "ringdb-tool dump-manifest: %s: corrupt (see CORRUPT above)\n",
                 a.file.c_str());
  }
  return rc;
}

}  // namespace ringdb::tools
