// strata serve: versioning::Server on the command line, until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>

#include "strata/framework/core/error.h"
#include "strata/versioning/server.h"
#include "tools/verbs.h"

namespace strata::tools {

int cmd_serve(const GlobalOptions& g, versioning::ServerOptions options) {
  if (g.log_dir.empty()) throw_invalid("no log directory", "", "pass --log DIR or set STRATA_LOG");
  options.log_dir(g.log_dir);
  // A client that hangs up mid-response must not end the process (send() reports EPIPE instead).
  ::signal(SIGPIPE, SIG_IGN);
  // SIGTERM and SIGINT are taken by sigwait below, never by a handler: blocked here, before the
  // server's threads start, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  versioning::Server server(options);
  server.start();
  std::string refs;
  for (const std::string& r : options.refs()) refs += (refs.empty() ? "" : " ") + r;
  std::fprintf(stderr, "serving %s from %s on http://%s:%d (Open Inference Protocol v2; metrics at /metrics)\n",
               refs.c_str(), g.log_dir.c_str(), options.host().c_str(), server.port());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "%s: draining (readiness 503), then stopping; a second signal stops at once\n",
               signal == SIGTERM ? "SIGTERM" : "SIGINT");
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // this thread now takes them: default action
  server.drain_and_stop();
  std::fprintf(stderr, "stopped\n");
  return 0;
}

}  // namespace strata::tools
