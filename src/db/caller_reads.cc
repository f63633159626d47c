#include "db/caller_reads.h"

#include <memory>
#include <vector>

#include "db/shard_messages.h"
#include "lsm/table_cache.h"
#include "util/clock.h"

namespace ringdb::db {
namespace {

// The calling thread's backends, for the last two DBs it read from (a thread that
// works with many DBs in turn keeps two of them open, not one per DB).
struct ThreadBackend {
  uint64_t db_id = 0;
  std::unique_ptr<io::IoBackend> backend;
};

io::IoBackend* BackendFor(const CallerIoConfig& cfg) {
  thread_local ThreadBackend slots[2];
  for (ThreadBackend& t : slots) {
    if (t.db_id == cfg.db_id) return t.backend.get();  // null: this thread cannot have one
  }
  std::unique_ptr<io::IoBackend> b;
  io::BackendChoice choice;
  if (io::CreateBackend(cfg.backend, &b, &choice).ok()) {
    if (cfg.wrap) b = cfg.wrap(std::move(b), 0);
  } else {
    b.reset();
  }
  slots[1] = std::move(slots[0]);  // the older one goes
  slots[0] = ThreadBackend{cfg.db_id, std::move(b)};
  return slots[0].backend.get();
}

void CountDone(io::IoRequest* q) {
  --*static_cast<size_t*>(q->user);
}

}  // namespace

bool ReadOnCaller(rt::Runtime* rt, const CallerIoConfig& io, const CallerRead* reads, size_t n) {
  io::IoBackend* b = BackendFor(io);
  if (b == nullptr) return false;
  std::vector<io::IoRequest> reqs(n);
  std::vector<io::AlignedBuffer> bufs(n);
  size_t pending = n;
  for (size_t i = 0; i < n; i++) {
    lsm::TableCache::PrepareBlockRead(*reads[i].read, &reqs[i], &bufs[i]);
    reqs[i].done = &CountDone;
    reqs[i].user = &pending;
    b->Prepare(&reqs[i]);
  }
  b->Submit();
  while (pending > 0) {
    if (b->Poll() == 0) b->Wait(-1);
  }
  // (n is at most a MultiGet's misses per shard round; the backend's queue depth bounds
  // what is in the kernel at once, the rest waits in its queue.)
  for (size_t i = 0; i < n; i++) {
    lsm::BlockRead& r = *reads[i].read;
    auto done = std::make_unique<BlockReadDoneMsg>();
    done->shard = reads[i].owner;
    done->req = reqs[i];
    done->req.buf = nullptr;
    done->req.done = nullptr;
    done->req.user = nullptr;
    done->file_number = r.table->number;
    done->block_offset = r.handle.offset;
    lsm::TableCache::FinishBlockRead(&r, reqs[i], std::move(bufs[i]));
    if (r.status.ok() && r.fill_cache) done->block = r.block;
    // The shard frees it; nobody waits for it, so it does not wake the shard each time.
    rt->PushForeign(reads[i].shard, done.release(), rt::Runtime::Wake::kLazy);
  }
  return true;
}

void ReadOnShard(rt::Runtime* rt, lsm::Shard* shard, uint32_t index, lsm::BlockRead* reads,
                 size_t n, uint64_t spin_ns) {
  ReadBlocksMsg m;
  m.shard = shard;
  m.reads = reads;
  m.n = n;
  rt->PushForeign(index, &m);
  m.waiter.Wait(spin_ns);
}

void ThreadBlockReader::Read(lsm::BlockRead* reads, size_t n) {
  if (io_ != nullptr) {
    std::vector<CallerRead> all(n);
    for (size_t i = 0; i < n; i++) all[i] = CallerRead{index_, shard_, &reads[i]};
    if (ReadOnCaller(rt_, *io_, all.data(), n)) return;
  }
  ReadOnShard(rt_, shard_, index_, reads, n, spin_ns_);
}

}  // namespace ringdb::db
