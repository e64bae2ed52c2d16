// `strata ui` as its users reach it: a subprocess on 127.0.0.1 answered over HTTP (curl for the
// raw paths), its JSON API checked byte for byte against the `strata --json` verbs, and its pages
// rendered by Debian's chromium (puppeteer-core from npm): no console errors, every version in the
// DAG, the CLI's diff values, one curve per branch, an XSS probe that stays inert, a screenshot of
// each page. Every wait and request loop is bounded.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "strata/versioning/internal/json_reader.h"
#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::tools_test {
namespace {

using versioning::CommitId;
using versioning::VersionLog;

const std::string kStrata = STRATA_BINARY_DIR "/tools/strata";
const std::string kXssMessage = "<script>alert(1)</script>";
const std::string kXssHparam = "\"><img src=x onerror=\"window.__xss=1\">";

// main@1..4, exp@3..4 from main@2, a merge of both on main, tag best, and a branch `probe` whose
// message and hyper-parameter try to inject markup.
struct Fixture {
  versioning::vtest::TempDir dir;
  std::string log = dir.sub("log");
  std::vector<CommitId> main, exp;
  CommitId merge{}, probe{};
  Fixture() {
    auto l = VersionLog::open(log, versioning::OpenMode::kReadWrite);
    auto commit = [&](int epoch, uint64_t seed, std::vector<CommitId> parents, const std::string& branch,
                      const std::string& message = "") {
      TrainState s = versioning::vtest::synthetic_state(epoch, seed);
      s.metrics["val_acc"] = 0.5 + 0.1 * epoch + (seed == 8 ? 0.05 : 0.0);
      if (branch == "probe") s.hparams["note"] = kXssHparam;
      versioning::SnapshotRequest r;
      r.parents = std::move(parents);
      r.branch = branch;
      r.message = message.empty() ? branch + " epoch " + std::to_string(epoch) : message;
      r.wall_time_ms = 1700000000000 + epoch * 1000 + static_cast<int64_t>(seed);
      r.state = &s;
      return l->commit(r).id;
    };
    for (int e = 1; e <= 4; ++e)
      main.push_back(commit(e, 7, main.empty() ? std::vector<CommitId>{} : std::vector{main.back()}, "main"));
    exp.push_back(commit(3, 8, {main[1]}, "exp"));
    exp.push_back(commit(4, 8, {exp[0]}, "exp"));
    merge = commit(4, 9, {main[3], exp[1]}, "main", "merge exp into main");
    probe = commit(2, 10, {main[0]}, "probe", kXssMessage);
    l->set_tag("best", main[2]);
  }
};

// `strata ui --port 0` on the fixture; its base URL.
class WebViewTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new Fixture();
    server_ = new Process(kStrata + " ui --port 0 --log " + fixture_->log, fixture_->dir.sub("ui.err"));
    const std::string port = server_->wait_for_stderr("on http://127\\.0\\.0\\.1:([0-9]+)/", 30);
    ASSERT_FALSE(port.empty()) << server_->err();
    base_ = "http://127.0.0.1:" + port;
  }
  static void TearDownTestSuite() {
    delete server_;
    delete fixture_;
  }
  // curl: "<status> <body>"
  static CommandOutput curl(const std::string& args) {
    return run_command("curl -s --max-time 20 -w '\\n%{http_code}' " + args + " 2>&1");
  }
  static std::string get(const std::string& path) {
    const CommandOutput o = run_command("curl -s --max-time 20 '" + base_ + path + "'");
    return o.out;
  }
  static std::string cli_json(const std::string& args) {
    CommandOutput o = run_command(kStrata + " " + args + " --json --log " + fixture_->log);
    EXPECT_EQ(o.code, 0) << args;
    if (!o.out.empty() && o.out.back() == '\n') o.out.pop_back();
    return o.out;
  }
  static Fixture* fixture_;
  static Process* server_;
  static std::string base_;
};
Fixture* WebViewTest::fixture_ = nullptr;
Process* WebViewTest::server_ = nullptr;
std::string WebViewTest::base_;

int status_of(const CommandOutput& o) { return std::atoi(o.out.substr(o.out.rfind('\n') + 1).c_str()); }

TEST_F(WebViewTest, ReadOnlyAndNothingOutsideTheAssetsIsServed) {
  EXPECT_EQ(status_of(curl("'" + base_ + "/'")), 200);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    const CommandOutput o = curl("-i -X " + std::string(method) + " '" + base_ + "/'");
    EXPECT_EQ(status_of(o), 405) << method << ": " << o.out;
    EXPECT_TRUE(contains(o.out, "Allow: GET, HEAD")) << o.out;
  }
  EXPECT_EQ(status_of(curl("-I '" + base_ + "/'")), 200);  // HEAD
  // DNS rebinding: another name pointed at 127.0.0.1 is not answered.
  EXPECT_EQ(status_of(curl("-H 'Host: attacker.example' '" + base_ + "/api/log?all=1'")), 421);
  EXPECT_EQ(status_of(curl("-H 'Host: localhost:1234' '" + base_ + "/'")), 200);
  for (const std::string path : {"/assets/../../../../etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd", "/../../etc/passwd",
                                 "/assets/%2e%2e/%2e%2e/etc/passwd", "/v/..%2f..%2fetc%2fpasswd", "/assets/secret",
                                 "/assets/style.css.map", "/etc/passwd", "/log/versions.lmdb/data.mdb"}) {
    const CommandOutput o = curl("--path-as-is '" + base_ + path + "'");
    EXPECT_TRUE(status_of(o) == 404 || status_of(o) == 400) << path << ": " << o.out;
    EXPECT_FALSE(contains(o.out, "root:")) << path;
  }
  for (const char* asset : {"style.css", "app.js", "favicon.svg"})
    EXPECT_EQ(status_of(curl("'" + base_ + "/assets/" + asset + "'")), 200) << asset;
  const CommandOutput headers = curl("-I '" + base_ + "/'");
  EXPECT_TRUE(contains(headers.out, "Content-Security-Policy: default-src 'self'; script-src 'self'")) << headers.out;
  EXPECT_TRUE(contains(server_->err(), "on http://127.0.0.1:"));  // 127.0.0.1 unless --host says otherwise
}

TEST_F(WebViewTest, EveryStringFromTheLogIsEscaped) {
  const std::string dag = get("/");
  EXPECT_TRUE(contains(dag, "&lt;script&gt;alert(1)&lt;/script&gt;")) << dag;
  EXPECT_FALSE(contains(dag, kXssMessage));
  const std::string probe = get("/v/probe");
  EXPECT_TRUE(contains(probe, "&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;")) << probe;
  EXPECT_FALSE(contains(probe, "<img src=x"));
  EXPECT_TRUE(contains(get("/v/no-such-ref"), "no-such-ref"));
  EXPECT_FALSE(contains(get("/v/%3Cb%3Ex"), "<b>x"));
}

TEST_F(WebViewTest, TheJsonApiAnswersAreTheCliAnswers) {
  const std::string m3 = versioning::to_hex(fixture_->main[2]), m4 = versioning::to_hex(fixture_->main[3]);
  EXPECT_EQ(get("/api/log?all=1"), cli_json("log --all"));
  EXPECT_EQ(get("/api/log?ref=exp&graph=1"), cli_json("log exp --graph"));
  EXPECT_EQ(get("/api/show?v=" + m4 + "&tensors=1"), cli_json("show " + m4 + " --tensors"));
  EXPECT_EQ(get("/api/diff?a=" + m3 + "&b=" + m4), cli_json("diff " + m3 + " " + m4));
  EXPECT_EQ(get("/api/compare?v=main,exp"), cli_json("compare main exp"));
  EXPECT_EQ(get("/api/tensor?name=fc1/weight&ref=main"), cli_json("log --tensor fc1/weight main"));
  const CommandOutput missing = curl("'" + base_ + "/api/show?v=nope'");
  EXPECT_EQ(status_of(missing), 404);
  EXPECT_TRUE(contains(missing.out, "\"error\":")) << missing.out;
}

TEST_F(WebViewTest, ANewVersionAppearsWithoutARestart) {
  auto count = [](const std::string& text) { return versioning::parse_json(text).find("versions")->items().size(); };
  const size_t before = count(get("/api/log?all=1"));
  {
    auto log = VersionLog::open(fixture_->log, versioning::OpenMode::kReadWrite);
    TrainState s = versioning::vtest::synthetic_state(9, 11);
    versioning::SnapshotRequest r;
    r.branch = "late";
    r.state = &s;
    log->commit(r);
  }
  EXPECT_EQ(count(get("/api/log?all=1")), before + 1);
  EXPECT_TRUE(contains(get("/"), "late@9"));
}

// Pages rendered by a real browser. Skipped, saying why, only where chromium, node or
// puppeteer-core is missing (scripts/install_deps.sh installs them).
TEST_F(WebViewTest, PagesRenderInChromiumWithTheCliValuesAndNoErrors) {
  const std::string modules = std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/strata/browser/node_modules";
  const std::string browser_dir =
      std::getenv("STRATA_BROWSER_DIR") ? std::string(std::getenv("STRATA_BROWSER_DIR")) + "/node_modules" : modules;
  if (::access("/usr/bin/chromium", X_OK) != 0) GTEST_SKIP() << "chromium is not installed (apt install chromium)";
  if (run_command("command -v node").code != 0) GTEST_SKIP() << "node is not installed";
  if (!std::filesystem::exists(browser_dir + "/puppeteer-core"))
    GTEST_SKIP() << "puppeteer-core is not installed in " << browser_dir << " (scripts/install_deps.sh installs it)";
  const std::string shots = STRATA_BINARY_DIR "/web-view-screenshots";
  std::filesystem::create_directories(shots);
  const std::string m3 = versioning::to_hex(fixture_->main[2]), m4 = versioning::to_hex(fixture_->main[3]);
  const std::string merge = versioning::to_hex(fixture_->merge);
  const CommandOutput o = run_command(
      "NODE_PATH='" + browser_dir + "' timeout 120 node " STRATA_SOURCE_DIR "/tests/tools/browser/web_view_pages.js '" + base_ +
      "' '" + shots + "' 'history=/' 'version=/v/" + merge + "' 'compare=/compare?a=" + m3 + "&b=" + m4 +
      "&c=exp' 'diff=/diff?a=" + m3 + "&b=" + m4 +
      "' 'curves=/curves?metric=val_acc' 'tensor-curves=/curves?tensor=fc1/weight' 'probe=/v/probe' 2>&1");
  ASSERT_EQ(o.code, 0) << o.out;
  const versioning::JsonValue pages = versioning::parse_json(o.out);
  for (const auto& [name, page] : pages.members()) {
    EXPECT_EQ(page.find("status")->integer, 200) << name;
    const auto& errors = page.find("errors")->items();
    EXPECT_TRUE(errors.empty()) << name << ": " << (errors.empty() ? "" : errors.front().string());
    EXPECT_EQ(page.find("dialogs")->integer, 0) << name;  // the XSS probe stays inert
    EXPECT_EQ(page.find("xss")->integer, 0) << name;
    EXPECT_TRUE(std::filesystem::exists(shots + "/" + name + ".png")) << name;
  }
  // The DAG shows every version of the log.
  // (A JsonValue points into its text: each text is kept while its values are read.)
  std::set<std::string> shown, all;
  for (const auto& v : pages.find("history")->find("versions")->items()) shown.insert(v.string());
  const std::string log_text = cli_json("log --all");
  const versioning::JsonValue log_json = versioning::parse_json(log_text);
  for (const auto& v : log_json.find("versions")->items()) all.insert(v.find("id")->string());
  EXPECT_EQ(shown, all);
  // The diff rows carry exactly the CLI's mean_abs, as written.
  std::map<std::string, std::string> cli;
  const std::string diff_text = cli_json("diff " + m3 + " " + m4);
  const versioning::JsonValue diff = versioning::parse_json(diff_text);
  for (const auto& t : diff.find("tensors")->items()) cli[t.find("name")->string()] = std::string(t.find("mean_abs")->text);
  std::map<std::string, std::string> page;
  for (const auto& t : pages.find("diff")->find("tensors")->items()) page[t.items()[0].string()] = t.items()[1].string();
  EXPECT_EQ(page, cli);
  // One series per branch, with a point per version that recorded the metric.
  std::map<std::string, int64_t> series;
  for (const auto& s : pages.find("curves")->find("series")->items()) series[s.items()[0].string()] = s.items()[1].integer;
  std::map<std::string, int64_t> want;
  for (const std::string& b : VersionLog::open(fixture_->log, versioning::OpenMode::kReadOnly)->branches()) {
    const std::string text = cli_json("log " + b);
    const versioning::JsonValue versions = versioning::parse_json(text);
    for (const auto& v : versions.find("versions")->items()) want[b] += v.find("metrics")->find("val_acc") ? 1 : 0;
  }
  EXPECT_EQ(series, want);
  EXPECT_FALSE(pages.find("tensor-curves")->find("series")->items().empty());
  EXPECT_TRUE(contains(pages.find("probe")->find("text")->string(), kXssMessage));  // shown as text
}

}  // namespace
}  // namespace strata::tools_test
