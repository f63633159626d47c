// Shard: leveled compaction as a cooperative fiber (policy: lsm/compaction.h and
// docs/compaction.md). One compaction at a time per shard. Inputs are read with
// read-ahead (ReadaheadFetcher: a 512 KiB chunk in use and the next one in flight),
// outputs written with write-behind (WriteBehind), and the fiber yields every few
// hundred entries so that foreground reads and commits on the same reactor keep their
// latency.
#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "lsm/compaction_iterator.h"
#include "lsm/filenames.h"
#include "lsm/merging_iterator.h"
#include "lsm/readahead_fetcher.h"
#include "lsm/shard.h"
#include "lsm/write_behind.h"
#include "runtime/file_io.h"
#include "runtime/reactor.h"
#include "util/clock.h"
#include "util/log.h"

namespace ringdb::lsm {

void Shard::CompactionLoop() {
  uint64_t retry_at_ns = 0;  // after a failure: no compaction is picked before this
  for (;;) {
    if (crashed_ || stopping_) break;
    const uint64_t now = util::NowNanos();
    std::optional<Compaction> c;
    if (bg_error_.ok() && now >= retry_at_ns)
      c = PickCompaction(versions_.state(), opt_.compaction, compact_pointers_);
    if (!c) {
      compact_wakeup_.Reset();
      // Stalled writers wake this fiber often; a backoff holds until its deadline.
      if (now < retry_at_ns) {
        compact_wakeup_.WaitFor(retry_at_ns - now);
      } else {
        compact_wakeup_.Wait();
      }
      continue;
    }
    Status s = RunCompaction(*c);
    compact_progress_.Set();
    if (s.ok()) {
      last_compaction_backoff_ms_ = 0;
      compaction_failures_in_row_ = 0;
      retry_at_ns = 0;
      compaction_error_ = Status::OK();
      continue;
    }
    if (crashed_ || stopping_) break;
    stats_.compaction_errors++;
    compaction_failures_in_row_++;
    // The store is as it was (inputs kept, partial outputs removed). Try again later;
    // repeated failures back off up to 5 s. A damaged input never heals, and an I/O
    // error that repeats (a dead disk, a full one) may not: writers that L0 stops then
    // get the error (WaitForL0Room) instead of waiting for ever.
    const uint64_t backoff_ms =
        std::min<uint64_t>(5000, std::max<uint64_t>(100, last_compaction_backoff_ms_ * 2));
    last_compaction_backoff_ms_ = backoff_ms;
    retry_at_ns = util::NowNanos() + backoff_ms * 1'000'000;
    if (s.IsCorruption() || compaction_failures_in_row_ >= kCompactionFailuresPersistent) {
      compaction_error_ = s;
    }
    flush_progress_.Set();
    // At most one line per 10 s, with the count of failures not logged.
    const uint64_t t = util::NowNanos();
    if (compaction_log_ns_ == 0 || t - compaction_log_ns_ >= 10'000'000'000ull) {
      RINGDB_LOG_WARN(
          "shard %u: compaction L%d->L%d failed (retry in %llu ms; %llu failures not "
          "logged): %s",
          opt_.shard_id, c->level, c->output_level, static_cast<unsigned long long>(backoff_ms),
          static_cast<unsigned long long>(compaction_log_skipped_), s.ToString().c_str());
      compaction_log_ns_ = t;
      compaction_log_skipped_ = 0;
    } else {
      compaction_log_skipped_++;
    }
  }
  compact_progress_.Set();
}

// Whether most data blocks of the compaction's inputs are in the block cache: then the
// outputs replace a cached working set, and their blocks are cached as they are built
// (CacheBuiltBlocks). Otherwise every read of the new tables would miss until the cache
// warmed again: their writes were O_DIRECT, so not even the page cache has them (a
// buffered engine keeps them there). Inputs that were mostly cold stay out of the cache.
bool Shard::InputsMostlyCached(const Compaction& c, const Version& base) const {
  uint64_t blocks = 0, cached = 0;
  for (int which = 0; which < 2; which++) {
    for (const FileMetaData& f : c.inputs[which]) {
      const VersionFile* vf = base.Find(f.number);
      if (vf == nullptr || !vf->table->status.ok()) continue;
      std::unique_ptr<Block::Iter> index = vf->table->reader->NewIndexIterator();
      for (index->SeekToFirst(); index->Valid(); index->Next()) {
        std::string_view v = index->value();
        BlockHandle h;
        if (!DecodeBlockHandle(&v, &h)) break;
        blocks++;
        cached += tables_.blocks().Contains(f.number, h.offset);
      }
    }
  }
  return blocks > 0 && cached * 2 >= blocks;
}

// Caches the data blocks `builder` finished since the last call (KeepDataBlocks), under
// the output's file number: readers find them once the edit installs the table; a failed
// compaction evicts the table, and its blocks with it.
void Shard::CacheBuiltBlocks(uint64_t number, TableBuilder* builder) {
  std::vector<TableBuilder::BuiltBlock>& kept = builder->kept_blocks();
  for (TableBuilder::BuiltBlock& b : kept) {
    const size_t charge = b.block->charge();
    tables_.blocks().Insert(number, b.handle.offset, std::move(b.block), charge);
  }
  kept.clear();
}

// The tables one compaction writes, in key order: each opened at its first entry, cut
// where the OutputSplitter says, finished (synced, closed, opened as a table) at the cut.
// Invariant: only the last output may be unfinished, and only while open_ is true.
class Shard::CompactionOutputs {
 public:
  CompactionOutputs(Shard* shard, bool warm)
      : shard_(shard), warm_(warm), splitter_(shard->opt_.compaction.target_file_size) {}

  // Adds one entry, finishing the output in progress first where the splitter cuts.
  // REQUIRES: keys arrive in InternalKeyComparator order.
  Status Add(std::string_view key, std::string_view value) {
    if (open_ && splitter_.ShouldCutBefore(key)) {
      open_ = false;
      Status s = FinishOutput(outputs_.back());
      if (!s.ok()) return s;
    }
    if (!open_) {
      Status s = OpenOutput();
      if (!s.ok()) return s;
      open_ = true;
    }
    splitter_.Add(key, value.size());
    Output& o = outputs_.back();
    Status s = o.builder->Add(key, value);
    if (warm_) shard_->CacheBuiltBlocks(o.number, o.builder.get());
    if (s.ok() && o.builder->ready().size() >= kWriteChunkBytes) WriteReady(o);
    return s;
  }

  // Finishes the output in progress and syncs the directory that names them all.
  Status Finish() {
    if (open_) {
      open_ = false;
      Status s = FinishOutput(outputs_.back());
      if (!s.ok()) return s;
    }
    if (outputs_.empty()) return Status::OK();
    return rt::Fsync(shard_->dir_fd_, io::IoClass::kCompactionWrite, shard_->opt_.dir);
  }

  // REQUIRES: Finish() returned OK.
  void Collect(std::vector<FileMetaData>* metas, std::vector<TableRef>* opened) const {
    for (const Output& o : outputs_) {
      // Every output was finished, closed and opened as a table.
      RINGDB_ASSERT(o.finished && o.fd < 0 && o.table != nullptr);
      metas->push_back(o.meta);
      opened->push_back(o.table);
    }
  }
  size_t size() const { return outputs_.size(); }

  // Leaves the store as it was: the inputs stay live; every partial output goes.
  void Abandon() {
    for (Output& o : outputs_) {
      if (o.table != nullptr) shard_->tables_.Evict(*o.table);
      shard_->tables_.blocks().EraseFile(o.number);  // blocks cached while it was built
      if (!o.finished) o.builder->Abandon();
      if (o.fd >= 0) {
        o.wb->Finish();
        rt::Close(o.fd);
        o.fd = -1;
      }
      rt::UnlinkAt(shard_->dir_fd_, TableFileName(o.number).c_str());
    }
  }

 private:
  struct Output {
    uint64_t number = 0;
    int fd = -1;
    std::unique_ptr<TableBuilder> builder;
    std::unique_ptr<WriteBehind> wb;
    FileMetaData meta;
    TableRef table;         // opened once finished
    bool finished = false;  // Finish() ran on the builder
  };

  Status OpenOutput() {
    Output o;
    o.number = shard_->versions_.NewFileNumber();
    const std::string name = TableFileName(o.number);
    Status s = rt::OpenAt(shard_->dir_fd_, name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0644, &o.fd);
    if (!s.ok()) return s;
    o.builder = std::make_unique<TableBuilder>(shard_->opt_.table);
    if (warm_) o.builder->KeepDataBlocks();
    o.wb = std::make_unique<WriteBehind>(o.fd, io::IoClass::kCompactionWrite,
                                         shard_->FilePath(name), &shard_->pacer_);
    outputs_.push_back(std::move(o));
    return Status::OK();
  }

  // Hands the builder's finished bytes to the write-behind.
  static void WriteReady(Output& o) {
    size_t take = o.builder->ready().size();
    o.wb->Write(o.builder->ready(), o.builder->ready_offset());
    o.builder->Consume(take);
  }

  Status FinishOutput(Output& o) {
    RINGDB_ASSERT(!o.finished && o.fd >= 0);  // finished once, while open
    o.finished = true;
    Status s = o.builder->Finish();
    if (warm_) shard_->CacheBuiltBlocks(o.number, o.builder.get());
    if (s.ok()) WriteReady(o);
    Status w = o.wb->Finish();
    if (s.ok()) s = w;
    const std::string path = shard_->FilePath(TableFileName(o.number));
    if (s.ok()) s = rt::Fdatasync(o.fd, io::IoClass::kCompactionWrite, path);
    Status cl = rt::Close(o.fd);
    o.fd = -1;
    if (s.ok()) s = cl;
    o.meta = splitter_.FinishFile();
    o.meta.number = o.number;
    // Outputs hold at least one entry (opened on the first key), so a good file has bytes.
    RINGDB_ASSERT(!s.ok() || o.builder->FileSize() > 0);
    o.meta.file_size = o.builder->FileSize();
    shard_->stats_.compaction_write_bytes += o.meta.file_size;
    // The finished output's buffers (several MiB) go now, not when the compaction ends.
    o.builder.reset();
    o.wb.reset();
    if (s.ok()) s = shard_->tables_.Open(o.number, o.meta.file_size, &o.table);
    if (s.ok() && !o.table->status.ok()) s = o.table->status;
    return s;
  }

  Shard* const shard_;
  const bool warm_;  // cache the outputs' blocks as they are built (InputsMostlyCached)
  OutputSplitter splitter_;
  std::vector<Output> outputs_;
  bool open_ = false;  // the last output takes entries
};

Status Shard::RunCompaction(const Compaction& c) {
  // PickCompaction's contract: files of `level` (never the last one) and the files of
  // the next level they overlap; nothing else changes the version meanwhile (one
  // compaction per shard, on this fiber).
  RINGDB_ASSERT(c.level >= 0 && c.level < kNumLevels - 1);
  RINGDB_ASSERT(c.output_level == c.level + 1);
  RINGDB_ASSERT(!c.inputs[0].empty());
  const uint64_t start_ns = util::NowNanos();
  // A trivial move: the same table at another level; its handle and cached blocks stay.
  if (c.IsTrivialMove()) return ApplyCompactionEdit(c, c.inputs[0], {});

  // The version pins the input tables for the whole compaction.
  const VersionPtr base = versions_.current();
  std::vector<std::unique_ptr<ReadaheadFetcher>> fetchers;
  std::unique_ptr<InternalIterator> merged;
  Status s = OpenCompactionInputs(c, *base, &fetchers, &merged);
  if (!s.ok()) return s;
  CompactionIterator it(merged.get(), snapshots_, c.is_bottommost, opt_.clock.NowMs());
  CompactionOutputs outputs(this, InputsMostlyCached(c, *base));
  s = CopyToOutputs(&it, &outputs);
  if (s.ok()) s = outputs.Finish();
  if (!s.ok()) {
    outputs.Abandon();
    return s;
  }
  std::vector<FileMetaData> metas;
  std::vector<TableRef> opened;
  outputs.Collect(&metas, &opened);
  s = ApplyCompactionEdit(c, metas, opened);
  if (!s.ok()) return s;
  stats_.compaction_expired += it.stats().expired;
  stats_.compaction_ns += util::NowNanos() - start_ns;
  // The edit that drops the inputs is durable: they may go. A reader that still holds
  // one (a view or a TableRef) keeps reading through its open descriptor.
  for (int which = 0; which < 2; which++) {
    for (const FileMetaData& f : c.inputs[which]) {
      Status u = rt::UnlinkAt(dir_fd_, TableFileName(f.number).c_str());
      if (!u.ok()) RINGDB_LOG_WARN("shard %u: %s", opt_.shard_id, u.ToString().c_str());
    }
  }
  RINGDB_LOG_DEBUG("shard %u: compacted L%d->L%d: %zu+%zu files -> %zu", opt_.shard_id, c.level,
                   c.output_level, c.inputs[0].size(), c.inputs[1].size(), outputs.size());
  return Status::OK();
}

// One iterator per input file, merged; the newest data comes first for equal keys.
Status Shard::OpenCompactionInputs(const Compaction& c, const Version& base,
                                   std::vector<std::unique_ptr<ReadaheadFetcher>>* fetchers,
                                   std::unique_ptr<InternalIterator>* merged) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  for (int which = 0; which < 2; which++) {
    for (const FileMetaData& f : c.inputs[which]) {
      const VersionFile* vf = base.Find(f.number);
      RINGDB_ASSERT(vf != nullptr);  // the inputs are files of `base`
      if (!vf->table->status.ok()) return vf->table->status;
      fetchers->push_back(std::make_unique<ReadaheadFetcher>(
          &pacer_, vf->table, io::IoClass::kCompactionRead, &stats_.compaction_read_bytes));
      children.push_back(vf->table->reader->NewIterator(fetchers->back().get()));
    }
  }
  *merged = NewMergingIterator(std::move(children));
  return Status::OK();
}

// Copies what survives of the inputs into the outputs, yielding to the foreground.
Status Shard::CopyToOutputs(CompactionIterator* it, CompactionOutputs* outputs) {
  uint64_t n = 0;
  size_t since_yield = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Status s = outputs->Add(it->key(), it->value());
    if (!s.ok()) return s;
    // Yield every 64 entries or 64 KiB, whichever first (MaybeYield only switches once
    // the fiber has used its time slice, so this is cheap).
    since_yield += it->key().size() + it->value().size();
    if (++n % 64 == 0 || since_yield >= (64 << 10)) {
      since_yield = 0;
      rt::MaybeYield();
      if (crashed_ || stopping_) return Status::Aborted("shard is closing");
    }
  }
  return it->status();
}

// Logs the edit that swaps the inputs of `c` for `outputs` (`opened`: their tables),
// and publishes it.
Status Shard::ApplyCompactionEdit(const Compaction& c, const std::vector<FileMetaData>& outputs,
                                  const std::vector<TableRef>& opened) {
  VersionEdit edit;
  AddCompactionToEdit(c, outputs, &edit);
  edit.SetNextFileNumber(versions_.next_file_number());
  Status s = versions_.LogAndApply(&edit, opened);
  if (!s.ok()) {
    for (const TableRef& t : opened) tables_.Evict(*t);
    // The edit may be durable (e.g. its write landed and only the fdatasync failed):
    // the MANIFEST's state is unknown, so the shard turns read-only, as after a failed
    // flush, and the outputs stay on disk. The next Open finds out which version is
    // durable and deletes what it does not name.
    if (!crashed_) SetBackgroundError(s);
    return s;
  }
  PublishView();
  compact_pointers_[c.level] = c.next_compact_pointer;
  stats_.compactions++;
  return s;
}

}  // namespace ringdb::lsm
