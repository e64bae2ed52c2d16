// The README's quick start, built exactly as printed (examples/quickstart.cc is the README's code
// block, byte for byte), trains a version that `strata predict` and a Predictor serve with its
// input normalisation: predict on the 10,000 test images reproduces the recorded accuracy.
// Before the library recorded a DataLoader's normalisation itself, this version was served on
// raw pixels: 65.87% against a recorded 81.52%.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "strata/versioning/run/predictor.h"
#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using tools_test::contains;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first ```cpp block after the heading `heading`.
std::string code_block_after(const std::string& markdown, const std::string& heading) {
  const size_t h = markdown.find("\n" + heading + "\n");
  if (h == std::string::npos) return "";
  const size_t start = markdown.find("```cpp\n", h);
  if (start == std::string::npos) return "";
  const size_t end = markdown.find("```\n", start + 7);
  return end == std::string::npos ? "" : markdown.substr(start + 7, end - start - 7);
}

TEST(QuickStart, IsTheReadmesCodeWordForWord) {
  const std::string block = code_block_after(read_file(STRATA_SOURCE_DIR "/README.md"), "## Quick start");
  ASSERT_FALSE(block.empty()) << "README.md has no ```cpp block under '## Quick start'";
  EXPECT_EQ(block, read_file(STRATA_SOURCE_DIR "/examples/quickstart.cc"));
}

TEST(QuickStart, PredictReproducesTheRecordedAccuracy) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  tools_test::CommandOutput trained = tools_test::run_command(STRATA_BINARY_DIR "/examples/quickstart " + dir.path() + " 1 2>&1");
  ASSERT_EQ(trained.code, 0) << trained.out;
  double recorded = 0;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
    const CommitRecord head = log->read_record(*log->head("main"));
    recorded = head.metrics.at("test/accuracy");  // the last epoch evaluates the test set
    // Recorded by the library from the DataLoader, not by the program.
    EXPECT_EQ(head.hparams.at("input/mean"), "0.286000013");
    EXPECT_EQ(head.hparams.at("input/std"), "0.352999985");
    EXPECT_EQ(head.hparams.at("batch_size"), "128");
    EXPECT_TRUE(contains(head.environment.at("data/train/input_stats"), "strata-input-stats 1 20000\nmean "));
  }
  EXPECT_GT(recorded, 0.75);
  const std::string data = std::string(kFashionMnistDir) + "/t10k-";
  tools_test::CommandOutput predicted =
      tools_test::run_command(STRATA_BINARY_DIR "/tools/strata predict main --input " + data + "images-idx3-ubyte.gz --labels " +
                              data + "labels-idx1-ubyte.gz --batch 128 --json --log " + dir.path() + " 2>&1");
  ASSERT_EQ(predicted.code, 0) << predicted.out;
  const size_t at = predicted.out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << predicted.out.substr(0, 300);
  EXPECT_EQ(std::strtod(predicted.out.c_str() + at + 11, nullptr), recorded);
}

}  // namespace
}  // namespace strata::versioning
