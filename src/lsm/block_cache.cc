#include "lsm/block_cache.h"

#include <algorithm>
#include <bit>

#include "util/assert.h"

namespace ringdb::lsm {
namespace {

// Buckets per expected 4 KiB block: chains stay around one entry long.
constexpr size_t kMinBuckets = 64;
constexpr size_t kMaxBuckets = size_t{1} << 22;
// The doorkeeper's window (new blocks between clears) is the capacity in 4 KiB blocks,
// within these bounds, and it has 32 bits per block of the window, two set per block:
// at most 1 in 16 set, so at most about 1 in 256 blocks read once gets in by a false
// positive (both of its bits set by others).
constexpr size_t kMinDoorWindow = 1024;
constexpr size_t kMaxDoorWindow = size_t{1} << 22;
constexpr size_t kDoorBitsPerBlock = 32;
// "Full": less than this many bytes free (a few data blocks).
constexpr size_t kFullSlack = 16 << 10;

}  // namespace

BlockCache::BlockCache(size_t capacity_bytes, rt::rcu::RetireList* retire)
    : capacity_(capacity_bytes), retire_(retire) {
  RINGDB_ASSERT(retire_ != nullptr);
  const size_t want = std::clamp<size_t>(capacity_bytes / 4096, kMinBuckets, kMaxBuckets);
  const size_t n = std::bit_ceil(want);
  mask_ = n - 1;
  buckets_ = decltype(buckets_)(n);  // value-initialized: null
  door_window_ = std::clamp<size_t>(capacity_bytes / 4096, kMinDoorWindow, kMaxDoorWindow);
  const size_t words = std::bit_ceil(door_window_ * kDoorBitsPerBlock / 64);
  door_words_mask_ = words - 1;
  door_ = decltype(door_)(words);  // value-initialized: zero
}

BlockCache::~BlockCache() {
  // Readers may still be inside a section that saw these entries (an iterator of a
  // closing store): retire rather than free.
  for (Entry* e : clock_) {
    if (e != nullptr) retire_->AddDelete(e);
  }
}

BlockCache::Entry* BlockCache::Find(uint64_t file, uint64_t offset) const {
  for (Entry* e = buckets_[Bucket(file, offset)].load(std::memory_order_relaxed); e != nullptr;
       e = e->next.load(std::memory_order_relaxed)) {
    if (e->offset == offset && e->file == file) return e;
  }
  return nullptr;
}

bool BlockCache::Full() const {
  return usage() + kFullSlack > capacity_;
}

bool BlockCache::Admit(uint64_t file_number, uint64_t offset) const {
  if (capacity_ == 0) return false;
  if (!Full()) return true;
  // Not Bucket's hash: a bucket's chain and a doorkeeper word should not collide together.
  // Offsets are multiples of the block size, so the product's low bits are mixed in
  // (murmur3's finalizer) before they pick the word and the two bits.
  uint64_t h = (file_number * 0xff51afd7ed558ccdull) ^ (offset * 0x9e3779b97f4a7c15ull);
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  std::atomic<uint64_t>& word = door_[(h >> 12) & door_words_mask_];
  const uint64_t mask = uint64_t{1} << (h & 63) | uint64_t{1} << ((h >> 6) & 63);
  const uint64_t old = word.load(std::memory_order_relaxed);
  if ((old & mask) == mask) return true;  // missed before within the window
  // A plain store: a bit another thread sets in the same word meanwhile may be lost,
  // and that block then waits for one more miss. Cheaper than a locked or on every miss.
  word.store(old | mask, std::memory_order_relaxed);
  // The thread's new bits, counted for whichever cache its stride ends in: a thread
  // reading two shards' caches credits each about as often as it marks it.
  thread_local size_t marks = 0;
  if (++marks % kDoorStride != 0) return false;
  if (door_marks_.fetch_add(kDoorStride, std::memory_order_relaxed) + kDoorStride >= door_window_) {
    door_marks_.store(0, std::memory_order_relaxed);
    for (size_t i = 0; i <= door_words_mask_; i++) door_[i].store(0, std::memory_order_relaxed);
  }
  return false;
}

void BlockCache::Insert(uint64_t file_number, uint64_t offset, BlockPtr block, size_t charge) {
  if (capacity_ == 0 || charge + pinned_ > capacity_) return;
  if (Find(file_number, offset) != nullptr) return;
  auto* e = new Entry;
  e->file = file_number;
  e->offset = offset;
  e->block = std::move(block);
  e->charge = charge;
  std::atomic<Entry*>& head = buckets_[Bucket(file_number, offset)];
  e->next.store(head.load(std::memory_order_relaxed), std::memory_order_relaxed);
  head.store(e, std::memory_order_release);  // publishes the filled entry
  clock_.push_back(e);
  entries_++;
  AddUsage(charge);
  EvictToFit();
}

void BlockCache::Unlink(Entry* e) {
  std::atomic<Entry*>* link = &buckets_[Bucket(e->file, e->offset)];
  for (Entry* cur = link->load(std::memory_order_relaxed); cur != e;
       cur = link->load(std::memory_order_relaxed)) {
    RINGDB_ASSERT_MSG(cur != nullptr, "block cache entry missing from its chain");
    link = &cur->next;
  }
  // Readers on e keep following e->next, which is left as it is.
  link->store(e->next.load(std::memory_order_relaxed), std::memory_order_release);
  entries_--;
  SubUsage(e->charge);
  retire_->AddDeleteDeferrable(e, e->charge);
}

void BlockCache::EraseFile(uint64_t file_number) {
  for (Entry*& e : clock_) {
    if (e != nullptr && e->file == file_number) {
      Unlink(e);
      e = nullptr;  // the hand skips the hole
    }
  }
}

void BlockCache::EvictToFit() {
  // Every entry gets at most one second chance per call: the loop ends after two
  // passes even if readers keep setting bits.
  size_t budget = 2 * clock_.size() + 1;
  while (usage() > capacity_ && !clock_.empty()) {
    Entry* e = clock_.front();
    clock_.pop_front();
    if (e == nullptr) continue;
    if (budget > 0 && e->referenced.load(std::memory_order_relaxed) != 0) {
      budget--;
      e->referenced.store(0, std::memory_order_relaxed);
      clock_.push_back(e);
      continue;
    }
    Unlink(e);
  }
  // Holes left by EraseFile are dropped as the hand passes them; keep them bounded.
  if (clock_.size() > 2 * entries_ + 64) {
    std::erase(clock_, nullptr);
  }
}

}  // namespace ringdb::lsm
