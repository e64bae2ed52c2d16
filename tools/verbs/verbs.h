// The verbs of `strata`. Each file here adds its own subcommands, options and actions through a
// static VerbRegistration, so adding a verb touches one file; tools/strata.cc only parses the
// command line and runs the verb that was named.
//
//   history_verbs.cc  log, show, diff, compare           (read-only)
//   question_verbs.cc log --tensor, check                (read-only)
//   ref_verbs.cc      branch, tag, merge, merge-base     (take the writer lock when they change refs)
//   storage_verbs.cc  verify, gc, compact, du, export, import, tensorboard
//   predict_verb.cc   predict, quantize
//   transfer_verbs.cc clone, push, pull, remote, upload-pack, receive-pack
//   serve_verb.cc     serve (versioning/serving/server.h)
//
// An action returns the process exit code; bad input throws strata::Error, which main turns
// into "error: ..." on stderr and exit 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/versioning/version_log.h"
#include "tools/cli_output.h"

namespace strata::tools {

// One verb: its subcommand, a check of the parsed flags beyond what CLI11 expresses (throws
// CLI::ValidationError: a usage error, exit 2), and the action. The flags' values live in the
// closures, which share them through a shared_ptr.
struct Verb {
  CLI::App* command = nullptr;
  std::function<void()> check;  // may be empty
  std::function<int()> run;
};

// Adds one verb's subcommand and options to `app`. `g` (--log, --json) outlives the verb.
using VerbFactory = Verb (*)(CLI::App& app, const GlobalOptions& g);

// A static object of this type in a verb's file registers the verb; `order` is its place in
// `strata --help`.
struct VerbRegistration {
  VerbRegistration(int order, VerbFactory factory);
};

// Every registered verb, added to `app` in order.
std::vector<Verb> add_registered_verbs(CLI::App& app, const GlobalOptions& g);

// Turns a strata::Error thrown while reading a flag's value into a usage error naming the flag.
template <typename F>
auto as_usage_error(const std::string& flag, F&& parse) {
  try {
    return parse();
  } catch (const Error& e) {
    throw CLI::ValidationError(flag, e.what());
  }
}

// Whether a verb that signs has a key: --sign-key FILE, or a non-empty $STRATA_SIGNING_KEY.
inline bool signing_key_given(const std::string& flag) {
  const char* env = std::getenv("STRATA_SIGNING_KEY");
  return !flag.empty() || (env && *env);
}

// The branch a verb shows without a REF: main, or the only branch there is; nullopt without
// branches; kInvalidArgument with `hint` when several branches exist and none is main.
std::optional<std::string> default_branch(const versioning::VersionLog& log, const GlobalOptions& g, const std::string& hint);

// The reading verbs that `strata ui` (tools/web/) also answers its JSON API with, through
// GlobalOptions::json_out: one code path for both.
//
// `strata log --regressions --metric M --threshold T`: marks versions whose metric got worse
// than their first parent's by more than T (a drop where higher is better, else a rise).
struct RegressionQuery {
  std::string metric;
  double threshold = 0;
};
int cmd_log(const GlobalOptions& g, const std::string& ref, bool all, bool graph,
            const std::optional<RegressionQuery>& regressions);                           // history_verbs.cc
int cmd_show(const GlobalOptions& g, const std::string& name, bool tensors, bool graph);  // history_verbs.cc
int cmd_diff(const GlobalOptions& g, const std::string& a_name, const std::string& b_name, double eps, size_t top);
int cmd_compare(const GlobalOptions& g, const std::vector<std::string>& names, const std::vector<std::string>& patterns);
// `strata log --tensor NAME [REF]` (question_verbs.cc): how one tensor moved along the
// first-parent history.
int cmd_log_tensor(const GlobalOptions& g, const std::string& ref, const std::string& tensor);

}  // namespace strata::tools
