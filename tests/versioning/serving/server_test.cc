// versioning::Server over real HTTP (cpp-httplib's client on 127.0.0.1): the Open Inference
// Protocol endpoints and every error code, bit-equality with Predictor, a hot swap under load,
// a failed reload and a refused signature change keeping the served version, drift on
// Fashion-MNIST, and the metrics. Every request loop is bounded in count and time.
#include "strata/versioning/serving/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/run/run.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/shuffled_source.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using nlohmann::json;
using vtest::TempDir;
using Clock = std::chrono::steady_clock;

bool have_fashion_mnist() {
  return std::ifstream(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz").good() ||
         std::ifstream(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte").good();
}

// One log for the whole suite: an MLP trained 2 epochs on 2000 Fashion-MNIST images with the
// DataLoader normalising (so the versions record it themselves), tagged v1 = main@1 and
// production = main@1; a branch "tiny" whose version has another signature; a branch "broken"
// whose graph names an op nobody registered.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion_mnist()) return;
    dir_ = new TempDir();
    auto loader = DataLoaderOptions().batch_size(100).seed(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
    DataLoader train(load_fashion_mnist(kFashionMnistDir, true, 2000), loader);
    Network net(models::mlp({1, 28, 28}, {784, 32, 10}));
    Trainer trainer(net, TrainerOptions().seed(1).progress(Progress::kQuiet).optimizer(OptimizerOptions().kind("adam").lr(1e-3)));
    {
      versioning::Run run(trainer, RunOptions().log_dir(dir_->path()).tensorboard(false));
      trainer.fit(train, nullptr, 2);
    }
    auto log = VersionLog::open(dir_->path(), OpenMode::kReadWrite);
    v1_ = to_hex(log->resolve("main@1"));
    v2_ = to_hex(log->resolve("main@2"));
    log->set_tag("v1", log->resolve("main@1"));
    log->set_tag("production", log->resolve("main@1"));
    TrainState tiny = vtest::synthetic_state(1);
    SnapshotRequest r;
    r.branch = "tiny";
    r.state = &tiny;
    tiny_ = to_hex(log->commit(r).id);
    TrainState broken = vtest::synthetic_state(1, 9);
    broken.graph.nodes[1].op = "NoSuchOp";
    r.branch = "broken";
    r.state = &broken;
    broken_ = to_hex(log->commit(r).id);
    test_images_ = new Tensor(load_fashion_mnist(kFashionMnistDir, false).x);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete test_images_;
  }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  }

  // Moves a tag as `strata tag -f` would. The server runs in this process, and LMDB allows one
  // environment per process: while its poller has the log open read-only (a few milliseconds
  // every poll), opening for writing is refused, so try again (bounded).
  static void move_tag(const std::string& name, const std::string& id) {
    for (auto end = Clock::now() + std::chrono::seconds(10);;) {
      try {
        auto log = VersionLog::open(dir_->path(), OpenMode::kReadWrite);
        log->set_tag(name, *digest_from_hex(id), true);
        return;
      } catch (const strata::Error& e) {
        if (e.code() != ErrorCode::kFailedPrecondition || Clock::now() > end) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  static ServerOptions options() {
    return ServerOptions().log_dir(dir_->path()).refs({"production"}).port(0).poll_ms(20).threads(2);
  }
  // Samples [first, first + n) of the test images, optionally inverted (1 - x), as a request.
  static Tensor images(int64_t first, int64_t n, bool inverted = false) {
    Tensor x({n, 1, 28, 28});
    std::copy_n(test_images_->f32() + first * 784, n * 784, x.f32());
    if (inverted)
      for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = 1.0f - x.f32()[i];
    return x;
  }
  static std::string infer_body(const Tensor& x, const std::string& id = "") {
    json in = {{"name", "input"},
               {"shape", x.shape()},
               {"datatype", "FP32"},
               {"data", std::vector<float>(x.f32(), x.f32() + x.numel())}};
    json body = {{"inputs", json::array({in})}};
    if (!id.empty()) body["id"] = id;
    return body.dump();
  }
  // Blocks (bounded) until the model's status says it serves `id`.
  static json wait_for_version(httplib::Client& c, const std::string& id, const std::string& model = "production") {
    json status;
    for (auto end = Clock::now() + std::chrono::seconds(20); Clock::now() < end;) {
      auto r = c.Get("/v2/models/" + model + "/status");
      if (r && r->status == 200 && (status = json::parse(r->body))["version"] == id) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the server did not swap to " << id << "; status: " << status.dump();
    return status;
  }
  // Blocks (bounded) until the status reports a load error.
  static json wait_for_error(httplib::Client& c) {
    json status;
    for (auto end = Clock::now() + std::chrono::seconds(20); Clock::now() < end;) {
      auto r = c.Get("/v2/models/production/status");
      if (r && (status = json::parse(r->body))["last_load_error"].is_string()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no load error reported; status: " << status.dump();
    return status;
  }
  static std::vector<float> output_data(const std::string& body) {
    return json::parse(body)["outputs"][0]["data"].get<std::vector<float>>();
  }

  static TempDir* dir_;
  static Tensor* test_images_;
  static std::string v1_, v2_, tiny_, broken_;
};
TempDir* ServerTest::dir_ = nullptr;
Tensor* ServerTest::test_images_ = nullptr;
std::string ServerTest::v1_, ServerTest::v2_, ServerTest::tiny_, ServerTest::broken_;

TEST_F(ServerTest, SpeaksTheOpenInferenceProtocol) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  EXPECT_EQ(c.Get("/v2/health/live")->status, 200);
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/production/ready")->status, 200);
  EXPECT_EQ(json::parse(c.Get("/v2")->body)["name"], "strata");

  const json meta = json::parse(c.Get("/v2/models/production")->body);
  EXPECT_EQ(meta["name"], "production");
  EXPECT_EQ(meta["versions"], json::array({v1_}));
  EXPECT_EQ(meta["inputs"][0], (json{{"name", "input"}, {"datatype", "FP32"}, {"shape", {-1, 1, 28, 28}}}));
  EXPECT_EQ(meta["outputs"][0]["shape"], (json{-1, 10}));
  const std::string output_name = meta["outputs"][0]["name"];

  // id echo, the full version id in the body and the header, one row per sample.
  auto r = c.Post("/v2/models/production/infer", infer_body(images(0, 3), "req-7"), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  const json out = json::parse(r->body);
  EXPECT_EQ(out["id"], "req-7");
  EXPECT_EQ(out["model_name"], "production");
  EXPECT_EQ(out["model_version"], v1_);
  EXPECT_EQ(r->get_header_value("X-Strata-Version"), v1_);
  EXPECT_EQ(out["outputs"][0]["shape"], (json{3, 10}));
  EXPECT_EQ(out["outputs"][0]["datatype"], "FP32");
  EXPECT_FALSE(
      json::parse(c.Post("/v2/models/production/infer", infer_body(images(0, 1)), "application/json")->body).contains("id"));

  // Nested data and an "outputs" filter naming the output give the same answer.
  const Tensor x = images(0, 3);
  json nested = json::array();
  for (int64_t i = 0; i < 3; ++i) {
    json rows = json::array();
    for (int64_t h = 0; h < 28; ++h)
      rows.push_back(std::vector<float>(x.f32() + i * 784 + h * 28, x.f32() + i * 784 + h * 28 + 28));
    nested.push_back(json::array({rows}));
  }
  json body = {{"inputs", {{{"name", "input"}, {"shape", {3, 1, 28, 28}}, {"datatype", "FP32"}, {"data", nested}}}},
               {"outputs", {{{"name", output_name}}}}};
  auto rn = c.Post("/v2/models/production/infer", body.dump(), "application/json");
  ASSERT_EQ(rn->status, 200) << rn->body;
  EXPECT_EQ(output_data(rn->body), output_data(r->body));

  // A pinned version, by its full id.
  auto pinned = c.Post("/v2/models/production/versions/" + v2_ + "/infer", infer_body(images(0, 3)), "application/json");
  ASSERT_EQ(pinned->status, 200) << pinned->body;
  EXPECT_EQ(json::parse(pinned->body)["model_version"], v2_);
  EXPECT_NE(output_data(pinned->body), output_data(r->body));
  EXPECT_EQ(c.Get("/v2/models/production/versions/" + v2_ + "/ready")->status, 200);
}

TEST_F(ServerTest, AnswersEveryErrorWithItsCodeAndAMessage) {
  move_tag("production", v1_);
  Server server(options().max_body_bytes(200000));
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  auto expect = [&](const std::string& path, const std::string& body, int status, const std::vector<std::string>& parts) {
    auto r = c.Post(path, body, "application/json");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status) << body.substr(0, 200) << " -> " << r->body;
    const std::string message = json::parse(r->body)["error"];
    for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
  };
  const std::string infer = "/v2/models/production/infer";
  expect(infer, "{\"inputs\": [", 400, {"not valid JSON"});
  expect(infer, "[1,2]", 400, {"JSON object"});
  expect(infer, "{}", 400, {"\"inputs\""});
  auto with = [](const json& in) { return json{{"inputs", json::array({in})}}.dump(); };
  const std::vector<float> one(784, 0.5f);
  expect(infer, with({{"name", "input"}, {"shape", {1, 784}}, {"datatype", "FP32"}, {"data", one}}), 400,
         {"[1,784]", "[N,1,28,28]"});
  expect(infer, with({{"name", "input"}, {"shape", {1, 1, 28, 28}}, {"datatype", "INT64"}, {"data", one}}), 400,
         {"INT64", "FP32"});
  expect(infer, with({{"name", "pixels"}, {"shape", {1, 1, 28, 28}}, {"datatype", "FP32"}, {"data", one}}), 400,
         {"pixels", "input"});
  expect(infer, with({{"name", "input"}, {"shape", {2, 1, 28, 28}}, {"datatype", "FP32"}, {"data", one}}), 400,
         {"784 elements", "1568"});
  expect(infer, with({{"name", "input"}, {"shape", {1, 1, 28, 28}}, {"datatype", "FP32"}, {"data", json::array({"a"})}}), 400,
         {});
  json bad_value = {{"name", "input"}, {"shape", {1, 1, 28, 28}}, {"datatype", "FP32"}, {"data", one}};
  bad_value["data"][5] = "x";
  expect(infer, with(bad_value), 400, {"element 5"});
  json good = {{"inputs", {{{"name", "input"}, {"shape", {1, 1, 28, 28}}, {"datatype", "FP32"}, {"data", one}}}},
               {"outputs", {{{"name", "logits_nope"}}}}};
  expect(infer, good.dump(), 400, {"logits_nope"});
  expect("/v2/models/nope/infer", with(bad_value), 404, {"nope", "production"});
  expect("/v2/models/production/versions/0123456789abcdef0123456789abcdef/infer", with(bad_value), 404, {"unknown version"});
  expect("/v2/models/production/versions/" + tiny_ + "/infer", with(bad_value), 404, {"signature"});
  expect(infer, std::string(300000, ' '), 413, {"larger"});
  // Inputs far outside the training range overflow the network: 500, never inf/NaN in a 200.
  const std::vector<float> huge(784, 3e38f);
  expect(infer, with({{"name", "input"}, {"shape", {1, 1, 28, 28}}, {"datatype", "FP32"}, {"data", huge}}), 500, {"not finite"});
  // Requests for models this server does not serve share one metrics label.
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("model=\"(unknown)\""), std::string::npos);
  EXPECT_EQ(metrics.find("model=\"nope\""), std::string::npos);
  EXPECT_EQ(c.Get("/v2/models/nope")->status, 404);
  EXPECT_EQ(c.Get("/no/such/path")->status, 404);
  EXPECT_NE(json::parse(c.Get("/no/such/path")->body)["error"].get<std::string>().find("/no/such/path"), std::string::npos);
  // No write endpoints: a DELETE or PUT has no route.
  EXPECT_EQ(c.Delete("/v2/models/production")->status, 404);
}

// One worker and room for one waiting request: 8 clients sending at once soon find it full.
TEST_F(ServerTest, AnswersBusyWith503AndRetryAfterWhenTheQueueIsFull) {
  move_tag("production", v1_);
  Server server(options().threads(1).max_queue(1));
  server.start();
  const std::string body = infer_body(images(0, 4));
  std::atomic<int> ok{0}, busy{0}, other{0};
  const auto end = Clock::now() + std::chrono::seconds(20);
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", server.port());
      for (int i = 0; i < 3000 && Clock::now() < end && !(busy > 0 && ok > 8); ++i) {
        auto r = c.Post("/v2/models/production/infer", body, "application/json");
        if (r && r->status == 200)
          ++ok;
        else if (r && r->status == 503 && r->get_header_value("Retry-After") == "1")
          ++busy;
        else
          ++other;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_GT(ok, 0);
  EXPECT_GT(busy, 0);
  EXPECT_EQ(other, 0);
}

TEST_F(ServerTest, OutputsAreBitEqualToPredictor) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  Predictor predictor(dir_->path(), v1_);
  // Each of the server's 2 workers computes with cores / 2 OpenMP threads; oneDNN's results
  // depend on the thread count, so the reference uses the same.
  omp_set_num_threads(std::max(omp_get_num_procs() / 2, 1));
  for (int64_t n : {1, 7, 64}) {
    const Tensor x = images(100, n);
    const Tensor want = predictor.predict(x).clone();
    auto r = c.Post("/v2/models/production/infer", infer_body(x), "application/json");
    ASSERT_EQ(r->status, 200);
    const std::vector<float> got = output_data(r->body);
    ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel());
    EXPECT_EQ(std::memcmp(got.data(), want.f32(), got.size() * sizeof(float)), 0) << "batch " << n;
  }
  omp_set_num_threads(omp_get_num_procs());
}

// 8 clients keep sending while the tag flips between two versions: every answer is 200 and is
// what the version it names computes (within float rounding: with dynamic batching a sample
// may share a forward pass with others), and the status ends on the last target.
TEST_F(ServerTest, FollowsTheTagWithoutDroppingARequest) {
  move_tag("production", v1_);
  Server server(options().max_batch(8));
  server.start();
  const Tensor x = images(200, 2);
  Predictor p1(dir_->path(), v1_), p2(dir_->path(), v2_);
  const Tensor want1 = p1.predict(x).clone(), want2 = p2.predict(x).clone();
  const std::string body = infer_body(x);
  std::atomic<bool> stop{false};
  std::atomic<int> answers{0}, failures{0}, mismatches{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", server.port());
      for (int i = 0; i < 2000 && !stop; ++i) {
        auto r = c.Post("/v2/models/production/infer", body, "application/json");
        if (!r || r->status != 200) {
          ++failures;
          continue;
        }
        ++answers;
        const json out = json::parse(r->body);
        const Tensor& want = out["model_version"] == v1_ ? want1 : want2;
        const std::vector<float> got = out["outputs"][0]["data"].get<std::vector<float>>();
        for (int64_t k = 0; k < want.numel(); ++k)
          if (std::fabs(got[static_cast<size_t>(k)] - want.f32()[k]) > 1e-4f * (1 + std::fabs(want.f32()[k]))) {
            ++mismatches;
            break;
          }
      }
    });
  httplib::Client c("127.0.0.1", server.port());
  for (int flip = 0; flip < 6; ++flip) {
    const std::string& target = flip % 2 == 0 ? v2_ : v1_;
    move_tag("production", target);
    wait_for_version(c, target);
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(answers, 0);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(mismatches, 0);
  const json status = json::parse(c.Get("/v2/models/production/status")->body);
  EXPECT_EQ(status["version"], v1_);
  EXPECT_EQ(status["previous_version"], v2_);
  EXPECT_TRUE(status["last_load_error"].is_null());
  // 7 successful loads: the start and 6 flips. Only the start and the first flip read the log;
  // the other flips swap in a kept version (status load_seconds would tell).
  auto metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("strata_model_loads_total{model=\"production\",result=\"success\"} 7"), std::string::npos) << metrics;
}

TEST_F(ServerTest, AFailedReloadKeepsServingTheOldVersion) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  move_tag("production", broken_);
  json status = wait_for_error(c);
  EXPECT_EQ(status["version"], v1_);
  EXPECT_EQ(status["state"], "available");
  EXPECT_NE(status["last_load_error"].get<std::string>().find("NoSuchOp"), std::string::npos) << status.dump();
  EXPECT_EQ(c.Get("/v2/models/production/ready")->status, 200);
  auto r = c.Post("/v2/models/production/infer", infer_body(images(0, 1)), "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Strata-Version"), v1_);
  EXPECT_NE(c.Get("/metrics")->body.find("strata_model_loads_total{model=\"production\",result=\"failure\"}"), std::string::npos);
  // Fixing the tag recovers without a restart.
  move_tag("production", v2_);
  status = wait_for_version(c, v2_);
  EXPECT_TRUE(status["last_load_error"].is_null());
}

TEST_F(ServerTest, RefusesAVersionWithAnotherSignature) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  move_tag("production", tiny_);
  const json status = wait_for_error(c);
  EXPECT_EQ(status["version"], v1_);
  const std::string error = status["last_load_error"];
  EXPECT_NE(error.find("[-1,3]"), std::string::npos) << error;
  EXPECT_NE(error.find("[-1,1,28,28]"), std::string::npos) << error;
  EXPECT_NE(c.Get("/metrics")->body.find("strata_model_loads_total{model=\"production\",result=\"refused\"}"), std::string::npos);
  EXPECT_EQ(c.Post("/v2/models/production/infer", infer_body(images(0, 1)), "application/json")->status, 200);
}

TEST_F(ServerTest, WithRequireSignedServesOnlyVersionsATrustedKeySigned) {
  TempDir keys;
  SigningKey::generate("release").save(keys.sub("release"));
  {
    auto log = VersionLog::open(dir_->path(), OpenMode::kReadWrite, LogOptions().signing_key(keys.sub("release")));
    log->sign(*digest_from_hex(v1_));
  }
  const ServerOptions signed_only = options().require_signed(true).trusted({keys.sub("release.pub")});
  move_tag("production", v2_);  // unsigned: the server does not start on it
  expect_error([&] { Server server(signed_only); }, ErrorCode::kFailedPrecondition,
               {"will not serve 'production'", "(main@2) is not signed"});
  move_tag("production", v1_);
  Server server(signed_only);
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  move_tag("production", v2_);  // moved to an unsigned version: refused, v1 keeps serving
  const json status = wait_for_error(c);
  EXPECT_EQ(status["version"], v1_);
  EXPECT_NE(status["last_load_error"].get<std::string>().find("refused " + v2_ + ", still serving"), std::string::npos)
      << status.dump();
  EXPECT_NE(c.Get("/metrics")->body.find("strata_model_loads_total{model=\"production\",result=\"untrusted\"} 1"),
            std::string::npos);
  auto r = c.Post("/v2/models/production/infer", infer_body(images(0, 1)), "application/json");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Strata-Version"), v1_);
  EXPECT_EQ(c.Post("/v2/models/production/versions/" + v2_ + "/infer", infer_body(images(0, 1)), "application/json")->status,
            403);
  // Signing it is enough: the next poll checks again and loads it.
  for (auto end = Clock::now() + std::chrono::seconds(10);;) {
    try {
      VersionLog::open(dir_->path(), OpenMode::kReadWrite, LogOptions().signing_key(keys.sub("release")))
          ->sign(*digest_from_hex(v2_));
      break;
    } catch (const strata::Error& e) {  // the poller has the log open for a moment (see move_tag)
      if (e.code() != ErrorCode::kFailedPrecondition || Clock::now() > end) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  EXPECT_TRUE(wait_for_version(c, v2_)["last_load_error"].is_null());
  move_tag("production", v1_);
}

TEST_F(ServerTest, DriftIsOkOnTestImagesAndAlertsOnInvertedOnes) {
  move_tag("production", v1_);
  for (bool inverted : {false, true}) {
    Server server(options());
    server.start();
    httplib::Client c("127.0.0.1", server.port());
    EXPECT_EQ(json::parse(c.Get("/v2/models/production/drift")->body)["status"], "unknown");  // no inputs yet
    for (int64_t first = 0; first < 1000; first += 100)
      ASSERT_EQ(c.Post("/v2/models/production/infer", infer_body(images(first, 100, inverted)), "application/json")->status, 200);
    const json drift = json::parse(c.Get("/v2/models/production/drift")->body);
    EXPECT_EQ(drift["status"], inverted ? "alert" : "ok") << drift.dump();
    EXPECT_EQ(drift["method"], "psi");
    EXPECT_EQ(drift["window"]["samples"], 1000);
    EXPECT_EQ(drift["thresholds"]["alert"], 0.25);
    EXPECT_EQ(drift["features"].size(), 18u);  // mean, std, 4x4 cells
    const std::string metrics = c.Get("/metrics")->body;
    EXPECT_NE(metrics.find("strata_drift_psi_max{model=\"production\"}"), std::string::npos);
    EXPECT_NE(metrics.find("strata_drift_drifted_features_ratio{model=\"production\"}"), std::string::npos);
  }
}

TEST_F(ServerTest, ExportsPrometheusMetrics) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  for (int i = 0; i < 3; ++i) c.Post("/v2/models/production/infer", infer_body(images(0, 2)), "application/json");
  c.Post("/v2/models/production/infer", "{", "application/json");
  auto r = c.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  const std::string m = r->body;
  const std::string ok = "strata_inference_requests_total{model=\"production\",version=\"" + v1_ + "\",code=\"200\"} 3";
  EXPECT_NE(m.find(ok), std::string::npos) << m;
  EXPECT_NE(m.find("code=\"400\"} 1"), std::string::npos);
  EXPECT_NE(m.find("strata_inference_samples_total{model=\"production\"} 6"), std::string::npos);
  EXPECT_NE(m.find("strata_inference_request_duration_seconds_count{model=\"production\"} 3"), std::string::npos);
  for (const char* name :
       {"strata_inference_compute_duration_seconds_bucket", "strata_inference_queue_duration_seconds_sum",
        "strata_inference_in_flight_requests 0", "strata_model_load_duration_seconds_count", "strata_build_info{",
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"})
    EXPECT_NE(m.find(name), std::string::npos) << name;
  EXPECT_NE(m.find("strata_model_info{model=\"production\",ref=\"production\",version=\"" + v1_ + "\"} 1"), std::string::npos);
}

// A request in flight when the drain starts finishes with 200; meanwhile readiness is 503 (or
// the listener is already gone), never 200.
TEST_F(ServerTest, DrainsAndStops) {
  move_tag("production", v1_);
  Server server(options());
  server.start();
  const int port = server.port();
  std::thread slow([&] {
    httplib::Client c2("127.0.0.1", port);
    auto r = c2.Post("/v2/models/production/infer", infer_body(images(0, 2000)), "application/json");
    EXPECT_TRUE(r && r->status == 200);
  });
  httplib::Client c("127.0.0.1", port);
  bool seen_in_flight = false;
  for (auto end = Clock::now() + std::chrono::seconds(20); !seen_in_flight && Clock::now() < end;) {
    auto m = c.Get("/metrics");
    seen_in_flight = m && m->body.find("strata_inference_in_flight_requests 1") != std::string::npos;
  }
  ASSERT_TRUE(seen_in_flight);
  std::thread drain([&] { server.drain_and_stop(); });
  bool saw_not_ready = false;
  for (auto end = Clock::now() + std::chrono::seconds(5); !saw_not_ready && Clock::now() < end;) {
    auto ready = c.Get("/v2/health/ready");
    if (!ready) break;  // stopped already
    saw_not_ready = ready->status == 503;
  }
  EXPECT_TRUE(saw_not_ready);
  drain.join();
  slow.join();
  EXPECT_FALSE(c.Get("/v2/health/live"));  // the listener is gone
  server.drain_and_stop();                 // idempotent
}

TEST_F(ServerTest, RefusesToStartWithoutItsModels) {
  EXPECT_THROW(Server(options().refs({"nope"})), strata::Error);
  EXPECT_THROW(Server(options().refs({})), strata::Error);
  EXPECT_THROW(Server(options().refs({"broken"})), strata::Error);
  Server a(options());
  a.start();
  Server b(options().port(a.port()));
  EXPECT_THROW(b.start(), strata::Error);
}

// A token model (LSTM classifier over INT64 ids) is served too: its inputs are integers, its
// answer is Predictor's, and it has no drift features.
TEST(ServerTokens, ServesATokenModel) {
  TempDir dir;
  vtest::ShuffledSource data({7}, 48, 16, 9);
  Network net(models::recurrent_classifier(7, 9, 3, models::TextModelOptions().dim(6).hidden(5)));
  Trainer trainer(net, TrainerOptions().seed(6).progress(Progress::kQuiet));
  {
    versioning::Run run(trainer, RunOptions().log_dir(dir.path()).tensorboard(false));
    trainer.fit(data, nullptr, 1);
  }
  Server server(ServerOptions().log_dir(dir.path()).refs({"main"}).port(0).threads(1));
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  const json meta = json::parse(c.Get("/v2/models/main")->body);
  EXPECT_EQ(meta["inputs"][0]["datatype"], "INT64");
  EXPECT_EQ(meta["inputs"][0]["shape"], (json{-1, 7}));
  const std::vector<int64_t> ids = {1, 2, 3, 4, 0, 0, 0, 5, 6, 7, 8, 1, 2, 0};
  EXPECT_EQ(meta["inputs"][0]["name"], "tokens");
  json body = {{"inputs", {{{"name", "tokens"}, {"shape", {2, 7}}, {"datatype", "INT64"}, {"data", ids}}}}};
  auto r = c.Post("/v2/models/main/infer", body.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  Tensor x({2, 7}, DType::kI64);
  std::copy(ids.begin(), ids.end(), x.data<int64_t>());
  omp_set_num_threads(omp_get_num_procs());  // one worker: all cores, as this Predictor
  Predictor p(dir.path(), "main");
  const Tensor want = p.predict(x).clone();
  const std::vector<float> got = json::parse(r->body)["outputs"][0]["data"].get<std::vector<float>>();
  ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel());
  EXPECT_EQ(std::memcmp(got.data(), want.f32(), want.nbytes()), 0);
  body["inputs"][0]["datatype"] = "INT32";
  EXPECT_EQ(c.Post("/v2/models/main/infer", body.dump(), "application/json")->status, 400);
  body["inputs"][0]["datatype"] = "INT64";
  body["inputs"][0]["data"][0] = 1.5;
  EXPECT_EQ(c.Post("/v2/models/main/infer", body.dump(), "application/json")->status, 400);
  const json drift = json::parse(c.Get("/v2/models/main/drift")->body);
  EXPECT_EQ(drift["status"], "unknown");
  EXPECT_TRUE(drift.contains("reason"));
}

}  // namespace
}  // namespace strata::versioning
