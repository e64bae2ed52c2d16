// Server: serves versions of a log over HTTP with the Open Inference Protocol v2, follows refs
// (tags, branches) with zero-downtime reloads, and exports Prometheus metrics and input drift
// (docs/serving.md). `strata serve` is a thin wrapper over it.
//
//   versioning::Server server(versioning::ServerOptions().log_dir("runs/x").refs({"production"}).port(8080));
//   server.start();          // binds 127.0.0.1:8080 and serves on background threads
//   ...                      // move the tag: the server loads, checks, warms and swaps
//   server.drain_and_stop(); // readiness 503, waits for requests in flight, stops
//
// Each ref is a model named after it; /v2/models/<ref>/versions/<full id> pins one version.
// A reload that fails, whose input/output signature differs from the served one, or (with
// require_signed) that no trusted key signed, keeps the served version and is reported in /v2/models/<ref>/status and the
// metrics. The log is only read: the server has no write endpoints and holds no LMDB handle between polls. LMDB allows one
// environment per process, so in the server's process a writer (a Run, a tag move) cannot open the log during the milliseconds a
// poll has it open read-only: open writers before start(), or retry on kFailedPrecondition ("already open read-only in this
// process").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"

namespace strata::versioning {

struct ServerOptions {
  STRATA_ARG(std::string, log_dir);
  STRATA_ARG(std::vector<std::string>, refs);  // tags or branches, each served as a model
  STRATA_ARG(std::string, host) = "127.0.0.1";
  STRATA_ARG(int, port) = 8080;                    // 0: any free port (Server::port() tells)
  STRATA_ARG(int, poll_ms) = 1000;                 // how often each ref is looked up
  STRATA_ARG(int, threads) = 0;                    // inference slots, one Predictor each; 0: one per core
  STRATA_ARG(int, http_threads) = 32;              // connections served at once (keep-alive holds one)
  STRATA_ARG(int64_t, max_batch) = 1;              // > 1: merge concurrent requests up to this many samples
  STRATA_ARG(int64_t, batch_timeout_us) = 500;     // how long a worker waits to fill a batch
  STRATA_ARG(int64_t, max_queue) = 256;            // requests waiting for a slot; more get 503
  STRATA_ARG(int64_t, max_body_bytes) = 64 << 20;  // larger bodies get 413
  STRATA_ARG(int64_t, max_samples) = 4096;         // samples per request; more get 400
  STRATA_ARG(int, keep_versions) = 3;              // loaded versions kept per model (instant rollback)
  STRATA_ARG(int64_t, drift_window) = 1000;        // recent samples compared with the training inputs
  STRATA_ARG(double, io_timeout_s) = 30;           // read and write timeouts of a connection
  STRATA_ARG(double, keep_alive_s) = 5;            // idle keep-alive connections are closed after it
  STRATA_ARG(double, drain_timeout_s) = 30;        // drain_and_stop waits at most this for requests in flight
  // Serve only versions signed by a trusted key (versioning/signing.h): the keys in `trusted`
  // (public key files), or the log's trust list, read again at every poll, when none are given.
  // A ref moved to another version is refused (the served version stays, the status and the
  // metrics say why); a server whose refs start on such a version does not start.
  STRATA_ARG(bool, require_signed) = false;
  STRATA_ARG(std::vector<std::string>, trusted) = {};
};

class Server {
 public:
  // Loads every ref's version (throws strata::Error when one cannot be served: a server that
  // starts serves every model it was asked for).
  explicit Server(ServerOptions options);
  ~Server();  // drain_and_stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (kIOError when it cannot) and serves on background threads; polls the refs.
  void start();
  int port() const;  // the bound port
  // Readiness goes to 503, requests in flight finish (at most drain_timeout_s), the listener
  // and the poller stop. Idempotent.
  void drain_and_stop();
  // Blocks until the server has stopped.
  void wait();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::versioning
