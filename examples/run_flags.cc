#include "examples/run_flags.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/version_log.h"
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

namespace {

// The hyper-parameters of the version --resume names; empty when it cannot be read (the Run
// then says why).
std::map<std::string, std::string> resumed_hparams(const versioning::RunOptions& o) {
  try {
    auto log = versioning::VersionLog::open(o.log_dir(), versioning::OpenMode::kReadOnly);
    return log->read_record(log->resolve(o.resume())).hparams;
  } catch (const Error&) {
    return {};
  }
}

}  // namespace

void adopt_resumed_hparams(CLI::App& app, const versioning::RunOptions& options,
                           const std::vector<std::pair<std::string, std::string>>& flag_to_hparam) {
  if (options.resume().empty()) return;
  const std::map<std::string, std::string> saved = resumed_hparams(options);
  std::string taken;
  for (const auto& [flag, key] : flag_to_hparam) {
    CLI::Option* option = app.get_option(flag);
    const auto value = saved.find(key);
    if (option->count() > 0 || value == saved.end()) continue;  // given, or not recorded
    try {
      option->clear();
      option->add_result(value->second);
      option->run_callback();
      taken += " " + flag + " " + value->second;
    } catch (const CLI::Error& e) {
      option->clear();  // the default stays: nothing of the refused value
      std::fprintf(stderr, "note: %s keeps its default: the recorded '%s' does not fit here (%s)\n", flag.c_str(),
                   value->second.c_str(), e.what());
    }
  }
  if (!taken.empty()) std::fprintf(stderr, "resuming %s with its recorded%s\n", options.resume().c_str(), taken.c_str());
}

}  // namespace strata
