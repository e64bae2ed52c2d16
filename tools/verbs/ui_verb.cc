// strata ui: the web view of a log (tools/web/web_view.h), until SIGTERM or SIGINT.
#include <signal.h>

#include <memory>

#include "tools/verbs/verbs.h"
#include "tools/web/web_view.h"

namespace strata::tools {

int cmd_ui(const GlobalOptions& g, WebViewOptions options) {
  if (g.log_dir.empty()) throw Error(ErrorCode::kInvalidArgument, "no version log given", "", "pass --log DIR or set STRATA_LOG");
  options.log_dir = g.log_dir;
  sigset_t stop_signals = block_stop_signals();  // taken by sigwait below
  WebView view(options);
  view.start();
  // On stderr, as `strata serve` says where it listens.
  fmt::print(stderr, "strata ui: {} on http://{}:{}/ (Ctrl-C stops)\n", g.log_dir, options.host, view.port());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  view.stop();
  return 0;
}

// The command line of this verb (tools/verbs/verbs.h).
namespace {

Verb ui_verb(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<WebViewOptions>();
  CLI::App* c = app.add_subcommand("ui", "a read-only web view of the log: history, versions, compare, diff, curves");
  c->add_option("--host", o->host, "address to listen on (default 127.0.0.1: this machine only)");
  c->add_option("--port", o->port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  return {c, nullptr, [&g, o] { return cmd_ui(g, *o); }};
}

const VerbRegistration kUi(225, ui_verb);

}  // namespace
}  // namespace strata::tools
