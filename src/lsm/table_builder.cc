#include "lsm/table_builder.h"

#include "util/assert.h"

namespace ringdb::lsm {

TableBuilder::TableBuilder(const TableOptions& options)
    : options_(options), data_block_(options.restart_interval), index_block_(1) {
  RINGDB_ASSERT(options.block_bytes > 0 && options.restart_interval >= 1);
  RINGDB_ASSERT(options.bloom_bits_per_key >= 0);
  RINGDB_ASSERT(!options.block_align || options.block_bytes <= kTableAlignBytes);
  if (options.bloom_bits_per_key > 0) {
    filter_ = std::make_unique<BloomFilterBuilder>(options.bloom_bits_per_key);
  }
  props_.bloom_bits_per_key = static_cast<uint32_t>(options.bloom_bits_per_key);
}

TableBuilder::~TableBuilder() {
  RINGDB_ASSERT_MSG(closed_, "TableBuilder destroyed without Finish() or Abandon()");
}

Status TableBuilder::Add(std::string_view internal_key, std::string_view value) {
  RINGDB_ASSERT(!closed_);
  if (!status_.ok()) return status_;
  ParsedInternalKey parsed;
  if (!ParseInternalKey(internal_key, &parsed) || parsed.user_key.size() > kMaxUserKeyBytes ||
      value.size() > kMaxValueBytes) {
    status_ = Status::InvalidArgument("table builder: bad entry " + DebugInternalKey(internal_key));
    return status_;
  }
  if (props_.num_entries > 0 && icmp_.Compare(internal_key, last_key_) <= 0) {
    status_ = Status::InvalidArgument("table builder: key " + DebugInternalKey(internal_key) +
                                      " not after " + DebugInternalKey(last_key_));
    return status_;
  }
  // Aligned: a block that would no longer fit in one page with this entry is cut first
  // (an entry that fits in no page still goes into an empty block of its own).
  if (options_.block_align && !data_block_.empty() &&
      data_block_.SizeEstimateAfterAdd(internal_key, value) + kBlockTrailerBytes >
          kTableAlignBytes) {
    FlushDataBlock();
  }
  if (pending_index_entry_) {
    RINGDB_ASSERT(data_block_.empty());
    icmp_.FindShortestSeparator(&last_key_, internal_key);
    handle_encoding_.clear();
    EncodeBlockHandle(pending_handle_, &handle_encoding_);
    index_block_.Add(last_key_, handle_encoding_);
    pending_index_entry_ = false;
  }
  if (filter_ != nullptr) filter_->AddKey(parsed.user_key);

  if (props_.num_entries == 0) {
    props_.smallest_key.assign(internal_key);
    props_.smallest_seq = parsed.sequence;
  }
  props_.num_entries++;
  if (parsed.type == ValueType::kDeletion) props_.num_deletions++;
  props_.raw_key_bytes += internal_key.size();
  props_.raw_value_bytes += value.size();
  props_.smallest_seq = std::min(props_.smallest_seq, parsed.sequence);
  props_.largest_seq = std::max(props_.largest_seq, parsed.sequence);
  last_key_.assign(internal_key);

  data_block_.Add(internal_key, value);
  if (data_block_.CurrentSizeEstimate() >= options_.block_bytes) FlushDataBlock();
  return Status::OK();
}

BlockHandle TableBuilder::WriteBlock(BlockKind kind, std::string_view contents) {
  BlockHandle h{FileSize(), contents.size()};
  out_.append(contents.data(), contents.size());
  AppendBlockTrailer(h.offset, kind, contents, &out_);
  return h;
}

void TableBuilder::FlushDataBlock() {
  if (data_block_.empty()) return;
  RINGDB_ASSERT(!pending_index_entry_);
  const std::string_view contents = data_block_.Finish();
  if (options_.block_align) PadToPage();
  pending_handle_ = WriteBlock(BlockKind::kData, contents);
  if (keep_blocks_) {
    // Parsing a block just built only fails where the builder is broken; such a block is
    // left out of the cache, not the table.
    BlockPtr block;
    if (Block::FromContents(contents, pending_handle_.offset, BlockKind::kData, &block).ok()) {
      kept_.push_back(BuiltBlock{pending_handle_, std::move(block)});
    }
  }
  data_block_.Reset();
  props_.num_data_blocks++;
  pending_index_entry_ = true;
}

void TableBuilder::PadToPage() {
  const uint64_t in_page = FileSize() % kTableAlignBytes;
  if (in_page != 0) out_.append(kTableAlignBytes - in_page, '\0');
}

Status TableBuilder::Finish() {
  RINGDB_ASSERT(!closed_);
  closed_ = true;
  if (!status_.ok()) return status_;
  FlushDataBlock();
  if (props_.num_entries > 0) props_.largest_key = last_key_;  // before it is shortened
  if (pending_index_entry_) {
    icmp_.FindShortSuccessor(&last_key_);
    handle_encoding_.clear();
    EncodeBlockHandle(pending_handle_, &handle_encoding_);
    index_block_.Add(last_key_, handle_encoding_);
    pending_index_entry_ = false;
  }
  Footer footer;
  if (filter_ != nullptr) {
    std::string contents = filter_->Finish();
    footer.filter = WriteBlock(BlockKind::kFilter, contents);
  }
  std::string props;
  props_.EncodeTo(&props);
  footer.properties = WriteBlock(BlockKind::kProperties, props);
  footer.index = WriteBlock(BlockKind::kIndex, index_block_.Finish());
  uint64_t end = FileSize() + kFooterBytes;
  uint64_t padded = (end + kTableAlignBytes - 1) / kTableAlignBytes * kTableAlignBytes;
  out_.append(padded - end, '\0');
  footer.EncodeTo(&out_);
  RINGDB_ASSERT(FileSize() % kTableAlignBytes == 0);
  // Read back what is about to go to disk: the footer must describe this file.
  Footer check;
  RINGDB_ASSERT(Footer::DecodeFrom(out_, FileSize(), &check).ok() && check.index == footer.index &&
                check.properties == footer.properties);
  finished_ = true;
  return Status::OK();
}

void TableBuilder::Abandon() {
  RINGDB_ASSERT(!closed_);
  closed_ = true;
}

std::string_view TableBuilder::ready() const {
  size_t n = finished_ ? out_.size() : out_.size() / kTableAlignBytes * kTableAlignBytes;
  return std::string_view(out_.data(), n);
}

void TableBuilder::Consume(size_t n) {
  RINGDB_ASSERT(n <= ready().size() && n % kTableAlignBytes == 0);
  out_.erase(0, n);
  out_base_ += n;
}

}  // namespace ringdb::lsm
