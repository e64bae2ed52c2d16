// ChunkCache: decoded chunks by id, least recently used dropped first, bounded in bytes.
//
// Holds delta bases so that reading versions in order (a TensorBoard export, `strata log -p`)
// decodes each chunk once instead of once per link of its chain. Entries are immutable and were
// verified against their id when decoded, and ids are content hashes, so an entry never goes
// stale. Internal to versioning/. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "strata/versioning/ids.h"

namespace strata::versioning {

using ChunkBytes = std::shared_ptr<const std::vector<uint8_t>>;

class ChunkCache {
 public:
  explicit ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  ChunkBytes get(const ChunkId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(id);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }

  void put(const ChunkId& id, ChunkBytes bytes) {
    if (!bytes || bytes->size() > capacity_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.count(id)) return;
    lru_.push_front(id);
    map_.emplace(id, std::make_pair(bytes, lru_.begin()));
    size_ += bytes->size();
    while (size_ > capacity_ && !lru_.empty()) {
      auto victim = map_.find(lru_.back());
      size_ -= victim->second.first->size();
      map_.erase(victim);
      lru_.pop_back();
    }
  }

 private:
  std::mutex mu_;
  size_t capacity_, size_ = 0;
  std::list<ChunkId> lru_;
  std::map<ChunkId, std::pair<ChunkBytes, std::list<ChunkId>::iterator>> map_;
};

}  // namespace strata::versioning
