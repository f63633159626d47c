// Shard: reads. Point lookups (memtables, then tables newest first, with the bloom
// filter and block cache), MultiGet with every cache miss in flight at once, snapshots,
// and iterators that pin the memtables and tables they read.
#include <algorithm>

#include "io/aligned_buffer.h"
#include "lsm/filenames.h"
#include "lsm/merging_iterator.h"
#include "lsm/shard.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "runtime/sync.h"

namespace ringdb::lsm {
namespace {

// How many of one MultiGet's table lookups run at once on a shard (each is a fiber
// with a pooled stack; 64 misses in flight is already deeper than most SSDs need).
constexpr size_t kMaxMultiGetFibers = 64;

// An iterator that owns what it reads through (`Pins`: a memtable; or a table, kept
// open even after a compaction deletes its file, and its fetcher). make(pins) builds
// the inner iterator, which is destroyed before the pins.
template <class Pins>
class PinnedIterator final : public InternalIterator {
 public:
  template <class Make>
  PinnedIterator(Pins pins, Make make) : pins_(std::move(pins)), it_(make(pins_)) {}
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
  Pins pins_;
  std::unique_ptr<InternalIterator> it_;  // declared last: destroyed first
};

std::unique_ptr<InternalIterator> NewPinnedMemIterator(std::shared_ptr<MemTable> mem) {
  return std::make_unique<PinnedIterator<std::shared_ptr<MemTable>>>(
      std::move(mem), [](const std::shared_ptr<MemTable>& m) { return m->NewIterator(); });
}

}  // namespace

// Fetches data blocks of one table for point reads and iterators: the block cache
// first, else one O_DIRECT read of the aligned range around the block.
class Shard::Fetcher final : public BlockFetcher {
 public:
  Fetcher(Shard* shard, uint64_t number, Table* table, bool fill_cache = true)
      : shard_(shard), number_(number), table_(table), fill_cache_(fill_cache) {}

  Status Fetch(const BlockHandle& h, BlockKind kind, BlockPtr* out) override {
    if (BlockPtr b = shard_->cache_.Lookup(number_, h.offset)) {
      *out = std::move(b);
      return Status::OK();
    }
    const uint64_t start = h.offset & ~uint64_t{kTableAlignBytes - 1};
    const uint64_t end =
        (h.offset + h.read_size() + kTableAlignBytes - 1) & ~uint64_t{kTableAlignBytes - 1};
    io::AlignedBuffer buf(end - start);
    shard_->pacer_.ForegroundStarted();
    Status s = rt::ReadFull(table_->fd, buf.data(), end - start, start, io::IoClass::kUserRead,
                            shard_->FilePath(TableFileName(number_)));
    shard_->pacer_.ForegroundDone();
    if (!s.ok()) return s;
    shard_->stats_.table_reads++;
    std::string raw(buf.data() + (h.offset - start), h.read_size());
    s = Block::FromRaw(std::move(raw), h, kind, out);
    if (!s.ok()) {
      return Status::Corruption(shard_->FilePath(TableFileName(number_)) + ": " + s.message());
    }
    if (fill_cache_) shard_->cache_.Insert(number_, h.offset, *out, h.read_size());
    return Status::OK();
  }

 private:
  Shard* shard_;
  uint64_t number_;
  Table* table_;
  bool fill_cache_;
};

std::unique_ptr<InternalIterator> Shard::NewTableIterator(uint64_t number,
                                                          std::shared_ptr<Table> table,
                                                          bool fill_cache) {
  struct Pins {
    std::shared_ptr<Table> table;
    Fetcher fetcher;
  };
  Table* t = table.get();
  return std::make_unique<PinnedIterator<Pins>>(
      Pins{std::move(table), Fetcher(this, number, t, fill_cache)},
      [](Pins& p) { return p.table->reader->NewIterator(&p.fetcher); });
}

// The files of one level >= 1 (sorted, not overlapping) as one iterator: only the file
// under the cursor has a table iterator, so a Seek reads one data block, not one per file.
class Shard::LevelIterator final : public InternalIterator {
 public:
  LevelIterator(Shard* shard, std::vector<FileMetaData> files,
                std::vector<std::shared_ptr<Table>> tables, bool fill_cache)
      : shard_(shard), files_(std::move(files)), tables_(std::move(tables)), fill_(fill_cache) {}

  bool Valid() const override { return cur_ != nullptr && cur_->Valid(); }
  void SeekToFirst() override {
    if (!Open(0)) return;
    cur_->SeekToFirst();
    SkipForward();
  }
  void SeekToLast() override {
    if (!Open(files_.size() - 1)) return;
    cur_->SeekToLast();
    SkipBackward();
  }
  void Seek(std::string_view target) override {
    // The first file whose largest key is >= target.
    auto it = std::partition_point(files_.begin(), files_.end(), [&](const FileMetaData& f) {
      return icmp_.Compare(f.largest, target) < 0;
    });
    if (!Open(static_cast<size_t>(it - files_.begin()))) return;
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
    if (i >= files_.size()) {
      cur_.reset();
      return false;
    }
    if (cur_ == nullptr || index_ != i) {
      cur_ = shard_->NewTableIterator(files_[i].number, tables_[i], fill_);
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

  Shard* shard_;
  const std::vector<FileMetaData> files_;
  const std::vector<std::shared_ptr<Table>> tables_;  // pinned, parallel to files_
  const bool fill_;
  InternalKeyComparator icmp_;
  std::unique_ptr<InternalIterator> cur_;
  size_t index_ = 0;
};

// ---------------------------------------------------------------------------------
// Snapshots

SequenceNumber Shard::AcquireSnapshot() {
  const SequenceNumber seq = last_seq_;
  snapshots_.insert(std::upper_bound(snapshots_.begin(), snapshots_.end(), seq), seq);
  return seq;
}

void Shard::ReleaseSnapshot(SequenceNumber seq) {
  auto it = std::lower_bound(snapshots_.begin(), snapshots_.end(), seq);
  RINGDB_ASSERT_MSG(it != snapshots_.end() && *it == seq, "releasing an unknown snapshot");
  snapshots_.erase(it);
}

// ---------------------------------------------------------------------------------
// Point reads

bool Shard::GetFromMemtables(std::string_view key, std::string* value, Status* s,
                             SequenceNumber seq) const {
  LookupKey lk(key, ResolveSeq(seq));
  auto settle = [&](LookupResult r) {
    if (r == LookupResult::kFound) {
      *s = Status::OK();
      return true;
    }
    if (r == LookupResult::kDeleted) {
      *s = Status::NotFound();
      return true;
    }
    return false;
  };
  if (settle(mem_->Get(lk, value))) return true;
  for (auto it = imm_.rbegin(); it != imm_.rend(); ++it) {
    if (settle(it->mem->Get(lk, value))) return true;
  }
  return false;
}

Status Shard::Get(std::string_view key, std::string* value, SequenceNumber seq, bool fill_cache) {
  stats_.gets++;
  // Fix the sequence before the first suspension: a flush that completes while this
  // fiber waits for I/O adds a table whose keys are all in a memtable we saw.
  seq = ResolveSeq(seq);
  Status s;
  if (GetFromMemtables(key, value, &s, seq)) return s;
  for (int attempt = 0;; attempt++) {
    bool vanished = false;
    s = GetFromTables(key, seq, value, fill_cache, &vanished);
    // A compaction deleted a table this lookup had not opened yet while it waited for
    // I/O; its data now lives in the compaction's output: look again.
    if (!vanished || attempt == 3) return s;
  }
}

Status Shard::GetFromTables(std::string_view key, SequenceNumber seq, std::string* value,
                            bool fill_cache, bool* vanished) {
  Status s;
  // The candidates (copied: the version may change while this fiber waits for I/O):
  // the L0 files whose range holds the key, newest first, then at most one per level.
  auto holds = [key](const FileMetaData& f) {
    return ExtractUserKey(f.smallest) <= key && key <= ExtractUserKey(f.largest);
  };
  std::vector<FileMetaData> files;
  for (const FileMetaData& f : version_.files(0)) {
    if (holds(f)) files.push_back(f);
  }
  for (int level = 1; level < kNumLevels; level++) {
    const std::vector<FileMetaData>& lf = version_.files(level);
    // Sorted and not overlapping: the first file whose largest key is >= key.
    auto it = std::partition_point(lf.begin(), lf.end(), [key](const FileMetaData& f) {
      return ExtractUserKey(f.largest) < key;
    });
    if (it != lf.end() && holds(*it)) files.push_back(*it);
  }
  LookupKey lk(key, seq);
  for (const FileMetaData& f : files) {
    std::shared_ptr<Table> t;
    s = GetTable(f, &t);
    if (!s.ok()) {
      *vanished = !IsLiveFile(f.number);
      return s;
    }
    BlockHandle h;
    bool may_exist = false;
    s = t->reader->FindDataBlock(lk, &h, &may_exist);
    if (!s.ok()) return s;
    if (!may_exist) {
      stats_.bloom_skips++;
      continue;
    }
    Fetcher fetcher(this, f.number, t.get(), fill_cache);
    BlockPtr block;
    s = fetcher.Fetch(h, BlockKind::kData, &block);
    if (!s.ok()) return s;
    LookupResult r = LookupResult::kAbsent;
    s = TableReader::SearchDataBlock(block, lk, &r, value);
    if (!s.ok()) return s;
    if (r == LookupResult::kFound) return Status::OK();
    if (r == LookupResult::kDeleted) return Status::NotFound();
    // The filter let through a key the table does not hold.
    if (t->reader->has_filter()) stats_.bloom_false_positives++;
  }
  return Status::NotFound();
}

void Shard::MultiGet(const std::string_view* keys, size_t n, std::string* values, Status* statuses,
                     SequenceNumber seq, bool fill_cache) {
  const uint64_t start = util::NowNanos();
  struct Record {
    Shard* shard;
    uint64_t start;
    const std::string_view* keys;
    std::string* values;
    Status* statuses;
    size_t n;
    ~Record() {
      Status first;
      for (size_t i = 0; i < n; i++) {
        if (statuses[i].ok()) shard->stats_.user_bytes_read += keys[i].size() + values[i].size();
        if (first.ok() && !statuses[i].ok() && !statuses[i].IsNotFound()) first = statuses[i];
      }
      shard->RecordOp(OpKind::kMultiGet, start, first, n);
    }
  } record{this, start, keys, values, statuses, n};
  seq = ResolveSeq(seq);
  // Memtables first (no I/O); what is left searches the tables.
  std::vector<size_t> rest;
  for (size_t i = 0; i < n; i++) {
    stats_.gets++;
    if (!GetFromMemtables(keys[i], &values[i], &statuses[i], seq)) rest.push_back(i);
  }
  if (rest.empty()) return;
  // Workers pull lookups off `rest`; each suspends at its first cache miss, so the first
  // block of every lookup is read in one submission when this fiber yields.
  size_t next = 0;
  rt::WaitGroup wg;
  auto worker = [&] {
    while (next < rest.size()) {
      const size_t i = rest[next++];
      Status s;
      for (int attempt = 0;; attempt++) {
        bool vanished = false;
        s = GetFromTables(keys[i], seq, &values[i], fill_cache, &vanished);
        if (!vanished || attempt == 3) break;
      }
      statuses[i] = std::move(s);
    }
    wg.Done();
  };
  const size_t workers = std::min(rest.size(), kMaxMultiGetFibers);
  rt::Reactor* r = rt::CurrentReactor();
  for (size_t w = 0; w < workers; w++) {
    wg.Add(1);
    r->Spawn(worker, "multiget");
  }
  wg.Wait();
}

// ---------------------------------------------------------------------------------
// Iterators

std::unique_ptr<UserIterator> Shard::NewIterator(SequenceNumber seq,
                                                 std::optional<std::string> lower,
                                                 std::optional<std::string> upper,
                                                 bool fill_cache) {
  seq = ResolveSeq(seq);
  auto outside = [&](const FileMetaData& f) {
    return (upper && ExtractUserKey(f.smallest) >= *upper) ||
           (lower && ExtractUserKey(f.largest) < *lower);
  };
  Status s;
  for (int attempt = 0; attempt < 4; attempt++) {
    // The view: memtables and the version's files, taken with no suspension in between,
    // so every entry with sequence <= seq is in exactly one of them.
    std::vector<std::unique_ptr<InternalIterator>> children;
    children.push_back(NewPinnedMemIterator(mem_));
    for (auto it = imm_.rbegin(); it != imm_.rend(); ++it) {
      children.push_back(NewPinnedMemIterator(it->mem));
    }
    std::vector<FileMetaData> files[kNumLevels];
    for (int level = 0; level < kNumLevels; level++) {
      for (const FileMetaData& f : version_.files(level)) {
        if (!outside(f)) files[level].push_back(f);
      }
    }
    // Pin the tables (opening one suspends; a compaction may delete a file meanwhile:
    // then the view is stale and is taken again).
    bool vanished = false;
    std::vector<std::shared_ptr<Table>> tables[kNumLevels];
    for (int level = 0; level < kNumLevels && s.ok() && !vanished; level++) {
      for (const FileMetaData& f : files[level]) {
        std::shared_ptr<Table> t;
        s = GetTable(f, &t);
        if (!s.ok()) {
          vanished = !IsLiveFile(f.number);
          break;
        }
        tables[level].push_back(std::move(t));
      }
    }
    if (vanished) {
      s = Status::OK();
      continue;
    }
    if (!s.ok()) break;
    for (size_t i = 0; i < files[0].size(); i++) {
      children.push_back(NewTableIterator(files[0][i].number, tables[0][i], fill_cache));
    }
    for (int level = 1; level < kNumLevels; level++) {
      if (files[level].empty()) continue;
      children.push_back(std::make_unique<LevelIterator>(this, std::move(files[level]),
                                                         std::move(tables[level]), fill_cache));
    }
    return NewDBIterator(NewMergingIterator(std::move(children)), seq, std::move(lower),
                         std::move(upper));
  }
  if (s.ok()) s = Status::Busy("tables kept vanishing while an iterator was created");
  return NewDBIterator(NewEmptyIterator(s), seq);
}

}  // namespace ringdb::lsm
