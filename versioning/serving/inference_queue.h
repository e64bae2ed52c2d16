// InferenceQueue: a bounded queue of inference jobs and the worker threads that run them, each
// with its own Predictor of every loaded version (LoadedVersion::predictors[worker]).
//
// With max_batch > 1 a worker that takes a job also takes the jobs queued behind it for the same
// version, waiting up to batch_timeout_us for more, until max_batch samples: one forward pass for
// all of them (dynamic batching). A job always runs on the version it was submitted with, so a
// swap never changes the answer of a request already accepted.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/versioning/serving/served_model.h"

namespace strata::versioning::serving {

struct InferenceResult {
  Tensor output;            // [N, output_shape...]
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

  int workers() const { return static_cast<int>(threads_.size()); }
  // Queues the job; false (nothing queued) when capacity jobs are already waiting.
  bool submit(std::shared_ptr<InferenceJob> job);
  int64_t waiting() const;

 private:
  void worker_loop(int index, int omp_threads);
  std::vector<std::shared_ptr<InferenceJob>> take_batch(std::unique_lock<std::mutex>& lock);
  static void run(int index, std::vector<std::shared_ptr<InferenceJob>>& jobs);

  const int64_t capacity_, max_batch_, batch_timeout_us_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<InferenceJob>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata::versioning::serving
