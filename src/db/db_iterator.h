// DBIterator: the public Iterator over every shard. Each shard keeps a cursor (an
// lsm::UserIterator over its memtables and tables at the iterator's sequence number)
// on its own thread and sends its entries in chunks of about
// ReadOptions::iterator_chunk_bytes; the application thread merges the shards' chunks
// with a heap (min-heap forward, max-heap backward) and, as soon as it starts on a
// shard's chunk, asks that shard for the next one, so the shards read ahead while the
// caller consumes. Changing direction or seeking repositions every shard (one round
// trip to all of them at once).
//
// Thread ownership: one application thread at a time; the cursors live on their shard
// threads and are touched only there.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "db/shard_call.h"
#include "lsm/db_iter.h"
#include "lsm/dbformat.h"
#include "ringdb/iterator.h"
#include "ringdb/options.h"

namespace ringdb::db {

class DBImpl;
}  // namespace ringdb::db
namespace ringdb::lsm {
class Shard;
}  // namespace ringdb::lsm
namespace ringdb::db {

class DBIterator final : public Iterator {
 public:
  // seqs: per shard (Shard::kLatest for "now").
  DBIterator(DBImpl* db, std::vector<lsm::SequenceNumber> seqs, const ReadOptions& ro);
  ~DBIterator() override;

  bool Valid() const override { return status_.ok() && !heap_.empty(); }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void SeekForPrev(std::string_view target) override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override;
  std::string_view value() const override;
  Status status() const override { return status_; }

 private:
  enum class Op : uint8_t {
    kFirst,        // SeekToFirst
    kLast,         // SeekToLast
    kSeek,         // first key >= target
    kSeekForPrev,  // last key <= target
    kAfter,        // first key > target
    kBefore,       // last key < target
    kContinue,     // the entries after the last chunk, in the same direction
  };
  struct Chunk {
    std::string data;            // key then value of every entry
    std::vector<uint32_t> offs;  // per entry: offset of the key, key length, value length
    size_t n = 0;
    size_t pos = 0;
    bool end = false;  // nothing follows this chunk in its direction
    Status status;
    std::string_view key(size_t i) const { return {data.data() + offs[3 * i], offs[3 * i + 1]}; }
    std::string_view value(size_t i) const {
      return {data.data() + offs[3 * i] + offs[3 * i + 1], offs[3 * i + 2]};
    }
  };
  struct Stream {
    uint32_t shard = 0;
    lsm::UserIterator* cursor = nullptr;  // owned by the shard thread's registry
    Chunk cur;
    Chunk next;
    std::unique_ptr<ShardCall> pending;  // the read-ahead of `next`, or a reposition
  };

  // Runs on the shard thread: positions the cursor (op) and fills out with entries.
  static void Fill(lsm::Shard* shard, lsm::UserIterator* it, Op op, const std::string& target,
                   bool forward, size_t max_bytes, Chunk* out);
  void Reposition(Op op, std::string_view target, bool forward);
  void Issue(Stream* s, std::function<void()> fn);
  void Await(Stream* s);
  void Prefetch(Stream* s);
  // The top stream moved past its entry: refill it if needed and restore the heap.
  void Advance();
  bool Before(const Stream* a, const Stream* b) const;  // heap order: a after b
  void SetError(const Status& s);

  DBImpl* const db_;
  const std::shared_ptr<const std::atomic<bool>> open_;  // the DB's open_token()
  const size_t chunk_bytes_;
  bool forward_ = true;
  std::vector<Stream> streams_;
  std::vector<Stream*> heap_;  // streams with an entry; heap_[0] is the current entry
  Status status_;
};

}  // namespace ringdb::db
