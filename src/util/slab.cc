#include "util/slab.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <new>

#include "util/huge_buffer.h"

namespace ringdb::util {

// At the start of each chunk's mapping; its slots follow.
struct Slabs::Chunk {
  Heap* heap = nullptr;
  Chunk* prev = nullptr;  // in its class's with_room list
  Chunk* next = nullptr;
  void* free_list = nullptr;  // freed slots, each holding the next
  char* fresh = nullptr;      // the first slot never handed out
  char* end = nullptr;
  size_t len = 0;
  size_t live = 0;
  uint32_t cls = 0;
  uint32_t slot_bytes = 0;
  bool listed = false;
};

namespace {

constexpr size_t kChunkHeaderBytes = (sizeof(void*) * 12 + 63) & ~size_t{63};

size_t ThreadHeap() {
  static std::atomic<uint32_t> next{0};
  thread_local const uint32_t heap = next.fetch_add(1, std::memory_order_relaxed);
  return heap % Slabs::kHeaps;
}

// The header in front of an allocation: its chunk, or nullptr for operator new's.
Slabs::Chunk** HeaderOf(char* slot) {
  return reinterpret_cast<Slabs::Chunk**>(slot);
}

}  // namespace

Slabs& Slabs::Default() {
#if defined(__SANITIZE_ADDRESS__)
  static Slabs* slabs = new Slabs(false);
#else
  static Slabs* slabs = new Slabs(true);
#endif
  return *slabs;
}

Slabs::~Slabs() {
  for (Heap& h : heaps_) {
    for (Class& c : h.classes) {
      // With every slot freed, each chunk left is on its class's list.
      for (Chunk* ch = c.with_room; ch != nullptr;) {
        Chunk* next = ch->next;
        ::munmap(ch, ch->len);
        ch = next;
      }
    }
  }
}

void Slabs::Link(Class* c, Chunk* ch) {
  ch->prev = nullptr;
  ch->next = c->with_room;
  if (c->with_room != nullptr) c->with_room->prev = ch;
  c->with_room = ch;
  ch->listed = true;
}

void Slabs::Unlink(Class* c, Chunk* ch) {
  if (ch->prev != nullptr) {
    ch->prev->next = ch->next;
  } else {
    c->with_room = ch->next;
  }
  if (ch->next != nullptr) ch->next->prev = ch->prev;
  ch->prev = ch->next = nullptr;
  ch->listed = false;
}

Slabs::Chunk* Slabs::NewChunk(Heap* h, uint32_t cls) {
  Class& c = h->classes[cls];
  const size_t len = c.next_chunk_bytes;
  char* p = nullptr;
  if (len == kMaxChunkBytes) {
    p = MapHugePages(len);
  } else {
    void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) p = static_cast<char*>(m);
  }
  if (p == nullptr) throw std::bad_alloc();
  c.next_chunk_bytes = std::min(len * 2, kMaxChunkBytes);
  auto* ch = new (p) Chunk();
  ch->heap = h;
  ch->fresh = p + kChunkHeaderBytes;
  ch->end = p + len;
  ch->len = len;
  ch->cls = cls;
  ch->slot_bytes = static_cast<uint32_t>((cls + 1) * kStepBytes);
  c.chunks++;
  h->chunks++;
  h->mapped += len;
  return ch;
}

void* Slabs::AllocatePlain(size_t bytes, size_t* footprint) {
  const size_t total = bytes + kHeaderBytes;
  char* p = static_cast<char*>(::operator new(total));
  *HeaderOf(p) = nullptr;
  *footprint = total;
  return p + kHeaderBytes;
}

void* Slabs::Allocate(size_t bytes, size_t* footprint) {
  static_assert(sizeof(Chunk) <= kChunkHeaderBytes);
  static_assert(kFirstChunkBytes >= kChunkHeaderBytes + kMaxSlotBytes);
  const size_t total = bytes + kHeaderBytes;
  if (!use_slabs_ || total > kMaxSlotBytes) return AllocatePlain(bytes, footprint);
  const auto cls = static_cast<uint32_t>((total - 1) / kStepBytes);
  Heap* h = &heaps_[ThreadHeap()];
  char* slot = nullptr;
  Chunk* ch = nullptr;
  {
    std::lock_guard<std::mutex> g(h->mu);
    Class& c = h->classes[cls];
    ch = c.with_room;
    if (ch == nullptr) {
      ch = NewChunk(h, cls);
      Link(&c, ch);
    }
    if (ch->free_list != nullptr) {
      slot = static_cast<char*>(ch->free_list);
      ch->free_list = *reinterpret_cast<void**>(slot);
    } else {
      slot = ch->fresh;
      ch->fresh += ch->slot_bytes;
    }
    ch->live++;
    if (ch->free_list == nullptr && ch->fresh + ch->slot_bytes > ch->end) Unlink(&c, ch);
  }
  *HeaderOf(slot) = ch;
  *footprint = ch->slot_bytes;
  return slot + kHeaderBytes;
}

void Slabs::Free(void* p) {
  if (p == nullptr) return;
  char* slot = static_cast<char*>(p) - kHeaderBytes;
  Chunk* ch = *HeaderOf(slot);
  if (ch == nullptr) {
    ::operator delete(slot);
    return;
  }
  Heap* h = ch->heap;
  void* unmap = nullptr;
  size_t unmap_len = 0;
  {
    std::lock_guard<std::mutex> g(h->mu);
    Class& c = h->classes[ch->cls];
    *reinterpret_cast<void**>(slot) = ch->free_list;
    ch->free_list = slot;
    ch->live--;
    if (!ch->listed) Link(&c, ch);
    if (ch->live == 0 && c.chunks > 1) {
      Unlink(&c, ch);
      c.chunks--;
      h->chunks--;
      h->mapped -= ch->len;
      unmap = ch;
      unmap_len = ch->len;
    }
  }
  if (unmap != nullptr) ::munmap(unmap, unmap_len);
}

size_t Slabs::chunks() const {
  size_t n = 0;
  for (const Heap& h : heaps_) {
    std::lock_guard<std::mutex> g(h.mu);
    n += h.chunks;
  }
  return n;
}

size_t Slabs::mapped_bytes() const {
  size_t n = 0;
  for (const Heap& h : heaps_) {
    std::lock_guard<std::mutex> g(h.mu);
    n += h.mapped;
  }
  return n;
}

}  // namespace ringdb::util
