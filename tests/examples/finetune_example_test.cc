// examples/finetune_branch end to end (align, docs/design.md "Align"): the base MLP trains 3 epochs on
// main, a deeper MLP warm-starts from main@3 on the branch `deeper`, and `strata log --all
// --graph` shows both lines with deeper@1's parent being main@3. Because the inserted layer
// starts as the identity, the deeper network's accuracy before training equals main@3's: the
// copied parameters landed where they belong. Runs the built binaries on Fashion-MNIST.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using tools_test::contains;

// The command's stdout and stderr together.
tools_test::CommandOutput run(const std::string& cmd) { return tools_test::run_command(cmd + " 2>&1"); }

TEST(FinetuneBranchExample, WarmStartsADeeperNetOnABranchFromMain3) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string example = STRATA_BINARY_DIR "/examples/finetune_branch --limit 1200 --log-dir " + dir.path();
  tools_test::CommandOutput out = run(example);
  ASSERT_EQ(out.code, 0) << out.out;
  EXPECT_TRUE(contains(out.out, "warm start from ")) << out.out;
  EXPECT_TRUE(contains(out.out, "6 tensors copied, 2 new, 0 dropped, 0 with another shape"));
  EXPECT_TRUE(contains(out.out, "new: fc2b/weight"));

  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  const CommitId main3 = log->resolve("main@3"), deeper1 = log->resolve("deeper@1");
  EXPECT_EQ(log->read_record(deeper1).parents, std::vector<CommitId>{main3});
  EXPECT_EQ(log->history("deeper").size(), 5u);  // deeper@2, deeper@1, main@3, main@2, main@1
  EXPECT_NE(log->read_record(main3).graph_id, log->read_record(deeper1).graph_id);
  char accuracy[64];
  std::snprintf(accuracy, sizeof accuracy, "before training %.2f%%", 100 * log->read_record(main3).metrics.at("val/accuracy"));
  EXPECT_TRUE(contains(out.out, accuracy)) << accuracy << "\n" << out.out;

  tools_test::CommandOutput graph = run(STRATA_BINARY_DIR "/tools/strata log --all --graph --log " + dir.path());
  ASSERT_EQ(graph.code, 0) << graph.out;
  EXPECT_TRUE(contains(graph.out, "(deeper)") && contains(graph.out, "(main)")) << graph.out;
  EXPECT_TRUE(contains(graph.out, short_hex(deeper1) + " deeper@1")) << graph.out;
  EXPECT_TRUE(contains(graph.out, "\n* " + short_hex(main3) + " main@3")) << graph.out;

  tools_test::CommandOutput again = run(example);  // the branch name is taken: refused before any training
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(contains(again.out, "branch 'deeper' already exists")) << again.out;
  EXPECT_EQ(log->all_versions().size(), 5u);
}

}  // namespace
}  // namespace strata::versioning
