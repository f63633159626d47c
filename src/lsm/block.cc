#include "lsm/block.h"

#include <cstddef>
#include <cstring>
#include <new>

#include "util/coding.h"
#include "util/slab.h"

namespace ringdb::lsm {

namespace {

// An allocator that makes each allocation `extra` bytes longer and reports where those
// bytes start. allocate_shared rebinds it to its node type (reference counts + Block)
// and allocates one node, so the block, its counts and its contents share one
// allocation, freed as one when the last reference goes. A block read from disk takes a
// slot of util::Slabs (a cache fill's blocks take a page fault per 2 MiB, not one each);
// one built in memory comes from operator new (see FromContents in block.h).
template <class T>
struct TailAllocator {
  using value_type = T;
  TailAllocator(size_t extra_bytes, bool use_slab, Block::Tail* tail)
      : extra(extra_bytes), slab(use_slab), out(tail) {}
  template <class U>
  TailAllocator(const TailAllocator<U>& o) : extra(o.extra), slab(o.slab), out(o.out) {}  // NOLINT

  // The contents first, then the node: a block's restart array (at the end of its
  // contents) shares a cache line with the Block that a lookup reads first, so a search
  // of a cached block starts with one miss where it took two.
  T* allocate(size_t n) {
    size_t footprint = 0;
    const size_t bytes = lead() + n * sizeof(T);
    char* p = static_cast<char*>(slab ? util::Slabs::Default().Allocate(bytes, &footprint)
                                      : util::Slabs::AllocatePlain(bytes, &footprint));
    out->data = p;
    out->bytes = footprint;
    return reinterpret_cast<T*>(p + lead());
  }
  void deallocate(T* p, size_t) { util::Slabs::Free(reinterpret_cast<char*>(p) - lead()); }
  size_t lead() const {
    return (extra + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);
  }

  template <class U>
  bool operator==(const TailAllocator<U>& o) const {
    return extra == o.extra && slab == o.slab && out == o.out;
  }

  size_t extra;
  bool slab;
  Block::Tail* out;
};

}  // namespace

Block::Block(const Tail& tail, std::string_view contents, uint64_t offset, BlockKind kind)
    : charge_(tail.bytes), offset_(offset), kind_(kind) {
  if (!contents.empty()) memcpy(tail.data, contents.data(), contents.size());
  contents_ = std::string_view(tail.data, contents.size());
}

std::shared_ptr<Block> Block::Make(std::string_view contents, uint64_t offset, BlockKind kind,
                                   bool slab) {
  Tail tail;  // filled in by the allocation, before the constructor reads it
  return std::allocate_shared<Block>(TailAllocator<Block>(contents.size(), slab, &tail), tail,
                                     contents, offset, kind);
}

Status Block::FromRaw(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                      BlockPtr* out) {
  std::string_view contents;
  Status s = VerifyBlock(raw, handle, kind, &contents);
  if (!s.ok()) return s;
  return Parse(contents, handle.offset, kind, /*slab=*/true, out);
}

Status Block::BorrowRaw(std::string_view raw, const BlockHandle& handle, BlockKind kind,
                        Block* out) {
  std::string_view contents;
  Status s = VerifyBlock(raw, handle, kind, &contents);
  if (!s.ok()) return s;
  out->contents_ = contents;
  out->charge_ = 0;
  out->offset_ = handle.offset;
  out->kind_ = kind;
  return out->ParseRestarts();
}

Status Block::FromContents(std::string_view contents, uint64_t offset, BlockKind kind,
                           BlockPtr* out) {
  return Parse(contents, offset, kind, /*slab=*/false, out);
}

Status Block::Parse(std::string_view contents, uint64_t offset, BlockKind kind, bool slab,
                    BlockPtr* out) {
  std::shared_ptr<Block> b = Make(contents, offset, kind, slab);
  Status s = b->ParseRestarts();
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::OK();
}

Status Block::ParseRestarts() {
  auto err = [&](const std::string& what) {
    return Status::Corruption(std::string("sst ") + BlockKindName(kind_) + " block at offset " +
                              std::to_string(offset_) + ": " + what);
  };
  if (contents_.size() < 4 || contents_.size() >= UINT32_MAX) return err("bad block size");
  num_restarts_ = util::DecodeFixed32(contents_.data() + contents_.size() - 4);
  uint64_t max_restarts = (contents_.size() - 4) / 4;
  if (num_restarts_ == 0 || num_restarts_ > max_restarts) return err("bad restart count");
  restarts_offset_ = static_cast<uint32_t>(contents_.size() - 4 - 4 * uint64_t{num_restarts_});
  uint32_t prev = 0;
  for (uint32_t i = 0; i < num_restarts_; i++) {
    uint32_t r = util::DecodeFixed32(contents_.data() + restarts_offset_ + 4 * i);
    // Restart 0 is the first entry; later ones strictly increase inside the entries.
    bool ok = (i == 0) ? r == 0 : (r > prev && r < restarts_offset_);
    if (!ok) return err("bad restart offset");
    prev = r;
  }
  return Status::OK();
}

bool Block::RestartEntry(uint32_t i, std::string_view* key, std::string_view* value) const {
  if (i >= num_restarts_) return false;
  const char* data = contents_.data();
  const char* p = data + util::DecodeFixed32(data + restarts_offset_ + 4 * i);
  const char* limit = data + restarts_offset_;
  uint32_t shared, non_shared, value_len;
  if ((p = util::GetVarint32Ptr(p, limit, &shared)) == nullptr ||
      (p = util::GetVarint32Ptr(p, limit, &non_shared)) == nullptr ||
      (p = util::GetVarint32Ptr(p, limit, &value_len)) == nullptr || shared != 0 ||
      static_cast<uint64_t>(limit - p) < uint64_t{non_shared} + value_len) {
    return false;
  }
  *key = std::string_view(p, non_shared);
  *value = std::string_view(p + non_shared, value_len);
  return true;
}

bool Block::LastRestartBefore(std::string_view target, uint32_t* index) const {
  const char* data = contents_.data();
  const char* limit = data + restarts_offset_;
  const InternalKeyComparator icmp;
  uint32_t left = 0;
  uint32_t right = num_restarts_ - 1;
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    const char* p = data + util::DecodeFixed32(data + restarts_offset_ + 4 * mid);
    uint32_t shared, non_shared, value_len;
    if ((p = util::GetVarint32Ptr(p, limit, &shared)) == nullptr ||
        (p = util::GetVarint32Ptr(p, limit, &non_shared)) == nullptr ||
        (p = util::GetVarint32Ptr(p, limit, &value_len)) == nullptr || shared != 0 ||
        static_cast<uint64_t>(limit - p) < non_shared) {
      return false;
    }
    if (icmp.Compare(std::string_view(p, non_shared), target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  *index = left;
  return true;
}

bool Block::SeekPoint(std::string_view target, InlineBytes* key, std::string_view* value,
                      Status* status) const {
  const char* data = contents_.data();
  const char* limit = data + restarts_offset_;
  auto restart = [&](uint32_t i) { return util::DecodeFixed32(data + restarts_offset_ + 4 * i); };
  auto corrupt = [&](const char* what) {
    *status = Status::Corruption(std::string("sst ") + BlockKindName(kind_) + " block at offset " +
                                 std::to_string(offset_) + ": " + what);
    return false;
  };
  const InternalKeyComparator icmp;
  // The binary search's probes depend on each other too; in a small block (a 4 KiB one
  // of short entries has a few restart points) ask for all of their lines first.
  if (num_restarts_ <= 8) {
    for (uint32_t i = 0; i < num_restarts_; i++) __builtin_prefetch(data + restart(i));
  }
  uint32_t left;
  if (!LastRestartBefore(target, &left)) return corrupt("bad restart entry");
  // Scan forward from there. A later restart point must start an entry that shares
  // nothing with the one before (what Iter::ParseNextKey checks).
  uint32_t next_restart_index = left + 1;
  uint32_t next_restart =
      next_restart_index < num_restarts_ ? restart(next_restart_index) : restarts_offset_;
  key->clear();
  const char* p = data + restart(left);
  // Each entry's position depends on the one before, so the scan would wait for its
  // lines one at a time: ask for the whole interval's at once.
  for (const char* q = p; q < data + next_restart; q += 64) __builtin_prefetch(q);
  while (p < limit) {
    const auto current = static_cast<uint32_t>(p - data);
    uint32_t shared, non_shared, value_len;
    if ((p = util::GetVarint32Ptr(p, limit, &shared)) == nullptr ||
        (p = util::GetVarint32Ptr(p, limit, &non_shared)) == nullptr ||
        (p = util::GetVarint32Ptr(p, limit, &value_len)) == nullptr ||
        static_cast<uint64_t>(limit - p) < uint64_t{non_shared} + value_len ||
        shared > key->size()) {
      return corrupt("bad entry");
    }
    const char* next = p + non_shared + value_len;
    while (next_restart < static_cast<uint32_t>(next - data)) {
      if (next_restart != current || shared != 0) {
        return corrupt("restart point inside an entry or with a shared prefix");
      }
      next_restart_index++;
      next_restart =
          next_restart_index < num_restarts_ ? restart(next_restart_index) : restarts_offset_;
    }
    key->truncate(shared);
    key->append(p, non_shared);
    if (icmp.Compare(key->view(), target) >= 0) {
      *value = std::string_view(p + non_shared, value_len);
      return true;
    }
    p = next;
  }
  return false;
}

std::unique_ptr<Block::Iter> Block::NewIterator(BlockPtr block) {
  return std::make_unique<Iter>(std::move(block));
}

Block::Iter::Iter(BlockPtr block) : Iter(block.get()) {
  owner_ = std::move(block);
}

Block::Iter::Iter(const Block* block)
    : block_(block),
      data_(block_->contents_.data()),
      restarts_offset_(block_->restarts_offset_),
      num_restarts_(block_->num_restarts_),
      current_(restarts_offset_) {}

void Block::Iter::SeekToRestartPoint(uint32_t i) {
  key_.clear();
  restart_index_ = i;
  next_ = RestartPoint(i);
  current_ = restarts_offset_;
}

void Block::Iter::MarkCorrupt(const char* what) {
  current_ = restarts_offset_;
  next_ = restarts_offset_;
  restart_index_ = num_restarts_;
  key_.clear();
  value_ = {};
  if (status_.ok()) {
    status_ =
        Status::Corruption(std::string("sst ") + BlockKindName(block_->kind()) +
                           " block at offset " + std::to_string(block_->offset()) + ": " + what);
  }
}

bool Block::Iter::ParseNextKey() {
  current_ = next_;
  if (current_ >= restarts_offset_) {
    current_ = restarts_offset_;
    restart_index_ = num_restarts_;
    return false;
  }
  const char* p = data_ + current_;
  const char* limit = data_ + restarts_offset_;
  uint32_t shared, non_shared, value_len;
  if ((p = util::GetVarint32Ptr(p, limit, &shared)) == nullptr ||
      (p = util::GetVarint32Ptr(p, limit, &non_shared)) == nullptr ||
      (p = util::GetVarint32Ptr(p, limit, &value_len)) == nullptr ||
      static_cast<uint64_t>(limit - p) < uint64_t{non_shared} + value_len || shared > key_.size()) {
    MarkCorrupt("bad entry");
    return false;
  }
  key_.truncate(shared);
  key_.append(p, non_shared);
  value_ = std::string_view(p + non_shared, value_len);
  next_ = static_cast<uint32_t>(p + non_shared + value_len - data_);
  // Seek and Prev start parsing at restart points, so each must start an entry that
  // shares nothing with the one before; else a block would read differently backward
  // than forward. Checked here, with the one restart offset per entry that the
  // restart_index_ bookkeeping reads anyway, so that a forward scan (verify) proves it.
  while (restart_index_ + 1 < num_restarts_ && RestartPoint(restart_index_ + 1) < next_) {
    if (RestartPoint(restart_index_ + 1) != current_ || shared != 0) {
      MarkCorrupt("restart point inside an entry or with a shared prefix");
      return false;
    }
    restart_index_++;
  }
  return true;
}

void Block::Iter::SeekToFirst() {
  if (!status_.ok()) return;
  SeekToRestartPoint(0);
  ParseNextKey();
}

void Block::Iter::SeekToLast() {
  if (!status_.ok()) return;
  SeekToRestartPoint(num_restarts_ - 1);
  while (ParseNextKey() && next_ < restarts_offset_) {
  }
}

void Block::Iter::Next() {
  ParseNextKey();
}

void Block::Iter::Prev() {
  const uint32_t original = current_;
  // Back up to a restart point strictly before the current entry.
  while (RestartPoint(restart_index_) >= original) {
    if (restart_index_ == 0) {
      current_ = restarts_offset_;  // before the first entry: invalid
      restart_index_ = num_restarts_;
      return;
    }
    restart_index_--;
  }
  SeekToRestartPoint(restart_index_);
  while (ParseNextKey() && next_ < original) {
  }
  if (status_.ok() && next_ != original) MarkCorrupt("entries overlap");
}

void Block::Iter::Seek(std::string_view target) {
  if (!status_.ok()) return;
  uint32_t left;
  if (!block_->LastRestartBefore(target, &left)) {
    MarkCorrupt("bad restart entry");
    return;
  }
  SeekToRestartPoint(left);
  while (ParseNextKey()) {
    if (icmp_.Compare(key_.view(), target) >= 0) return;
  }
}

}  // namespace ringdb::lsm
