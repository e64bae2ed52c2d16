// `strata tensorboard` re-creates event files from the log alone: a real training run writes
// live files (Recorder + TensorBoardCallback); deleting nothing, re-creating into another
// directory gives the same scalars, parameter histograms, version text, graph and hparams
// (gradient histograms and snapshot/ms exist only live; the live run never learns its last
// commit's snapshot/bytes, which the re-created files have).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <tuple>

#include "strata/framework/graph/builder.h"
#include "strata/framework/summary/event_reader.h"
#include "strata/framework/summary/tensorboard_callback.h"
#include "strata/framework/train/trainer.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/run/run.h"
#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata {
namespace {

using versioning::vtest::TempDir;

class TinySource : public BatchSource {
 public:
  int64_t num_batches() const override { return 2; }
  int64_t num_samples() const override { return 8; }
  void start_epoch(int64_t) override { next_ = 0; }
  bool next(Batch& b) override {
    if (next_ == 2) return false;
    b.x = Tensor({4, 3});
    b.y = Tensor({4}, DType::kI64);
    for (int64_t i = 0; i < 12; ++i) b.x.f32()[i] = static_cast<float>((i * 7 + next_ * 3) % 5) - 2;
    for (int64_t i = 0; i < 4; ++i) b.y.data<int64_t>()[i] = (i + next_) % 2;
    b.size = 4;
    ++next_;
    return true;
  }

 private:
  int64_t next_ = 0;
};

// (tag, step) -> what TensorBoard shows for it.
std::map<std::pair<std::string, int64_t>, std::string> content(const std::string& run_dir) {
  std::map<std::pair<std::string, int64_t>, std::string> out;
  for (const summary::EventRecord& e : summary::read_run(run_dir)) {
    // Live-only: gradients, timings, per-step loss.
    if (e.tag.rfind("grads/", 0) == 0 || e.tag == "snapshot/ms" || e.tag == "loss/train_step") continue;
    std::string v = std::to_string(e.value) + "|" + e.text + "|" + e.graph_def + "|" + std::to_string(e.histogram.num) + "," +
                    std::to_string(e.histogram.sum) + "," + std::to_string(e.histogram.bucket.size());
    for (const auto& [k, h] : e.hparams) v += "|" + k;
    if (!e.tag.empty()) out[{e.tag, e.step}] = v;  // the graph's tag is summary::kGraphTag
  }
  return out;
}

TEST(TensorBoardRecreate, EqualsLiveFilesGradientsAside) {
  TempDir dir;
  {
    std::shared_ptr<versioning::VersionLog> log = versioning::VersionLog::open(dir.path(), versioning::OpenMode::kReadWrite);
    versioning::Recorder recorder(log);
    TensorBoardCallback live(dir.sub("tb/main"));
    Network net(Sequential({3}).linear(4).relu().linear(2).build());
    Trainer trainer(net, TrainerOptions().progress(Progress::kQuiet));
    trainer.set_hparam("batch_size", "4");
    trainer.add_callback(&recorder);
    trainer.add_callback(&live);
    TinySource data;
    trainer.fit(data, &data, 3);
  }
  std::string cmd = std::string(STRATA_BINARY_DIR) + "/tools/strata tensorboard --log " + dir.path() + " --out " +
                    dir.sub("tb2") + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto live = content(dir.sub("tb/main")), recreated = content(dir.sub("tb2/main"));
  EXPECT_GT(live.size(), 20u);
  // snapshot/bytes of every commit, the last one's written live once it was durable (fit end).
  for (int64_t step : {2, 4, 6}) {
    EXPECT_EQ(recreated.count({"snapshot/bytes", step}), 1u) << step;
    EXPECT_EQ(live.count({"snapshot/bytes", step}), 1u) << step;
  }
  EXPECT_EQ(live.size(), recreated.size());
  for (const auto& [key, value] : live) {
    auto it = recreated.find(key);
    ASSERT_NE(it, recreated.end()) << key.first << "@" << key.second;
    EXPECT_EQ(it->second, value) << key.first << "@" << key.second;
  }
  for (std::string tag :
       std::vector<std::string>{"loss/train", "accuracy/val", "params/fc1/weight", "version", summary::kGraphTag})
    EXPECT_TRUE(std::any_of(live.begin(), live.end(), [&](const auto& kv) { return kv.first.first == tag; })) << tag;
  // Re-creating over files an earlier re-creation wrote needs --force.
  const std::string strata = std::string(STRATA_BINARY_DIR) + "/tools/strata tensorboard --log " + dir.path();
  EXPECT_NE(tools_test::run_command(strata + " --out " + dir.sub("tb2") + " 2>&1").code, 0);
  EXPECT_EQ(tools_test::run_command(strata + " --force --out " + dir.sub("tb2") + " 2>&1").code, 0);
  // The default target is <log>/tb-recreated, beside the live files; the live files are never
  // replaced, --force or not.
  EXPECT_EQ(tools_test::run_command(strata + " 2>&1").code, 0);
  EXPECT_FALSE(summary::list_event_files(dir.sub("tb-recreated/main")).empty());
  const size_t live_files = summary::list_event_files(dir.sub("tb/main")).size();
  for (const char* flags : {" --out ", " --force --out "}) {
    tools_test::CommandOutput refused = tools_test::run_command(strata + flags + dir.sub("tb") + " 2>&1");
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.out.find("holds event files written during training"), std::string::npos) << refused.out;
  }
  EXPECT_EQ(summary::list_event_files(dir.sub("tb/main")).size(), live_files);
  EXPECT_EQ(content(dir.sub("tb/main")), live);
}

// A branch continued by a second process: one graph event and one hparams session in the run,
// and the experiment summary once (TensorBoard warns about a second graph and keeps the first
// session).
TEST(TensorBoardRecreate, ASecondProcessContinuesTheRunWithoutASecondGraphOrSession) {
  TempDir dir;
  for (int process = 0; process < 2; ++process) {
    Network net(Sequential({3}).linear(4).relu().linear(2).build());
    Trainer trainer(net, TrainerOptions().progress(Progress::kQuiet));
    trainer.set_hparam("batch_size", "4");
    versioning::Run run(trainer, versioning::RunOptions().log_dir(dir.path()).resume(process ? "main" : "").verbose(false));
    TinySource data;
    trainer.fit(data, &data, 2 + 2 * process);
    run.finish();
  }
  size_t graphs = 0, starts = 0, experiments = 0, ends = 0;
  for (const summary::EventRecord& e : summary::read_run(dir.sub("tb/main"))) {
    graphs += e.kind == summary::EventKind::kGraph;
    starts += e.kind == summary::EventKind::kHParamsStart;
    experiments += e.kind == summary::EventKind::kHParamsExperiment;
    ends += e.kind == summary::EventKind::kHParamsEnd;
  }
  EXPECT_EQ(summary::list_event_files(dir.sub("tb/main")).size(), 2u);
  EXPECT_EQ(graphs, 1u);
  EXPECT_EQ(starts, 1u);
  EXPECT_EQ(experiments, 1u);
  EXPECT_EQ(ends, 2u);  // each process ends the session it continued
}

}  // namespace
}  // namespace strata
