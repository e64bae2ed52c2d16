// strata: the command line of the version log (docs/design.md "The version log", docs/cli.md).
//
// Every verb takes --log DIR (or $STRATA_LOG) and --json for machine output with stable field
// names (docs/cli.md). Reading verbs open the log read-only, so they work while a
// training process writes; verbs that change refs or chunks take the writer lock.
// Exit codes: 0 success, 1 bad input or a failed check (message "error: ..." on stderr),
// 2 usage errors reported by CLI11.
//
// The verbs register themselves (tools/verbs/verbs.h); this file parses and dispatches.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <utility>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/framework/train/runtime.h"
#include "tools/flag_checks.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {
namespace {

// Function-local, so that registrations from other files' static initialisers find it built.
std::vector<std::pair<int, VerbFactory>>& registry() {
  static std::vector<std::pair<int, VerbFactory>> verbs;
  return verbs;
}

int run(int argc, char** argv) {
  CLI::App app{"strata: inspect and manage a Strata version log"};
  app.set_version_flag("--version", std::string("strata ") + version() + " (oneDNN " + onednn_version() + ")");
  app.require_subcommand(1);
  app.fallthrough();  // --log / --json may follow the verb
  GlobalOptions g;
  app.add_option("--log", g.log_dir, "version log directory")->envname("STRATA_LOG");
  app.add_flag("--json", g.json, "machine-readable JSON output");
  const std::vector<Verb> verbs = add_registered_verbs(app, g);

  if (int code = flags::parse(app, argc, argv); code >= 0) return code;
  const auto named = std::find_if(verbs.begin(), verbs.end(), [](const Verb& v) { return v.command->parsed(); });
  if (named == verbs.end()) return 2;  // require_subcommand(1) makes this unreachable
  try {
    if (named->check) named->check();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return named->run();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

VerbRegistration::VerbRegistration(int order, VerbFactory factory) { registry().emplace_back(order, factory); }

std::vector<Verb> add_registered_verbs(CLI::App& app, const GlobalOptions& g) {
  std::vector<std::pair<int, VerbFactory>> ordered = registry();
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Verb> verbs;
  for (const auto& [order, factory] : ordered) verbs.push_back(factory(app, g));
  return verbs;
}

}  // namespace strata::tools

int main(int argc, char** argv) { return strata::tools::run(argc, argv); }
