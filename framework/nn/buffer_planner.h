// BufferPlanner: memory planned from liveness, for Network's plans. Internal to framework/.
#pragma once

#include <algorithm>
#include <vector>

#include "strata/framework/ops/dnnl_utils.h"

namespace strata {

// Memory planning from liveness (DESIGN "Network definition and execution"): every activation
// and gradient buffer of a plan is live over an interval of the step's timeline; buffers whose
// intervals do not overlap share one allocation. Greedy interval colouring by start time, reusing
// the best-fitting free allocation and growing it when none is large enough.
class BufferPlanner {
 public:
  static constexpr int kKept = 1 << 30;  // live until the next step (or for good)

  int add(const dnnl::memory::desc& md, const Shape& logical, int first, int last) {
    requests_.push_back({md, logical, first, last, 0});
    return static_cast<int>(requests_.size()) - 1;
  }

  // Returns the total bytes allocated.
  size_t assign() {
    std::vector<size_t> order(requests_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return requests_[a].first < requests_[b].first; });
    struct Arena {
      size_t bytes;
      int busy_until;
    };
    std::vector<Arena> arenas;
    for (size_t r : order) {
      Request& q = requests_[r];
      size_t bytes = q.md.get_size();
      int best = -1;
      for (size_t a = 0; a < arenas.size(); ++a) {
        if (arenas[a].busy_until >= q.first) continue;
        bool fits = arenas[a].bytes >= bytes;
        if (best < 0) { best = static_cast<int>(a); continue; }
        bool best_fits = arenas[best].bytes >= bytes;
        if (fits && (!best_fits || arenas[a].bytes < arenas[best].bytes)) best = static_cast<int>(a);
        if (!fits && !best_fits && arenas[a].bytes > arenas[best].bytes) best = static_cast<int>(a);
      }
      if (best < 0) {
        arenas.push_back({0, 0});
        best = static_cast<int>(arenas.size()) - 1;
      }
      arenas[best].bytes = std::max(arenas[best].bytes, bytes);
      arenas[best].busy_until = q.last;
      q.arena = best;
    }
    size_t total = 0;
    for (const Arena& a : arenas) {
      storage_.emplace_back(Shape{static_cast<int64_t>((a.bytes + 3) / 4)});
      total += a.bytes;
    }
    return total;
  }

  // The buffer as a tensor: the logical shape for a plain layout, flat for a blocked one.
  Tensor tensor(int handle) const {
    const Request& q = requests_[handle];
    Shape shape = dnnl_utils::is_plain(q.md) ? q.logical : Shape{static_cast<int64_t>((q.md.get_size() + 3) / 4)};
    return storage_[q.arena].view(shape);
  }

 private:
  struct Request {
    dnnl::memory::desc md;
    Shape logical;
    int first, last;
    size_t arena;
  };
  std::vector<Request> requests_;
  std::vector<Tensor> storage_;
};

}  // namespace strata
