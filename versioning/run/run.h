// Run: the one call that attaches a version log and TensorBoard event files to a Trainer
// (docs/design.md "Library, run API and deployment").
//
//   Trainer trainer(net, TrainerOptions().seed(1));
//   versioning::Run run(trainer, versioning::RunOptions().log_dir("runs/x").resume(argv[1]));
//   trainer.fit(train, &test, 10);
//   run.finish();  // or let the destructor wait for the last commit
//
// The constructor, in this order: opens <log_dir> for writing (created when missing; a second
// writer gets kFailedPrecondition; a new log takes options.codec()), then
//  - resume VERSION: restores the trainer's whole state from it (bit-exact). The run continues
//    VERSION's branch when VERSION is its head, else goes on a new branch (options.branch(), or the
//    first free "<branch>-<n>") whose first version has VERSION as parent;
//  - warm_start VERSION: copies the parameters that match by name and shape into a possibly
//    changed network (align) and starts a new branch whose first version has VERSION as parent;
//  - neither: a fresh run on options.branch ("main"), or the first free "<branch>-<n>" when that
//    branch exists;
// and adds the recorder (a version at every epoch end) and a TensorBoardCallback writing to
// <log_dir>/tb/<branch>/, the branch being decided before any callback runs.
// With an empty log_dir it attaches nothing (resume / warm_start are then an error).
//
// Ownership: the Trainer must outlive the Run; the Run removes its callbacks from the trainer
// when destroyed. Not thread-safe: use it from the thread that drives the Trainer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "strata/framework/core/options.h"
#include "strata/framework/summary/tensorboard_callback.h"
#include "strata/framework/train/trainer.h"
#include "strata/versioning/ids.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/restore.h"

namespace strata::versioning {

struct RunOptions {
  STRATA_ARG(std::string, log_dir);     // empty: no version log, no event files
  STRATA_ARG(std::string, resume);      // version to continue from exactly (any VersionLog name)
  STRATA_ARG(std::string, warm_start);  // version whose matching parameters initialise the network
  STRATA_ARG(std::string, branch);      // branch for the new versions ("" : main / automatic)
  // Commit message template ("{epoch}", "{val/accuracy}", ...; RecorderOptions::message_template).
  STRATA_ARG(std::string, message);
  STRATA_ARG(std::string, codec);  // a new log's chunk codec (codec_names()); "": float-model
  // When versions are compressed (RecorderCompression): raw during training, quickly when fit()
  // returns and fully at `strata compact` / `strata gc` (the default); fully when fit() returns;
  // or by the writer thread while training runs.
  STRATA_ARG(RecorderCompression, compression) = RecorderCompression::kTiered;
  // Mid-epoch versions (branch@E.S): every N steps and/or every M minutes; 0 leaves the
  // trainer's own TrainerOptions::snapshot_every_steps / _minutes.
  STRATA_ARG(int64_t, snapshot_every_steps) = 0;
  STRATA_ARG(double, snapshot_every_minutes) = 0;
  // Resuming under another thread count, oneDNN ISA, Strata or oneDNN version than the version was
  // made with prints a warning naming the difference (exact resume does not hold across it);
  // strict refuses instead (kFailedPrecondition).
  STRATA_ARG(bool, strict) = false;
  // The secret key (versioning/signing.h) that signs every version of the run; empty:
  // $STRATA_SIGNING_KEY when set, else versions are unsigned.
  STRATA_ARG(std::string, signing_key);
  STRATA_ARG(bool, tensorboard) = true;
  STRATA_ARG(TensorBoardOptions, tensorboard_options) = TensorBoardOptions().train_loss_every(50);
  STRATA_ARG(bool, verbose) = true;  // print where the log is, what was resumed, the summary
};

class Run {
 public:
  Run(Trainer& trainer, RunOptions options);
  // Waits for the last commit (as finish() does, without its summary); a writer error is then
  // printed to stderr, since a destructor cannot throw: call finish() to get it as an Error.
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Blocks until every version is durable (rethrows a writer error) and, when verbose, prints
  // the branch head and the TensorBoard command. fit() has already made its versions durable.
  void finish();

  bool has_log() const { return log_ != nullptr; }
  // The branch the versions go on ("" without a log).
  const std::string& branch() const;
  // <log_dir>/tb/<branch> ("" without a log or with tensorboard off).
  std::string tensorboard_dir() const;
  // The log and its recorder; null without a log.
  VersionLog* log() { return log_.get(); }
  Recorder* recorder() { return recorder_.get(); }
  // The version resumed or warm-started from, and what the warm start matched.
  const std::optional<CommitId>& source() const { return source_; }
  const std::optional<AlignReport>& warm_start_report() const { return warm_start_report_; }

 private:
  Trainer& trainer_;
  RunOptions options_;
  std::shared_ptr<VersionLog> log_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<TensorBoardCallback> tensorboard_;
  std::optional<CommitId> source_;
  std::optional<AlignReport> warm_start_report_;
  bool finished_ = false;
  int uncaught_at_start_ = 0;  // std::uncaught_exceptions() when constructed
};

}  // namespace strata::versioning
