// BufferPlanner: memory planned from liveness, for Network's plans. Internal to framework/; it
// knows bytes and shapes only (no oneDNN), so tests check the assignment on its own.
#pragma once

#include <algorithm>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/nn/internal/value_lifetimes.h"

namespace strata {

// Memory planning from liveness (docs/design.md "Network definition and execution"): every activation
// and gradient buffer of a plan is live over an interval of the step's timeline; buffers whose
// intervals do not overlap share one allocation. Greedy interval colouring by start time, reusing
// the best-fitting free allocation and growing it when none is large enough.
class BufferPlanner {
 public:
  static constexpr int kKept = planning::Timeline::kKept;  // live until the next step (or for good)

  // A buffer of `bytes`, seen as a tensor of `view` (which holds at most `bytes`), live over
  // [first, last] of the step's timeline. Returns its handle.
  int add(size_t bytes, const Shape& view, int first, int last) {
    requests_.push_back({bytes, view, first, last, 0});
    return static_cast<int>(requests_.size()) - 1;
  }

  // Assigns every buffer to an arena: greedy interval colouring by start time.
  void plan() {
    std::vector<size_t> order(requests_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    // By start time, ties in request order (std::sort with the index as tie-break: stable_sort's
    // temporary buffer comes from the nothrow operator new, which tests that count allocations
    // replace only in part).
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return requests_[a].first != requests_[b].first ? requests_[a].first < requests_[b].first : a < b;
    });
    std::vector<int> busy_until;
    for (size_t r : order) {
      Request& q = requests_[r];
      const size_t bytes = q.bytes;
      int best = -1;  // a free arena: the smallest that fits, else the largest
      for (size_t a = 0; a < arena_bytes_.size(); ++a) {
        if (busy_until[a] >= q.first) continue;
        if (best < 0) {
          best = static_cast<int>(a);
          continue;
        }
        bool fits = arena_bytes_[a] >= bytes, best_fits = arena_bytes_[best] >= bytes;
        if (fits && (!best_fits || arena_bytes_[a] < arena_bytes_[best])) best = static_cast<int>(a);
        if (!fits && !best_fits && arena_bytes_[a] > arena_bytes_[best]) best = static_cast<int>(a);
      }
      if (best < 0) {
        arena_bytes_.push_back(0);
        busy_until.push_back(0);
        best = static_cast<int>(arena_bytes_.size()) - 1;
      }
      arena_bytes_[best] = std::max(arena_bytes_[best], bytes);
      busy_until[best] = q.last;
      q.arena = best;
    }
  }

  // The arenas lie one after another in `pool`, the network's storage shared by all its plans
  // (plans never run at the same time, and a plan's buffers are valid only until the next
  // forward()), so the pool is the largest plan's size, not the sum. True when the pool is too
  // small for this plan: the caller then drops the other plans first, so that their storage is
  // freed before bind() allocates more.
  bool outgrows(const Tensor& pool) const { return pool.nbytes() < total_bytes(); }

  void bind(Tensor& pool) {
    if (pool.nbytes() < total_bytes()) {
      pool = Tensor();  // release before allocating: peak memory is the larger, not the sum
      pool = Tensor(Shape{static_cast<int64_t>(total_bytes() / 4)});
    }
    pool_ = pool;
  }

  // The buffer as a tensor of its view shape, in the bound pool.
  Tensor tensor(int handle) const {
    const Request& q = requests_[handle];
    return pool_.view(q.view, offset(handle));
  }

  // After plan(): where a buffer starts in the pool (arenas are 64-byte aligned), and the bytes
  // all arenas take.
  size_t offset(int handle) const {
    size_t offset = 0;
    for (size_t a = 0; a < requests_[handle].arena; ++a) offset += aligned(arena_bytes_[a]);
    return offset;
  }
  size_t total_bytes() const {
    size_t total = 0;
    for (size_t b : arena_bytes_) total += aligned(b);
    return total;
  }

 private:
  struct Request {
    size_t bytes;
    Shape view;
    int first, last;
    size_t arena;
  };
  static size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

  std::vector<Request> requests_;
  std::vector<size_t> arena_bytes_;
  Tensor pool_;
};

}  // namespace strata
