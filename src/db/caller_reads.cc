#include "db/caller_reads.h"

#include <iterator>
#include <memory>
#include <vector>

#include "db/shard_messages.h"
#include "io/uring_backend.h"
#include "lsm/table_cache.h"
#include "util/clock.h"

namespace ringdb::db {
namespace {

// The calling thread's backends, for the last two DBs it read from (a thread that
// works with many DBs in turn keeps two of them open, not one per DB), each with the
// thread's read buffer for that DB.
struct ThreadBackend {
  uint64_t db_id = 0;
  // Declared before the backend, so the backend (which may have it registered) goes
  // first when the slot is destroyed.
  io::AlignedBuffer scratch;
  std::unique_ptr<io::IoBackend> backend;
  std::vector<io::IoRequest> reqs;  // reused, so a miss allocates no request
};

// The reads of one call that fit go into the thread's read buffer (registered with an
// io_uring ring as a fixed buffer, so the kernel does not pin its pages on every read);
// a call with more misses than fit reads the rest into buffers of their own. Either
// way each block is copied out at its size (TableCache::FinishBlockRead).
constexpr size_t kScratchBytes = 64 << 10;

ThreadBackend* BackendFor(const CallerIoConfig& cfg) {
  thread_local ThreadBackend slots[2];
  for (ThreadBackend& t : slots) {
    if (t.db_id == cfg.db_id) return t.backend != nullptr ? &t : nullptr;
  }
  std::unique_ptr<io::IoBackend> b;
  io::BackendChoice choice;
  if (io::CreateBackend(cfg.backend, &b, &choice).ok()) {
    if (cfg.wrap) b = cfg.wrap(std::move(b), 0);
  } else {
    b.reset();
  }
  slots[1].backend.reset();  // the older one goes (its ring before its buffer)
  slots[1] = std::move(slots[0]);
  slots[0] = ThreadBackend{};
  slots[0].db_id = cfg.db_id;
  if (b == nullptr) return nullptr;  // remembered: this thread cannot have one
  slots[0].scratch.Reset(kScratchBytes);
  if (auto* u = dynamic_cast<io::UringBackend*>(b.get())) {
    // Fails quietly where RLIMIT_MEMLOCK is too small: the reads then pin pages.
    (void)u->RegisterBuffer(slots[0].scratch.data(), slots[0].scratch.capacity());
  }
  slots[0].backend = std::move(b);
  return &slots[0];
}

void CountDone(io::IoRequest* q) {
  --*static_cast<size_t*>(q->user);
}

}  // namespace

bool ReadOnCaller(rt::Runtime* rt, const CallerIoConfig& io, const CallerRead* reads, size_t n) {
  ThreadBackend* t = BackendFor(io);
  if (t == nullptr) return false;
  io::IoBackend* b = t->backend.get();
  t->reqs.assign(n, io::IoRequest{});
  std::vector<io::AlignedBuffer> own;  // reads that did not fit the thread's buffer
  size_t used = 0;
  size_t pending = n;
  for (size_t i = 0; i < n; i++) {
    const lsm::BlockRead& r = *reads[i].read;
    io::IoRequest* q = &t->reqs[i];
    const uint64_t need = lsm::TableCache::BlockReadBytes(r);
    if (used + need <= t->scratch.capacity()) {
      lsm::TableCache::PrepareBlockReadInto(r, q, t->scratch.data() + used);
      used += io::AlignedBuffer::RoundUp(need);
    } else {
      if (own.empty()) own.resize(n);
      lsm::TableCache::PrepareBlockRead(r, q, &own[i]);
    }
    q->done = &CountDone;
    q->user = &pending;
    b->Prepare(q);
  }
  // Wait() submits and sleeps in one system call (io_uring_submit_and_wait), and the
  // completions it waited for are reaped by the Poll() after it without another: one
  // syscall per miss, where Submit(), Poll() and Wait() made two or three.
  while (pending > 0) {
    b->Wait(-1);
    b->Poll();
  }
  // (n is at most a MultiGet's misses per shard round; the backend's queue depth bounds
  // what is in the kernel at once, the rest waits in its queue.)
  for (size_t i = 0; i < n; i++) {
    lsm::BlockRead& r = *reads[i].read;
    const io::IoRequest& q = t->reqs[i];
    auto done = std::make_unique<BlockReadDoneMsg>();
    done->shard = reads[i].owner;
    done->req = q;
    done->req.buf = nullptr;
    done->req.done = nullptr;
    done->req.user = nullptr;
    done->file_number = r.table->number;
    done->block_offset = r.handle.offset;
    lsm::TableCache::FinishBlockRead(&r, q);
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
    CallerRead few[8];
    std::vector<CallerRead> many;
    CallerRead* all = few;
    if (n > std::size(few)) {
      many.resize(n);
      all = many.data();
    }
    for (size_t i = 0; i < n; i++) all[i] = CallerRead{index_, shard_, &reads[i]};
    if (ReadOnCaller(rt_, *io_, all, n)) return;
  }
  ReadOnShard(rt_, shard_, index_, reads, n, spin_ns_);
}

}  // namespace ringdb::db
