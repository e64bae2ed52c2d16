// The command-line flags of the examples' version log, bound to versioning::RunOptions with
// CLI11: --log-dir, --resume, --warm-start, --branch, --message, --log-codec, --snapshot-every,
// --snapshot-every-minutes, --no-tensorboard.
// Everything else (opening the log, resuming, TensorBoard) is the library's versioning::Run.
// adopt_resumed_hparams gives a resumed run its recorded hyper-parameters as flag defaults.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "strata/framework/core/number_text.h"  // exact_text: record numbers adopt_resumed_hparams reads
#include "strata/versioning/run/run.h"

namespace CLI {
class App;
}

namespace strata {

void add_run_flags(CLI::App& app, versioning::RunOptions& options);

// With --resume: each flag of `flag_to_hparam` (e.g. {"--lr", "lr"}) that the command line did
// not give takes the value the resumed version recorded under that hyper-parameter, through
// the flag's own parsing and checks, so `--resume main` goes on as the run was started. Says on
// stderr what it took. Call after parsing; a version it cannot read is left to the Run to report.
void adopt_resumed_hparams(CLI::App& app, const versioning::RunOptions& options,
                           const std::vector<std::pair<std::string, std::string>>& flag_to_hparam);

}  // namespace strata
