// DataLoader: seeded shuffling, batching, normalisation, augmentation and prefetching over a
// Dataset, with a position that can be saved and restored.
//
// Determinism (docs/design.md "Determinism contract"): the sample order of epoch e is a Fisher-Yates
// shuffle driven by CounterRng(seed, kShuffle, e), drawing index i for the swap at position i;
// the augmentation of the sample at position p of epoch e uses CounterRng(seed, kAugment, e)
// .block(p) (word 0: flip, words 1 and 2: crop offsets). So every batch is a function of
// (data, options, epoch, batch index) alone: it does not depend on thread count, prefetching,
// or on how the loader got to that position (seek() continues exactly as if never stopped).
//
// Transform, per sample, as torchvision's RandomCrop(padding) -> RandomHorizontalFlip ->
// Normalize: crop an HxW window at a random offset out of the image zero-padded by
// crop_padding on each side, mirror it left-right, then (x - mean[c]) / std[c] per channel
// (dimension 1 of x; for [N,features] data each feature is a channel).
//
// Integer x (i32/i64 token ids, datasets/text.h) is copied row by row as bytes into batches
// of the same dtype; normalisation, crop and flip are for f32 features and images only, and
// asking for them on integer x is refused at construction.
//
// Buffers and lifetime: batches are assembled into three preallocated slots used in turn, so
// steady state allocates nothing. A Batch returned by next() stays valid through the following
// call of next() and is overwritten during the one after (the next-but-one call): the caller
// may keep the previous batch while it uses the current one. Its tensors share the loader's
// buffers (reference-counted, so they stay allocated even after the loader is gone, but their
// content is overwritten as described): clone() them to keep the values longer.
//
// Threads: with prefetch, a background thread assembles batch i+1 while the caller uses batch
// i; start_epoch(), seek() and the destructor wait for it to finish before changing anything.
// Samples of a batch are assembled in parallel with OpenMP (options.threads()); the prefetch
// thread's team competes for cores with the caller's, so keep threads small when training
// uses all cores. The DataLoader itself is not thread-safe: one thread calls its methods. The
// Dataset is shared (its tensors are reference-counted) and only read; do not modify it while
// a loader uses it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/datasets/dataset.h"
#include "strata/framework/core/options.h"
#include "strata/framework/core/tensor.h"
#include "strata/framework/train/batch_source.h"

namespace strata {

// Batch (x, y, size, epoch, index) is framework/train/batch_source.h's: the Trainer reads it.

// The next batch to be produced: batch `batch` (0-based) of epoch `epoch` (1-based).
// {0, 0} means no epoch has started; {e, num_batches()} means epoch e is finished.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

struct DataLoaderOptions {
  STRATA_ARG(int64_t, batch_size) = 64;
  STRATA_ARG(bool, shuffle) = true;     // false for evaluation: samples in dataset order
  STRATA_ARG(bool, drop_last) = false;  // drop a last batch smaller than batch_size
  STRATA_ARG(uint64_t, seed) = 0;
  // Per channel, or one value for all channels; empty = no normalisation. Applied after
  // augmentation, so padding pixels (value 0) become -mean/std as in torchvision.
  STRATA_ARG(std::vector<float>, mean);
  STRATA_ARG(std::vector<float>, std);
  STRATA_ARG(int64_t, crop_padding) = 0;      // 0 = no random crop; needs [N,C,H,W] data
  STRATA_ARG(bool, horizontal_flip) = false;  // random left-right mirror with p = 1/2; needs [N,C,H,W]
  STRATA_ARG(bool, prefetch) = true;          // assemble the next batch on a background thread
  // OpenMP threads assembling a batch. 0 = automatic: the OpenMP default count, used only for
  // batches big enough to pay for a thread team (about 1M floats of work), else one thread.
  STRATA_ARG(int, threads) = 0;

 public:
  DataLoaderOptions& normalize(std::vector<float> m, std::vector<float> s) { return mean(std::move(m)).std(std::move(s)); }
};

// The normalisation of `options` as hyper-parameters {"input/mean", "input/std"} (each "0.286"
// or "m0,m1,m2", exact float round trip; empty without normalisation): recorded with a version
// (Trainer::set_hparam), they let a Predictor take inputs as the dataset stores them.
std::map<std::string, std::string> normalization_hparams(const DataLoaderOptions& options);

class DataLoader : public BatchSource {
 public:
  // Validates data and options (throws kInvalidArgument) and allocates the batch buffers.
  // Keeps a shared (not deep) copy of data.
  DataLoader(const Dataset& data, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const override { return num_batches_; }
  int64_t num_samples() const override { return n_; }
  const DataLoaderOptions& options() const { return options_; }

  // Starts epoch `epoch` (1-based) at batch 0. next() without any start begins epoch 1.
  void start_epoch(int64_t epoch) override;
  void start_epoch_at(int64_t epoch, int64_t batch) override { seek({epoch, batch}); }
  // Fills out with the next batch of the current epoch; false (out untouched) at its end.
  bool next(Batch& out) override;
  // Source, sample count, fingerprint of x and y (computed once, on the first call) and the
  // preprocessing (DataLoaderOptions and Dataset::preprocess).
  std::map<std::string, std::string> provenance() const override;
  std::map<std::string, std::string> input_normalization() const override { return normalization_hparams(options_); }
  int64_t batch_size() const override { return options_.batch_size(); }
  Tensor raw_inputs() const override { return data_.x; }
  LoaderPosition position() const { return {epoch_, batch_}; }
  // Continues from pos exactly as if the loader had got there by next(): the same batches
  // follow. Valid: {0,0}, or epoch >= 1 with 0 <= batch <= num_batches().
  void seek(LoaderPosition pos);
  // The sample permutation of that epoch (the identity without shuffle).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  static constexpr int kSlots = 3;  // returned, previous and being prefetched
  struct Slot {
    Tensor x_full, y_full, x_tail, y_tail;
    Batch batch;
  };
  struct Job {
    int64_t epoch = 0, batch = 0;
    int slot = 0;
  };
  enum class JobState { kIdle, kRequested, kRunning, kDone };

  void assemble(const Job& job);  // writes slots_[job.slot]; reads data_, order_
  void post(const Job& job);
  void wait_posted();  // rethrows the worker's exception, if any
  void cancel();       // discards any posted job, waiting if it is running
  void worker_loop();
  void set_position(int64_t epoch, int64_t batch);  // cancel first

  Dataset data_;
  DataLoaderOptions options_;
  int64_t n_ = 0, num_batches_ = 0, tail_ = 0;
  int64_t channels_ = 1, inner_ = 1, height_ = 0, width_ = 0;
  int64_t x_row_ = 0;  // elements per sample
  int64_t x_row_bytes_ = 0;
  int64_t y_row_bytes_ = 0;
  std::vector<float> mean_c_, std_c_;  // per channel, empty when no normalisation
  bool augment_ = false;

  // Main-thread state.
  int64_t epoch_ = 0, batch_ = 0;
  int64_t order_epoch_ = 0;
  std::vector<int64_t> order_;  // of order_epoch_; read by the worker during a job
  uint64_t ring_ = 0;           // batches handed out so far; slot = ring_ % kSlots
  bool posted_ = false;         // a job is posted and not yet collected
  Job posted_job_;
  Slot slots_[kSlots];

  // Shared with the worker, under mu_.
  std::mutex mu_;
  mutable std::string fingerprint_;  // provenance(): hashed once
  std::condition_variable cv_;
  JobState state_ = JobState::kIdle;
  Job job_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace strata
