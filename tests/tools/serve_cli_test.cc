// `strata serve` as its users run it: a subprocess answered with curl, checked by promtool,
// scraped by a real Prometheus server, stopped by SIGTERM; its usage errors exit 2. Every
// wait is bounded; everything listens on 127.0.0.1 only.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::tools_test {
namespace {

const std::string kStrata = STRATA_BINARY_DIR "/tools/strata";
const std::string kJson = "-H 'Content-Type: application/json' --data-binary @";

bool have(const std::string& program) { return ::access(program.c_str(), X_OK) == 0; }

// A free port on 127.0.0.1 for programs that cannot be told to pick one (Prometheus).
int free_port() {
  CommandOutput o =
      run_command("python3 -c \"import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])\"");
  return std::atoi(o.out.c_str());
}

class ServeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion_mnist()) return;
    dir_ = new versioning::vtest::TempDir();
    const CommandOutput train = run_command(STRATA_BINARY_DIR
                                            "/examples/train_fashion_mnist --model mlp --epochs 1 "
                                            "--limit 1000 --no-tensorboard --log-dir " +
                                            dir_->sub("log") + " 2>&1");
    ASSERT_EQ(train.code, 0) << train.out;
    // One request body: 2 test images as [0, 1] pixels, flat.
    std::string data;
    for (int i = 0; i < 2 * 784; ++i) data += (i ? "," : "") + std::to_string((i % 255) / 255.0);
    std::ofstream(dir_->sub("request.json")) << "{\"id\":\"cli\",\"inputs\":[{\"name\":\"input\",\"shape\":[2,1,28,28],"
                                                "\"datatype\":\"FP32\",\"data\":["
                                             << data << "]}]}";
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  }
  // Starts `strata serve main` on a free port; returns the port ("" on failure).
  static std::string start(Process& p) { return p.wait_for_stderr("on http://127\\.0\\.0\\.1:([0-9]+)"); }
  static std::string serve_cmd(const std::string& extra = "") {
    return kStrata + " serve main --log " + dir_->sub("log") + " --port 0 --poll-ms 100 " + extra;
  }
  // curl [options] http://127.0.0.1:PORT/PATH, its stdout.
  static std::string curl(const std::string& port, const std::string& path, const std::string& options = "") {
    return run_command("curl -sS --max-time 20 " + options + " 'http://127.0.0.1:" + port + path + "' 2>&1").out;
  }
  static versioning::vtest::TempDir* dir_;
};
versioning::vtest::TempDir* ServeCli::dir_ = nullptr;

TEST_F(ServeCli, UsageErrorsExitTwoAndAMissingRefExitsOne) {
  for (const std::string& bad : {std::string(" serve"), std::string(" serve main --port 70000"),
                                 std::string(" serve main --threads 0"), std::string(" serve main --max-batch x")}) {
    CommandResult r = run_capturing_stderr(kStrata + bad + " --log " + dir_->sub("log"), dir_->sub("usage.err"));
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
  }
  CommandResult missing =
      run_capturing_stderr(kStrata + " serve nope --port 0 --log " + dir_->sub("log"), dir_->sub("missing.err"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "error: ")) << missing.err;
  EXPECT_TRUE(contains(missing.err, "nope")) << missing.err;
}

TEST_F(ServeCli, AnswersCurlAndDrainsOnSigterm) {
  Process server(serve_cmd(), dir_->sub("serve.err"));
  const std::string port = start(server);
  ASSERT_FALSE(port.empty()) << server.err();
  const std::string out =
      curl(port, "/v2/models/main/infer", kJson + dir_->sub("request.json") + " -D " + dir_->sub("headers.txt"));
  EXPECT_TRUE(contains(out, "\"id\":\"cli\"")) << out;
  EXPECT_TRUE(contains(out, "\"shape\":[2,10]")) << out;
  EXPECT_TRUE(contains(read_file(dir_->sub("headers.txt")), "X-Strata-Version: ")) << read_file(dir_->sub("headers.txt"));
  EXPECT_TRUE(contains(curl(port, "/v2/health/ready", "-o /dev/null -w '%{http_code}'"), "200"));
  // curl -d's default type is a form, which the HTTP library caps at 8 KiB: the answer says so.
  EXPECT_TRUE(contains(curl(port, "/v2/models/main/infer", "--data-binary @" + dir_->sub("request.json")),
                       "send it with Content-Type: application/json"));
  // A chunked body has no length to check against the limit: refused before it is read.
  EXPECT_TRUE(
      contains(curl(port, "/v2/models/main/infer", "-H 'Transfer-Encoding: chunked' " + kJson + dir_->sub("request.json")),
               "Content-Length"));
  // A client that hangs up while its request is served does not take the server down.
  run_command("curl -s --max-time 0.001 " + kJson + dir_->sub("request.json") + " http://127.0.0.1:" + port +
              "/v2/models/main/infer");
  EXPECT_TRUE(contains(curl(port, "/v2/health/live", "-o /dev/null -w '%{http_code}'"), "200"));

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(30), 0) << server.err();
  EXPECT_TRUE(contains(server.err(), "SIGTERM: draining")) << server.err();
  EXPECT_TRUE(contains(curl(port, "/v2/health/live", "-o /dev/null -w '%{http_code}'"), "000"));  // refused
}

TEST_F(ServeCli, MetricsPassPromtool) {
  if (!have("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  Process server(serve_cmd(), dir_->sub("promtool.err"));
  const std::string port = start(server);
  ASSERT_FALSE(port.empty()) << server.err();
  curl(port, "/v2/models/main/infer", kJson + dir_->sub("request.json"));
  curl(port, "/v2/models/main/infer", "--data-binary '{'");
  const std::string metrics = curl(port, "/metrics");
  std::ofstream(dir_->sub("metrics.txt")) << metrics;
  const CommandOutput check = run_command("promtool check metrics < " + dir_->sub("metrics.txt") + " 2>&1");
  EXPECT_EQ(check.code, 0) << check.out << "\n" << metrics;
  EXPECT_EQ(check.out, "") << check.out;  // no lint findings either
}

// A real Prometheus server scrapes every second; its query API reads the request counter back.
TEST_F(ServeCli, PrometheusScrapesTheRequestCounter) {
  if (!have("/usr/bin/prometheus")) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  Process server(serve_cmd(), dir_->sub("scraped.err"));
  const std::string port = start(server);
  ASSERT_FALSE(port.empty()) << server.err();
  for (int i = 0; i < 5; ++i) {
    const std::string out = curl(port, "/v2/models/main/infer", kJson + dir_->sub("request.json"));
    ASSERT_TRUE(contains(out, "\"model_version\"")) << out;
  }
  const std::string prom_port = std::to_string(free_port());
  std::ofstream(dir_->sub("prometheus.yml")) << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: strata\n"
                                                "    static_configs:\n      - targets: ['127.0.0.1:"
                                             << port << "']\n";
  Process prometheus("/usr/bin/prometheus --config.file=" + dir_->sub("prometheus.yml") +
                         " --storage.tsdb.path=" + dir_->sub("tsdb") + " --web.listen-address=127.0.0.1:" + prom_port,
                     dir_->sub("prometheus.err"));
  std::string answer;
  for (auto end = Clock::now() + std::chrono::seconds(60); Clock::now() < end;) {
    answer = curl(prom_port, "/api/v1/query", "-G --data-urlencode 'query=sum(strata_inference_requests_total{code=\"200\"})'");
    if (contains(answer, "\"5\"")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(contains(answer, "\"status\":\"success\"")) << answer << "\n" << prometheus.err();
  EXPECT_TRUE(contains(answer, "\"5\"")) << answer << "\ntargets: " << curl(prom_port, "/api/v1/targets");
}

}  // namespace
}  // namespace strata::tools_test
