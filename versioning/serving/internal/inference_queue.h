// InferenceQueue: runs inference jobs on N slots, each with its own Predictor of every loaded
// version (LoadedVersion::predictors[slot]), and bounds how many jobs may wait for one.
//
// Without batching (max_batch 1) the request's own thread takes a free slot and runs the forward
// pass itself: no hand-off to another thread, whose wake-up and cold caches cost more than a
// small network's forward pass. With max_batch > 1, worker threads own the slots: a worker that
// takes a job also takes the jobs queued behind it for the same version, waiting up to
// batch_timeout_us for more, until max_batch samples, and runs one forward pass for all of them
// (dynamic batching). Either way a job runs on the version it was submitted with, so a swap
// never changes the answer of a request already accepted, and each forward pass uses
// cores / N OpenMP threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "strata/versioning/serving/internal/served_model.h"

namespace strata::versioning::serving {

struct InferenceResult {
  Tensor output;  // [N, output_shape...]
  double queue_seconds = 0;
  double compute_seconds = 0;
  int64_t batch_samples = 0;  // samples of the forward pass it was part of
  std::string error;          // a failure of the forward pass ("" when it ran)
};

struct InferenceJob {
  std::shared_ptr<LoadedVersion> version;
  Tensor input;  // [N, input_shape...]
  std::promise<InferenceResult> done;
  std::chrono::steady_clock::time_point queued;
};

class InferenceQueue {
 public:
  InferenceQueue(int workers, int64_t capacity, int64_t max_batch, int64_t batch_timeout_us);
  ~InferenceQueue();  // finishes the queued jobs, then joins the workers

  int workers() const { return slots_; }
  // Runs the job and returns its result; nullopt (nothing run) when `capacity` jobs already wait.
  std::optional<InferenceResult> execute(std::shared_ptr<InferenceJob> job);

 private:
  std::optional<InferenceResult> execute_inline(std::shared_ptr<InferenceJob> job);
  void worker_loop(int index);
  std::vector<std::shared_ptr<InferenceJob>> take_batch(std::unique_lock<std::mutex>& lock);
  static void run(int index, std::vector<std::shared_ptr<InferenceJob>>& jobs);

  const int slots_, omp_threads_;
  const int64_t capacity_, max_batch_, batch_timeout_us_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<InferenceJob>> queue_;  // batching: jobs for the workers
  std::vector<int> free_slots_;                      // inline: slots no request holds
  int64_t waiting_ = 0;                              // inline: requests waiting for a slot
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata::versioning::serving
