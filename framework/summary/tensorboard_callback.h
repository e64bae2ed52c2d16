// TensorBoardCallback: the Trainer callback that writes a run's TensorBoard view live
// (docs/design.md "TensorBoard"), plus the functions it is made of, which `strata tensorboard` reuses to
// re-create the same events from the version log.
//
// Steps: a Trainer step is one batch, counted from 1 (BatchEndInfo::global_step is the number
// of steps completed). Scalars and histograms of epoch e are written at the global step at the
// end of epoch e; `loss/train_step` at the batch's global step; the graph and the hparams at
// step 0. A fit starting at global step G writes SessionLog START at G + 1 (the first step it
// will write), or at 0 for a fresh run (G = 0, where it also covers the step-0 records), so a
// run resumed from an older epoch makes TensorBoard drop the abandoned points after it.
//
// Per epoch (write_epoch_events), each present:
//  - every metric of TrainState::metrics as a scalar, tag from metric_tag(): "train/loss" ->
//    "loss/train", "val/accuracy" -> "accuracy/val", "lr", "time/epoch_s",
//    "throughput/samples_per_s", "snapshot/ms", "snapshot/bytes", ...; "snapshot/ms" and
//    "snapshot/bytes" are also taken from the annotations (the recorder callback sets them
//    there) when the metrics lack them, at the step in annotation "<name>_step" when present
//    (the recorder knows a commit's stored bytes one epoch later);
//  - histograms `params/<name>` of every f32 parameter and `grads/<name>` of every gradient;
//  - a text entry `version` naming annotations "version", "branch"@epoch and "message";
//  - a text entry `<tag>` for every annotation "text/<tag>" (callbacks added before this one
//    set them, e.g. a language model's sample).
//
// The callback owns its EventWriter, created at the first on_fit_begin. Not thread-safe; the
// Trainer calls callbacks from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "strata/framework/core/options.h"
#include "strata/framework/summary/event_writer.h"
#include "strata/framework/train/callback.h"

namespace strata {

using TextMap = std::map<std::string, std::string>;

struct TensorBoardOptions {
  STRATA_ARG(bool, histograms) = true;           // params/<name> at every epoch end
  STRATA_ARG(bool, gradient_histograms) = true;  // grads/<name> at every epoch end (with histograms)
  STRATA_ARG(int64_t, train_loss_every) = 0;     // loss/train_step every N global steps; 0 = never
  STRATA_ARG(int64_t, graph_batch_size) = -1;    // batch dimension shown in graph shapes; -1 = unknown
  STRATA_ARG(std::string, hparams_group);        // HParams dashboard group; "" keeps each run apart
  // Extra columns of this run's HParams row that are not hyper-parameters of the versions, e.g.
  // {"forked_from": "1a2b3c4d (main@3)"} (the run API sets it for a new branch).
  STRATA_ARG(TextMap, session_hparams);
};

namespace summary {

// "train/loss" -> "loss/train": a leading "train/", "val/" or "test/" moves to the end, so
// TensorBoard groups train and validation curves of one quantity; other keys are kept.
std::string metric_tag(const std::string& metric_key);

// Hyper-parameters as the hparams plugin wants them: text that parses completely as a finite
// number becomes a number, "true"/"false" a bool, anything else a string.
std::map<std::string, HParamValue> hparam_values(const std::map<std::string, std::string>& text);

// The hparams experiment of runs with these hyper-parameters and metric keys: every
// hyper-parameter with a display name and its type (FLOAT64, BOOL or STRING, from the values
// seen), the values seen as its domain when `with_domains` (a live run has none: other runs have
// other values), and as metrics the training loss and accuracy, every val/* metric and its test/*
// twin (not lr, throughput, time or snapshot tags), with display names and descriptions.
HParamsExperiment make_experiment(const std::map<std::string, std::vector<std::string>>& hparam_values_seen,
                                  const std::vector<std::string>& metric_keys, bool with_domains);

// Where a fit starting after `global_step` completed steps writes its SessionLog START.
int64_t session_start_step(int64_t global_step);

// Beginning of a fit: SessionLog START, the graph (once per graph id per writer) and the
// hparams session start (when there are hparams). `state` may be null (START only).
// Returns true when an hparams session start was written.
// `already`: what earlier processes wrote into this run (a resumed branch; a branch never changes
// its graph): the graph and the hparams session are not written again, so TensorBoard sees one
// graph per run and one session across processes.
struct RunSoFar {
  bool graph = false;
  bool hparams_session = false;
  bool experiment = false;
};
RunSoFar read_run_so_far(const std::string& run_dir);
bool write_run_begin(EventWriter& writer, const TrainState* state, int64_t global_step, const TensorBoardOptions& options,
                     double wall_time, const RunSoFar& already = {});

// The events of one finished epoch (see the header comment), at step state.global_step().
// `gradients` may be null (re-creation from the log has none). Does not flush.
void write_epoch_events(EventWriter& writer, const TrainState& state, const NamedTensors* gradients,
                        const std::map<std::string, std::string>& annotations, const TensorBoardOptions& options,
                        double wall_time);

}  // namespace summary

class TensorBoardCallback : public Callback {
 public:
  // run_dir: the run's directory, by convention <log_dir>/tb/<branch>/; created when needed.
  explicit TensorBoardCallback(std::string run_dir, TensorBoardOptions options = {});

  void on_fit_begin(const FitBeginInfo& info) override;
  void on_batch_end(const BatchEndInfo& info) override;
  void on_epoch_end(EpochEndInfo& info) override;
  void on_fit_end(bool failed) override;
  // Writes the last commit's snapshot/bytes (the recorder sets it once the commit is durable).
  void on_fit_done(std::map<std::string, std::string>& annotations) override;

  const std::string& run_dir() const { return run_dir_; }
  // Path of the event file; empty before the first fit.
  std::string event_file() const { return writer_ ? writer_->path() : std::string(); }

 private:
  summary::EventWriter& writer();

  std::string run_dir_;
  TensorBoardOptions options_;
  std::unique_ptr<summary::EventWriter> writer_;
  bool hparams_open_ = false;  // a session start was written and awaits its end
  bool experiment_written_ = false;
};

}  // namespace strata
