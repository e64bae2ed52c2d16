#include "strata/framework/train/internal/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace strata {

GradientReducer::GradientReducer(Communicator& comm, std::vector<Parameter>& params, const DataParallelOptions& options)
    : comm_(comm), params_(params), capacity_(std::max<size_t>(options.bucket_bytes() / sizeof(float), 1)) {
  if (options.overlap() && comm.allows_other_threads()) worker_ = std::thread([this] { work(); });
}

GradientReducer::~GradientReducer() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void GradientReducer::begin(float weight) {
  weight_ = weight;
  current_ = 0;
  if (buckets_.empty()) buckets_.emplace_back();
  for (Bucket& b : buckets_) {
    b.used = 0;
    b.pieces.clear();
  }
  std::lock_guard<std::mutex> lock(mu_);
  queued_ = done_ = 0;
}

void GradientReducer::ready(size_t first, size_t last) {
  const auto start = std::chrono::steady_clock::now();
  for (size_t k = first; k < last; ++k) {
    Parameter& p = params_[k];
    if (!p.trainable || !p.grad.defined()) continue;
    float* g = p.grad.f32();
    for (size_t off = 0, n = static_cast<size_t>(p.grad.numel()); off < n;) {
      Bucket& b = buckets_[current_];
      if (b.values.size() < capacity_) b.values.resize(capacity_);
      const size_t take = std::min(n - off, capacity_ - b.used);
      for (size_t i = 0; i < take; ++i) b.values[b.used + i] = g[off + i] * weight_;
      b.pieces.push_back({g + off, take});
      b.used += take;
      off += take;
      if (b.used == capacity_) {
        send(current_++);
        if (current_ == buckets_.size()) buckets_.emplace_back();
      }
    }
  }
  blocking_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void GradientReducer::finish() {
  const auto start = std::chrono::steady_clock::now();
  if (buckets_[current_].used > 0) send(current_);
  if (worker_.joinable()) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ == queued_; });
    if (failure_) std::rethrow_exception(failure_);
  }
  blocking_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void GradientReducer::send(size_t bucket) {
  if (!worker_.joinable()) {
    reduce(buckets_[bucket]);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(&buckets_[bucket]);
    ++queued_;
  }
  cv_.notify_all();
}

double GradientReducer::reduce_seconds() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mu_));
  return seconds_;
}

void GradientReducer::reduce(Bucket& b) {
  const auto start = std::chrono::steady_clock::now();
  comm_.allreduce_sum(b.values.data(), b.used);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    seconds_ += took;
  }
  size_t at = 0;
  for (const Piece& p : b.pieces) {
    std::memcpy(p.grad, b.values.data() + at, p.n * sizeof(float));
    at += p.n;
  }
}

void GradientReducer::work() {
  for (;;) {
    Bucket* bucket;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty()) return;
      bucket = queue_.front();
      queue_.pop_front();
    }
    std::exception_ptr failure;
    if (!failure_) {  // after a failure the rest is skipped: finish() reports the first
      try {
        reduce(*bucket);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (failure) failure_ = failure;
      ++done_;
    }
    cv_.notify_all();
  }
}

}  // namespace strata
