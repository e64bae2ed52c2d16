#include "examples/run_flags.h"

#include <CLI/CLI.hpp>

#include "strata/versioning/chunk_codec.h"
#include "tools/flag_checks.h"

namespace strata {

void add_run_flags(CLI::App& app, versioning::RunOptions& o) {
  app.add_option("--log-dir", o.log_dir(), "version log directory (committed at every epoch end)");
  app.add_option("--resume", o.resume(), "continue from VERSION (id, prefix, branch, branch@epoch, tag, ~N)");
  app.add_option("--warm-start", o.warm_start(),
                 "initialise parameters that match by name and shape from VERSION (the graph may differ)");
  app.add_option("--branch", o.branch(), "branch for the new versions");
  app.add_option("--message", o.message(), "commit message template, e.g. \"lr sweep {epoch}: {val/accuracy}\"");
  app.add_option("--log-codec", o.codec(),
                 "chunk codec of a new log: float-model (default, smallest) or shuffle+zstd (half the writer "
                 "CPU, 8% more disk), zstd, raw")
      ->check(CLI::IsMember(versioning::codec_names()));
  app.add_option("--snapshot-every", o.snapshot_every_steps(),
                 "also commit a version every N training steps (named BRANCH@EPOCH.STEP; resumable exactly)")
      ->check(flags::at_least(0));
  app.add_option("--snapshot-every-minutes", o.snapshot_every_minutes(),
                 "also commit a version after M minutes of training without one")
      ->check(flags::at_least(0));
  app.add_flag("--strict", o.strict(),
               "refuse to resume under another thread count, oneDNN ISA, Strata or oneDNN version (default: warn)");
  app.add_flag("!--no-tensorboard", o.tensorboard(), "do not write TensorBoard event files");
}

}  // namespace strata
