// strata serve: versioning::Server on the command line, until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <memory>

#include "strata/framework/core/error.h"
#include "strata/versioning/serving/server.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

int cmd_serve(const GlobalOptions& g, versioning::ServerOptions options) {
  if (g.log_dir.empty()) throw_invalid("no log directory", "", "pass --log DIR or set STRATA_LOG");
  options.log_dir(g.log_dir);
  // SIGTERM and SIGINT are taken by sigwait below, never by a handler.
  sigset_t stop_signals = block_stop_signals();
  versioning::Server server(options);
  server.start();
  std::string refs;
  for (const std::string& r : options.refs()) refs += (refs.empty() ? "" : " ") + r;
  std::fprintf(stderr, "serving %s from %s on http://%s:%d (Open Inference Protocol v2; metrics at /metrics)\n", refs.c_str(),
               g.log_dir.c_str(), options.host().c_str(), server.port());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "%s: draining (readiness 503), then stopping; a second signal stops at once\n",
               signal == SIGTERM ? "SIGTERM" : "SIGINT");
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // this thread now takes them: default action
  server.drain_and_stop();
  std::fprintf(stderr, "stopped\n");
  return 0;
}

// The command line of `serve` (tools/verbs/verbs.h).
namespace {

Verb serve_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    versioning::ServerOptions options;
    std::vector<std::string> refs;
    int max_body_mb = 64;
  };
  auto a = std::make_shared<Args>();
  versioning::ServerOptions& s = a->options;
  CLI::App* c = app.add_subcommand("serve", "serve tags or branches over HTTP (Open Inference Protocol v2, Prometheus /metrics)");
  c->add_option("REF", a->refs, "tags or branches, each served as a model named after it")->required();
  c->add_option("--host", s.host(), "address to listen on (default 127.0.0.1: this machine only)");
  c->add_option("--port", s.port(), "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  c->add_option("--poll-ms", s.poll_ms(), "how often each ref is looked up for a new version")->check(CLI::Range(10, 3600000));
  c->add_option("--threads", s.threads(), "inference slots, one Predictor each (default: one per core)")
      ->check(CLI::Range(1, 256));
  c->add_option("--http-threads", s.http_threads(), "connections served at once")->check(CLI::Range(1, 1024));
  c->add_option("--max-batch", s.max_batch(), "dynamic batching: merge concurrent requests up to N samples (1: off)")
      ->check(CLI::Range(1, 4096));
  c->add_option("--batch-timeout-us", s.batch_timeout_us(), "dynamic batching: wait at most this for a batch to fill")
      ->check(CLI::Range(0, 1000000));
  c->add_option("--max-queue", s.max_queue(), "requests waiting for a slot; more are answered 503")
      ->check(CLI::Range(1, 1 << 20));
  c->add_option("--max-body-mb", a->max_body_mb, "larger request bodies are answered 413")->check(CLI::Range(1, 4096));
  c->add_option("--keep-versions", s.keep_versions(), "loaded versions kept per model for an instant rollback")
      ->check(CLI::Range(1, 100));
  c->add_option("--drift-window", s.drift_window(), "recent samples compared with the training inputs")
      ->check(CLI::Range(10, 1000000));
  c->add_flag("--require-signed", s.require_signed(),
              "serve only versions signed by a trusted key (the log's trust list, or --trusted)");
  c->add_option("--trusted", s.trusted(), "with --require-signed: trust these public keys (FILE.pub) instead");
  auto check = [a] {
    if (!a->options.trusted().empty() && !a->options.require_signed())
      throw CLI::ValidationError("--trusted", "goes with --require-signed");
  };
  return {c, check, [&g, a] { return cmd_serve(g, a->options.refs(a->refs).max_body_bytes(int64_t{a->max_body_mb} << 20)); }};
}

const VerbRegistration kServe(220, serve_verb);

}  // namespace
}  // namespace strata::tools
