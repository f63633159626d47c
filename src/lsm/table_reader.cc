#include "lsm/table_reader.h"

#include <algorithm>

#include "lsm/expiry.h"
#include "util/assert.h"
#include "util/hash.h"

namespace ringdb::lsm {

namespace {

Status IndexCorruption(const Block& index, const char* what) {
  return Status::Corruption(std::string("sst index block at offset ") +
                            std::to_string(index.offset()) + ": " + what);
}

// Decodes the data block handle in an index entry and checks it lies in the data area.
Status DecodeDataHandle(const Block& index, std::string_view value, uint64_t data_end,
                        BlockHandle* h) {
  if (!DecodeBlockHandle(&value, h) || !value.empty()) {
    return IndexCorruption(index, "bad block handle");
  }
  if (h->offset > data_end || h->size > data_end || data_end - h->offset < h->read_size()) {
    return IndexCorruption(index, "block handle outside the data area");
  }
  return Status::OK();
}

// Two-level iteration: the index block picks data blocks, fetched on demand.
class TableIter final : public InternalIterator {
 public:
  TableIter(BlockPtr index, uint64_t data_end, BlockFetcher* fetcher)
      : index_block_(index),
        index_(Block::NewIterator(std::move(index))),
        data_end_(data_end),
        fetcher_(fetcher) {}

  bool Valid() const override { return status_.ok() && data_ != nullptr && data_->Valid(); }
  void SeekToFirst() override {
    index_->SeekToFirst();
    InitDataBlock();
    if (data_ != nullptr) data_->SeekToFirst();
    SkipEmptyBlocks(Direction::kForward);
  }
  void SeekToLast() override {
    index_->SeekToLast();
    InitDataBlock();
    if (data_ != nullptr) data_->SeekToLast();
    SkipEmptyBlocks(Direction::kBackward);
  }
  void Seek(std::string_view target) override {
    index_->Seek(target);
    InitDataBlock();
    if (data_ != nullptr) data_->Seek(target);
    SkipEmptyBlocks(Direction::kForward);
  }
  void Next() override {
    RINGDB_ASSERT(Valid());
    data_->Next();
    SkipEmptyBlocks(Direction::kForward);
  }
  void Prev() override {
    RINGDB_ASSERT(Valid());
    data_->Prev();
    SkipEmptyBlocks(Direction::kBackward);
  }
  std::string_view key() const override { return data_->key(); }
  std::string_view value() const override { return data_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    if (!index_->status().ok()) return index_->status();
    if (data_ != nullptr) return data_->status();
    return Status::OK();
  }

 private:
  // Points data_ at the block the index iterator is on (nullptr past the end or on
  // error, which lands in status_).
  void InitDataBlock() {
    if (!status_.ok() || !index_->Valid()) {
      if (!index_->status().ok() && status_.ok()) status_ = index_->status();
      data_.reset();
      return;
    }
    BlockHandle h;
    Status s = DecodeDataHandle(*index_block_, index_->value(), data_end_, &h);
    if (s.ok() && data_ != nullptr && h == handle_) return;  // already there
    BlockPtr block;
    if (s.ok()) s = fetcher_->Fetch(h, BlockKind::kData, &block);
    if (!s.ok()) {
      status_ = s;
      data_.reset();
      return;
    }
    handle_ = h;
    data_ = Block::NewIterator(std::move(block));
  }
  enum class Direction { kForward, kBackward };
  // While data_ is exhausted (or absent), moves to the next (previous) data block and
  // onto its first (last) entry: stops on an entry, past the index's end, or at an error
  // (a data block's error lands in status_).
  void SkipEmptyBlocks(Direction dir) {
    const bool forward = dir == Direction::kForward;
    while (status_.ok() && (data_ == nullptr || !data_->Valid())) {
      if (data_ != nullptr && !data_->status().ok()) {
        status_ = data_->status();
        break;
      }
      if (!index_->Valid()) {
        data_.reset();
        return;
      }
      if (forward) {
        index_->Next();
      } else {
        index_->Prev();
      }
      InitDataBlock();
      if (data_ == nullptr) continue;
      if (forward) {
        data_->SeekToFirst();
      } else {
        data_->SeekToLast();
      }
    }
  }

  BlockPtr index_block_;
  std::unique_ptr<Block::Iter> index_;
  uint64_t data_end_;
  BlockFetcher* fetcher_;
  std::unique_ptr<Block::Iter> data_;
  BlockHandle handle_;
  Status status_;
};

}  // namespace

Status StringBlockFetcher::Fetch(const BlockHandle& handle, BlockKind kind, BlockPtr* out) {
  fetches_++;
  if (handle.offset > file_.size() || handle.size > file_.size() ||
      file_.size() - handle.offset < handle.read_size()) {
    return Status::IOError("read past end of file at offset " + std::to_string(handle.offset));
  }
  return Block::FromRaw(file_.substr(handle.offset, handle.read_size()), handle, kind, out);
}

Status TableReader::Open(uint64_t file_size, const Footer& footer, std::string meta,
                         std::unique_ptr<TableReader>* out) {
  const uint64_t meta_offset = footer.meta_offset();
  if (meta_offset > file_size || meta.size() != file_size - meta_offset) {
    return Status::InvalidArgument("sst meta region: expected " +
                                   std::to_string(file_size - meta_offset) + " bytes, got " +
                                   std::to_string(meta.size()));
  }
  std::unique_ptr<TableReader> t(new TableReader());
  t->file_size_ = file_size;
  t->footer_ = footer;
  t->meta_ = std::move(meta);
  auto raw_of = [&](const BlockHandle& h) {
    return std::string_view(t->meta_).substr(h.offset - meta_offset, h.read_size());
  };
  std::string_view contents, filter;
  if (footer.filter.size != 0) {
    Status s = VerifyBlock(raw_of(footer.filter), footer.filter, BlockKind::kFilter, &filter);
    if (!s.ok()) return s;
    if (!t->filter_.Parse(filter)) {
      return Status::Corruption("sst filter block at offset " +
                                std::to_string(footer.filter.offset) + ": malformed");
    }
    t->has_filter_ = true;
  }
  Status s =
      VerifyBlock(raw_of(footer.properties), footer.properties, BlockKind::kProperties, &contents);
  if (!s.ok()) return s;
  s = TableProperties::DecodeFrom(contents, &t->props_);
  if (!s.ok()) return s;
  if (t->props_.largest_seq >= t->props_.smallest_seq) t->settle_seq_ = t->props_.largest_seq;
  s = Block::FromRaw(raw_of(footer.index), footer.index, BlockKind::kIndex, &t->index_);
  if (!s.ok()) return s;
  s = t->BuildIndexPrefixes();
  if (!s.ok()) return s;
  // Keep the filter's bytes only: the index is a block of its own now and the properties
  // are decoded, so the rest of the region (the index, most of it) would be held twice.
  t->filter_bytes_.assign(filter.begin(), filter.end());
  std::string().swap(t->meta_);  // (assigning an empty string would keep the buffer)
  if (t->has_filter_ &&
      !t->filter_.Parse(std::string_view(t->filter_bytes_.data(), t->filter_bytes_.size()))) {
    return Status::Corruption("sst filter block: malformed after copy");
  }
  *out = std::move(t);
  return Status::OK();
}

namespace {

// The 8 bytes of user_key after `skip`, big-endian, zero-padded.
uint64_t Prefix8(std::string_view user_key, size_t skip) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++) {
    const size_t at = skip + i;
    v = (v << 8) | (at < user_key.size() ? static_cast<unsigned char>(user_key[at]) : 0u);
  }
  return v;
}

}  // namespace

Status TableReader::BuildIndexPrefixes() {
  if (index_->empty()) return Status::OK();  // an empty table: every lookup is past it
  const uint32_t n = index_->num_restarts();
  // The common prefix is taken from the first separator and the last but one: the last
  // is usually the short successor of the table's last key ("1" for "0000123"), which
  // would leave no common prefix at all and every lookup tied on its first 8 bytes.
  const uint32_t bound = n >= 2 ? n - 2 : 0;
  std::string_view key, value;
  std::string_view first, last;
  for (uint32_t i : {uint32_t{0}, bound}) {
    if (!index_->RestartEntry(i, &key, &value) || key.size() < kTrailerBytes) {
      return IndexCorruption(*index_, "bad entry");
    }
    (i == 0 ? first : last) = ExtractUserKey(key);
  }
  size_t cp = 0;
  while (cp < first.size() && cp < last.size() && first[cp] == last[cp]) cp++;
  index_common_.assign(first.substr(0, cp));
  index_prefix_.resize(n);
  index_sharing_ = n;
  uint32_t tie = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!index_->RestartEntry(i, &key, &value) || key.size() < kTrailerBytes) {
      return IndexCorruption(*index_, "bad entry");
    }
    const std::string_view ukey = ExtractUserKey(key);
    IndexEntry& e = index_prefix_[i];
    if (ukey.substr(0, cp) == index_common_) {
      e.prefix = Prefix8(ukey, cp);
    } else if (i == n - 1 && ukey > index_common_) {
      // Only the last separator may lack the prefix (the ones before lie between the
      // first and the last but one), and then it is above every key that has it.
      e.prefix = ~uint64_t{0};
      index_sharing_ = i;
    } else {
      return IndexCorruption(*index_, "separators out of order");
    }
    if (i > 0 && e.prefix < index_prefix_[i - 1].prefix) {
      return IndexCorruption(*index_, "separators out of order");
    }
    tie = i > 0 && e.prefix == index_prefix_[i - 1].prefix ? tie + 1 : 1;
    max_prefix_tie_ = std::max(max_prefix_tie_, tie);
    BlockHandle h;
    Status s = DecodeDataHandle(*index_, value, footer_.meta_offset(), &h);
    if (!s.ok()) return s;
    const uint64_t suffix =
        ukey.size() - cp <= 8 && e.prefix != ~uint64_t{0} ? ukey.size() - cp : kLongSuffix;
    e.handle = h.offset < (uint64_t{1} << 36) && h.size < (uint64_t{1} << 24)
                   ? h.offset << 28 | h.size << 4 | suffix
                   : kNoPackedHandle;
  }
  index_top_.clear();
  index_top_.reserve((n + kTopStride - 1) / kTopStride);
  for (uint32_t i = 0; i < n; i += kTopStride) index_top_.push_back(index_prefix_[i].prefix);
  index_mid_.clear();
  index_mid_.reserve((n + kMidStride - 1) / kMidStride);
  for (uint32_t i = 0; i < n; i += kMidStride) index_mid_.push_back(index_prefix_[i].prefix);
  return Status::OK();
}

// Each level's answer is the first sample >= p; the next level's range lies after the
// sample before it.
TableReader::MidRange TableReader::SearchTop(uint64_t p) const {
  const uint32_t j = static_cast<uint32_t>(
      std::lower_bound(index_top_.begin(), index_top_.end(), p) - index_top_.begin());
  const uint32_t per_top = kTopStride / kMidStride;
  const uint32_t nmid = static_cast<uint32_t>(index_mid_.size());
  MidRange r{j > 0 ? (j - 1) * per_top + 1 : 0, std::min(nmid, j * per_top)};
  if (r.begin < r.end) __builtin_prefetch(&index_mid_[r.begin]);
  return r;
}

uint32_t TableReader::SearchMidAndBottom(uint64_t p, MidRange mid) const {
  const uint32_t m = static_cast<uint32_t>(
      std::lower_bound(index_mid_.begin() + mid.begin, index_mid_.begin() + mid.end, p) -
      index_mid_.begin());
  const uint32_t n = static_cast<uint32_t>(index_prefix_.size());
  const uint32_t begin = m > 0 ? (m - 1) * kMidStride + 1 : 0;
  const uint32_t end = std::min<uint64_t>(n, uint64_t{m} * kMidStride);
  if (begin < end) {  // at most 7 entries of 16 bytes: two lines, asked for at once
    __builtin_prefetch(&index_prefix_[begin]);
    __builtin_prefetch(&index_prefix_[end - 1]);
  }
  const auto below = [](const IndexEntry& e, uint64_t v) { return e.prefix < v; };
  return static_cast<uint32_t>(
      std::lower_bound(index_prefix_.begin() + begin, index_prefix_.begin() + end, p, below) -
      index_prefix_.begin());
}

Status TableReader::FindIndexEntry(std::string_view ikey, const uint64_t* filter_hash,
                                   bool* filtered, uint32_t* entry) const {
  const std::string_view ukey = ExtractUserKey(ikey);
  const uint32_t n = static_cast<uint32_t>(index_prefix_.size());
  const auto ruled_out = [&] {
    *filtered = filter_hash != nullptr && !filter_.MayContainHash(*filter_hash);
    return *filtered;
  };
  uint32_t lo = 0, hi = 0;  // full comparisons needed in [lo, hi); answer in [lo, hi]
  if (ukey.substr(0, index_common_.size()) == index_common_) {
    const uint64_t p = Prefix8(ukey, index_common_.size());
    const MidRange mid = SearchTop(p);
    if (ruled_out()) return Status::OK();
    lo = SearchMidAndBottom(p, mid);
    hi = lo;
    while (hi < n && hi - lo < 8 && index_prefix_[hi].prefix == p) hi++;
    if (hi < n && index_prefix_[hi].prefix == p) {
      const auto above = [](uint64_t v, const IndexEntry& e) { return v < e.prefix; };
      hi = static_cast<uint32_t>(
          std::upper_bound(index_prefix_.begin() + hi, index_prefix_.end(), p, above) -
          index_prefix_.begin());
    }
    // Ties for a lookup at or above every sequence in the table (a Get without a
    // snapshot: the shard's published sequence; it sorts before every entry of its user
    // key here) settled by the suffix lengths, where both are known: a tied separator
    // with a shorter suffix is below the key (a zero-padded prefix of it), a longer one
    // above, an equal one is the key itself, and above this lookup.
    const size_t key_suffix = ukey.size() - index_common_.size();
    if (key_suffix <= 8 && (ExtractTag(ikey) >> 8) >= settle_seq_) {
      for (; lo < hi; lo++) {
        const uint64_t packed = index_prefix_[lo].handle;
        if (packed == kNoPackedHandle || (packed & 15) == kLongSuffix) break;
        if ((packed & 15) >= key_suffix) {
          hi = lo;
          break;
        }
      }
    }
  } else {
    if (ruled_out()) return Status::OK();
    if (ukey > index_common_) {
      // After every separator that has the prefix; the last one may lack it (and still
      // be above ukey).
      lo = index_sharing_;
      hi = n;
    }
  }
  // Binary search among the entries whose prefix ties with the key's.
  InternalKeyComparator icmp;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    std::string_view key, value;
    if (!index_->RestartEntry(mid, &key, &value)) return IndexCorruption(*index_, "bad entry");
    if (icmp.Compare(key, ikey) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *entry = lo;
  return Status::OK();
}

Status TableReader::OpenFromFile(std::string_view file, std::unique_ptr<TableReader>* out) {
  Footer footer;
  std::string_view tail = file.substr(file.size() - FooterReadBytes(file.size()));
  Status s = Footer::DecodeFrom(tail, file.size(), &footer);
  if (!s.ok()) return s;
  return Open(file.size(), footer, std::string(file.substr(footer.meta_offset())), out);
}

bool TableReader::MayContain(std::string_view user_key) const {
  return !has_filter_ || filter_.MayContain(user_key);
}

Status TableReader::FindDataBlock(const LookupKey& key, BlockHandle* handle,
                                  bool* may_exist) const {
  return FindDataBlock(key, util::Hash64(key.user_key(), kBloomHashSeed), handle, may_exist);
}

Status TableReader::FindDataBlock(const LookupKey& key, uint64_t seeded_hash, BlockHandle* handle,
                                  bool* may_exist) const {
  *may_exist = false;
  uint64_t h = 0;
  if (has_filter_) {
    h = filter_.seed() == kBloomHashSeed ? seeded_hash
                                         : util::Hash64(key.user_key(), filter_.seed());
    filter_.Prefetch(h);
  }
  uint32_t entry = 0;
  bool filtered = false;
  Status s = FindIndexEntry(key.internal_key(), has_filter_ ? &h : nullptr, &filtered, &entry);
  if (!s.ok() || filtered || entry >= index_prefix_.size()) return s;  // absent
  const uint64_t packed = index_prefix_[entry].handle;
  if (packed != kNoPackedHandle) {  // checked against the data area when packed
    handle->offset = packed >> 28;
    handle->size = (packed >> 4) & ((uint64_t{1} << 24) - 1);
    *may_exist = true;
    return Status::OK();
  }
  std::string_view sep, value;
  if (!index_->RestartEntry(entry, &sep, &value)) return IndexCorruption(*index_, "bad entry");
  s = DecodeDataHandle(*index_, value, footer_.meta_offset(), handle);
  if (s.ok()) *may_exist = true;
  return s;
}

Status TableReader::SearchDataBlock(const Block& block, const LookupKey& key, LookupResult* result,
                                    std::string* value, uint64_t* expire_at_ms) {
  *result = LookupResult::kAbsent;
  InlineBytes found;
  std::string_view found_value;
  Status s;
  if (!block.SeekPoint(key.internal_key(), &found, &found_value, &s)) return s;
  ParsedInternalKey parsed;
  if (!ParseInternalKey(found.view(), &parsed)) {
    return Status::Corruption("sst data block at offset " + std::to_string(block.offset()) +
                              ": bad internal key");
  }
  if (parsed.user_key != key.user_key()) return Status::OK();
  uint64_t deadline = 0;
  switch (parsed.type) {
    case ValueType::kValue:
      value->assign(found_value);
      *result = LookupResult::kFound;
      break;
    case ValueType::kValueExpiring: {
      std::string_view payload;
      if (!SplitExpiring(found_value, &deadline, &payload)) {
        return Status::Corruption("sst data block at offset " + std::to_string(block.offset()) +
                                  ": expiring value too short for its deadline");
      }
      value->assign(payload);
      *result = LookupResult::kFound;
      break;
    }
    case ValueType::kDeletion:
      *result = LookupResult::kDeleted;
      break;
  }
  if (expire_at_ms != nullptr) *expire_at_ms = deadline;
  return Status::OK();
}

Status TableReader::Get(const LookupKey& key, BlockFetcher* fetcher, LookupResult* result,
                        std::string* value, uint64_t* expire_at_ms) const {
  *result = LookupResult::kAbsent;
  BlockHandle handle;
  bool may_exist;
  Status s = FindDataBlock(key, &handle, &may_exist);
  if (!s.ok() || !may_exist) return s;
  BlockPtr block;
  s = fetcher->Fetch(handle, BlockKind::kData, &block);
  if (!s.ok()) return s;
  return SearchDataBlock(*block, key, result, value, expire_at_ms);
}

std::unique_ptr<InternalIterator> TableReader::NewIterator(BlockFetcher* fetcher) const {
  return std::make_unique<TableIter>(index_, footer_.meta_offset(), fetcher);
}

}  // namespace ringdb::lsm
