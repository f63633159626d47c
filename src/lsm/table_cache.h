// TableCache: a shard's open tables and their blocks. It opens table files (footer and
// meta region through the reactor's backend), owns the block cache that any thread
// reads, and performs the block reads that miss it.
//
// Thread ownership: the shard thread (fibers for everything that does I/O). The block
// cache is readable from any thread (block_cache.h); TableHandles are immutable and
// shared (version.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "lsm/block_cache.h"
#include "lsm/io_pacer.h"
#include "lsm/version.h"
#include "runtime/rcu.h"

namespace ringdb::lsm {

class TableCache {
 public:
  // dir: the shard directory (dir_fd open on it). The block cache holds cache_bytes,
  // data blocks plus the pinned index and filter blocks of open tables.
  TableCache(std::string dir, int dir_fd, size_t cache_bytes, rt::rcu::RetireList* retire,
             IoPacer* pacer);
  TableCache(const TableCache&) = delete;
  TableCache& operator=(const TableCache&) = delete;

  // The shard directory's descriptor, once the shard opened it (Recover).
  void set_dir_fd(int fd) { dir_fd_ = fd; }

  // (fiber) Opens table `number` of `file_size` bytes: two reads (the footer page, then
  // the meta region: index, filter, properties), read again up to twice when they
  // fail, so that a transient fault does not stay with the table. Returns the handle,
  // or an error when the file cannot be opened or read (missing, EIO on open or on
  // every try of those reads). A file that reads but is damaged on every try (short,
  // bad checksum or format) gives a handle whose `status` says why: reads that reach
  // it fail with that status, reads of other tables keep working.
  Status Open(uint64_t number, uint64_t file_size, TableRef* out);
  // The table left the live set: stops charging its index and filter, drops its blocks.
  // Readers holding the handle keep using it.
  void Evict(const TableHandle& t);

  // (fiber) Reads every block at once (one submission), verifies each and fills the
  // cache where asked. Counts them in *table_reads.
  void ReadBlocks(BlockRead* reads, size_t n, uint64_t* table_reads);
  // The two halves of one block read, for readers that issue it themselves (any thread;
  // they touch only r, q and the buffer): the aligned O_DIRECT request for r's block into
  // a buffer the reader owns (PrepareBlockRead allocates one; PrepareBlockReadInto takes
  // `buf`, aligned and at least BlockReadBytes(r) bytes, e.g. a thread's reused read
  // buffer), then the verified block copied out of q.buf at the size of its contents
  // (Block::FromRaw: the cache charges what a block holds, not the pages its read
  // spanned) in r->block, or the error naming file and offset in r->status. The buffer
  // may be reused or freed once FinishBlockRead returns; unless `borrow` is given: then
  // the block is parsed into *borrow where it lies in q.buf (Block::BorrowRaw) and
  // r->block points to it without a reference (BlockRead::may_borrow).
  static uint64_t BlockReadBytes(const BlockRead& r);
  static void PrepareBlockRead(const BlockRead& r, io::IoRequest* q, io::AlignedBuffer* buf);
  static void PrepareBlockReadInto(const BlockRead& r, io::IoRequest* q, char* buf);
  static void FinishBlockRead(BlockRead* r, const io::IoRequest& q, Block* borrow = nullptr);

  BlockCache& blocks() { return cache_; }
  const BlockCache& blocks() const { return cache_; }
  const std::string& dir() const { return dir_; }
  int dir_fd() const { return dir_fd_; }
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }
  uint32_t dio_align() const { return dio_align_; }

 private:
  // Learns the O_DIRECT offset alignment of the file system from the first table
  // opened (statx STATX_DIOALIGN; 512 on most block devices, where reading a 4 KiB
  // block and its 5-byte trailer then costs 4.5 KiB instead of 8 KiB). Else 4 KiB.
  void ProbeDirectIoAlignment(int fd);
  // (fiber) One try of Open's two reads, into t->reader.
  Status LoadMeta(TableHandle* t);

  const std::string dir_;
  int dir_fd_;
  IoPacer* const pacer_;
  uint32_t dio_align_ = 4096;
  bool dio_probed_ = false;
  BlockCache cache_;
};

}  // namespace ringdb::lsm
