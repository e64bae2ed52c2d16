#include "strata/datasets/data_loader.h"

#include <cstdio>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"

namespace strata {
namespace {

std::vector<float> per_channel(const std::vector<float>& v, int64_t channels, float fallback, const char* name,
                               const std::string& where) {
  if (v.empty()) return std::vector<float>(static_cast<size_t>(channels), fallback);
  if (v.size() == 1) return std::vector<float>(static_cast<size_t>(channels), v[0]);
  if (static_cast<int64_t>(v.size()) != channels)
    throw_invalid(std::string("normalisation ") + name + " has " + std::to_string(v.size()) + " values for " +
                      std::to_string(channels) + " channels",
                  where, "give one value per channel (dimension 1 of x) or a single value");
  return v;
}

}  // namespace

std::map<std::string, std::string> normalization_hparams(const DataLoaderOptions& options) {
  if (options.mean().empty() && options.std().empty()) return {};
  auto join = [](const std::vector<float>& v, float fallback) {
    if (v.empty()) return std::to_string(fallback);
    std::string out;
    for (float x : v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(x));
      out += (out.empty() ? "" : ",") + std::string(buf);
    }
    return out;
  };
  return {{"input/mean", join(options.mean(), 0.0f)}, {"input/std", join(options.std(), 1.0f)}};
}

DataLoader::DataLoader(const Dataset& data, DataLoaderOptions options) : data_(data), options_(std::move(options)) {
  const std::string& where = data_.source;
  data_.validate();
  n_ = data_.size();
  if (n_ == 0) throw_invalid("the dataset is empty", where);
  const int64_t bs = options_.batch_size();
  if (bs < 1) throw_invalid("batch_size must be >= 1, got " + std::to_string(bs), where);
  if (options_.threads() < 0)
    throw_invalid("threads must be >= 0 (0 = OpenMP default), got " + std::to_string(options_.threads()), where);
  if (options_.crop_padding() < 0)
    throw_invalid("crop_padding must be >= 0, got " + std::to_string(options_.crop_padding()), where);
  if (options_.drop_last() && n_ < bs)
    throw_invalid("drop_last with batch_size " + std::to_string(bs) + " > " + std::to_string(n_) + " samples leaves no batch",
                  where, "use a smaller batch or drop_last = false");
  num_batches_ = options_.drop_last() ? n_ / bs : (n_ + bs - 1) / bs;
  tail_ = options_.drop_last() ? 0 : n_ % bs;

  const Shape& xs = data_.x.shape();
  x_row_ = data_.x.numel() / n_;
  x_row_bytes_ = row_bytes(data_.x);
  y_row_bytes_ = row_bytes(data_.y);
  channels_ = xs.size() >= 2 ? xs[1] : 1;
  inner_ = channels_ > 0 ? x_row_ / channels_ : 0;
  augment_ = options_.crop_padding() > 0 || options_.horizontal_flip();
  if (data_.x.dtype() != DType::kF32) {
    // Token ids are symbols, not magnitudes: scaling or shifting them is meaningless.
    const std::string what =
        std::string("x holds integer token ids (") + dtype_name(data_.x.dtype()) + " " + shape_str(xs) + "): ";
    const char* hint = "these options are for f32 features and images only; leave them unset";
    if (!options_.mean().empty() || !options_.std().empty())
      throw_invalid(what + "normalisation (mean/std) is not supported", where, hint);
    if (options_.crop_padding() > 0)
      throw_invalid(what + "random crop (crop_padding " + std::to_string(options_.crop_padding()) + ") is not supported", where,
                    hint);
    if (options_.horizontal_flip()) throw_invalid(what + "horizontal_flip is not supported", where, hint);
  }
  if (augment_) {
    if (xs.size() != 4) throw_invalid("random crop and flip need images [N,C,H,W], got x " + shape_str(xs), where);
    height_ = xs[2];
    width_ = xs[3];
  }
  if (!options_.mean().empty() || !options_.std().empty()) {
    mean_c_ = per_channel(options_.mean(), channels_, 0.0f, "mean", where);
    std_c_ = per_channel(options_.std(), channels_, 1.0f, "std", where);
    for (float s : std_c_)
      if (!(s > 0.0f) || !std::isfinite(s))
        throw_invalid("normalisation std must be positive and finite, got " + std::to_string(s), where);
    for (float m : mean_c_)
      if (!std::isfinite(m)) throw_invalid("normalisation mean must be finite", where);
  }

  // Buffers: full-size batches only if there is one, a tail buffer only if the last is short.
  Shape x_shape = xs, y_shape = data_.y.shape();
  for (Slot& s : slots_) {
    if (n_ / bs > 0) {
      x_shape[0] = y_shape[0] = bs;
      s.x_full = Tensor(x_shape, data_.x.dtype());
      s.y_full = Tensor(y_shape, data_.y.dtype());
    }
    if (tail_ > 0) {
      x_shape[0] = y_shape[0] = tail_;
      s.x_tail = Tensor(x_shape, data_.x.dtype());
      s.y_tail = Tensor(y_shape, data_.y.dtype());
    }
  }
  if (options_.prefetch()) worker_ = std::thread([this] { worker_loop(); });
}

DataLoader::~DataLoader() {
  cancel();
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
}

std::map<std::string, std::string> DataLoader::provenance() const {
  if (fingerprint_.empty()) fingerprint_ = content_fingerprint({data_.x, data_.y});
  auto floats = [](const std::vector<float>& v) {
    std::string out;
    char buf[32];
    for (float f : v) {
      std::snprintf(buf, sizeof buf, "%s%g", out.empty() ? "" : ",", static_cast<double>(f));
      out += buf;
    }
    return out;
  };
  std::string how = data_.preprocess;
  auto add = [&](const std::string& part) { how += (how.empty() ? "" : "; ") + part; };
  if (!options_.mean().empty()) add("normalize mean " + floats(options_.mean()) + " std " + floats(options_.std()));
  if (options_.crop_padding() > 0) add("random crop, padding " + std::to_string(options_.crop_padding()));
  if (options_.horizontal_flip()) add("random horizontal flip");
  add(options_.shuffle() ? "shuffled, seed " + std::to_string(options_.seed()) : "in order");
  add("batch " + std::to_string(options_.batch_size()) + (options_.drop_last() ? ", last partial batch dropped" : ""));
  return {{"source", data_.source}, {"samples", std::to_string(n_)}, {"fingerprint", fingerprint_}, {"preprocess", how}};
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (epoch < 1) throw_invalid("epoch " + std::to_string(epoch) + " is not valid; epochs count from 1", data_.source);
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!options_.shuffle()) return order;
  // Fisher-Yates from the back; the draw for position i is index i of the epoch's stream,
  // so the permutation is a pure function of (seed, epoch, n).
  const CounterRng rng(options_.seed(), RngPurpose::kShuffle, static_cast<uint64_t>(epoch));
  for (int64_t i = n_ - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i), static_cast<uint64_t>(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

void DataLoader::start_epoch(int64_t epoch) {
  if (epoch < 1) throw_invalid("epoch " + std::to_string(epoch) + " is not valid; epochs count from 1", data_.source);
  seek({epoch, 0});
}

void DataLoader::seek(LoaderPosition pos) {
  const bool initial = pos.epoch == 0 && pos.batch == 0;
  if (!initial && (pos.epoch < 1 || pos.batch < 0 || pos.batch > num_batches_))
    throw_invalid("loader position (epoch " + std::to_string(pos.epoch) + ", batch " + std::to_string(pos.batch) +
                      ") is not valid for " + std::to_string(num_batches_) + " batches per epoch",
                  data_.source,
                  "epoch >= 1 and 0 <= batch <= num_batches(); was the batch size or data "
                  "changed since the position was saved?");
  cancel();
  set_position(pos.epoch, pos.batch);
  // Start on the first batch right away: it is ready, or nearly, when next() asks for it.
  if (options_.prefetch() && epoch_ >= 1 && batch_ < num_batches_) post({epoch_, batch_, static_cast<int>(ring_ % kSlots)});
}

void DataLoader::set_position(int64_t epoch, int64_t batch) {
  epoch_ = epoch;
  batch_ = batch;
  if (epoch >= 1 && order_epoch_ != epoch) {
    order_ = epoch_order(epoch);
    order_epoch_ = epoch;
  }
}

bool DataLoader::next(Batch& out) {
  if (epoch_ == 0) start_epoch(1);
  if (batch_ >= num_batches_) return false;
  const Job job{epoch_, batch_, static_cast<int>(ring_ % kSlots)};
  if (posted_) {
    // Every position change cancels, so a posted job is always the batch due now.
    STRATA_CHECK(posted_job_.epoch == job.epoch && posted_job_.batch == job.batch && posted_job_.slot == job.slot);
    wait_posted();
  } else {
    assemble(job);
  }
  out = slots_[job.slot].batch;
  ++ring_;
  ++batch_;
  // The slot for the next batch held the batch of two calls ago: free under the lifetime rule.
  if (options_.prefetch() && batch_ < num_batches_) post({epoch_, batch_, static_cast<int>(ring_ % kSlots)});
  return true;
}

void DataLoader::assemble(const Job& job) {
  STRATA_CHECK(order_epoch_ == job.epoch && job.batch < num_batches_);
  Slot& slot = slots_[job.slot];
  const bool short_batch = tail_ > 0 && job.batch == num_batches_ - 1;
  const int64_t b = short_batch ? tail_ : options_.batch_size();
  Tensor& x = short_batch ? slot.x_tail : slot.x_full;
  Tensor& y = short_batch ? slot.y_tail : slot.y_full;
  const int64_t first = job.batch * options_.batch_size();
  const int64_t* order = order_.data();
  // Bytes: integer x takes only the plain-copy path below (the constructor refuses
  // transforms on it); the float pointers are used only when there is a transform.
  const uint8_t* src_x = static_cast<const uint8_t*>(data_.x.raw());
  const uint8_t* src_y = static_cast<const uint8_t*>(data_.y.raw());
  uint8_t* dst_x = static_cast<uint8_t*>(x.raw());
  uint8_t* dst_y = static_cast<uint8_t*>(y.raw());
  const CounterRng aug(options_.seed(), RngPurpose::kAugment, static_cast<uint64_t>(job.epoch));
  const bool normalize = !mean_c_.empty();
  const int64_t pad = options_.crop_padding(), h = height_, w = width_;
  // A thread team pays off only for heavy batches: a 128-sample Fashion-MNIST batch is ~30 us
  // of copying on one core, less than waking a team costs when the cores are busy with
  // training (measured: 2 threads were 10x slower than 1 on a loaded 2-core machine). So the
  // automatic setting (threads = 0) forks only above kParallelFloats; an explicit count is
  // obeyed. Either way each sample is computed by exactly one thread from the same inputs, so
  // the bits do not depend on the choice.
  constexpr int64_t kParallelFloats = int64_t{1} << 20;
#ifdef _OPENMP
  const int threads = options_.threads() > 0 ? options_.threads() : omp_get_max_threads();
#else
  const int threads = 1;
#endif
  [[maybe_unused]] const bool parallel =
      threads > 1 && (options_.threads() > 0 || b * x_row_ * (augment_ ? 4 : 1) >= kParallelFloats);

#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
  for (int64_t k = 0; k < b; ++k) {
    const int64_t pos = first + k;  // position in the epoch: keys the augmentation draw
    const int64_t sample = order[pos];
    std::memcpy(dst_y + k * y_row_bytes_, src_y + sample * y_row_bytes_, static_cast<size_t>(y_row_bytes_));
    if (!augment_ && !normalize) {
      std::memcpy(dst_x + k * x_row_bytes_, src_x + sample * x_row_bytes_, static_cast<size_t>(x_row_bytes_));
      continue;
    }
    // The constructor refuses normalisation and augmentation of integer x, so this is f32.
    STRATA_CHECK(data_.x.dtype() == DType::kF32);
    const float* s = reinterpret_cast<const float*>(src_x) + sample * x_row_;
    float* d = reinterpret_cast<float*>(dst_x) + k * x_row_;
    if (!augment_) {
      for (int64_t c = 0; c < channels_; ++c) {
        const float m = mean_c_[c], sd = std_c_[c];
        const float* sc = s + c * inner_;
        float* dc = d + c * inner_;
        for (int64_t i = 0; i < inner_; ++i) dc[i] = (sc[i] - m) / sd;
      }
      continue;
    }
    // Offsets dy, dx in [0, 2*pad] into the padded image; pad, pad is the centre (no shift).
    const std::array<uint32_t, 4> r = aug.block(static_cast<uint64_t>(pos));
    const bool flip = options_.horizontal_flip() && (r[0] >> 31) != 0;
    const int64_t dy = pad > 0 ? static_cast<int64_t>(r[1] % static_cast<uint32_t>(2 * pad + 1)) : 0;
    const int64_t dx = pad > 0 ? static_cast<int64_t>(r[2] % static_cast<uint32_t>(2 * pad + 1)) : 0;
    for (int64_t c = 0; c < channels_; ++c) {
      const float m = normalize ? mean_c_[c] : 0.0f, sd = normalize ? std_c_[c] : 1.0f;
      const float* sc = s + c * inner_;
      float* dc = d + c * inner_;
      for (int64_t i = 0; i < h; ++i) {
        const int64_t si = i + dy - pad;
        const bool row_in = si >= 0 && si < h;
        for (int64_t j = 0; j < w; ++j) {
          // Crop first, then mirror the cropped window (torchvision's order).
          const int64_t sj = (flip ? w - 1 - j : j) + dx - pad;
          const float v = row_in && sj >= 0 && sj < w ? sc[si * w + sj] : 0.0f;
          dc[i * w + j] = normalize ? (v - m) / sd : v;
        }
      }
    }
  }
  slot.batch.x = x;
  slot.batch.y = y;
  slot.batch.size = b;
  slot.batch.epoch = job.epoch;
  slot.batch.index = job.batch;
}

void DataLoader::post(const Job& job) {
  STRATA_CHECK(!posted_ && worker_.joinable());
  {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_CHECK(state_ == JobState::kIdle);
    job_ = job;
    state_ = JobState::kRequested;
  }
  cv_.notify_all();
  posted_ = true;
  posted_job_ = job;
}

void DataLoader::wait_posted() {
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return state_ == JobState::kDone; });
    state_ = JobState::kIdle;
    std::swap(error, error_);
  }
  posted_ = false;
  if (error) std::rethrow_exception(error);
}

void DataLoader::cancel() {
  if (!posted_) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Not yet taken: withdraw it. Taken: it writes a slot the caller may not be using
    // and reads order_, so wait until it is done before anything changes.
    if (state_ != JobState::kRequested) cv_.wait(lock, [this] { return state_ == JobState::kDone; });
    state_ = JobState::kIdle;
    error_ = nullptr;
  }
  posted_ = false;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || state_ == JobState::kRequested; });
    if (stop_) return;
    state_ = JobState::kRunning;
    const Job job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      assemble(job);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    state_ = JobState::kDone;
    cv_.notify_all();
  }
}

}  // namespace strata
