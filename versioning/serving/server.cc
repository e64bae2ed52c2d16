// The HTTP side of versioning::Server: Open Inference Protocol v2 routes on cpp-httplib, the
// Prometheus endpoint and the poller that follows the refs (docs/serving.md).
#include "strata/versioning/serving/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"
#include "strata/framework/train/runtime.h"
#include "strata/versioning/serving/internal/inference_queue.h"
#include "strata/versioning/serving/internal/prometheus.h"
#include "strata/versioning/serving/internal/served_model.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

using serving::LoadedVersion;
using serving::MetricFamily;
using serving::ServedModel;
using Kind = serving::MetricFamily::Kind;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Server::Impl {
  explicit Impl(ServerOptions o);

  // Routes
  void install_routes();
  void handle_infer(const httplib::Request& req, httplib::Response& res);
  void handle_metadata(const httplib::Request& req, httplib::Response& res);
  void handle_metrics(httplib::Response& res);
  std::shared_ptr<ServedModel> model_or_404(const std::string& name, httplib::Response& res);
  std::shared_ptr<LoadedVersion> version_or_404(ServedModel& model, const std::string& id, httplib::Response& res);
  void count_request(const std::string& model, const std::string& version, int code);

  // Reloads
  void poll_loop();
  void poll_once(ServedModel& model);
  // With require_signed: why `version` may not be served ("" when it may, or without it).
  std::string signing_refusal(const std::string& version) const;
  std::map<std::string, std::string> untrusted;  // model -> the version refused unsigned (poller only)

  ServerOptions options;
  int workers = 1;
  std::map<std::string, std::shared_ptr<ServedModel>> models;  // by ref; fixed after construction
  std::unique_ptr<serving::InferenceQueue> queue;
  httplib::Server http;
  std::thread listener, poller;
  int bound_port = 0;
  std::atomic<bool> draining{false}, stopped{false};
  bool finished = false;  // guarded by stop_mu: drain_and_stop has returned
  std::atomic<int64_t> in_flight{0};
  std::mutex stop_mu;
  std::condition_variable stop_cv;

  MetricFamily requests{"strata_inference_requests_total", "Inference requests by model, version and HTTP status code.",
                        Kind::kCounter};
  MetricFamily request_seconds{"strata_inference_request_duration_seconds",
                               "Inference request time from the parsed request to the encoded response.", Kind::kHistogram,
                               serving::latency_buckets()};
  MetricFamily compute_seconds{"strata_inference_compute_duration_seconds", "Forward pass time of the network.", Kind::kHistogram,
                               serving::latency_buckets()};
  MetricFamily queue_seconds{"strata_inference_queue_duration_seconds", "Time a request waited for an inference worker.",
                             Kind::kHistogram, serving::latency_buckets()};
  MetricFamily samples{"strata_inference_samples_total", "Samples inferred.", Kind::kCounter};
  MetricFamily in_flight_gauge{"strata_inference_in_flight_requests", "Inference requests being served.", Kind::kGauge};
  MetricFamily loads{"strata_model_loads_total",
                     "Version loads by result: success, failure, refused (input/output signature change), untrusted (not "
                     "signed by a trusted key).",
                     Kind::kCounter};
  MetricFamily load_seconds{"strata_model_load_duration_seconds",
                            "Time to load and warm up a version.",
                            Kind::kHistogram,
                            {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  MetricFamily info{"strata_model_info", "The version each model serves (value 1).", Kind::kGauge};
  MetricFamily build_info{"strata_build_info", "Strata's version (value 1).", Kind::kGauge};
  MetricFamily drift_psi{"strata_drift_psi_max", "The largest PSI of any input feature over the drift window.", Kind::kGauge};
  MetricFamily drift_ratio{"strata_drift_drifted_features_ratio", "Share of input features with PSI >= 0.1.", Kind::kGauge};
};

namespace {

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, serving::error_body(message));
}

json tensor_metadata(const std::string& name, DType dtype, const Shape& sample) {
  std::vector<int64_t> shape{-1};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return {{"name", name}, {"datatype", serving::protocol_datatype(dtype)}, {"shape", shape}};
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  if (options.refs().empty()) throw_invalid("no model to serve", "", "name one or more tags or branches");
  workers = options.threads() > 0 ? options.threads() : std::max(omp_get_num_procs(), 1);
  for (const std::string& file : options.trusted()) read_public_key(file);  // a bad key file fails now, not at a poll
  for (const std::string& ref : options.refs()) {
    if (models.count(ref)) throw_invalid("ref '" + ref + "' named twice");
    // With require_signed the ref is resolved once, so the version checked is the one loaded.
    std::string target = ref;
    if (options.require_signed()) {
      target = to_hex(VersionLog::open(options.log_dir(), OpenMode::kReadOnly)->resolve(ref));
      if (std::string refused = signing_refusal(target); !refused.empty())
        throw Error(ErrorCode::kFailedPrecondition, "will not serve '" + ref + "': " + refused, options.log_dir(),
                    "sign the version (`strata sign`), trust its signer (`strata trust add`), or drop --require-signed");
    }
    const auto start = Clock::now();
    auto version = serving::load_version(options.log_dir(), target, workers);
    load_seconds.observe({{"model", ref}}, seconds_since(start));
    loads.add({{"model", ref}, {"result", "success"}}, 1);
    info.set({{"model", ref}, {"ref", ref}, {"version", version->id}}, 1);
    models[ref] = std::make_shared<ServedModel>(ref, version, options.keep_versions(), options.drift_window());
    models[ref]->set_checked(serving::unix_now());
  }
  build_info.set({{"version", version()}, {"onednn", onednn_version()}}, 1);
  queue =
      std::make_unique<serving::InferenceQueue>(workers, options.max_queue(), options.max_batch(), options.batch_timeout_us());
  install_routes();
}

std::shared_ptr<ServedModel> Server::Impl::model_or_404(const std::string& name, httplib::Response& res) {
  auto it = models.find(name);
  if (it != models.end()) return it->second;
  std::string known;
  for (const auto& [ref, m] : models) known += (known.empty() ? "" : ", ") + ref;
  send_error(res, 404, "unknown model '" + name + "'; this server serves: " + known);
  return nullptr;
}

// A pinned version: loaded or kept already, else loaded from the log on first use (and kept).
std::shared_ptr<LoadedVersion> Server::Impl::version_or_404(ServedModel& model, const std::string& pinned,
                                                            httplib::Response& res) {
  if (pinned.empty()) return model.current();
  std::string id = pinned;
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::string refused = signing_refusal(id); !refused.empty()) {  // kept versions too: a key may be revoked since
    send_error(res, 403, "version " + id + " of model '" + model.ref() + "' is not served: " + refused);
    return nullptr;
  }
  if (auto v = model.find(id)) return v;
  if (id.size() != 32) {
    send_error(res, 404, "unknown version '" + id + "' of model '" + model.ref() + "': give the full 32-digit version id");
    return nullptr;
  }
  try {
    auto v = serving::load_version(options.log_dir(), id, workers);
    if (!(v->signature == model.current()->signature)) {
      send_error(res, 404, "version " + v->name + " has another signature than model '" + model.ref() + "'");
      return nullptr;
    }
    model.keep(v);
    return v;
  } catch (const Error& e) {
    send_error(res, 404, "unknown version '" + id + "' of model '" + model.ref() + "': " + e.what());
    return nullptr;
  }
}

void Server::Impl::count_request(const std::string& model, const std::string& version, int code) {
  requests.add({{"model", model}, {"version", version}, {"code", std::to_string(code)}}, 1);
}

void Server::Impl::handle_infer(const httplib::Request& req, httplib::Response& res) {
  const auto start = Clock::now();
  ++in_flight;
  const std::string name = req.matches[1], pinned = req.matches.size() > 2 ? std::string(req.matches[2]) : "";
  std::string version_id;
  bool known_model = false;
  auto finish = [&] {
    // Names of models this server does not serve are not labels: any client could add series.
    count_request(known_model ? name : "(unknown)", version_id, res.status);
    --in_flight;
  };
  try {
    auto model = model_or_404(name, res);
    known_model = model != nullptr;
    auto version = model ? version_or_404(*model, pinned, res) : nullptr;
    if (!version) return finish();
    version_id = version->id;
    serving::InferRequest request = serving::decode_infer_request(req.body, version->signature, options.max_samples());
    auto job = std::make_shared<serving::InferenceJob>();
    job->version = version;
    job->input = request.input;
    std::optional<serving::InferenceResult> ran = queue->execute(job);
    if (!ran) {
      res.set_header("Retry-After", "1");
      send_error(res, 503,
                 "all " + std::to_string(workers) + " inference slots are busy and " + std::to_string(options.max_queue()) +
                     " requests wait: retry later");
      return finish();
    }
    const serving::InferenceResult& result = *ran;
    if (!result.error.empty()) {
      send_error(res, 500, "inference failed: " + result.error);
      return finish();
    }
    const float* out = result.output.f32();
    if (!std::all_of(out, out + result.output.numel(), [](float v) { return std::isfinite(v); })) {
      send_error(res, 500,
                 "the network's output is not finite (inf or NaN) for these inputs; are they in the range it was trained on?");
      return finish();
    }
    model->record_inputs(request.input);
    res.set_header("X-Strata-Version", version->id);
    send_json(res, 200,
              serving::encode_infer_response(name, version->id, request, version->signature.output_name, result.output));
    const serving::Labels labels{{"model", name}};
    compute_seconds.observe(labels, result.compute_seconds);
    queue_seconds.observe(labels, result.queue_seconds);
    samples.add(labels, static_cast<double>(request.input.dim(0)));
    request_seconds.observe(labels, seconds_since(start));
  } catch (const serving::RequestError& e) {
    send_error(res, e.status, e.message);
  } catch (const std::exception& e) {
    send_error(res, 500, e.what());
  }
  finish();
}

void Server::Impl::handle_metadata(const httplib::Request& req, httplib::Response& res) {
  auto model = model_or_404(req.matches[1], res);
  auto version = model ? version_or_404(*model, req.matches.size() > 2 ? std::string(req.matches[2]) : "", res) : nullptr;
  if (!version) return;
  const serving::Signature& s = version->signature;
  json versions = json::array({model->current()->id});
  send_json(res, 200,
            json{{"name", model->ref()},
                 {"versions", versions},
                 {"platform", "strata"},
                 {"inputs", json::array({tensor_metadata(s.input_name, s.input_dtype, s.input_shape)})},
                 {"outputs", json::array({tensor_metadata(s.output_name, DType::kF32, s.output_shape)})},
                 {"parameters", {{"version", version->id}, {"name", version->name}}}}
                .dump());
}

void Server::Impl::handle_metrics(httplib::Response& res) {
  std::string out;
  in_flight_gauge.set({}, static_cast<double>(in_flight.load()));  // the drain's counter, read at scrape
  for (const auto& [ref, model] : models) {
    const DriftReport d = model->drift();
    if (d.status == "unknown") {
      drift_psi.remove({{"model", ref}});
      drift_ratio.remove({{"model", ref}});
    } else {
      drift_psi.set({{"model", ref}}, d.psi_max);
      drift_ratio.set({{"model", ref}}, d.drifted_share);
    }
  }
  for (const MetricFamily* f : {&requests, &request_seconds, &compute_seconds, &queue_seconds, &samples, &in_flight_gauge, &loads,
                                &load_seconds, &info, &build_info, &drift_psi, &drift_ratio})
    f->write(out);
  serving::write_process_metrics(out);
  res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
}

void Server::Impl::install_routes() {
  // A model name is a ref and may contain '/': routes match it lazily up to the known suffixes.
  const std::string m = "/v2/models/(.+?)", v = "(?:/versions/([0-9a-fA-F]+))?";
  http.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  http.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) { res.status = draining ? 503 : 200; });
  http.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, json{{"name", "strata"}, {"version", version()}, {"extensions", json::array()}}.dump());
  });
  http.Get(m + v + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    auto model = model_or_404(req.matches[1], res);
    if (model && version_or_404(*model, req.matches[2], res)) res.status = draining ? 503 : 200;
  });
  http.Get(m + "/status", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto model = model_or_404(req.matches[1], res)) send_json(res, 200, model->status_json());
  });
  http.Get(m + "/drift", [this](const httplib::Request& req, httplib::Response& res) {
    auto model = model_or_404(req.matches[1], res);
    if (!model) return;
    const DriftReport d = model->drift();
    const DriftThresholds t;
    json features = json::array();
    for (const FeatureDrift& f : d.features)
      features.push_back({{"name", f.name}, {"psi", f.psi}, {"mean_shift_sigma", f.mean_shift_sigma}, {"status", f.status}});
    json body = {{"model", model->ref()},
                 {"version", model->current()->id},
                 {"status", d.status},
                 {"method", "psi"},
                 {"thresholds", {{"warn", t.warn}, {"alert", t.alert}, {"alert_share", t.share}}},
                 {"window", {{"samples", d.window}, {"size", options.drift_window()}}},
                 {"psi_max", d.psi_max},
                 {"drifted_share", d.drifted_share},
                 {"features", features}};
    if (!d.reason.empty()) body["reason"] = d.reason;
    send_json(res, 200, body.dump());
  });
  http.Get(m + v, [this](const httplib::Request& req, httplib::Response& res) { handle_metadata(req, res); });
  http.Post(m + v + "/infer", [this](const httplib::Request& req, httplib::Response& res) { handle_infer(req, res); });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { handle_metrics(res); });
  // Errors httplib answers itself (404 for no route, 413, 400 for a malformed request line)
  // get the protocol's JSON body too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    // httplib caps bodies typed as an HTML form (curl -d's default type) at 8 KiB.
    const bool form = req.get_header_value("Content-Type") == "application/x-www-form-urlencoded";
    const std::string what = res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                             : res.status == 413 && form
                                 ? "a body sent as a form (Content-Type application/x-www-form-urlencoded, curl -d's "
                                   "default) may not exceed 8 KiB: send it with Content-Type: application/json"
                             : res.status == 413 ? "the request body is larger than the server accepts (--max-body-mb)"
                             : res.status == 503 ? "not ready: the server is draining before it stops"
                                                 : "bad request";
    send_error(res, res.status, what);
  });
  // httplib's default also sets SO_REUSEPORT, which would let a second server bind the same port
  // and silently take half of its connections: only SO_REUSEADDR (fast restarts). TCP_NODELAY,
  // which accepted connections inherit: httplib writes headers and body separately, and Nagle's
  // algorithm with the client's delayed ACK would hold the body back 40 ms.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes()));
  // httplib bounds a body by its Content-Length only: a chunked body, or one without a length,
  // would be read whole whatever its size. Refused before it is read.
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST" || (req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Connection", "close");
    send_error(res, 411, "send the body with a Content-Length (no chunked transfer encoding)");
    return httplib::Server::HandlerResponse::Handled;
  });
  const auto seconds = [](double s) {
    return std::make_pair(static_cast<time_t>(s), static_cast<time_t>((s - static_cast<time_t>(s)) * 1e6));
  };
  http.set_read_timeout(seconds(options.io_timeout_s()).first, seconds(options.io_timeout_s()).second);
  http.set_write_timeout(seconds(options.io_timeout_s()).first, seconds(options.io_timeout_s()).second);
  http.set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, options.keep_alive_s())));
  http.set_keep_alive_max_count(1000);
  const int http_threads = std::max(options.http_threads(), 1);
  http.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
}

// One look at a ref: a new target is taken from the kept versions (instant) or loaded and
// warmed up off the request path, checked for the served signature, then swapped in.
void Server::Impl::poll_once(ServedModel& model) {
  std::string id;
  try {
    std::unique_ptr<VersionLog> log = VersionLog::open(options.log_dir(), OpenMode::kReadOnly);
    id = to_hex(log->resolve(model.ref()));
  } catch (const Error& e) {
    model.set_load_error(std::string("cannot resolve the ref: ") + e.what());
    model.set_checked(serving::unix_now());
    return;
  }
  model.set_checked(serving::unix_now());
  const std::shared_ptr<LoadedVersion> current = model.current();
  if (id == current->id) {  // also after the ref moved back from a version that failed
    model.set_load_error("");
    return;
  }
  // Checked at every poll, not remembered as failed: signing the version or trusting its key
  // lets the next poll load it. Counted once per version refused.
  if (std::string refused = signing_refusal(id); !refused.empty()) {
    if (untrusted[model.ref()] != id) loads.add({{"model", model.ref()}, {"result", "untrusted"}}, 1);
    untrusted[model.ref()] = id;
    model.set_load_error("refused " + id + ", still serving " + current->name + ": " + refused);
    return;
  }
  untrusted.erase(model.ref());
  if (id == model.failed_id()) return;  // it failed to load: not again until the ref moves
  std::shared_ptr<LoadedVersion> next = model.find(id);
  const serving::Labels model_label{{"model", model.ref()}};
  if (!next) {
    const auto start = Clock::now();
    try {
      next = serving::load_version(options.log_dir(), id, workers);
      load_seconds.observe(model_label, seconds_since(start));
    } catch (const std::exception& e) {
      loads.add({{"model", model.ref()}, {"result", "failure"}}, 1);
      model.set_load_error(std::string("loading ") + id + " failed, still serving " + current->name + ": " + e.what(), id);
      return;
    }
  }
  if (std::string refused = model.swap(next); !refused.empty()) {
    loads.add({{"model", model.ref()}, {"result", "refused"}}, 1);
    model.set_load_error(refused, id);  // not loaded again until the ref moves
    return;
  }
  loads.add({{"model", model.ref()}, {"result", "success"}}, 1);
  info.remove({{"model", model.ref()}, {"ref", model.ref()}, {"version", current->id}});
  info.set({{"model", model.ref()}, {"ref", model.ref()}, {"version", next->id}}, 1);
}

std::string Server::Impl::signing_refusal(const std::string& version) const {
  if (!options.require_signed()) return "";
  std::unique_ptr<VersionLog> log;
  try {
    log = VersionLog::open(options.log_dir(), OpenMode::kReadOnly);
  } catch (const Error& e) {
    return std::string("its signatures cannot be checked: ") + e.what();
  }
  CommitId id{};
  SignatureCheck c;
  try {
    id = log->resolve(version);
    c = log->check_version(id, log->trust_policy(options.trusted()));
  } catch (const Error& e) {
    return std::string("its signatures cannot be checked: ") + e.what();
  }
  switch (c.status) {
    case SignatureStatus::kTrusted:
      return "";
    case SignatureStatus::kUnsigned:
      return "version " + log->describe(id) + " is not signed";
    case SignatureStatus::kBad:
      return "version " + log->describe(id) + " has a bad signature: " + c.problem;
    default:
      return "version " + log->describe(id) + " is signed by " + c.signer + ", " + signature_status_name(c.status);
  }
}

void Server::Impl::poll_loop() {
  std::unique_lock<std::mutex> lock(stop_mu);
  while (!stopped) {
    stop_cv.wait_for(lock, std::chrono::milliseconds(std::max(options.poll_ms(), 10)));
    if (stopped) break;
    lock.unlock();
    for (auto& [ref, model] : models) poll_once(*model);
    lock.lock();
  }
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() { drain_and_stop(); }

void Server::start() {
  Impl& s = *impl_;
  if (s.listener.joinable()) return;
  s.bound_port = s.options.port() == 0 ? s.http.bind_to_any_port(s.options.host())
                                       : (s.http.bind_to_port(s.options.host(), s.options.port()) ? s.options.port() : -1);
  if (s.bound_port < 0)
    throw Error(ErrorCode::kIOError, "cannot listen on " + s.options.host() + ":" + std::to_string(s.options.port()), "",
                "is another server using the port? pick another with --port");
  s.listener = std::thread([&s] { s.http.listen_after_bind(); });
  // httplib's stop() does nothing until the listener runs: a drain right after start() would
  // otherwise leave it serving for ever.
  for (int i = 0; i < 5000 && !s.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.poller = std::thread([&s] { s.poll_loop(); });
}

int Server::port() const { return impl_->bound_port; }

void Server::drain_and_stop() {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  s.draining = true;
  for (auto& [ref, model] : s.models) model->set_draining(true);
  const auto deadline = Clock::now() + std::chrono::duration<double>(s.options.drain_timeout_s());
  while (s.in_flight > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.stop_cv.notify_all();  // the poller
  s.http.stop();
  if (s.listener.joinable()) s.listener.join();
  if (s.poller.joinable()) s.poller.join();
  s.queue.reset();
  {
    std::lock_guard<std::mutex> lock(s.stop_mu);
    s.finished = true;
  }
  s.stop_cv.notify_all();
}

void Server::wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.stop_mu);
  s.stop_cv.wait(lock, [&] { return s.finished; });
}

}  // namespace strata::versioning
