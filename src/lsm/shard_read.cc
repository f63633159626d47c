// Shard: reads. Point lookups and MultiGet through the published ReadView (any thread;
// misses read through a BlockReader), iterators over a pinned view, and snapshots.
#include <algorithm>

#include "lsm/merging_iterator.h"
#include "lsm/shard.h"
#include "runtime/reactor.h"

namespace ringdb::lsm {
namespace {

// Fetches data blocks for an iterator: the block cache (inside a short read-side
// section; a hit is copied out as a BlockPtr, one reference count increment per block
// an iterator visits), else one read through the reader.
class ViewFetcher final : public BlockFetcher {
 public:
  ViewFetcher(const BlockCache* cache, const TableHandle* table, BlockReader* reader, bool fill)
      : cache_(cache), table_(table), reader_(reader), fill_(fill) {}

  Status Fetch(const BlockHandle& h, BlockKind kind, BlockPtr* out) override {
    (void)kind;  // table iterators fetch data blocks only
    {
      rt::rcu::ReadLock l;
      if (const BlockPtr* hit = cache_->Lookup(table_->number, h.offset)) {
        *out = *hit;
        return Status::OK();
      }
    }
    BlockRead r;
    r.table = table_;
    r.handle = h;
    r.fill_cache = fill_;
    reader_->Read(&r, 1);
    if (!r.status.ok()) return r.status;
    *out = std::move(r.block);
    return Status::OK();
  }

 private:
  const BlockCache* cache_;
  const TableHandle* table_;
  BlockReader* reader_;
  bool fill_;
};

// A table iterator that owns its fetcher (the table itself is kept by the view).
class TableIterator final : public InternalIterator {
 public:
  TableIterator(const BlockCache* cache, const TableHandle* t, BlockReader* reader, bool fill)
      : fetcher_(cache, t, reader, fill), it_(t->reader->NewIterator(&fetcher_)) {}
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(std::string_view target) override { it_->Seek(target); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  Status status() const override { return it_->status(); }

 private:
  ViewFetcher fetcher_;
  std::unique_ptr<InternalIterator> it_;  // declared last: destroyed first
};

std::unique_ptr<InternalIterator> NewTableIterator(const BlockCache* cache, const TableHandle* t,
                                                   BlockReader* reader, bool fill) {
  if (!t->status.ok()) return NewEmptyIterator(t->status);
  return std::make_unique<TableIterator>(cache, t, reader, fill);
}

// The files of one level >= 1 (sorted, not overlapping) as one iterator: only the file
// under the cursor has a table iterator, so a Seek reads one data block, not one per file.
class LevelIterator final : public InternalIterator {
 public:
  LevelIterator(const BlockCache* cache, const std::vector<VersionFile>* files, BlockReader* reader,
                bool fill)
      : cache_(cache), files_(files), reader_(reader), fill_(fill) {}

  bool Valid() const override { return cur_ != nullptr && cur_->Valid(); }
  void SeekToFirst() override {
    if (!Open(0)) return;
    cur_->SeekToFirst();
    SkipForward();
  }
  void SeekToLast() override {
    if (!Open(files_->size() - 1)) return;
    cur_->SeekToLast();
    SkipBackward();
  }
  void Seek(std::string_view target) override {
    // The first file whose largest key is >= target.
    auto it = std::partition_point(files_->begin(), files_->end(), [&](const VersionFile& f) {
      return icmp_.Compare(f.meta.largest, target) < 0;
    });
    if (!Open(static_cast<size_t>(it - files_->begin()))) return;
    cur_->Seek(target);
    SkipForward();
  }
  void Next() override {
    cur_->Next();
    SkipForward();
  }
  void Prev() override {
    cur_->Prev();
    SkipBackward();
  }
  std::string_view key() const override { return cur_->key(); }
  std::string_view value() const override { return cur_->value(); }
  Status status() const override { return cur_ != nullptr ? cur_->status() : Status::OK(); }

 private:
  // Makes file i current; false (and no current file) when i is out of range.
  bool Open(size_t i) {
    if (i >= files_->size()) {
      cur_.reset();
      return false;
    }
    if (cur_ == nullptr || index_ != i) {
      cur_ = NewTableIterator(cache_, (*files_)[i].table.get(), reader_, fill_);
      index_ = i;
    }
    return true;
  }
  void SkipForward() {
    while (cur_ != nullptr && !cur_->Valid() && cur_->status().ok()) {
      if (!Open(index_ + 1)) return;
      cur_->SeekToFirst();
    }
  }
  void SkipBackward() {
    while (cur_ != nullptr && !cur_->Valid() && cur_->status().ok()) {
      if (index_ == 0) {
        cur_.reset();
        return;
      }
      Open(index_ - 1);
      cur_->SeekToLast();
    }
  }

  const BlockCache* cache_;
  const std::vector<VersionFile>* files_;  // owned by the pinned view's version
  BlockReader* reader_;
  const bool fill_;
  InternalKeyComparator icmp_;
  std::unique_ptr<InternalIterator> cur_;
  size_t index_ = 0;
};

// The user iterator over a pinned view: keeps the view alive as long as it lives.
class ViewIterator final : public UserIterator {
 public:
  ViewIterator(ReadViewRef view, std::unique_ptr<UserIterator> it)
      : view_(std::move(view)), it_(std::move(it)) {}
  bool Valid() const override { return it_->Valid(); }
  void Seek(std::string_view k) override { it_->Seek(k); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  uint64_t expire_at() const override { return it_->expire_at(); }
  Status status() const override { return it_->status(); }

 private:
  ReadViewRef view_;
  std::unique_ptr<UserIterator> it_;  // declared last: destroyed first
};

}  // namespace

// ---------------------------------------------------------------------------------
// Snapshots

SequenceNumber Shard::AcquireSnapshot() {
  const SequenceNumber seq = last_seq_;
  snapshots_.insert(std::upper_bound(snapshots_.begin(), snapshots_.end(), seq), seq);
  return seq;
}

bool Shard::ReleaseSnapshot(SequenceNumber seq) {
  auto it = std::lower_bound(snapshots_.begin(), snapshots_.end(), seq);
  if (it == snapshots_.end() || *it != seq) return false;
  snapshots_.erase(it);
  return true;
}

// ---------------------------------------------------------------------------------
// Point reads

Status Shard::GetWith(std::string_view key, std::string* value, SequenceNumber seq, bool fill_cache,
                      BlockReader* reader, ReadCounters* rc, uint64_t* expire_at) const {
  PointLookup p(key, ResolveSeq(seq));
  auto finish = [&] {
    Status s = p.Finish(value, opt_.clock);
    if (rc != nullptr && p.FoundExpired(s)) rc->expired++;
    if (expire_at != nullptr) *expire_at = s.ok() ? p.expire_at : 0;
    return s;
  };
  VersionPtr pinned;  // only when a block must be read: the reader may suspend
  {
    rt::rcu::ReadLock l;
    const ReadView* v = view();
    if (SearchMemtables(*v, &p, value)) return finish();
    if (SearchTables(*v->version, &tables_.blocks(), nullptr, &p, value, rc) == LookupStep::kDone) {
      return finish();
    }
    pinned = v->version;
  }
  for (;;) {
    BlockRead r;
    r.table = p.miss_table;
    r.handle = p.miss_block;
    r.fill_cache = fill_cache;
    r.may_borrow = true;  // searched below, dropped before the next read
    reader->Read(&r, 1);
    if (!r.status.ok()) return r.status;
    rt::rcu::ReadLock l;
    if (SearchTables(*pinned, &tables_.blocks(), r.block.get(), &p, value, rc) ==
        LookupStep::kDone) {
      return finish();
    }
  }
}

void Shard::MultiGetWith(const std::string_view* keys, size_t n, std::string* values,
                         Status* statuses, SequenceNumber seq, bool fill_cache, BlockReader* reader,
                         ReadCounters* rc, uint64_t* expire_ats) const {
  BatchLookup batch(keys, n, values, statuses, ResolveSeq(seq), fill_cache, &opt_.clock, rc,
                    expire_ats);
  {
    rt::rcu::ReadLock l;
    batch.Start(*view(), &tables_.blocks());
  }
  while (!batch.done()) {
    reader->Read(batch.reads().data(), batch.reads().size());
    batch.Resume(&tables_.blocks());
  }
}

void Shard::WaitForPostedWritesInFiber() {
  if (!posting_) return;
  const SequenceNumber taken = seq_alloc_.load(std::memory_order_acquire);
  while (last_seq_ + 1 < taken) rt::Yield();
}

Status Shard::Get(std::string_view key, std::string* value, SequenceNumber seq, bool fill_cache,
                  uint64_t* expire_at) {
  WaitForPostedWritesInFiber();
  return GetWith(key, value, seq, fill_cache, &fiber_reader_, &reads_, expire_at);
}

void Shard::MultiGet(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                     SequenceNumber seq, bool fill_cache) {
  WaitForPostedWritesInFiber();
  MultiGetWith(keys, n, values, statuses, seq, fill_cache, &fiber_reader_, &reads_);
}

// ---------------------------------------------------------------------------------
// Iterators

std::unique_ptr<UserIterator> Shard::NewIterator(ReadViewRef view, SequenceNumber seq,
                                                 std::optional<std::string> lower,
                                                 std::optional<std::string> upper, bool fill_cache,
                                                 BlockReader* reader) const {
  seq = ResolveSeq(seq);
  auto outside = [&](const VersionFile& f) {
    return (upper && f.smallest_user_key() >= *upper) || (lower && f.largest_user_key() < *lower);
  };
  const BlockCache* cache = &tables_.blocks();
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(view->mem->NewIterator());
  for (const auto& m : view->imm) children.push_back(m->NewIterator());
  const Version& v = *view->version;
  for (const VersionFile& f : v.files(0)) {
    if (!outside(f)) children.push_back(NewTableIterator(cache, f.table.get(), reader, fill_cache));
  }
  for (int level = 1; level < kNumLevels; level++) {
    if (v.files(level).empty()) continue;
    children.push_back(std::make_unique<LevelIterator>(cache, &v.files(level), reader, fill_cache));
  }
  // Deadlines are judged once, as of the iterator's creation (like its sequence).
  auto it = NewDBIterator(NewMergingIterator(std::move(children)), seq, std::move(lower),
                          std::move(upper), opt_.clock.NowMs());
  return std::make_unique<ViewIterator>(std::move(view), std::move(it));
}

}  // namespace ringdb::lsm
