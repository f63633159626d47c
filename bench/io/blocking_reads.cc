// blocking_reads: what N threads, each blocked in one 4 KiB O_DIRECT random read at a
// time, get from this machine with no engine at all: the ceiling for an engine's cold
// point reads from application threads (docs/bench.md "Cold reads: the ceiling").
//
//   blocking_reads PATH psync|ring|server|sqpoll|shared|spin THREADS SECONDS [SPIN_NS]
//
// PATH: a file, or a directory whose *.sst files (searched recursively) are read, each
// in proportion to its size: an engine's own tables, so that the reads land where the
// engine's do (on this VM a file written recently reads faster than an old one).
//
// MODE:
//   psync   pread() on each thread
//   ring    a ring per thread (SINGLE_ISSUER | DEFER_TASKRUN), submit and wait in one
//           io_uring_enter, as ringdb's caller reads
//   server  one thread owns a ring: callers queue their read and park on a futex, it
//           submits what is queued in one io_uring_enter and wakes the callers with
//           IORING_OP_FUTEX_WAKE (one kick per batch, but a park and a wake per read)
//   sqpoll  a ring per thread, all attached to one kernel submission thread
//           (IORING_SETUP_SQPOLL | ATTACH_WQ): the thread stores its read in its ring
//           and sleeps in io_uring_enter until it completes, as ringdb's caller reads
//           do while many are in flight (Options::caller_read_sqpoll). Env SQ_THREADS=N
//           spreads the threads over N submission threads; SQ_CPU=C pins the (first)
//           one to CPU C (IORING_SETUP_SQ_AFF)
//   shared  one SQPOLL ring for all threads (its queue under a mutex), so the submission
//           thread takes many threads' reads in one batch; each read is hard-linked to
//           an IORING_OP_MSG_RING that wakes its thread on a ring of its own
//   spin    server, but the server never parks: callers push their read onto a lock-free
//           stack and park on a futex; the server polls the stack and its ring's flags in
//           user space and enters the kernel only to submit reads and wakes and to run
//           the completions (DEFER_TASKRUN), all pending ones in one io_uring_enter.
//           Env WORK_ON_SERVER=1 burns SPIN_NS on the server per completed read instead
//           of on the caller (an engine's post-read work moved off the calling thread)
// SPIN_NS: CPU time each thread burns after each read, standing in for an engine's own
// work per read (what a microsecond of it costs in throughput).
// Prints reads/s and the latency distribution of one read (µs).
#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRead = 4096;
constexpr uint8_t kOpFutexWake = 52;  // IORING_OP_FUTEX_WAKE (6.7); Debian 12's header predates it

// The files read, each with the first block (of kRead bytes) it holds in the whole.
struct File {
  int fd = -1;
  uint64_t first_block = 0;
};
std::vector<File> g_files;
uint64_t g_blocks = 0;
std::atomic<bool> g_stop{false}, g_server_stop{false};

void FutexWait(std::atomic<uint32_t>* a, uint32_t v) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAIT_PRIVATE, v, nullptr, nullptr, 0);
}
void FutexWake(std::atomic<uint32_t>* a) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

struct Request {
  int fd = -1;
  uint64_t offset = 0;
  void* buf = nullptr;
  std::atomic<uint32_t> done{0};
  Request* next = nullptr;  // the spin mode's stack
};

// The spin mode's queue: callers push, the server takes the whole stack at once.
std::atomic<Request*> g_stack{nullptr};
int64_t g_server_work_ns = 0;

// The server mode's queue.
std::mutex g_mu;
std::vector<Request*> g_queue;
bool g_server_sleeping = false;
std::atomic<uint32_t> g_doorbell{0};

void Die(const char* what, int err) {
  std::fprintf(stderr, "blocking_reads: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

// An SQE of ring, submitting what is queued first where the SQ is full.
io_uring_sqe* GetSqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe == nullptr) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

// Queues the wake of the caller parked on *done (IORING_OP_FUTEX_WAKE, no CQE on success).
void QueueWake(io_uring* ring, std::atomic<uint32_t>* done) {
  io_uring_sqe* sqe = GetSqe(ring);
  io_uring_prep_rw(kOpFutexWake, sqe, 0x02 | 128, done, 0, 0);  // FUTEX2_SIZE_U32|PRIVATE
  sqe->addr2 = 1;
  sqe->addr3 = 0xffffffffu;
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data(sqe, nullptr);
}

// Burns ns of CPU (an engine's work per read).
void Burn(int64_t ns) {
  const auto t = Clock::now();
  while (Clock::now() - t < std::chrono::nanoseconds(ns)) {
  }
}

void Server() {
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CLAMP;
  if (int r = io_uring_queue_init_params(256, &ring, &p); r < 0) Die("io_uring_queue_init", -r);
  std::vector<Request*> batch;
  unsigned inflight = 0;
  while (!g_server_stop.load(std::memory_order_relaxed) || inflight > 0) {
    {
      std::lock_guard<std::mutex> g(g_mu);
      batch.swap(g_queue);
    }
    for (Request* r : batch) {
      io_uring_sqe* sqe = GetSqe(&ring);
      io_uring_prep_read(sqe, r->fd, r->buf, kRead, r->offset);
      io_uring_sqe_set_data(sqe, r);
      inflight++;
    }
    batch.clear();
    if (inflight == 0) {
      io_uring_submit(&ring);  // the wakes still queued
      std::unique_lock<std::mutex> g(g_mu);
      if (!g_queue.empty()) continue;
      if (g_server_stop.load()) break;
      g_server_sleeping = true;
      g_doorbell.store(0);
      g.unlock();
      timespec ts = {0, 10 * 1000 * 1000};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_doorbell), FUTEX_WAIT_PRIVATE, 0, &ts,
              nullptr, 0);
      continue;
    }
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      auto* r = static_cast<Request*>(io_uring_cqe_get_data(cqe));
      if (r == nullptr) continue;  // a failed wake
      if (cqe->res != static_cast<int>(kRead)) Die("read", cqe->res < 0 ? -cqe->res : EIO);
      inflight--;
      r->done.store(1, std::memory_order_release);
      QueueWake(&ring, &r->done);
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
}

// The spin mode's server: never parks. Completions are deferred task work
// (DEFER_TASKRUN), which the kernel flags in the SQ ring, so the server enters the kernel
// only when it has reads or wakes to submit or completions to collect, and each entry
// does all three for everything pending. Burns g_server_work_ns per completed read
// before waking its caller (an engine's post-read work moved off the caller).
void SpinServer() {
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
            IORING_SETUP_CLAMP;
  if (int r = io_uring_queue_init_params(1024, &ring, &p); r < 0) Die("io_uring_queue_init", -r);
  unsigned inflight = 0;
  while (!g_server_stop.load(std::memory_order_relaxed) || inflight > 0) {
    Request* r = g_stack.exchange(nullptr, std::memory_order_acquire);
    for (; r != nullptr; r = r->next) {
      io_uring_sqe* sqe = GetSqe(&ring);
      io_uring_prep_read(sqe, r->fd, r->buf, kRead, r->offset);
      io_uring_sqe_set_data(sqe, r);
      inflight++;
    }
    const bool tw = (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
    if (io_uring_sq_ready(&ring) > 0 || tw) io_uring_submit_and_get_events(&ring);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      auto* q = static_cast<Request*>(io_uring_cqe_get_data(cqe));
      if (q == nullptr) continue;  // a failed wake
      if (cqe->res != static_cast<int>(kRead)) Die("read", cqe->res < 0 ? -cqe->res : EIO);
      inflight--;
      if (g_server_work_ns > 0) Burn(g_server_work_ns);
      q->done.store(1, std::memory_order_release);
      QueueWake(&ring, &q->done);
    }
    io_uring_cq_advance(&ring, seen);
    if (seen == 0) __builtin_ia32_pause();
  }
  io_uring_submit(&ring);
  io_uring_queue_exit(&ring);
}

// The sqpoll mode's submission threads (env SQ_THREADS, default 1), each owned by one
// of these rings; thread t attaches to ring t % SQ_THREADS. Env SQ_CPU pins the first
// one to that CPU (IORING_SETUP_SQ_AFF).
io_uring g_sq_rings[8];
int g_sq_threads = 1;

enum class Mode { kPsync, kRing, kServer, kSqpoll, kShared, kSpin };

// The shared mode's ring: one SQPOLL ring for every thread (its SQ under g_shared_mu),
// so the submission thread takes the reads of many threads in one batch (one plug, one
// doorbell). Each read is hard-linked to an IORING_OP_MSG_RING that posts to the
// reader's own ring, where the reader sleeps; the read's own completion is reaped from
// the shared ring by whichever reader gets there first.
io_uring g_shared;
std::mutex g_shared_mu;
struct SharedResult {
  std::atomic<int> res{0};
  std::atomic<bool> have{false};
};

void ReapShared() {
  io_uring_cqe* cqe;
  unsigned head, seen = 0;
  io_uring_for_each_cqe(&g_shared, head, cqe) {
    seen++;
    auto* r = reinterpret_cast<SharedResult*>(cqe->user_data);
    if (r == nullptr) continue;
    r->res.store(cqe->res, std::memory_order_relaxed);
    r->have.store(true, std::memory_order_release);
  }
  io_uring_cq_advance(&g_shared, seen);
}

void ReadShared(io_uring* own, int fd, uint64_t offset, void* buf) {
  SharedResult result;
  {
    std::lock_guard<std::mutex> g(g_shared_mu);
    io_uring_sqe* sqe = io_uring_get_sqe(&g_shared);
    io_uring_prep_read(sqe, fd, buf, kRead, offset);
    sqe->flags |= IOSQE_IO_HARDLINK;
    io_uring_sqe_set_data(sqe, &result);
    io_uring_sqe* msg = io_uring_get_sqe(&g_shared);
    io_uring_prep_msg_ring(msg, own->ring_fd, 0, 1, 0);
    msg->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data(msg, nullptr);
    io_uring_submit(&g_shared);
  }
  io_uring_cqe* cqe;
  if (int r = io_uring_wait_cqe(own, &cqe); r < 0) Die("io_uring_wait_cqe", -r);
  io_uring_cqe_seen(own, cqe);
  while (!result.have.load(std::memory_order_acquire)) {
    {
      std::lock_guard<std::mutex> g(g_shared_mu);
      ReapShared();
    }
    if (!result.have.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  if (result.res.load() != static_cast<int>(kRead)) Die("read", EIO);
}

// The file holding block b of the whole, and the block's offset in it.
void Locate(uint64_t b, int* fd, uint64_t* offset) {
  auto it = std::upper_bound(g_files.begin(), g_files.end(), b,
                             [](uint64_t v, const File& f) { return v < f.first_block; });
  --it;
  *fd = it->fd;
  *offset = (b - it->first_block) * kRead;
}

// Blocks in one read of block b (mode's way); req is the thread's server request.
void ReadOne(Mode mode, io_uring* ring, Request* req, uint64_t b) {
  int fd = -1;
  uint64_t offset = 0;
  Locate(b, &fd, &offset);
  if (mode == Mode::kShared) {
    ReadShared(ring, fd, offset, req->buf);
  } else if (mode == Mode::kPsync) {
    if (pread(fd, req->buf, kRead, static_cast<off_t>(offset)) != static_cast<ssize_t>(kRead))
      Die("pread", errno);
  } else if (mode == Mode::kRing || mode == Mode::kSqpoll) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_read(sqe, fd, req->buf, kRead, offset);
    io_uring_submit_and_wait(ring, 1);
    io_uring_cqe* cqe;
    if (int r = io_uring_peek_cqe(ring, &cqe); r < 0) Die("io_uring_peek_cqe", -r);
    if (cqe->res != static_cast<int>(kRead)) Die("read", cqe->res < 0 ? -cqe->res : EIO);
    io_uring_cqe_seen(ring, cqe);
  } else if (mode == Mode::kSpin) {
    req->fd = fd;
    req->offset = offset;
    req->done.store(0, std::memory_order_relaxed);
    Request* head = g_stack.load(std::memory_order_relaxed);
    do {
      req->next = head;
    } while (!g_stack.compare_exchange_weak(head, req, std::memory_order_release,
                                            std::memory_order_relaxed));
    while (req->done.load(std::memory_order_acquire) == 0) FutexWait(&req->done, 0);
  } else {
    req->fd = fd;
    req->offset = offset;
    req->done.store(0);
    bool ring_bell = false;
    {
      std::lock_guard<std::mutex> g(g_mu);
      g_queue.push_back(req);
      ring_bell = g_server_sleeping;
      g_server_sleeping = false;
    }
    if (ring_bell) {
      g_doorbell.store(1);
      FutexWake(&g_doorbell);
    }
    while (req->done.load(std::memory_order_acquire) == 0) FutexWait(&req->done, 0);
  }
}

// One thread's reads until g_stop; appends each read's latency (µs) to *lats.
void ReadLoop(Mode mode, int thread, int64_t spin_ns, std::vector<uint32_t>* lats) {
  std::mt19937_64 rng(7919 * thread + 1);
  Request req;
  if (posix_memalign(&req.buf, kRead, kRead) != 0) Die("posix_memalign", ENOMEM);
  io_uring ring;
  const bool own_ring = mode == Mode::kRing || mode == Mode::kSqpoll || mode == Mode::kShared;
  if (own_ring) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (mode == Mode::kShared) p.flags = 0;
    if (mode == Mode::kSqpoll) {
      p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ;
      p.wq_fd = static_cast<uint32_t>(g_sq_rings[thread % g_sq_threads].ring_fd);
    }
    if (int r = io_uring_queue_init_params(4, &ring, &p); r < 0) Die("io_uring_queue_init", -r);
  }
  lats->reserve(1 << 20);
  while (!g_stop.load(std::memory_order_relaxed)) {
    const auto start = Clock::now();
    ReadOne(mode, &ring, &req, rng() % g_blocks);
    if (spin_ns > 0) Burn(spin_ns);
    lats->push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()));
  }
  if (own_ring) io_uring_queue_exit(&ring);
  free(req.buf);
}

void Report(const char* mode, int threads, int64_t spin_ns, double elapsed,
            std::vector<uint32_t>* lats) {
  std::sort(lats->begin(), lats->end());
  double sum = 0;
  for (uint32_t l : *lats) sum += l;
  const size_t n = lats->size();
  auto pct = [&](double q) { return n == 0 ? 0u : (*lats)[static_cast<size_t>(q * (n - 1))]; };
  std::printf(
      "%s, %d threads, +%lld ns per read: %.0f reads/s; latency us: mean %.0f p50 %u "
      "p99 %u p99.9 %u max %u\n",
      mode, threads, static_cast<long long>(spin_ns), n / elapsed, n ? sum / n : 0.0, pct(0.5),
      pct(0.99), pct(0.999), n ? lats->back() : 0u);
}

// Opens path, or every *.sst under it where it is a directory.
void OpenFiles(const std::string& path) {
  std::vector<std::string> names;
  if (std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(path)) {
      if (e.is_regular_file() && e.path().extension() == ".sst") names.push_back(e.path());
    }
    std::sort(names.begin(), names.end());
  } else {
    names.push_back(path);
  }
  for (const std::string& n : names) {
    const int fd = open(n.c_str(), O_RDONLY | O_DIRECT);
    if (fd < 0) Die(n.c_str(), errno);
    const uint64_t blocks = static_cast<uint64_t>(lseek(fd, 0, SEEK_END)) / kRead;
    if (blocks == 0) {
      close(fd);
      continue;
    }
    g_files.push_back(File{fd, g_blocks});
    g_blocks += blocks;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: blocking_reads PATH psync|ring|server|sqpoll|shared|spin THREADS SECONDS "
                 "[SPIN_NS]\n");
    return 2;
  }
  const std::string m = argv[2];
  const int threads = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const int64_t spin_ns = argc > 5 ? std::atoll(argv[5]) : 0;
  if ((m != "psync" && m != "ring" && m != "server" && m != "sqpoll" && m != "shared" &&
       m != "spin") ||
      threads < 1 || seconds <= 0) {
    std::fprintf(stderr, "blocking_reads: bad arguments\n");
    return 2;
  }
  const Mode mode = m == "psync"    ? Mode::kPsync
                    : m == "ring"   ? Mode::kRing
                    : m == "server" ? Mode::kServer
                    : m == "shared" ? Mode::kShared
                    : m == "spin"   ? Mode::kSpin
                                    : Mode::kSqpoll;
  if (mode == Mode::kShared) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SQPOLL;
    p.sq_thread_idle = 2;
    if (int r = io_uring_queue_init_params(256, &g_shared, &p); r < 0) Die("io_uring SQPOLL", -r);
  }
  if (mode == Mode::kSqpoll) {
    if (const char* e = std::getenv("SQ_THREADS")) g_sq_threads = std::clamp(std::atoi(e), 1, 8);
    for (int i = 0; i < g_sq_threads; i++) {
      io_uring_params p{};
      p.flags = IORING_SETUP_SQPOLL;
      p.sq_thread_idle = 2;  // ms, as ringdb's (Options::caller_read_sqpoll)
      if (const char* c = std::getenv("SQ_CPU"); c != nullptr && i == 0) {
        p.flags |= IORING_SETUP_SQ_AFF;
        p.sq_thread_cpu = static_cast<uint32_t>(std::atoi(c));
      }
      if (int r = io_uring_queue_init_params(1, &g_sq_rings[i], &p); r < 0) {
        Die("io_uring SQPOLL", -r);
      }
    }
  }
  OpenFiles(argv[1]);
  if (g_blocks < 256) Die("less than 1 MiB to read", EINVAL);

  std::thread server;
  if (mode == Mode::kServer) server = std::thread(Server);
  int64_t reader_spin_ns = spin_ns;
  if (mode == Mode::kSpin) {
    if (const char* w = std::getenv("WORK_ON_SERVER"); w != nullptr && std::atoi(w) != 0) {
      g_server_work_ns = spin_ns;
      reader_spin_ns = 0;
    }
    server = std::thread(SpinServer);
  }
  std::vector<std::vector<uint32_t>> lats(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; t++) {
    workers.emplace_back(ReadLoop, mode, t, reader_spin_ns, &lats[t]);
  }
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  g_stop = true;
  for (std::thread& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  if (server.joinable()) {
    g_server_stop = true;
    g_doorbell.store(1);
    FutexWake(&g_doorbell);
    server.join();
  }
  std::vector<uint32_t> all;
  for (const auto& l : lats) all.insert(all.end(), l.begin(), l.end());
  Report(m.c_str(), threads, spin_ns, elapsed, &all);
  return 0;
}
