// The read side of a shard's state: open tables (TableHandle), the immutable set of
// live tables (Version), and what a read needs at one instant (ReadView: memtables and
// version, published together).
//
// Thread ownership: all of these are immutable once published; the shard thread
// builds them, any thread reads them. Lifetimes (docs/engine.md "Reads on any
// thread"):
//   - A point read holds nothing: it runs inside an rcu::ReadLock, and the shard
//     retires a replaced ReadView through RCU, so nothing the read can reach is freed
//     before it leaves the section.
//   - Whoever keeps state across a suspension or between calls (iterators,
//     compactions, a fiber waiting for a disk read) takes a reference: ReadView::Ref,
//     or a copy of the VersionPtr / TableRef. The last reference frees the object on
//     whichever thread drops it; a TableHandle then closes its descriptor (reading an
//     unlinked file through a descriptor that is still open is fine on Linux).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsm/memtable.h"
#include "lsm/table_reader.h"
#include "lsm/version_edit.h"
#include "ringdb/status.h"

namespace ringdb::lsm {

// An open SST file.
struct TableHandle {
  TableHandle() = default;
  TableHandle(const TableHandle&) = delete;
  TableHandle& operator=(const TableHandle&) = delete;
  ~TableHandle();

  uint64_t number = 0;
  uint64_t file_size = 0;
  int fd = -1;                          // O_RDONLY | O_DIRECT
  uint32_t dio_align = 4096;            // O_DIRECT offset/length alignment of the file
  std::string path;                     // for messages, built once
  Status status;                        // not OK: the table could not be opened; reads fail with it
  std::unique_ptr<TableReader> reader;  // set when status is OK
  size_t pinned = 0;                    // index and filter bytes charged to the block cache
  // Shard thread only: the table left the live set (TableCache::Evict); its blocks must
  // not be cached any more (the cache warm-up checks before each insert).
  mutable bool evicted = false;
};
using TableRef = std::shared_ptr<const TableHandle>;

// One block to read because it missed the cache.
struct BlockRead {
  const TableHandle* table = nullptr;  // kept alive by the caller for the whole read
  BlockHandle handle;
  bool fill_cache = true;  // insert the block into the cache once verified
  // The reader may hand back a block that borrows its read buffer (Block::BorrowRaw)
  // when the cache does not take it: the caller drops `block` before its thread reads
  // again (a Get's or a MultiGet round's lookups, not an iterator's). Such a block holds
  // no reference: use block.get() only.
  bool may_borrow = false;
  BlockPtr block;  // out
  Status status;   // out
};

// One live file of a version.
struct VersionFile {
  FileMetaData meta;
  TableRef table;

  std::string_view smallest_user_key() const { return ExtractUserKey(meta.smallest); }
  std::string_view largest_user_key() const { return ExtractUserKey(meta.largest); }
};

// The live tables, per level, in VersionState order (L0 newest first; deeper levels
// sorted by key, not overlapping). Invariant: every table is open (TableRef set).
class Version {
 public:
  const std::vector<VersionFile>& files(int level) const { return levels_[level]; }
  std::vector<VersionFile>& mutable_files(int level) { return levels_[level]; }  // builder
  // The builder's last step: copies every file's user key bounds into one array that
  // point lookups search (smallest_key, largest_key) instead of the files' own strings,
  // each a heap allocation of its own: a few cache lines and one page, where a lookup
  // after a system call (every cold read's) otherwise walks the TLB for each string.
  void Seal();
  // File i of `level`'s smallest and largest user key (after Seal).
  std::string_view smallest_key(int level, size_t i) const {
    return Bound(2 * (first_[level] + i));
  }
  std::string_view largest_key(int level, size_t i) const {
    return Bound(2 * (first_[level] + i) + 1);
  }
  size_t NumFiles() const;
  // The file with this number, or null.
  const VersionFile* Find(uint64_t number) const;

 private:
  std::string_view Bound(size_t j) const {
    return std::string_view(bounds_.data() + bound_off_[j], bound_off_[j + 1] - bound_off_[j]);
  }

  std::vector<VersionFile> levels_[kNumLevels];
  // Seal: the bounds of every file, level by level, smallest then largest; bound j is
  // bounds_[bound_off_[j], bound_off_[j + 1]); a level's files start at first_[level].
  std::string bounds_;
  std::vector<uint32_t> bound_off_{0};
  uint32_t first_[kNumLevels] = {};
};
using VersionPtr = std::shared_ptr<const Version>;

// Everything a read of one shard looks at, as of one instant. Invariant: every entry
// with a sequence number the shard has published (Shard::published_sequence() when the
// view was current) is in exactly one of mem, imm and version.
struct ReadView {
  std::shared_ptr<MemTable> mem;
  std::vector<std::shared_ptr<MemTable>> imm;  // newest first
  VersionPtr version;

  // Starts at 1: the shard's own reference, dropped (through RCU) when it is replaced.
  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Frees the view when that was the last reference.
  void Unref() const {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  mutable std::atomic<uint32_t> refs_{1};
};

// A reference to a view (iterators hold one).
class ReadViewRef {
 public:
  ReadViewRef() = default;
  // Takes a new reference. REQUIRES: inside the rcu::ReadLock that found v, or holding
  // another reference.
  explicit ReadViewRef(const ReadView* v) : v_(v) {
    if (v_ != nullptr) v_->Ref();
  }
  ~ReadViewRef() {
    if (v_ != nullptr) v_->Unref();
  }
  ReadViewRef(ReadViewRef&& o) noexcept : v_(o.v_) { o.v_ = nullptr; }
  ReadViewRef& operator=(ReadViewRef&& o) noexcept {
    if (this != &o) {
      if (v_ != nullptr) v_->Unref();
      v_ = o.v_;
      o.v_ = nullptr;
    }
    return *this;
  }
  ReadViewRef(const ReadViewRef&) = delete;
  ReadViewRef& operator=(const ReadViewRef&) = delete;
  const ReadView* get() const { return v_; }
  const ReadView* operator->() const { return v_; }

 private:
  const ReadView* v_ = nullptr;
};

}  // namespace ringdb::lsm
