// The `strata` command line: builds a real log through the VersionLog API, runs the built binary
// as a subprocess and checks its output, JSON fields and exit codes.
// Needs build/tools/strata (tests/CMakeLists.txt should add_dependencies(strata_cli_test strata)).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/nn/network.h"
#include "strata/models/models.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/tensor_files.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"
#include "tools/cli_output.h"

namespace strata::versioning {
namespace {

using vtest::synthetic_state;
using vtest::TempDir;

struct RunResult {
  int code = -1;
  std::string out, err;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs `strata ARGS` through the shell; stderr goes to a file so stdout stays clean JSON.
RunResult run_strata(const TempDir& dir, const std::string& args, const std::string& env = "") {
  const std::string err_path = dir.sub("stderr.txt");
  tools_test::CommandOutput o = tools_test::run_command(env + " " STRATA_BINARY_DIR "/tools/strata " + args + " 2>" + err_path);
  return {o.code, std::move(o.out), read_file(err_path)};
}

using tools_test::contains;

std::string fmt_hex(unsigned char b) {
  const char* digits = "0123456789abcdef";
  return {digits[b >> 4], digits[b & 15]};
}

class StrataCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(STRATA_BINARY_DIR "/tools/strata", X_OK), 0)
        << "build the `strata` target first (" STRATA_BINARY_DIR "/tools/strata)";
    auto log = VersionLog::open(dir_.path(), OpenMode::kReadWrite);
    for (int e = 1; e <= 3; ++e)
      main_.push_back(commit(*log, e, "main", main_.empty() ? std::vector<CommitId>{} : std::vector<CommitId>{main_.back()}));
    exp_ = commit(*log, 3, "exp", {main_[1]}, 0.9);
    log->set_tag("best", main_[1]);
  }

  CommitId commit(VersionLog& log, int epoch, const std::string& branch, std::vector<CommitId> parents, double acc_bonus = 0.0) {
    TrainState s = synthetic_state(epoch, branch == "main" ? 7 : 8);
    s.metrics = {{"val_acc", 0.5 + 0.125 * epoch + acc_bonus}, {"val_loss", 1.0 / (epoch + 1)}, {"train_loss", 0.75}};
    s.hparams["lr"] = branch == "main" ? "0.001" : "0.0005";
    SnapshotRequest r;
    r.parents = std::move(parents);
    r.branch = branch;
    r.message = branch + " epoch " + std::to_string(epoch);
    r.author = "tester@host";
    r.wall_time_ms = 1700000000000 + epoch * 1000 + (branch == "main" ? 0 : 500);
    r.state = &s;
    return log.commit(r).id;
  }

  std::string log_arg() const { return "--log " + dir_.path(); }

  TempDir dir_;
  std::vector<CommitId> main_;
  CommitId exp_{};
};

TEST_F(StrataCli, LogListsMainNewestFirstWithMetrics) {
  RunResult r = run_strata(dir_, "log " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t p3 = r.out.find(short_hex(main_[2])), p2 = r.out.find(short_hex(main_[1])), p1 = r.out.find(short_hex(main_[0]));
  ASSERT_NE(p3, std::string::npos) << r.out;
  EXPECT_LT(p3, p2);
  EXPECT_LT(p2, p1);
  EXPECT_FALSE(contains(r.out, short_hex(exp_)));  // another branch
  EXPECT_TRUE(contains(r.out, "main@3"));
  EXPECT_TRUE(contains(r.out, "main epoch 2"));
  EXPECT_TRUE(contains(r.out, "val_acc=0.875"));  // 0.5 + 0.125 * 3
  EXPECT_TRUE(contains(r.out, "val_loss=0.25"));
  EXPECT_FALSE(contains(r.out, "train_loss"));
  EXPECT_TRUE(contains(r.out, "tag: best"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
}

TEST_F(StrataCli, LogAllDecoratesEveryBranchAndReadsStrataLogEnv) {
  RunResult r = run_strata(dir_, "log --all", "STRATA_LOG=" + dir_.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  EXPECT_TRUE(contains(r.out, short_hex(exp_) + " exp@3")) << r.out;
  EXPECT_TRUE(contains(r.out, "(exp)"));
  EXPECT_TRUE(contains(r.out, "(main)"));
  RunResult b = run_strata(dir_, "log exp --json " + log_arg());
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(contains(b.out, "{\"versions\":[{\"id\":\"" + to_hex(exp_) + "\""));
  EXPECT_TRUE(contains(b.out, "\"branch\":\"exp\",\"epoch\":3,\"step\":30"));
  EXPECT_TRUE(contains(b.out, "\"id\":\"" + to_hex(main_[0]) + "\""));  // exp's history reaches main@1
  EXPECT_TRUE(contains(b.out, "\"tags\":[\"best\"]"));
}

TEST_F(StrataCli, ShowPrintsRecordAndTensors) {
  RunResult r = run_strata(dir_, "show main@2 --tensors " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, to_hex(main_[1])));
  EXPECT_TRUE(contains(r.out, "parent   " + short_hex(main_[0])));
  EXPECT_TRUE(contains(r.out, "author   tester@host"));
  EXPECT_TRUE(contains(r.out, "lr = 0.001"));
  EXPECT_TRUE(contains(r.out, "val_acc = 0.75"));
  EXPECT_TRUE(contains(r.out, "global_step = 20"));
  EXPECT_TRUE(contains(r.out, "fc1/weight"));
  EXPECT_TRUE(contains(r.out, "[4,3]"));
  EXPECT_TRUE(contains(r.out, "optim/fc2/bias/v"));

  RunResult j = run_strata(dir_, "--json show best --tensors " + log_arg());
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(contains(j.out, "\"id\":\"" + to_hex(main_[1]) + "\""));
  EXPECT_TRUE(contains(j.out, "\"parents\":[\"" + to_hex(main_[0]) + "\"]"));
  EXPECT_TRUE(contains(j.out, "\"epoch\":2,\"step\":20"));
  EXPECT_TRUE(contains(j.out, "\"metrics\":{\"train_loss\":0.75,\"val_acc\":0.75,"));
  EXPECT_TRUE(contains(
      j.out, "{\"name\":\"fc1/weight\",\"kind\":\"param\",\"dtype\":\"f32\",\"shape\":[4,3],\"chunks\":1,\"raw_bytes\":48,"))
      << j.out;
}

TEST_F(StrataCli, UnknownVersionIsExitOneNamingIt) {
  RunResult r = run_strata(dir_, "show nosuchversion " + log_arg());
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_TRUE(contains(r.err, "nosuchversion")) << r.err;
  EXPECT_EQ(run_strata(dir_, "branch x deadbeefdead " + log_arg()).code, 1);
  RunResult missing = run_strata(dir_, "log --log " + dir_.sub("nope"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "error: "));
}

TEST_F(StrataCli, UsageErrorsAreExitTwo) {
  EXPECT_EQ(run_strata(dir_, "").code, 2);
  EXPECT_EQ(run_strata(dir_, "frobnicate " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "show " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "log --bogus " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "--help").code, 0);
  EXPECT_EQ(run_strata(dir_, "--version").code, 0);
  // Numeric flags state their range in one short line.
  for (const char* bad : {"diff main@1 main@2 --top -1", "diff main@1 main@2 --eps nan", "diff main@1 main@2 --eps -1",
                          "merge main exp --alpha 2", "merge main exp --alpha nan"}) {
    RunResult r = run_strata(dir_, std::string(bad) + " " + log_arg());
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_TRUE(contains(r.err, "must be a number")) << bad << ": " << r.err;
    EXPECT_LT(r.err.size(), 200u) << r.err;
  }
}

TEST_F(StrataCli, BranchAndTagCreateMoveDelete) {
  ASSERT_EQ(run_strata(dir_, "branch fork main@1 " + log_arg()).code, 0);
  RunResult list = run_strata(dir_, "branch --json " + log_arg());
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_TRUE(contains(list.out, "{\"name\":\"fork\",\"id\":\"" + to_hex(main_[0]) + "\""));
  EXPECT_TRUE(contains(list.out, "{\"name\":\"exp\",\"id\":\"" + to_hex(exp_) + "\""));
  // Moving an existing branch needs -f.
  RunResult no_force = run_strata(dir_, "branch fork main@2 " + log_arg());
  EXPECT_EQ(no_force.code, 1);
  EXPECT_TRUE(contains(no_force.err, "error: ")) << no_force.err;
  ASSERT_EQ(run_strata(dir_, "branch -f fork main@2 " + log_arg()).code, 0);
  {
    auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
    EXPECT_EQ(log->head("fork"), main_[1]);
  }
  ASSERT_EQ(run_strata(dir_, "branch -d fork " + log_arg()).code, 0);
  EXPECT_FALSE(contains(run_strata(dir_, "branch " + log_arg()).out, "fork"));

  ASSERT_EQ(run_strata(dir_, "tag v1 " + short_hex(exp_) + " " + log_arg()).code, 0);
  RunResult tags = run_strata(dir_, "tag " + log_arg());
  EXPECT_TRUE(contains(tags.out, "v1")) << tags.out;
  EXPECT_TRUE(contains(tags.out, "best"));
  EXPECT_TRUE(contains(tags.out, "exp@3"));
  ASSERT_EQ(run_strata(dir_, "tag -d v1 " + log_arg()).code, 0);
  EXPECT_FALSE(contains(run_strata(dir_, "tag " + log_arg()).out, "v1"));
  EXPECT_EQ(run_strata(dir_, "tag -d v1 " + log_arg()).code, 1);
  // A tag may not take a branch's name, nor a branch a tag's.
  RunResult clash = run_strata(dir_, "tag main main@1 " + log_arg());
  EXPECT_EQ(clash.code, 1);
  EXPECT_TRUE(contains(clash.err, "a branch is named 'main'")) << clash.err;
  EXPECT_EQ(run_strata(dir_, "branch best main@1 " + log_arg()).code, 1);
  EXPECT_EQ(run_strata(dir_, "branch a//b main@1 " + log_arg()).code, 1);
}

TEST_F(StrataCli, DuReportsRawAndStoredBytes) {
  RunResult r = run_strata(dir_, "du --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
  uint64_t raw = 0, stored = 0;
  for (const CommitId& id : log->all_versions()) {
    raw += log->read_stats(id)->raw_bytes;
    stored += log->read_stats(id)->new_stored_bytes;
  }
  EXPECT_TRUE(contains(r.out, "\"versions\":4,\"queued_versions\":0,\"raw_bytes\":" + std::to_string(raw) +
                                  ",\"stored_bytes\":" + std::to_string(stored)))
      << r.out;
  EXPECT_TRUE(contains(run_strata(dir_, "du " + log_arg()).out, std::to_string(raw) + " bytes"));
}

TEST(StrataCliVerify, CleanLogPassesAndFlippedChunkFails) {
  TempDir dir;
  auto [ids, victim] = vtest::make_log_with_victim(dir);
  RunResult ok = run_strata(dir, "verify --log " + dir.path());
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, "checked 3 version(s)")) << ok.out;

  ASSERT_GT(victim.size(), 200u);
  ASSERT_GE(vtest::flip_chunk_bytes(dir.sub("versions.lmdb/data.mdb"), victim), 1);
  RunResult bad = run_strata(dir, "verify --all --log " + dir.path());
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.out, "BAD " + short_hex(ids[1]))) << bad.out;
  EXPECT_TRUE(contains(bad.out, "fc3/weight"));
  EXPECT_TRUE(contains(bad.err, "error: "));
  RunResult j = run_strata(dir, "verify --json --log " + dir.path());
  EXPECT_EQ(j.code, 1);
  EXPECT_TRUE(contains(j.out, "\"ok\":false,\"versions_checked\":3")) << j.out;
  EXPECT_TRUE(contains(j.out, "\"id\":\"" + to_hex(ids[1]) + "\",\"version\":\"" + short_hex(ids[1])));
  EXPECT_TRUE(contains(j.out, "\"tensor\":\"fc3/weight\""));
  // One unaffected version verifies clean on its own.
  EXPECT_EQ(run_strata(dir, "verify " + short_hex(ids[0]) + " --log " + dir.path()).code, 0);
}

// keygen, trust, sign, tag -s / -v, verify --require-signed, log and show marks, as a user runs them.
TEST_F(StrataCli, SigningVerbsFromKeygenToRequireSigned) {
  const std::string key = dir_.sub("alice.key");
  RunResult k = run_strata(dir_, "keygen " + key + " --comment alice@lab");
  ASSERT_EQ(k.code, 0) << k.err;
  const std::string key_id = key_id_hex(read_public_key(key + ".pub").id());
  EXPECT_TRUE(contains(k.out, "key id " + key_id)) << k.out;
  EXPECT_EQ(run_strata(dir_, "keygen " + key).code, 1);  // never overwritten
  // Unsigned so far: verify passes, --require-signed does not.
  RunResult v = run_strata(dir_, "verify " + log_arg());
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_TRUE(contains(v.out, "signatures: 0 trusted, 0 untrusted, 0 revoked, 4 unsigned, 0 bad")) << v.out;
  v = run_strata(dir_, "verify --require-signed " + log_arg());
  EXPECT_EQ(v.code, 1);
  EXPECT_TRUE(contains(v.out, "UNSIGNED " + short_hex(main_[2]))) << v.out;
  EXPECT_TRUE(contains(v.err, "4 version(s) are not signed by a trusted key")) << v.err;
  // Sign main's versions; untrusted until the key is trusted.
  for (const CommitId& id : main_)
    ASSERT_EQ(run_strata(dir_, "sign " + short_hex(id) + " --sign-key " + key + " " + log_arg()).code, 0);
  RunResult log = run_strata(dir_, "log " + log_arg());
  EXPECT_TRUE(contains(log.out, "[signed: key " + key_id.substr(0, 16) + ", untrusted]")) << log.out;
  ASSERT_EQ(run_strata(dir_, "trust add " + key + ".pub --name alice " + log_arg()).code, 0);
  log = run_strata(dir_, "log " + log_arg());
  EXPECT_TRUE(contains(log.out, short_hex(main_[2]) + " main@3")) << log.out;
  EXPECT_TRUE(contains(log.out, "[signed: alice]")) << log.out;
  RunResult show = run_strata(dir_, "show main " + log_arg());
  EXPECT_TRUE(contains(show.out, "signed   by alice (ed25519 key " + key_id + "), trusted")) << show.out;
  RunResult js = run_strata(dir_, "show main --json " + log_arg());
  EXPECT_TRUE(contains(js.out, "\"signatures\":[{\"status\":\"trusted\",\"signer\":\"alice\",\"key_id\":\"" + key_id)) << js.out;
  v = run_strata(dir_, "verify main --require-signed " + log_arg());
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  v = run_strata(dir_, "verify --all --require-signed " + log_arg());  // exp@3 is unsigned
  EXPECT_EQ(v.code, 1);
  EXPECT_TRUE(contains(v.out, "UNSIGNED " + short_hex(exp_))) << v.out;
  // Signed tags.
  RunResult t = run_strata(dir_, "tag -s release main " + log_arg(), "STRATA_SIGNING_KEY=" + key);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(contains(t.out, "tag release -> " + short_hex(main_[2]) + " (main@3), signed with key " + key_id)) << t.out;
  t = run_strata(dir_, "tag -v release " + log_arg());
  EXPECT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(contains(t.out, "good signature by alice")) << t.out;
  EXPECT_EQ(run_strata(dir_, "tag -v best " + log_arg()).code, 1);  // not signed
  // Revoked: its signatures stop counting.
  ASSERT_EQ(run_strata(dir_, "trust revoke alice " + log_arg()).code, 0);
  EXPECT_EQ(run_strata(dir_, "tag -v release " + log_arg()).code, 1);
  v = run_strata(dir_, "verify main --require-signed " + log_arg());
  EXPECT_EQ(v.code, 1);
  EXPECT_TRUE(contains(v.out, "REVOKED " + short_hex(main_[2]) + " (main@3): signed by alice")) << v.out;
  EXPECT_EQ(run_strata(dir_, "verify main --require-signed --trusted " + key + ".pub " + log_arg()).code, 0);
  RunResult list = run_strata(dir_, "trust list " + log_arg());
  EXPECT_TRUE(contains(list.out, "alice")) << list.out;
  EXPECT_TRUE(contains(list.out, "REVOKED")) << list.out;
  // Usage errors exit 2.
  for (const std::string& bad :
       std::vector<std::string>{"tag -v release main", "tag -s release", "tag --trusted x.pub release main", "trust add " + key,
                                "trust bogus", "verify --reseal --all", "sign main", "pull x --trusted k.pub"})
    EXPECT_EQ(run_strata(dir_, bad + " " + log_arg(), "STRATA_SIGNING_KEY=").code, 2) << bad;
}

// The probe of the report: a ref lost to a flipped B-tree byte. Strata refuses the log, verify
// names what differs, --reseal accepts it and the branch can be made again.
TEST_F(StrataCli, AVanishedRefIsReportedAndCanBeResealed) {
  const std::string data = dir_.sub("versions.lmdb/data.mdb");
  std::string file = read_file(data);
  int flips = 0;
  for (size_t pos = file.find("heads/exp"); pos != std::string::npos; pos = file.find("heads/exp", pos + 1), ++flips)
    file[pos + 8] = 'q';  // "heads/exq"
  ASSERT_GT(flips, 0);
  std::ofstream(data, std::ios::binary | std::ios::trunc).write(file.data(), static_cast<std::streamsize>(file.size()));
  RunResult b = run_strata(dir_, "branch " + log_arg());
  EXPECT_EQ(b.code, 1);
  EXPECT_TRUE(contains(b.err, "'refs' database does not match its digest")) << b.err;
  RunResult v = run_strata(dir_, "verify --all " + log_arg());
  EXPECT_EQ(v.code, 1);
  EXPECT_TRUE(contains(v.out, "does not match its digest")) << v.out;
  RunResult r = run_strata(dir_, "verify --reseal " + log_arg());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "accepted: ")) << r.out;
  b = run_strata(dir_, "branch " + log_arg());
  EXPECT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(contains(b.out, "exq")) << b.out;
  EXPECT_EQ(run_strata(dir_, "verify --all " + log_arg()).code, 0);
}

TEST_F(StrataCli, CheckGatesOnMetricDeltasAgainstABaseline) {
  RunResult pass = run_strata(dir_,
                              "check main@3 --baseline main@2 --metric val_acc --max-drop 0.01 --metric val_loss "
                              "--max-rise 0.01 " +
                                  log_arg());
  EXPECT_EQ(pass.code, 0) << pass.out << pass.err;
  EXPECT_TRUE(contains(pass.out, "PASS val_acc: 0.875 vs 0.75: delta +0.125 >= -0.01 (version " + short_hex(main_[2]) +
                                     " (main@3), baseline " + short_hex(main_[1]) + " (main@2))"))
      << pass.out;
  EXPECT_TRUE(contains(pass.out, "PASS val_loss: 0.25 vs 0.333333: delta -0.0833333 <= +0.01")) << pass.out;
  RunResult fail = run_strata(dir_, "check main@2 --baseline main@3 --metric val_acc --max-drop 0.005 --json " + log_arg());
  EXPECT_EQ(fail.code, 1) << fail.out;
  EXPECT_TRUE(contains(fail.out,
                       "\"pass\":false,\"metrics\":[{\"metric\":\"val_acc\",\"pass\":false,\"value\":0.75,"
                       "\"baseline\":0.875,\"delta\":-0.125}]"))
      << fail.out;
  RunResult missing = run_strata(dir_, "check main@2 --baseline main@3 --metric val/nothing --max-drop 0 " + log_arg());
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.out, "FAIL val/nothing: not recorded in ")) << missing.out;
  EXPECT_EQ(run_strata(dir_, "check main@2 --baseline main@3 --max-drop 0.1 " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "check main@2 --baseline main@3 --metric val_acc " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "check main@2 --baseline main@3 --metric val_acc --max-drop -1 " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "check main@2 --metric val_acc --max-drop 1 " + log_arg()).code, 2);
}

TEST_F(StrataCli, LogMarksRegressionsAndFollowsOneTensor) {
  CommitId worse;
  {
    auto log = VersionLog::open(dir_.path(), OpenMode::kReadWrite);
    worse = commit(*log, 4, "main", {main_.back()}, -0.5);  // val_acc 0.5 after 0.875
  }
  RunResult r = run_strata(dir_, "log --regressions --metric val_acc --threshold 0.1 " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "REGRESSION val_acc -0.375")) << r.out;
  EXPECT_EQ(r.out.find("REGRESSION"), r.out.rfind("REGRESSION")) << r.out;  // one marked line
  // val_loss falls along main (lower is better): no regression, whatever the threshold.
  RunResult loss = run_strata(dir_, "log --regressions --metric val_loss --threshold 0 --json " + log_arg());
  EXPECT_TRUE(contains(loss.out, "\"regression\":null")) << loss.out;
  EXPECT_FALSE(contains(loss.out, "\"regression\":0")) << loss.out;
  EXPECT_FALSE(contains(loss.out, "\"regression\":-")) << loss.out;
  EXPECT_EQ(run_strata(dir_, "log --regressions " + log_arg()).code, 2);

  RunResult t = run_strata(dir_, "log --tensor fc1/weight --json " + log_arg());
  ASSERT_EQ(t.code, 0) << t.err;
  // Expected movement of main@2 against main@1, in double, as the verb computes it.
  const Tensor a = synthetic_state(2).params[0].second, b = synthetic_state(1).params[0].second;
  double mean = 0, mx = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(double(a.f32()[i]) - double(b.f32()[i]));
    mean += d;
    mx = std::max(mx, d);
  }
  mean /= double(a.numel());
  EXPECT_TRUE(contains(t.out, "\"name\":\"main@2\",\"present\":true,\"mean_abs\":" + tools::json_num(mean) +
                                  ",\"max_abs\":" + tools::json_num(mx)))
      << t.out;
  EXPECT_TRUE(contains(t.out, "\"name\":\"main@1\",\"present\":true,\"mean_abs\":null")) << t.out;
  RunResult text = run_strata(dir_, "log --tensor fc1/weight main@3 " + log_arg());
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 4) << text.out;  // header + 3 versions
  RunResult none = run_strata(dir_, "log --tensor nope " + log_arg());
  EXPECT_EQ(none.code, 1);
  EXPECT_TRUE(contains(none.err, "no float tensor 'nope'")) << none.err;

  RunResult base = run_strata(dir_, "merge-base exp main " + log_arg());
  EXPECT_EQ(base.out, short_hex(main_[1]) + " (main@2)\n") << base.err;
  (void)worse;
}

}  // namespace
}  // namespace strata::versioning

namespace strata::versioning {
namespace {

TEST_F(StrataCli, ShowGraphListsNodesWithShapes) {
  RunResult r = run_strata(dir_, "show main@1 --graph " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fc1/weight")) << r.out;
  EXPECT_TRUE(contains(r.out, "Linear"));
  RunResult j = run_strata(dir_, "show main@1 --graph --json " + log_arg());
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(contains(j.out, "\"nodes\":[{\"name\":\"input\",\"op\":\"Input\"")) << j.out;
  EXPECT_TRUE(contains(j.out, "{\"name\":\"fc1/weight\",\"shape\":[4,3],\"trainable\":true}"));
}

// The fixture: main@1 <- main@2 <- main@3, and exp@3 (newer) branching from main@2.
TEST_F(StrataCli, LogGraphDrawsTheBranchPointAndAMerge) {
  RunResult r = run_strata(dir_, "log --all --graph " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string e3 = short_hex(exp_), m3 = short_hex(main_[2]), m2 = short_hex(main_[1]), m1 = short_hex(main_[0]);
  EXPECT_TRUE(contains(r.out, "*   " + e3 + " exp@3")) << r.out;
  // main@3's lane joins main@2, its parent, right before main@2's row.
  EXPECT_TRUE(contains(r.out, "\n| * " + m3 + " main@3")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n|/\n*   " + m2 + " main@2")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n*   " + m1 + " main@1")) << r.out;

  ASSERT_EQ(run_strata(dir_, "merge main exp " + log_arg()).code, 0);
  RunResult m = run_strata(dir_, "log --graph " + log_arg());  // main's whole ancestry, exp included
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_TRUE(contains(m.out, "\n|\\\n| * " + e3 + " exp@3")) << m.out;
  EXPECT_TRUE(contains(m.out, "\n* | " + m3 + " main@3")) << m.out;
  RunResult j = run_strata(dir_, "log --graph --json " + log_arg());
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(contains(j.out, "\"graph\":\"*\",\"connectors\":[\"|\\\\\"]")) << j.out;
}

TEST_F(StrataCli, CompareShowsMetricsSideBySideAndMarksTheBest) {
  RunResult r = run_strata(dir_, "compare main@1 main@3 exp " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "main@1")) << r.out;
  EXPECT_TRUE(contains(r.out, "exp@3"));
  EXPECT_TRUE(contains(r.out, "1.775*"));  // val_acc: higher is better; exp's 0.5 + 0.375 + 0.9
  EXPECT_TRUE(contains(r.out, "0.25*"));   // val_loss: lower is better; 1 / (3 + 1) for main@3 and exp@3
  EXPECT_FALSE(contains(r.out, "0.75*"));  // train_loss ties everywhere: no best
  RunResult j = run_strata(dir_, "compare main@1 exp --metric val_acc --json " + log_arg());
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(contains(j.out, "\"metrics\":[{\"name\":\"val_acc\",\"values\":[0.625,1.775],\"best\":1}]")) << j.out;
  EXPECT_TRUE(contains(j.out, "{\"id\":\"" + to_hex(exp_) + "\",\"name\":\"" + short_hex(exp_) + " (exp@3)\""));
  RunResult prefix = run_strata(dir_, "compare main@1 exp --metric 'val*' --json " + log_arg());
  ASSERT_EQ(prefix.code, 0) << prefix.err;
  EXPECT_TRUE(contains(prefix.out, "\"val_loss\"") && !contains(prefix.out, "train_loss")) << prefix.out;
  RunResult bad = run_strata(dir_, "compare main@1 exp --metric nope " + log_arg());
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "no metric 'nope'") && contains(bad.err, "val_acc")) << bad.err;
}

// Reads the archive back with numpy (Debian's python3-numpy, installed by scripts/install_deps.sh)
// and compares every array's bytes with the log's tensors.
TEST_F(StrataCli, ExportWritesAnNpzThatNumpyReadsBitForBit) {
  const std::string npz = dir_.sub("main2.npz");
  RunResult r = run_strata(dir_, "export main@2 --params " + npz + " --with-optim --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"format\":\"npz\"")) << r.out;
  ASSERT_EQ(::access("/usr/bin/python3", X_OK), 0) << "python3-numpy is needed (scripts/install_deps.sh)";
  const std::string script = dir_.sub("read.py");
  {
    std::ofstream py(script);
    py << "import sys, numpy as np\n"
          "with np.load(sys.argv[1]) as z:\n"
          "    for k in z.files:\n"
          "        a = z[k]\n"
          "        print(k, a.dtype.str, list(a.shape), a.tobytes().hex())\n";
  }
  const tools_test::CommandOutput py = tools_test::run_command("/usr/bin/python3 " + script + " " + npz + " 2>&1");
  ASSERT_EQ(py.code, 0) << py.out;
  const std::string& out = py.out;
  auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
  NamedTensors tensors = log->read_params(main_[1]);
  for (auto& t : log->read_optim(main_[1])) tensors.push_back(t);
  std::string expected;
  for (const auto& [name, t] : tensors) {
    std::string dims;
    for (size_t i = 0; i < t.shape().size(); ++i) dims += (i ? ", " : "") + std::to_string(t.shape()[i]);
    std::string hex;
    const auto* bytes = static_cast<const unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) hex += fmt_hex(bytes[i]);
    expected += name + " <f4 [" + dims + "] " + hex + "\n";
  }
  EXPECT_EQ(out, expected);
  RunResult bad = run_strata(dir_, "export main@2 --params /nonexistent/dir/x.npz " + log_arg());
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "cannot create the archive")) << bad.err;
}

TEST_F(StrataCli, ExportSafetensorsAndImportItBackBitForBit) {
  const std::string st = dir_.sub("main2.safetensors");
  RunResult r = run_strata(dir_, "export main@2 --safetensors " + st + " --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"format\":\"safetensors\"")) << r.out;
  // Read as the safetensors library does: header length, JSON, offsets into the data.
  const std::string script = dir_.sub("read_st.py");
  std::ofstream(script) << "import json, struct, sys\n"
                           "b = open(sys.argv[1], 'rb').read()\n"
                           "n = struct.unpack('<Q', b[:8])[0]\n"
                           "h = json.loads(b[8:8 + n])\n"
                           "print(h['__metadata__']['strata_version'])\n"
                           "for k, v in h.items():\n"
                           "    if k != '__metadata__':\n"
                           "        s, e = v['data_offsets']\n"
                           "        print(k, v['dtype'], v['shape'], b[8 + n + s:8 + n + e].hex())\n";
  const tools_test::CommandOutput py = tools_test::run_command("/usr/bin/python3 " + script + " " + st + " 2>&1");
  ASSERT_EQ(py.code, 0) << py.out;
  auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
  std::string expected = log->describe(main_[1]) + "\n";
  for (const auto& [name, t] : log->read_params(main_[1])) {
    std::string dims, hex;
    for (size_t i = 0; i < t.shape().size(); ++i) dims += (i ? ", " : "") + std::to_string(t.shape()[i]);
    const auto* bytes = static_cast<const unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) hex += fmt_hex(bytes[i]);
    expected += name + " F32 [" + dims + "] " + hex + "\n";
  }
  EXPECT_EQ(py.out, expected);
  log.reset();

  RunResult imp = run_strata(dir_, "import " + st + " --graph main@2 --branch from-st " + log_arg());
  ASSERT_EQ(imp.code, 0) << imp.err;
  EXPECT_TRUE(contains(imp.out, "imported 4 tensors")) << imp.out;
  RunResult diff = run_strata(dir_, "diff main@2 from-st --eps 0 --json " + log_arg());
  EXPECT_TRUE(contains(diff.out, "\"changed_tensors\":0")) << diff.out;
  RunResult listed = run_strata(dir_, "log from-st " + log_arg());
  EXPECT_TRUE(contains(listed.out, "from-st@0 ") && contains(listed.out, "[params only]")) << listed.out;
  // Usage errors exit 2; refusals exit 1 and write nothing.
  EXPECT_EQ(run_strata(dir_, "export main@2 " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "export main@2 --params a.npz --safetensors b.safetensors " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "import " + st + " --branch x " + log_arg()).code, 2);
  RunResult again = run_strata(dir_, "import " + st + " --graph main@2 --branch from-st " + log_arg());
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.err;

  // The input normalisation it records: given, or none (main@2 recorded none).
  EXPECT_TRUE(contains(imp.out, "no input normalisation")) << imp.out;
  const std::string import_y = "import " + st + " --graph main@2 --branch y ";
  RunResult normed = run_strata(dir_, import_y + "--input-mean 0.25 --input-std 0.5 --json " + log_arg());
  ASSERT_EQ(normed.code, 0) << normed.err;
  EXPECT_TRUE(contains(normed.out, "\"input_mean\":\"0.25\",\"input_std\":\"0.5\"")) << normed.out;
  EXPECT_EQ(run_strata(dir_, "import " + st + " --graph main@2 --branch z --input-mean 0.25 " + log_arg()).code, 2);
  EXPECT_EQ(run_strata(dir_, "import " + st +
                                 " --graph main@2 --branch z --input-mean 0.25 --input-std 0.5 "
                                 "--no-input-normalisation " +
                                 log_arg())
                .code,
            2);
  RunResult bad_norm =
      run_strata(dir_, "import " + st + " --graph main@2 --branch z --input-mean 0.2,0.3 --input-std 1 " + log_arg());
  EXPECT_EQ(bad_norm.code, 1);
  EXPECT_TRUE(contains(bad_norm.err, "2 values for")) << bad_norm.err;
  EXPECT_NE(run_strata(dir_, "log z " + log_arg()).code, 0);  // nothing written
}

TEST_F(StrataCli, ExportOnnxWritesAModelAndRefusesBadOptions) {
  const std::string model = dir_.sub("m.onnx");
  RunResult r = run_strata(dir_, "export main@2 --onnx " + model + " --opset 13 --batch 8 --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"format\":\"onnx\",\"opset\":13,\"nodes\":3,\"initializers\":4")) << r.out;
  EXPECT_TRUE(std::filesystem::file_size(model) > 0);
  for (const char* bad : {"--batch 0", "--batch -3", "--batch many", "--opset 12", "--opset 18"})
    EXPECT_EQ(run_strata(dir_, "export main@2 --onnx " + model + " " + bad + " " + log_arg()).code, 2) << bad;
  EXPECT_EQ(run_strata(dir_, "export main@2 --onnx " + model + " --params x.npz " + log_arg()).code, 2);
}

// import --model, then predict from a CSV file with and without its label column: the classes
// are the arg-max of the network's own forward pass, the accuracy is theirs against the labels.
TEST(StrataCliPredict, CsvInputsWithAndWithoutALabelColumn) {
  TempDir dir;
  const GraphSpec graph = models::by_name("mlp", {4}, 3);
  Network net(graph);
  net.init_params(5);
  write_npz(dir.sub("w.npz"), net.state_tensors());
  RunResult imp = run_strata(dir, "import " + dir.sub("w.npz") +
                                      " --model mlp --input-shape 4 --classes 3 --branch csv "
                                      "--log " +
                                      dir.sub("log"));
  ASSERT_EQ(imp.code, 0) << imp.err;
  Tensor x({6, 4});
  std::string with_label = "a,b,c,d,label\n", features = "a,b,c,d\n";
  const int64_t labels[6] = {0, 1, 2, 2, 1, 0};
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      x.f32()[i * 4 + j] = static_cast<float>((i * 7 + j * 3) % 11) / 4.0f - 1.0f;
      const std::string v = std::to_string(x.f32()[i * 4 + j]);
      with_label += v + ",";
      features += v + (j < 3 ? "," : "\n");
    }
    with_label += std::to_string(labels[i]) + "\n";
  }
  std::ofstream(dir.sub("l.csv")) << with_label;
  std::ofstream(dir.sub("f.csv")) << features;
  const Tensor& out = net.forward(x, Mode::kEval);
  std::string classes;
  int64_t correct = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const float* row = out.f32() + i * 3;
    const int64_t best = std::max_element(row, row + 3) - row;
    classes += "{\"class\":" + std::to_string(best) + ",";
    correct += best == labels[i];
  }
  RunResult plain = run_strata(dir, "predict csv --input " + dir.sub("f.csv") + " --json --log " + dir.sub("log"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  RunResult labelled =
      run_strata(dir, "predict csv --input " + dir.sub("l.csv") + " --target label --json --log " + dir.sub("log"));
  ASSERT_EQ(labelled.code, 0) << labelled.err;
  // The same classes, row by row, in both outputs.
  auto predicted = [](const std::string& json) {
    std::string out;
    for (size_t at = json.find("{\"class\":"); at != std::string::npos; at = json.find("{\"class\":", at + 1))
      out += json.substr(at, json.find(',', at) - at + 1);
    return out;
  };
  EXPECT_EQ(predicted(plain.out), classes);
  EXPECT_EQ(predicted(labelled.out), classes);
  const size_t at = labelled.out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << labelled.out;
  EXPECT_DOUBLE_EQ(std::strtod(labelled.out.c_str() + at + 11, nullptr), static_cast<double>(correct) / 6);
  // A CSV with the wrong number of features for the graph is a clear error.
  std::ofstream(dir.sub("bad.csv")) << "a,b\n1,2\n";
  RunResult bad = run_strata(dir, "predict csv --input " + dir.sub("bad.csv") + " --log " + dir.sub("log"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "do not fit the graph's input [4]")) << bad.err;
}

// A world-readable log can be read by another user, who cannot write its lock file.
TEST_F(StrataCli, AnotherUserCanReadAWorldReadableLog) {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)
    GTEST_SKIP() << "needs root and setpriv (util-linux) to run strata as another user";
  std::filesystem::permissions(dir_.path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                                std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                                std::filesystem::perms::others_exec);
  for (std::string p = dir_.path(); p != "/" && !p.empty(); p = std::filesystem::path(p).parent_path().string())
    if (::access(p.c_str(), R_OK | X_OK) != 0) GTEST_SKIP() << p << " is not traversable";
  const std::string as_nobody = "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups ";
  tools_test::CommandOutput r =
      tools_test::run_command(as_nobody + STRATA_BINARY_DIR "/tools/strata log --log " + dir_.path() + " 2>&1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "main@3")) << r.out;
  tools_test::CommandOutput v =
      tools_test::run_command(as_nobody + STRATA_BINARY_DIR "/tools/strata verify --all --log " + dir_.path() + " 2>&1");
  EXPECT_EQ(v.code, 0) << v.out;
}

TEST_F(StrataCli, DuBreaksBytesDownByBranchKindTensorAndCodec) {
  RunResult r = run_strata(dir_, "du --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  const uint64_t chunk_bytes = LmdbEnv::open(dir_.sub("versions.lmdb"), true, 0)->stats().chunk_value_bytes;
  EXPECT_TRUE(contains(r.out, "\"stored_bytes\":" + std::to_string(chunk_bytes) + ",")) << r.out;
  for (const char* key : {"\"by_branch\":{\"exp\":{\"raw_bytes\":", "\"by_kind\":{\"optimizer\":{", "\"parameters\":{",
                          "\"by_tensor\":{\"fc1/bias\":{", "\"optim/fc1/weight/m\":{",
                          "\"by_codec\":{\"raw\":{\"raw_bytes\":1248,"})  // tensors this small stay raw
    EXPECT_TRUE(contains(r.out, key)) << key << "\n" << r.out;
  RunResult text = run_strata(dir_, "du " + log_arg());
  EXPECT_TRUE(contains(text.out, "by branch") && contains(text.out, "by codec")) << text.out;
}

TEST_F(StrataCli, DiffReportsTensorsMetricsAndHparams) {
  RunResult r = run_strata(dir_, "diff main@1 exp --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"changed_tensors\":")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"status\":\"changed\""));
  // val_acc: 0.625 (main@1) -> 0.5 + 0.375 + 0.9 = 1.775 (exp@3): delta 1.15
  EXPECT_TRUE(contains(r.out, "\"val_acc\":{\"a\":0.625,\"b\":1.775,\"delta\":1.15")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"lr\":{\"a\":\"0.001\",\"b\":\"0.0005\"}"));
  RunResult same = run_strata(dir_, "diff main@2 main@2 " + log_arg());
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_TRUE(contains(same.out, "(0 of ")) << same.out;
  EXPECT_TRUE(contains(same.out, "graph: identical"));
  EXPECT_EQ(run_strata(dir_, "diff main@1 nope " + log_arg()).code, 1);
}

TEST_F(StrataCli, MergeAveragesAndGcFreesADeletedBranch) {
  RunResult m = run_strata(dir_, "merge main exp --alpha 0.25 --json " + log_arg());
  ASSERT_EQ(m.code, 0) << m.err;
  {
    auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
    CommitId merged = *log->head("main");
    CommitRecord rec = log->read_record(merged);
    ASSERT_EQ(rec.parents.size(), 2u);
    EXPECT_EQ(log->resolve("main@3"), main_[2]);  // the merge keeps epoch 3 but not the name main@3
    EXPECT_EQ(log->describe(merged), short_hex(merged) + " (main@3 merge)");
    NamedTensors a = log->read_params(main_[2]), b = log->read_params(exp_), c = log->read_params(merged);
    for (size_t t = 0; t < c.size(); ++t)
      for (int64_t i = 0; i < c[t].second.numel(); i += 97)
        EXPECT_NEAR(c[t].second.f32()[i], 0.75 * a[t].second.f32()[i] + 0.25 * b[t].second.f32()[i], 1e-6);
  }
  ASSERT_EQ(run_strata(dir_, "branch -d exp " + log_arg()).code, 0);
  ASSERT_EQ(run_strata(dir_, "tag -d best " + log_arg()).code, 0);
  // exp's head is still reachable through the merge's second parent: nothing to free.
  RunResult kept = run_strata(dir_, "gc --json " + log_arg());
  ASSERT_EQ(kept.code, 0) << kept.err;
  EXPECT_TRUE(contains(kept.out, "\"commits_deleted\":0")) << kept.out;
  // Roll main back before the merge: exp@3 and the merge become unreachable and are freed.
  ASSERT_EQ(run_strata(dir_, "branch -f main " + to_hex(main_[2]) + " " + log_arg()).code, 0);
  RunResult freed = run_strata(dir_, "gc --json " + log_arg());
  ASSERT_EQ(freed.code, 0) << freed.err;
  EXPECT_TRUE(contains(freed.out, "\"commits_deleted\":2")) << freed.out;
  EXPECT_EQ(run_strata(dir_, "verify --all " + log_arg()).code, 0);
  EXPECT_EQ(run_strata(dir_, "show " + to_hex(exp_) + " " + log_arg()).code, 1);
}

// Retention from the command line: main@1 loses its optimizer state (not among the newest 1 of
// main, not a head, not tagged), keeps its parameters, and can no longer be resumed exactly.
TEST_F(StrataCli, GcKeepFullAppliesRetention) {
  RunResult r = run_strata(dir_, "gc --keep-full 1 --json " + log_arg());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"retention\":{\"keep_full\":1,\"full_versions\":3,\"dropped_now\":1,\"params_only\":1,"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "\"commits_deleted\":0")) << r.out;
  {
    auto log = VersionLog::open(dir_.path(), OpenMode::kReadOnly);
    EXPECT_FALSE(log->read_params(main_[0]).empty());
    expect_error([&] { log->read_state(main_[0]); }, ErrorCode::kFailedPrecondition, {"cannot resume exactly"});
    log->read_state(main_[1]);  // tagged: full state kept
  }
  EXPECT_EQ(run_strata(dir_, "verify --all " + log_arg()).code, 0);
  RunResult listed = run_strata(dir_, "log " + log_arg());
  EXPECT_TRUE(contains(listed.out, short_hex(main_[0]) + " main@1  ")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "[params only]  main epoch 1")) << listed.out;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '['), 1) << listed.out;
  RunResult listed_json = run_strata(dir_, "log --json " + log_arg());
  EXPECT_TRUE(contains(listed_json.out, "\"tags\":[],\"resumable\":false,")) << listed_json.out;
  EXPECT_TRUE(contains(listed_json.out, "\"tags\":[\"best\"],\"resumable\":true,")) << listed_json.out;
  RunResult again = run_strata(dir_, "gc --keep-full 1 " + log_arg());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "optimizer state dropped from 0 versions now (1 params-only in all, 3 full)")) << again.out;
  RunResult bad = run_strata(dir_, "gc --keep-full 0 " + log_arg());
  EXPECT_EQ(bad.code, 2) << bad.out;
}

TEST(StrataCliCompact, CompressesWhatATrainingRunQueuedAndMidEpochNamesWork) {
  TempDir dir;
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    for (int e = 1; e <= 3; ++e) {
      TrainState s = synthetic_state(e, 7, 30000);
      if (e == 2) s.counters["loader/batch"] = 40;  // a mid-epoch version: 40 steps after epoch 2
      SnapshotRequest r;
      if (!ids.empty()) r.parents = {ids.back()};
      r.message = "v" + std::to_string(e);
      r.state = &s;
      ids.push_back(log->write(log->prepare(r), WriteOptions().defer_compression(true)).id);
    }
    ASSERT_EQ(log->pending_versions(), 3u);
  }
  RunResult listed = run_strata(dir, "log --log " + dir.path());
  EXPECT_TRUE(contains(listed.out, short_hex(ids[1]) + " main@2.40  ")) << listed.out;
  RunResult shown = run_strata(dir, "show main@2.40 --json --log " + dir.path());
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_TRUE(contains(shown.out, "\"name\":\"" + short_hex(ids[1]) + " (main@2.40)\"")) << shown.out;
  EXPECT_EQ(run_strata(dir, "show main@2.41 --log " + dir.path()).code, 1);
  EXPECT_EQ(run_strata(dir, "show main@2.x --log " + dir.path()).code, 1);

  RunResult compacted = run_strata(dir, "compact --log " + dir.path());
  ASSERT_EQ(compacted.code, 0) << compacted.err;
  EXPECT_TRUE(contains(compacted.out, "compact: 3 version(s) compressed, ")) << compacted.out;
  RunResult again = run_strata(dir, "compact --json --log " + dir.path());
  EXPECT_EQ(again.out,
            "{\"versions\":0,\"chunks_encoded\":0,\"delta_chunks\":0,\"bytes_before\":0,\"bytes_after\":0,"
            "\"seconds\":" +
                again.out.substr(again.out.find("\"seconds\":") + 10))
      << again.out;
  EXPECT_EQ(run_strata(dir, "verify --log " + dir.path()).code, 0);
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  for (int e = 1; e <= 3; ++e) {
    TrainState want = synthetic_state(e, 7, 30000);
    vtest::expect_tensors_eq(log->read_params(ids[e - 1]), want.params);
  }
}

}  // namespace
}  // namespace strata::versioning
