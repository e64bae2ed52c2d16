// examples/finetune_branch end to end (align, DESIGN "Align"): the base MLP trains 3 epochs on
// main, a deeper MLP warm-starts from main@3 on the branch `deeper`, and `strata log --all
// --graph` shows both lines with deeper@1's parent being main@3. Because the inserted layer
// starts as the identity, the deeper network's accuracy before training equals main@3's: the
// copied parameters landed where they belong. Runs the built binaries on Fashion-MNIST.
#include <cstdio>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/versioning/test_util.h"
#include "versioning/version_log.h"

namespace strata::versioning {
namespace {

struct Output {
  int code = -1;
  std::string text;
};

Output run(const std::string& cmd) {
  Output o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.text.append(buf, n);
  const int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(FinetuneBranchExample, WarmStartsADeeperNetOnABranchFromMain3) {
  if (::access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0 &&
      ::access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte", R_OK) != 0)
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string example = STRATA_BINARY_DIR "/examples/finetune_branch --limit 1200 --log-dir " + dir.path();
  Output out = run(example);
  ASSERT_EQ(out.code, 0) << out.text;
  EXPECT_TRUE(contains(out.text, "warm start from ")) << out.text;
  EXPECT_TRUE(contains(out.text, "6 tensors copied, 2 new, 0 dropped, 0 with another shape"));
  EXPECT_TRUE(contains(out.text, "new: fc2b/weight"));

  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  const CommitId main3 = log->resolve("main@3"), deeper1 = log->resolve("deeper@1");
  EXPECT_EQ(log->read_record(deeper1).parents, std::vector<CommitId>{main3});
  EXPECT_EQ(log->history("deeper").size(), 5u);  // deeper@2, deeper@1, main@3, main@2, main@1
  EXPECT_NE(log->read_record(main3).graph_id, log->read_record(deeper1).graph_id);
  char accuracy[64];
  std::snprintf(accuracy, sizeof accuracy, "before training %.2f%%", 100 * log->read_record(main3).metrics.at("val/accuracy"));
  EXPECT_TRUE(contains(out.text, accuracy)) << accuracy << "\n" << out.text;

  Output graph = run(STRATA_BINARY_DIR "/tools/strata log --all --graph --log " + dir.path());
  ASSERT_EQ(graph.code, 0) << graph.text;
  EXPECT_TRUE(contains(graph.text, "(deeper)") && contains(graph.text, "(main)")) << graph.text;
  EXPECT_TRUE(contains(graph.text, short_hex(deeper1) + " deeper@1")) << graph.text;
  EXPECT_TRUE(contains(graph.text, "\n* " + short_hex(main3) + " main@3")) << graph.text;

  Output again = run(example);  // the branch name is taken: refused before any training
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(contains(again.text, "branch 'deeper' already exists")) << again.text;
  EXPECT_EQ(log->all_versions().size(), 5u);
}

}  // namespace
}  // namespace strata::versioning
