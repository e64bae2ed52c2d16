// The command-line flags of the examples' version log, bound to versioning::RunOptions with
// CLI11: --log-dir, --resume, --warm-start, --branch, --message, --log-codec, --snapshot-every,
// --snapshot-every-minutes, --no-tensorboard.
// Everything else (opening the log, resuming, TensorBoard) is the library's versioning::Run.
#pragma once

#include "strata/versioning/run.h"

namespace CLI { class App; }

namespace strata {

void add_run_flags(CLI::App& app, versioning::RunOptions& options);

}  // namespace strata
