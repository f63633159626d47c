#include "tools/tool_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "lsm/block.h"
#include "lsm/bloom.h"
#include "lsm/expiry.h"
#include "lsm/filenames.h"
#include "lsm/table_reader.h"
#include "lsm/write_batch_rep.h"
#include "tools/tool_common.h"
#include "util/coding.h"

namespace ringdb::tools {
namespace {

using lsm::BlockHandle;
using lsm::BlockKind;

std::string At(const std::string& path, uint64_t offset) {
  return Cat(path, " offset ", offset);
}

// Where a failed WalReader stopped: its message names the offset.
uint64_t WalFailOffset(const Status& s, uint64_t fallback) {
  return OffsetInMessage(s.message()).value_or(fallback);
}

Status TableCorruption(BlockKind kind, uint64_t offset, const std::string& what) {
  return Status::Corruption(
      Cat("sst ", lsm::BlockKindName(kind), " block at offset ", offset, ": ", what));
}

// Checks the meta blocks (filter, properties, index). The first failure goes to
// *status / *bad_offset; *index is set when the index block is sound, *filter when the
// table has a sound filter block (it views `file`).
void CheckMetaBlocks(std::string_view file, const lsm::Footer& footer, TableCheck* out,
                     lsm::BlockPtr* index, std::optional<lsm::BloomFilter>* filter, Status* status,
                     uint64_t* bad_offset) {
  auto fail = [&](uint64_t offset, Status s) {
    if (status->ok()) {
      *status = std::move(s);
      *bad_offset = offset;
    }
  };
  auto raw = [&](const BlockHandle& h) { return file.substr(h.offset, h.read_size()); };
  std::string_view contents;
  if (footer.filter.size != 0) {
    Status s = lsm::VerifyBlock(raw(footer.filter), footer.filter, BlockKind::kFilter, &contents);
    // Parsed in place: a filter may own an aligned copy of its bits (not copyable).
    filter->emplace();
    if (s.ok() && !(*filter)->Parse(contents)) {
      s = TableCorruption(BlockKind::kFilter, footer.filter.offset, "malformed");
    }
    if (s.ok()) {
      out->blocks++;
    } else {
      filter->reset();
    }
    fail(footer.filter.offset, s);
  }
  Status s = lsm::VerifyBlock(raw(footer.properties), footer.properties, BlockKind::kProperties,
                              &contents);
  if (s.ok()) s = lsm::TableProperties::DecodeFrom(contents, &out->props);
  if (s.ok()) out->blocks++;
  fail(footer.properties.offset, s);
  s = lsm::Block::FromRaw(raw(footer.index), footer.index, BlockKind::kIndex, index);
  if (s.ok()) out->blocks++;
  fail(footer.index.offset, s);
}

// What one data entry is checked against: where it lies and what came before it.
struct DataEntryContext {
  const lsm::Footer& footer;
  const std::optional<lsm::BloomFilter>& filter;
  const lsm::FileMetaData* meta;      // null: no MANIFEST range to check
  const BlockHandle& data;            // the entry's data block
  std::string_view index_key;         // that block's index key
  const std::string& prev_index_key;  // the previous block's ("" for the first block)
  const std::string& last_key;        // the entry before this one ("" for the first)
  bool first_in_block;
};

// Checks one data entry (key k, value v): its key parses (into *pk) and sorts after
// the previous one, the filter admits it, the index separates it from the previous
// block, the MANIFEST range holds it, and an expiring value has room for its deadline.
Status CheckDataEntry(const DataEntryContext& c, std::string_view k, std::string_view v,
                      lsm::ParsedInternalKey* pk, uint64_t* bad_offset) {
  const lsm::InternalKeyComparator icmp;
  if (!lsm::ParseInternalKey(k, pk)) {
    return TableCorruption(BlockKind::kData, c.data.offset, "bad internal key");
  }
  if (!c.last_key.empty() && icmp.Compare(c.last_key, k) >= 0) {
    return TableCorruption(
        BlockKind::kData, c.data.offset,
        "key " + lsm::DebugInternalKey(k) + " is not after " + lsm::DebugInternalKey(c.last_key));
  }
  // A lookup consults the filter first: one that rules out a key the table holds
  // hides it (the filter is checksummed, but written from the same keys).
  if (c.filter && !c.filter->MayContain(pk->user_key)) {
    *bad_offset = c.footer.filter.offset;
    return TableCorruption(BlockKind::kFilter, c.footer.filter.offset,
                           "rules out key " + lsm::DebugInternalKey(k) +
                               " of the data block at offset " + std::to_string(c.data.offset));
  }
  // An index key separates its block from the next one (last key <= index key <
  // next first key): a seek or a lookup above it must not be sent to an earlier
  // block, where it would miss.
  if (c.first_in_block && !c.prev_index_key.empty() && icmp.Compare(k, c.prev_index_key) <= 0) {
    *bad_offset = c.footer.index.offset;
    return TableCorruption(BlockKind::kIndex, c.footer.index.offset,
                           "index key " + lsm::DebugInternalKey(c.prev_index_key) +
                               " is not below the first key " + lsm::DebugInternalKey(k) +
                               " of the next data block");
  }
  // A point lookup searches only the block the index picks. A separator above the
  // previous block's last key must therefore have a smaller user key than k (as
  // FindShortestSeparator makes it): else a lookup of k's user key between the two
  // lands in the previous block and misses k's versions.
  if (c.first_in_block && !c.prev_index_key.empty() && c.prev_index_key != c.last_key &&
      lsm::ExtractUserKey(c.prev_index_key).compare(pk->user_key) >= 0) {
    *bad_offset = c.footer.index.offset;
    return TableCorruption(
        BlockKind::kIndex, c.footer.index.offset,
        "index key " + lsm::DebugInternalKey(c.prev_index_key) +
            " lies above its block's last key " + lsm::DebugInternalKey(c.last_key) +
            " with the user key of the next block's first key " + lsm::DebugInternalKey(k));
  }
  if (icmp.Compare(k, c.index_key) > 0) {
    return TableCorruption(BlockKind::kData, c.data.offset,
                           "key " + lsm::DebugInternalKey(k) + " is beyond the block's index key");
  }
  if (c.meta != nullptr &&
      (icmp.Compare(k, c.meta->smallest) < 0 || icmp.Compare(k, c.meta->largest) > 0)) {
    return TableCorruption(BlockKind::kData, c.data.offset,
                           "key " + lsm::DebugInternalKey(k) +
                               " lies outside the range the MANIFEST records for this table [" +
                               lsm::DebugInternalKey(c.meta->smallest) + " .. " +
                               lsm::DebugInternalKey(c.meta->largest) + "]");
  }
  if (pk->type == lsm::ValueType::kValueExpiring && v.size() < lsm::kExpiryBytes) {
    return TableCorruption(
        BlockKind::kData, c.data.offset,
        "expiring value of " + lsm::DebugInternalKey(k) + " is too short for its deadline");
  }
  return Status::OK();
}

// A data block starts where the previous one ended (`expect`), or, in a table written
// with block_align, at the next 4 KiB boundary after it with zeros in between
// (docs/sst.md "Aligned data blocks").
bool FollowsPrevious(std::string_view file, uint64_t expect, const BlockHandle& h) {
  if (h.offset == expect) return true;
  if (h.offset < expect || h.offset % lsm::kTableAlignBytes != 0 ||
      h.offset - expect >= lsm::kTableAlignBytes || h.offset > file.size()) {
    return false;
  }
  for (uint64_t i = expect; i < h.offset; i++) {
    if (file[i] != 0) return false;
  }
  return true;
}

// Walks the index and every data block it names. Returns the first problem.
Status CheckDataBlocks(std::string_view file, const lsm::Footer& footer, const lsm::BlockPtr& index,
                       const std::optional<lsm::BloomFilter>& filter, const lsm::FileMetaData* meta,
                       TableCheck* out, uint64_t* bad_offset, std::string* first_key,
                       std::string* last_key, uint64_t* deletions, uint64_t* data_blocks) {
  const uint64_t index_offset = footer.index.offset;
  const uint64_t data_end = footer.meta_offset();
  uint64_t expect = 0;  // data blocks are back to back from offset 0, or page-aligned
  std::string prev_index_key;
  std::unique_ptr<lsm::Block::Iter> it = lsm::Block::NewIterator(index);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view hv = it->value();
    BlockHandle h;
    if (!lsm::DecodeBlockHandle(&hv, &h) || !hv.empty()) {
      *bad_offset = index_offset;
      return TableCorruption(BlockKind::kIndex, index_offset, "bad block handle");
    }
    lsm::ParsedInternalKey index_key;
    if (!lsm::ParseInternalKey(it->key(), &index_key)) {
      *bad_offset = index_offset;
      return TableCorruption(BlockKind::kIndex, index_offset, "bad internal key");
    }
    if (!FollowsPrevious(file, expect, h) || h.size > data_end ||
        data_end - h.offset < h.read_size()) {
      *bad_offset = index_offset;
      return TableCorruption(
          BlockKind::kIndex, index_offset,
          Cat("data block handle at offset ", h.offset, " size ", h.size,
              " does not follow the previous block (", expect, ") inside the data area"));
    }
    expect = h.offset + h.read_size();
    *bad_offset = h.offset;
    lsm::BlockPtr block;
    Status s =
        lsm::Block::FromRaw(file.substr(h.offset, h.read_size()), h, BlockKind::kData, &block);
    if (!s.ok()) return s;
    out->blocks++;
    (*data_blocks)++;
    uint64_t in_block = 0;
    std::unique_ptr<lsm::Block::Iter> d = lsm::Block::NewIterator(block);
    for (d->SeekToFirst(); d->Valid(); d->Next()) {
      std::string_view k = d->key();
      const DataEntryContext c{footer,    filter,         meta,      h,
                               it->key(), prev_index_key, *last_key, in_block == 0};
      lsm::ParsedInternalKey pk;
      s = CheckDataEntry(c, k, d->value(), &pk, bad_offset);
      if (!s.ok()) return s;
      if (first_key->empty()) first_key->assign(k);
      last_key->assign(k);
      if (pk.type == lsm::ValueType::kDeletion) (*deletions)++;
      in_block++;
    }
    if (!d->status().ok()) return d->status();
    if (in_block == 0) return TableCorruption(BlockKind::kData, h.offset, "empty data block");
    out->entries += in_block;
    prev_index_key.assign(it->key());
  }
  if (!it->status().ok()) {
    *bad_offset = index_offset;
    return it->status();
  }
  if (expect != data_end) {
    *bad_offset = index_offset;
    return TableCorruption(
        BlockKind::kIndex, index_offset,
        Cat("the data blocks end at offset ", expect, ", the meta region starts at ", data_end));
  }
  return Status::OK();
}

// The properties must describe the data that was found.
Status CrossCheckProperties(const lsm::Footer& footer, const TableCheck& tc,
                            const std::string& first_key, const std::string& last_key,
                            uint64_t deletions, uint64_t data_blocks) {
  const lsm::TableProperties& p = tc.props;
  std::string what;
  if (p.num_entries != tc.entries) {
    what = Cat("num_entries ", p.num_entries, ", the data blocks hold ", tc.entries);
  } else if (p.num_deletions != deletions) {
    what = Cat("num_deletions ", p.num_deletions, ", the data blocks hold ", deletions);
  } else if (p.num_data_blocks != data_blocks) {
    what = Cat("num_data_blocks ", p.num_data_blocks, ", the index names ", data_blocks);
  } else if (p.smallest_key != first_key || p.largest_key != last_key) {
    what = "smallest/largest key do not match the first/last entry";
  }
  if (what.empty()) return Status::OK();
  return TableCorruption(BlockKind::kProperties, footer.properties.offset, what);
}

}  // namespace

Status ListShardDir(const std::string& dir, ShardListing* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    uint64_t number = 0;
    switch (lsm::ParseFileName(name, &number)) {
      case lsm::FileKind::kWal: {
        out->wals.insert(number);
        struct stat st;
        if (::fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
          const int err = errno;
          ::closedir(d);
          return Status::FromErrno(err, "stat " + dir + "/" + std::string(name));
        }
        out->wal_bytes[number] = static_cast<uint64_t>(st.st_size);
        break;
      }
      case lsm::FileKind::kTable:
        out->tables.insert(number);
        break;
      case lsm::FileKind::kManifest:
        out->manifests.insert(number);
        break;
      case lsm::FileKind::kCurrent:
        out->has_current = true;
        break;
      case lsm::FileKind::kTemp:
        out->temps.emplace_back(name);
        break;
      case lsm::FileKind::kPostLog:
        out->post_logs.emplace_back(name);
        break;
      case lsm::FileKind::kUnknown:
        break;
    }
  }
  ::closedir(d);
  std::sort(out->temps.begin(), out->temps.end());
  return Status::OK();
}

Status ReadCurrent(const std::string& shard_dir, uint64_t* manifest_number) {
  const std::string path = JoinPath(shard_dir, lsm::kCurrentFileName);
  std::string contents;
  Status s = ReadWholeFile(path, &contents);
  if (!s.ok()) return s;
  if (contents.size() > 4096) return Status::Corruption(path + ": unexpectedly large");
  return lsm::DecodeCurrent(contents, path, manifest_number);
}

Status ReplayManifest(uint32_t shard, uint64_t number, std::string_view bytes,
                      const std::string& path, ManifestReplay* out, uint64_t* bad_offset) {
  return lsm::ReplayManifest(Cat("shard ", shard), number, bytes, path, out, bad_offset);
}

Status ScanWal(uint64_t number, std::string_view bytes, const std::string& path, WalScan* out,
               uint64_t* bad_offset) {
  lsm::WalReader reader(number, bytes);
  lsm::WalRecord rec;
  uint64_t valid_end = 0;
  while (reader.Next(&rec)) {
    *bad_offset = rec.offset;
    if (rec.type != lsm::WalRecordType::kBatch) {
      return Status::Corruption(At(path, rec.offset) + ": not a write batch record");
    }
    Status s = lsm::WriteBatchRep::Validate(rec.payload);
    if (!s.ok()) return Status::Corruption(At(path, rec.offset) + ": " + s.message());
    if (out->records == 0) out->first_seq = rec.first_seq;
    out->records++;
    out->entries += rec.count;
    if (rec.count > 0) out->last_seq = rec.first_seq + rec.count - 1;
    out->max_seq = std::max(out->max_seq, out->last_seq);
    valid_end = rec.end_offset();
  }
  if (!reader.status().ok()) {
    *bad_offset = WalFailOffset(reader.status(), valid_end);
    return Status::Corruption(path + ": " + reader.status().message());
  }
  out->tail = reader.tail();
  return Status::OK();
}

Status CheckTable(std::string_view file, const lsm::FileMetaData* meta, TableCheck* out,
                  uint64_t* bad_offset) {
  const uint64_t size = file.size();
  if (size < lsm::kFooterBytes) {
    *bad_offset = 0;
    return Status::Corruption(
        Cat("sst: ", size, " bytes, shorter than a footer (", lsm::kFooterBytes, ")"));
  }
  *bad_offset = size - lsm::kFooterBytes;
  Status s = lsm::Footer::DecodeFrom(file.substr(*bad_offset), size, &out->footer);
  if (!s.ok()) return s;
  const lsm::Footer& footer = out->footer;

  // The meta blocks locate the data, so they are checked first; a bad data block still
  // wins the report because it lies earlier in the file.
  Status meta_status;
  uint64_t meta_bad = 0;
  lsm::BlockPtr index;
  std::optional<lsm::BloomFilter> filter;
  CheckMetaBlocks(file, footer, out, &index, &filter, &meta_status, &meta_bad);
  if (index == nullptr) {
    *bad_offset = meta_bad;
    return meta_status;
  }
  std::string first_key, last_key;
  uint64_t deletions = 0, data_blocks = 0;
  s = CheckDataBlocks(file, footer, index, filter, meta, out, bad_offset, &first_key, &last_key,
                      &deletions, &data_blocks);
  if (!s.ok()) return s;
  if (!meta_status.ok()) {
    *bad_offset = meta_bad;
    return meta_status;
  }
  const uint64_t pad_start = footer.index.offset + footer.index.read_size();
  for (uint64_t i = pad_start; i < size - lsm::kFooterBytes; i++) {
    if (file[i] != 0) {
      *bad_offset = i;
      return Status::Corruption("sst padding before the footer: non-zero byte at offset " +
                                std::to_string(i));
    }
  }
  *bad_offset = footer.properties.offset;
  return CrossCheckProperties(footer, *out, first_key, last_key, deletions, data_blocks);
}

Status ReadTableProperties(const std::string& path, lsm::TableProperties* props) {
  uint64_t size = 0;
  Status s = FileSize(path, &size);
  if (!s.ok()) return s;
  std::string tail;
  uint64_t n = lsm::TableReader::FooterReadBytes(size);
  s = ReadFileRange(path, size - n, n, &tail);
  if (!s.ok()) return s;
  lsm::Footer footer;
  s = lsm::Footer::DecodeFrom(tail, size, &footer);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  std::string meta;
  s = ReadFileRange(path, footer.meta_offset(), size - footer.meta_offset(), &meta);
  if (!s.ok()) return s;
  std::unique_ptr<lsm::TableReader> reader;
  s = lsm::TableReader::Open(size, footer, std::move(meta), &reader);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  *props = reader->properties();
  return Status::OK();
}

const char* TypeName(lsm::ValueType t) {
  switch (t) {
    case lsm::ValueType::kDeletion:
      return "del";
    case lsm::ValueType::kValue:
      return "put";
    case lsm::ValueType::kValueExpiring:
      return "put-expiring";
  }
  return "?";
}

}  // namespace ringdb::tools
