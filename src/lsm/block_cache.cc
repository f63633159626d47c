#include "lsm/block_cache.h"

namespace ringdb::lsm {

BlockPtr BlockCache::Lookup(uint64_t file_number, uint64_t offset) {
  auto it = map_.find(Key{file_number, offset});
  if (it == map_.end()) {
    misses_++;
    return nullptr;
  }
  hits_++;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->block;
}

void BlockCache::Insert(uint64_t file_number, uint64_t offset, BlockPtr block, size_t charge) {
  if (capacity_ == 0 || charge + pinned_ > capacity_) return;
  Key k{file_number, offset};
  auto it = map_.find(k);
  if (it != map_.end()) {
    usage_ -= it->second->charge;
    lru_.erase(it->second);
    map_.erase(it);
  }
  lru_.push_front(Entry{k, std::move(block), charge});
  map_[k] = lru_.begin();
  usage_ += charge;
  EvictToFit();
}

void BlockCache::EraseFile(uint64_t file_number) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->key.file == file_number) {
      usage_ -= it->charge;
      map_.erase(it->key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void BlockCache::EvictToFit() {
  while (usage_ > capacity_ && !lru_.empty()) {
    Entry& e = lru_.back();
    usage_ -= e.charge;
    map_.erase(e.key);
    lru_.pop_back();
  }
}

}  // namespace ringdb::lsm
