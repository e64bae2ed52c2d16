// Recorder: the Trainer callback that commits a version at the end of every epoch
// (docs/design.md "Asynchrony", "Resume").
//
// on_epoch_end copies the TrainState into a staging buffer (reused across epochs), hashes it to
// get the version's id at once, and hands the encoding and the LMDB transaction to one writer
// thread; training goes on immediately. A snapshot waits only if the previous one is still being
// written. on_fit_end (and flush) wait until the last commit is durable and rethrow a writer
// error. By default the writer stores chunks raw and on_fit_end compresses them once training is
// over (RecorderCompression); a run killed before that leaves them raw and queued, and the next
// run's fit end (or `strata compact`) compresses them.
//
// Annotations it sets (TensorBoardCallback reads them, so add it after the recorder): "version"
// (first 8 hex digits), "version_full", "branch", "message", "snapshot/ms" (this snapshot's
// stall); from the second snapshot on also "snapshot/bytes", the bytes the previous commit
// stored, known only once it is durable, with "snapshot/bytes_step", that commit's global step.
//
// Branches, decided before training starts (so branch() names the TensorBoard run folder): a
// fresh Recorder commits on options.branch(), or, when that branch already exists, on the first
// free "<branch>-<n>" (n = 2, 3, ...) rather than pretending to continue unrelated history;
// continue_from / warm_start_from decide it again.
//
// Ownership: shares the VersionLog (which must be open for writing). Thread-safety: the callback
// methods are called from the training thread; timing() and last_commit() may be called from any
// thread.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "strata/framework/core/options.h"
#include "strata/framework/train/callback.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

// When the writer compresses what it commits (recording must not take CPU from training).
enum class RecorderCompression {
  // Raw while training runs; compressed with the log's codec when fit() returns
  // (VersionLog::compact_pending, CompactTier::kFull), on every core: the smallest log as soon as
  // fit() returns, for ~4% of an MLP run's time (docs/benchmarks.md).
  kAtFitEnd,
  // The writer thread compresses each version while the next epoch trains.
  kInline,
  // Raw until `strata compact` (or a later run's fit end, or compact_pending) compresses them.
  kManual,
  // Chunks go to the log raw while training runs (the cost of a raw write); when fit() returns
  // they are compressed with a quick codec (CompactTier::kFast: ~0.82 of raw, ~1% of an MLP
  // run's time), and the log's codec (~0.75) follows at `strata compact` or `strata gc`
  // (CompactTier::kFull), off the training run's path. With a log codec other than the float
  // model, the same as kAtFitEnd (those codecs are quick already).
  kTiered,  // the default (last only to keep the others' values)
};

struct RecorderOptions {
  STRATA_ARG(std::string, branch) = "main";
  // Placeholders: {epoch}, {step}, {branch}, and any metric ({val/accuracy}, 4 significant
  // digits), counter or hyper-parameter by name; unknown ones print "?". Empty: "epoch N: " and
  // the loss / val_loss / val_acc the epoch has.
  STRATA_ARG(std::string, message_template);
  STRATA_ARG(std::string, author);  // empty: $USER@hostname
  STRATA_ARG(bool, include_optim) = true;
  // The writer thread encodes while training runs. Training already uses every core, so more
  // writer threads only oversubscribe them (an OpenMP team stalls at each barrier when one of
  // its threads is preempted): one thread, at a lower priority (nice, Linux: per thread), costs
  // training least. Not lower than 5: at 10 the writer fell an epoch behind when a commit had
  // extra work (decoding delta bases), and training then waits for it. Raise writer_threads
  // when cores are idle during training.
  STRATA_ARG(int, writer_threads) = 1;
  STRATA_ARG(int, writer_nice) = 5;
  STRATA_ARG(RecorderCompression, compression) = RecorderCompression::kTiered;
};

struct RecorderTiming {
  int snapshots = 0;
  double last_stall_ms = 0, max_stall_ms = 0, total_stall_ms = 0;  // time on_epoch_end blocked training
  double last_wait_ms = 0;                                         // part of the stall spent waiting for the previous snapshot
  double last_encode_s = 0, last_write_s = 0;                      // the writer's time for the last durable commit
  double last_writer_cpu_s = 0;  // the writer thread's CPU time for it (helper threads not counted)
  uint64_t staged_bytes = 0;     // bytes copied per snapshot
  CommitStats last_stats;
  CompactReport compaction;  // the fit-end compaction (kTiered, kAtFitEnd)
};

class Recorder : public Callback {
 public:
  Recorder(std::shared_ptr<VersionLog> log, RecorderOptions options = {});
  ~Recorder() override;  // finishes the pending commit; errors are reported by flush/on_fit_end only
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Resume from `id`: if it is the head of its branch (and no new_branch is given), later commits
  // continue that branch; otherwise they go on a new branch (new_branch, or the first free
  // "<branch>-<n>", n = 2, 3, ...) whose first commit has `id` as parent.
  void continue_from(const CommitId& id, const std::string& new_branch = {});
  // Warm start / align: the first commit goes on a new branch with `source` as parent, although
  // the graph may differ (new_branch empty: "<branch>-warm-<shortid>").
  void warm_start_from(const CommitId& source, const std::string& new_branch = {});

  void on_fit_begin(const FitBeginInfo& info) override;
  void on_epoch_end(EpochEndInfo& info) override;
  // A mid-epoch version (TrainerOptions::snapshot_every_steps), committed as an epoch's is.
  void on_mid_epoch_snapshot(EpochEndInfo& info) override;
  void on_fit_end(bool failed) override;
  // "snapshot/bytes" (and "snapshot/bytes_step") of the run's last commit, durable by now.
  void on_fit_done(std::map<std::string, std::string>& annotations) override;

  // Blocks until every snapshot handed over so far is durable; rethrows the writer's error.
  void flush();

  const std::string& branch() const { return branch_; }
  std::optional<CommitId> last_commit() const;
  RecorderTiming timing() const;
  VersionLog& log() { return *log_; }

 private:
  void writer_loop();
  void wait_idle(std::unique_lock<std::mutex>& lock);
  std::string format_message(const TrainState& state) const;
  std::string free_branch_name(const std::string& wanted) const;
  // A user-chosen name for a new branch: valid and not taken (kAlreadyExists otherwise).
  std::string checked_new_branch(const std::string& name) const;
  void stage(const TrainState& state);

  std::shared_ptr<VersionLog> log_;
  RecorderOptions options_;
  std::string branch_;
  std::optional<CommitId> parent_;
  int64_t last_snapshot_step_ = 0;  // the global step of the previous snapshot

  TrainState staging_;  // deep copies; tensors reused across epochs

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<PreparedCommit> pending_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::optional<CommitId> last_commit_;
  RecorderTiming timing_;
  std::thread writer_;
};

}  // namespace strata::versioning
