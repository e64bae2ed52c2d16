// GradientReducer (internal to the Trainer): sums the parameter gradients of one step over the
// ranks of a Communicator, in buckets. Backward hands it each node's gradients as soon as they
// are final (Network::set_gradients_ready_hook); a full bucket is summed at once, on a
// communication thread while backward goes on when DataParallelOptions::overlap is set (and the
// communicator allows it), else right there.
//
// Buckets are filled in the order gradients become ready (reverse node order) and cut at fixed
// sizes, so every rank builds the same buckets and the sums do not depend on timing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/framework/nn/network.h"
#include "strata/framework/train/communicator.h"

namespace strata {

class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Parameter>& params, const DataParallelOptions& options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // A step begins; this rank's gradients count with `weight` (its share of the batch).
  void begin(float weight);
  // Parameters [first, last) have their final gradients.
  void ready(size_t first, size_t last);
  // Backward is done: sums what is left and waits; the gradients then hold the sums.
  void finish();
  bool overlapping() const { return worker_.joinable(); }
  // Seconds spent in all-reduces so far (on either thread).
  double reduce_seconds() const;
  // Seconds the training thread spent in ready() and finish() so far: packing buckets, and the
  // all-reduces it ran or waited for (what data parallelism adds to its step).
  double blocking_seconds() const { return blocking_seconds_; }

 private:
  struct Piece {
    float* grad;
    size_t n;
  };
  struct Bucket {
    std::vector<float> values;
    std::vector<Piece> pieces;
    size_t used = 0;
  };
  void send(size_t bucket);     // a full (or the last) bucket: sum now, or queue it
  void reduce(Bucket& bucket);  // the all-reduce, then the sums back into the gradients
  void work();

  Communicator& comm_;
  std::vector<Parameter>& params_;
  size_t capacity_;  // floats per bucket
  float weight_ = 1;
  std::deque<Bucket> buckets_;  // a deque: growing it never moves a bucket the worker sums
  size_t current_ = 0;          // the bucket being filled
  // The communication thread (overlap): buckets queued, and how many of them are summed.
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Bucket*> queue_;
  size_t queued_ = 0, done_ = 0;
  bool stop_ = false;
  double seconds_ = 0;           // guarded by mu_
  std::exception_ptr failure_;   // an error of the worker's all-reduce, rethrown by finish()
  double blocking_seconds_ = 0;  // the training thread's own
};

}  // namespace strata
