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
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"

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
    std::string v = std::to_string(e.value) + "|" + e.text + "|" + e.graph_def + "|" + std::to_string(e.histogram.num) +
                    "," + std::to_string(e.histogram.sum) + "," + std::to_string(e.histogram.bucket.size());
    for (const auto& [k, h] : e.hparams) v += "|" + k;
    if (!e.tag.empty()) out[{e.tag, e.step}] = v;  // the graph's tag is summary::kGraphTag
  }
  return out;
}

TEST(TensorBoardRecreate, EqualsLiveFilesGradientsAside) {
  TempDir dir;
  {
    std::shared_ptr<versioning::VersionLog> log =
        versioning::VersionLog::open(dir.path(), versioning::OpenMode::kReadWrite);
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
  // snapshot/bytes: live at epochs 1 and 2 (steps 2, 4), each commit's own bytes; re-created
  // also at epoch 3.
  for (int64_t step : {2, 4, 6}) EXPECT_EQ(recreated.count({"snapshot/bytes", step}), 1u) << step;
  EXPECT_EQ(live.count({"snapshot/bytes", 2}) + live.count({"snapshot/bytes", 4}), 2u);
  EXPECT_EQ(live.count({"snapshot/bytes", 6}), 0u);
  recreated.erase({"snapshot/bytes", 6});
  EXPECT_EQ(live.size(), recreated.size());
  for (const auto& [key, value] : live) {
    auto it = recreated.find(key);
    ASSERT_NE(it, recreated.end()) << key.first << "@" << key.second;
    EXPECT_EQ(it->second, value) << key.first << "@" << key.second;
  }
  for (std::string tag : std::vector<std::string>{"loss/train", "accuracy/val", "params/fc1/weight", "version", summary::kGraphTag})
    EXPECT_TRUE(std::any_of(live.begin(), live.end(), [&](const auto& kv) { return kv.first.first == tag; })) << tag;
  // Re-creating over existing files needs --force.
  EXPECT_NE(std::system((std::string(STRATA_BINARY_DIR) + "/tools/strata tensorboard --log " + dir.path() +
                         " > /dev/null 2>&1").c_str()),
            0);
  // --force is refused while a writer (a training run) holds the log: it would delete the live
  // event file being appended to. Into another --out it is fine.
  const std::string force = std::string(STRATA_BINARY_DIR) + "/tools/strata tensorboard --force --log " + dir.path();
  {
    auto writer = versioning::VersionLog::open(dir.path(), versioning::OpenMode::kReadWrite);
    tools_test::CommandOutput refused = tools_test::run_command(force + " 2>&1");
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.out.find("would delete its live event files"), std::string::npos) << refused.out;
    EXPECT_EQ(tools_test::run_command(force + " --out " + dir.sub("elsewhere") + " 2>&1").code, 0);
  }
  EXPECT_EQ(tools_test::run_command(force + " 2>&1").code, 0);
}

}  // namespace
}  // namespace strata
