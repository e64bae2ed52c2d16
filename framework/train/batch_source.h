// BatchSource: what the Trainer reads batches from. datasets/DataLoader implements it; tests
// and users may implement it over any data (framework/ does not depend on datasets/).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/framework/core/tensor.h"

namespace strata {

struct Batch {
  Tensor x;           // [B, ...] f32
  Tensor y;           // i64 [B] class indices, or f32 [B, targets]
  int64_t size = 0;   // B (the last batch of an epoch may be smaller)
  int64_t epoch = 0;  // 1-based epoch it belongs to
  int64_t index = 0;  // 0-based batch index within the epoch
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t num_batches() const = 0;
  virtual int64_t num_samples() const = 0;
  // Samples per batch (the last may hold fewer), recorded as hyper-parameter "batch_size" with
  // every version unless the program sets one; 0: unknown (not recorded).
  virtual int64_t batch_size() const { return 0; }
  // Positions the source at the first batch of this 1-based epoch; the order of an epoch is a
  // pure function of (seed, epoch), so a resumed run sees exactly the batches it would have.
  virtual void start_epoch(int64_t epoch) = 0;
  // Positions the source at batch `batch` of `epoch`, as if `batch` batches had been read (a
  // resume from a mid-epoch snapshot). The default reads and drops them; sources that can seek
  // (DataLoader) override it.
  virtual void start_epoch_at(int64_t epoch, int64_t batch) {
    start_epoch(epoch);
    Batch skipped;
    for (int64_t i = 0; i < batch && next(skipped); ++i) {
    }
  }
  // Fills the next batch; false at the end of the epoch.
  virtual bool next(Batch& out) = 0;
  // Where the data comes from, recorded with every version as environment "data/<role>/<key>":
  // "source" (paths), "samples", "fingerprint" (content_fingerprint of the decoded arrays) and
  // "preprocess" (normalisation, augmentation, shuffling, batch size, subset). Empty: unknown.
  virtual std::map<std::string, std::string> provenance() const { return {}; }
  // The normalisation this source applies to the inputs, as hyper-parameters "input/mean" and
  // "input/std" (datasets/data_loader.h normalization_hparams). The Trainer records those of
  // the training source with every version, so that a Predictor or a server applies the same
  // normalisation to raw inputs. Empty: the source does not normalise.
  virtual std::map<std::string, std::string> input_normalization() const { return {}; }
  // The inputs as the dataset stores them (before normalisation and augmentation), f32
  // [N, ...], from which the Trainer computes the training source's input statistics
  // (framework/metrics/input_stats.h). An undefined tensor: none (drift then reads "unknown").
  virtual Tensor raw_inputs() const { return {}; }
};

}  // namespace strata
