#include "examples/run_log.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "framework/core/error.h"
#include "framework/summary/tensorboard_callback.h"
#include "versioning/chunk_codec.h"
#include "versioning/recorder.h"
#include "versioning/restore.h"
#include "versioning/version_log.h"

namespace strata {

void add_run_log_flags(CLI::App& app, RunLogOptions& o) {
  app.add_option("--log-dir", o.log_dir, "version log directory (committed at every epoch end)");
  app.add_option("--resume", o.resume, "continue from VERSION (id, prefix, branch, branch@epoch, tag, ~N)");
  app.add_option("--warm-start", o.warm_start,
                 "initialise parameters that match by name and shape from VERSION (the graph may differ)");
  app.add_option("--branch", o.branch, "branch for the new versions");
  app.add_option("--message", o.message, "commit message template, e.g. \"lr sweep {epoch}: {val/accuracy}\"");
  app.add_option("--log-codec", o.codec,
                 "chunk codec of a new log: float-model (default, smallest) or shuffle+zstd (half the writer "
                 "CPU, 8% more disk), zstd, raw")
      ->check(CLI::IsMember(versioning::codec_names()));
  app.add_flag("!--no-tensorboard", o.tensorboard, "do not write TensorBoard event files");
}

// Creates the TensorBoard callback once the recorder has decided the branch (on_fit_begin), so
// the run lands in <log_dir>/tb/<branch>/.
class RunLog::TensorBoardForwarder : public Callback {
 public:
  TensorBoardForwarder(std::string log_dir, versioning::Recorder& recorder)
      : log_dir_(std::move(log_dir)), recorder_(recorder) {}
  void on_fit_begin(const FitBeginInfo& info) override {
    if (!callback_) {
      callback_ = std::make_unique<TensorBoardCallback>(log_dir_ + "/tb/" + recorder_.branch(),
                                                        TensorBoardOptions().train_loss_every_(50));
    }
    callback_->on_fit_begin(info);
  }
  void on_batch_end(const BatchEndInfo& info) override { callback_->on_batch_end(info); }
  void on_epoch_end(EpochEndInfo& info) override { callback_->on_epoch_end(info); }
  void on_fit_end(bool failed) override { callback_->on_fit_end(failed); }

 private:
  std::string log_dir_;
  versioning::Recorder& recorder_;
  std::unique_ptr<TensorBoardCallback> callback_;
};

RunLog::RunLog(const RunLogOptions& options, Trainer& trainer) : options_(options) {
  if (options_.log_dir.empty()) {
    if (!options_.resume.empty() || !options_.warm_start.empty())
      throw_invalid("--resume and --warm-start need --log-dir", "", "pass the log directory the version lives in");
    return;
  }
  if (!options_.resume.empty() && !options_.warm_start.empty())
    throw_invalid("--resume and --warm-start exclude each other", "",
                  "--resume continues a run exactly; --warm-start starts a new one from matching parameters");
  versioning::LogOptions log_options;
  if (!options_.codec.empty()) log_options.set_codec(*versioning::codec_from_name(options_.codec));
  log_ = versioning::VersionLog::open(options_.log_dir, versioning::OpenMode::kReadWrite, log_options);
  // An existing log keeps the codec it was created with: say so rather than ignore the flag.
  if (!options_.codec.empty() && log_->settings().codec != log_options.codec)
    throw_invalid(std::string("--log-codec ") + options_.codec + ": this log was created with codec " +
                      versioning::codec_name(log_->settings().codec),
                  options_.log_dir, "drop --log-codec, or record into a new --log-dir");
  versioning::RecorderOptions ro;
  if (!options_.branch.empty()) ro.set_branch(options_.branch);
  if (!options_.message.empty()) ro.set_message_template(options_.message);
  recorder_ = std::make_unique<versioning::Recorder>(log_, ro);
  std::printf("version log: %s\n", options_.log_dir.c_str());
  if (!options_.resume.empty()) {
    versioning::CommitId id = log_->resolve(options_.resume);
    trainer.load_state(log_->read_state(id));
    recorder_->continue_from(id, options_.branch);
    std::printf("resumed from %s (%s): epoch %lld, step %lld\n", options_.resume.c_str(), log_->describe(id).c_str(),
                static_cast<long long>(trainer.epoch()), static_cast<long long>(trainer.global_step()));
  }
  if (!options_.warm_start.empty()) {
    // Only the parameters: the optimizer, counters and epoch of a warm start begin afresh.
    TrainState state = trainer.state();
    versioning::AlignReport report = versioning::align_state(*log_, options_.warm_start, state);
    trainer.network().load_state_tensors(state.params);
    recorder_->warm_start_from(report.source, options_.branch);
    std::printf("warm start from %s: %zu tensors copied, %zu new, %zu dropped, %zu with another shape\n",
                log_->describe(report.source).c_str(), report.matched.size(), report.added.size(),
                report.dropped.size(), report.mismatched.size());
    for (const std::string& name : report.added) std::printf("  new: %s\n", name.c_str());
    for (const std::string& name : report.mismatched) std::printf("  other shape, fresh: %s\n", name.c_str());
  }
  trainer.add_callback(recorder_.get());
  if (options_.tensorboard) {
    tensorboard_ = std::make_unique<TensorBoardForwarder>(options_.log_dir, *recorder_);
    trainer.add_callback(tensorboard_.get());
  }
}

RunLog::~RunLog() = default;

void RunLog::finish() {
  if (!recorder_) return;
  recorder_->flush();
  auto head = log_->head(recorder_->branch());
  versioning::RecorderTiming t = recorder_->timing();
  std::printf("branch %s now at %s; %d snapshots this run, stall max %.1f ms (%.1f MB staged each)\n",
              recorder_->branch().c_str(), head ? log_->describe(*head).c_str() : "(none)", t.snapshots,
              t.max_stall_ms, t.staged_bytes / 1e6);
  if (options_.tensorboard) std::printf("tensorboard --logdir %s/tb\n", options_.log_dir.c_str());
}

}  // namespace strata
