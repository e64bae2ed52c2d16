#include "strata/versioning/serving/internal/inference_queue.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace strata::versioning::serving {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
}  // namespace

InferenceQueue::InferenceQueue(int workers, int64_t capacity, int64_t max_batch, int64_t batch_timeout_us)
    : slots_(std::max(workers, 1)),
      omp_threads_(std::max(1, std::max(omp_get_num_procs(), 1) / std::max(workers, 1))),
      capacity_(std::max<int64_t>(capacity, 1)),
      max_batch_(std::max<int64_t>(max_batch, 1)),
      batch_timeout_us_(std::max<int64_t>(batch_timeout_us, 0)) {
  if (max_batch_ <= 1) {
    for (int i = slots_ - 1; i >= 0; --i) free_slots_.push_back(i);
    return;
  }
  for (int i = 0; i < slots_; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
}

InferenceQueue::~InferenceQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

std::optional<InferenceResult> InferenceQueue::execute(std::shared_ptr<InferenceJob> job) {
  if (max_batch_ <= 1) return execute_inline(std::move(job));
  std::future<InferenceResult> done = job->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int64_t>(queue_.size()) >= capacity_ || stopping_) return std::nullopt;
    job->queued = Clock::now();
    queue_.push_back(std::move(job));
  }
  // All: a worker filling a batch waits on the same condition and could take the one wake-up
  // meant for an idle worker.
  cv_.notify_all();
  return done.get();
}

std::optional<InferenceResult> InferenceQueue::execute_inline(std::shared_ptr<InferenceJob> job) {
  std::future<InferenceResult> done = job->done.get_future();
  job->queued = Clock::now();
  int slot = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_slots_.empty()) {
      if (waiting_ >= capacity_) return std::nullopt;
      ++waiting_;
      cv_.wait(lock, [&] { return !free_slots_.empty(); });
      --waiting_;
    }
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  omp_set_num_threads(omp_threads_);  // this (HTTP) thread computes: its share of the cores
  std::vector<std::shared_ptr<InferenceJob>> jobs{std::move(job)};
  run(slot, jobs);
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_slots_.push_back(slot);
  }
  cv_.notify_one();
  return done.get();
}

// The first queued job and, with batching, the jobs of the same version behind it.
std::vector<std::shared_ptr<InferenceJob>> InferenceQueue::take_batch(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<InferenceJob>> jobs{std::move(queue_.front())};
  queue_.pop_front();
  int64_t samples = jobs[0]->input.dim(0);
  if (max_batch_ <= 1) return jobs;
  const auto deadline = Clock::now() + std::chrono::microseconds(batch_timeout_us_);
  for (;;) {
    for (auto it = queue_.begin(); it != queue_.end() && samples < max_batch_;) {
      if ((*it)->version == jobs[0]->version && samples + (*it)->input.dim(0) <= max_batch_) {
        samples += (*it)->input.dim(0);
        jobs.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (samples >= max_batch_ || stopping_ || Clock::now() >= deadline) return jobs;
    cv_.wait_until(lock, deadline);
  }
}

void InferenceQueue::worker_loop(int index) {
  omp_set_num_threads(omp_threads_);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every queued job has run
    std::vector<std::shared_ptr<InferenceJob>> jobs = take_batch(lock);
    if (!queue_.empty()) cv_.notify_one();  // jobs of another version, or past max_batch
    lock.unlock();
    run(index, jobs);
    lock.lock();
  }
}

void InferenceQueue::run(int index, std::vector<std::shared_ptr<InferenceJob>>& jobs) {
  const Clock::time_point start = Clock::now();
  Predictor& predictor = *jobs[0]->version->predictors.at(static_cast<size_t>(index));
  std::vector<InferenceResult> results(jobs.size());
  try {
    if (jobs.size() == 1) {
      results[0].output = predictor.predict(jobs[0]->input).clone();
    } else {  // one forward pass over the concatenated inputs, split back per job
      Shape shape = jobs[0]->input.shape();
      shape[0] = 0;
      for (const auto& j : jobs) shape[0] += j->input.dim(0);
      Tensor merged(shape, jobs[0]->input.dtype());
      size_t offset = 0;
      for (const auto& j : jobs) {
        std::memcpy(static_cast<char*>(merged.raw()) + offset, j->input.raw(), j->input.nbytes());
        offset += j->input.nbytes();
      }
      const Tensor& out = predictor.predict(merged);
      const int64_t row = out.numel() / out.dim(0);
      int64_t first = 0;
      for (size_t k = 0; k < jobs.size(); ++k) {
        Shape part = out.shape();
        part[0] = jobs[k]->input.dim(0);
        results[k].output = Tensor(part);
        std::copy_n(out.f32() + first * row, part[0] * row, results[k].output.f32());
        first += part[0];
      }
    }
  } catch (const std::exception& e) {
    for (auto& r : results) r.error = e.what();
  }
  const Clock::time_point end = Clock::now();
  int64_t samples = 0;
  for (const auto& j : jobs) samples += j->input.dim(0);
  for (size_t k = 0; k < jobs.size(); ++k) {
    results[k].queue_seconds = seconds_between(jobs[k]->queued, start);
    results[k].compute_seconds = seconds_between(start, end);
    results[k].batch_samples = samples;
    jobs[k]->done.set_value(std::move(results[k]));
  }
}

}  // namespace strata::versioning::serving
