// RunLog: the one line that attaches a version log and TensorBoard event files to a training
// program (used by every example): --log-dir, --resume, --warm-start, --branch, --message,
// --log-codec, --no-tensorboard.
//
// With a log directory it opens <log_dir> for writing (a second writer gets a clear error),
// restores the trainer from --resume VERSION if given (exact resume), or copies the parameters
// that match by name and shape from --warm-start VERSION into a possibly different network
// (align; a new branch whose first version has VERSION as parent), adds the versioning Recorder and a
// TensorBoard callback writing to <log_dir>/tb/<branch>/, and prints where the log is.
#pragma once

#include <memory>
#include <string>

#include "framework/train/callback.h"
#include "framework/train/trainer.h"

namespace CLI { class App; }

namespace strata {

namespace versioning { class Recorder; class VersionLog; }

struct RunLogOptions {
  std::string log_dir;        // empty: no version log, no event files
  std::string resume;         // version name to continue from
  std::string warm_start;     // version whose matching parameters initialise the network
  std::string branch;         // branch for new commits (default main / auto-named on resume)
  std::string message;        // commit message template ("{epoch}", "{val/accuracy}", ...)
  std::string codec;          // a new log's chunk codec (codec_name); empty: the default
  bool tensorboard = true;
};

void add_run_log_flags(CLI::App& app, RunLogOptions& options);

class RunLog {
 public:
  RunLog(const RunLogOptions& options, Trainer& trainer);
  ~RunLog();
  // Prints the final summary line (branch head, number of versions). fit() has already made
  // every version durable.
  void finish();
  versioning::Recorder* recorder() { return recorder_.get(); }

 private:
  class TensorBoardForwarder;
  RunLogOptions options_;
  std::shared_ptr<versioning::VersionLog> log_;
  std::unique_ptr<versioning::Recorder> recorder_;
  std::unique_ptr<TensorBoardForwarder> tensorboard_;
};

}  // namespace strata
