#include "db/caller_reads.h"

#include <iterator>
#include <memory>
#include <vector>

#include "db/shard_messages.h"
#include "db/thread_stats.h"
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
  // Attached to the DB's submission thread (CallerIoConfig::sqpoll_fd), made on the
  // first call that should use it; null after, where the kernel refused.
  std::unique_ptr<io::IoBackend> sq_backend;
  bool sq_tried = false;
  std::vector<io::IoRequest> reqs;  // reused, so a miss allocates no request
  // Blocks that borrow `scratch` (BlockRead::may_borrow), one per read of a call at most;
  // reused, so a miss the cache does not take allocates nothing.
  std::vector<std::unique_ptr<lsm::Block>> borrowed;
};

// The reads of one call that fit go into the thread's read buffer (registered with an
// io_uring ring as a fixed buffer, so the kernel does not pin its pages on every read);
// a call with more misses than fit reads the rest into buffers of their own. A block
// the cache takes is copied out at its size (TableCache::FinishBlockRead); one it does
// not take, read into the thread's buffer for a lookup that is done with it before the
// thread reads again (BlockRead::may_borrow), is searched where it landed.
constexpr size_t kScratchBytes = 64 << 10;

// A backend of cfg's kind for this thread (cfg.wrap applied), its read buffer
// registered with it where it is an io_uring ring; null where none can be made.
std::unique_ptr<io::IoBackend> MakeBackend(const CallerIoConfig& cfg, const io::BackendOptions& opt,
                                           io::AlignedBuffer* scratch, bool want_sqpoll) {
  std::unique_ptr<io::IoBackend> b;
  io::BackendChoice choice;
  if (!io::CreateBackend(opt, &b, &choice).ok()) return nullptr;
  if (auto* u = dynamic_cast<io::UringBackend*>(b.get())) {
    if (want_sqpoll && (u->setup_flags() & IORING_SETUP_SQPOLL) == 0) return nullptr;
    // Fails quietly where RLIMIT_MEMLOCK is too small: the reads then pin pages.
    (void)u->RegisterBuffer(scratch->data(), scratch->capacity());
  } else if (want_sqpoll) {
    return nullptr;
  }
  if (cfg.wrap) b = cfg.wrap(std::move(b), 0);
  return b;
}

ThreadBackend* BackendFor(const CallerIoConfig& cfg) {
  thread_local ThreadBackend slots[2];
  for (ThreadBackend& t : slots) {
    if (t.db_id == cfg.db_id) return t.backend != nullptr ? &t : nullptr;
  }
  slots[1].sq_backend.reset();  // the older one goes (its rings before their buffer)
  slots[1].backend.reset();
  slots[1] = std::move(slots[0]);
  slots[0] = ThreadBackend{};
  slots[0].db_id = cfg.db_id;
  slots[0].scratch.Reset(kScratchBytes);
  slots[0].backend = MakeBackend(cfg, cfg.backend, &slots[0].scratch, false);
  // Null is remembered: this thread cannot have one.
  return slots[0].backend != nullptr ? &slots[0] : nullptr;
}

// The ring a call's reads go to: the thread's ring attached to the DB's submission
// thread while at least cfg.sqpoll_from calls read at once (readers, this one
// included), else (or where the kernel refused it) the thread's own.
io::IoBackend* RingFor(const CallerIoConfig& cfg, ThreadBackend* t, uint32_t readers,
                       bool* sqpoll) {
  *sqpoll = false;
  if (cfg.sqpoll_fd < 0 || readers < cfg.sqpoll_from) return t->backend.get();
  if (!t->sq_tried) {
    t->sq_tried = true;
    io::BackendOptions opt = cfg.backend;
    opt.sqpoll_attach_fd = cfg.sqpoll_fd;
    t->sq_backend = MakeBackend(cfg, opt, &t->scratch, true);
  }
  if (t->sq_backend == nullptr) return t->backend.get();
  *sqpoll = true;
  return t->sq_backend.get();
}

// Counts a call among cfg.in_flight while it reads.
class Reading {
 public:
  explicit Reading(std::atomic<uint32_t>* n)
      : n_(n), count_(n != nullptr ? n->fetch_add(1, std::memory_order_relaxed) + 1 : 1) {}
  ~Reading() {
    if (n_ != nullptr) n_->fetch_sub(1, std::memory_order_relaxed);
  }
  Reading(const Reading&) = delete;
  Reading& operator=(const Reading&) = delete;
  uint32_t count() const { return count_; }

 private:
  std::atomic<uint32_t>* n_;
  uint32_t count_;
};

void CountDone(io::IoRequest* q) {
  --*static_cast<size_t*>(q->user);
}

// Verifies one completed read and copies it out (TableCache::FinishBlockRead), or parses
// it in place into *borrow (non-null where the read landed in the thread's buffer and
// the lookup allows it) when the cache does not take it; counts it, and sends the shard
// what it needs: the block when its cache admits it, or (reads_to_shard) the read
// itself, for the shard to count and trace.
void Finish(rt::Runtime* rt, const CallerIoConfig& io, const CallerRead& c, const io::IoRequest& q,
            bool sqpoll, lsm::Block* borrow) {
  lsm::BlockRead& r = *c.read;
  // Asked before the block is verified, so that one the cache will not take is not
  // copied; a read that fails inserts nothing either way.
  bool admit = r.fill_cache && q.result >= 0 &&
               c.owner->block_cache().Admit(r.table->number, r.handle.offset);
  lsm::TableCache::FinishBlockRead(&r, q, admit || !r.may_borrow ? nullptr : borrow);
  admit = admit && r.status.ok();
  const bool to_shard = io.reads_to_shard || io.stats == nullptr;
  if (!to_shard) io.stats->ForThisThread().shard(c.shard).block_reads.Record(q, sqpoll);
  if (!admit && !to_shard) return;
  auto done = std::make_unique<BlockReadDoneMsg>();
  done->shard = c.owner;
  done->account = to_shard;
  done->req = q;
  done->req.buf = nullptr;
  done->req.done = nullptr;
  done->req.user = nullptr;
  done->file_number = r.table->number;
  done->block_offset = r.handle.offset;
  done->sqpoll = sqpoll;
  if (admit) done->block = r.block;
  // The shard frees it; nobody waits for it, so it does not wake the shard each time.
  rt->PushForeign(c.shard, done.release(), rt::Runtime::Wake::kDeferred);
}

}  // namespace

bool ReadOnCaller(rt::Runtime* rt, const CallerIoConfig& io, const CallerRead* reads, size_t n) {
  ThreadBackend* t = BackendFor(io);
  if (t == nullptr) return false;
  const Reading reading(io.in_flight);
  bool sqpoll = false;
  io::IoBackend* b = RingFor(io, t, reading.count(), &sqpoll);
  t->reqs.assign(n, io::IoRequest{});
  while (t->borrowed.size() < n) t->borrowed.push_back(std::make_unique<lsm::Block>());
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
    const bool in_scratch = own.empty() || own[i].data() == nullptr;
    Finish(rt, io, reads[i], t->reqs[i], sqpoll, in_scratch ? t->borrowed[i].get() : nullptr);
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
