// The examples' version-log flags, run as subprocesses: --log-codec picks a new log's chunk codec,
// and is refused (exit 1, the log untouched) on a log created with another; fresh runs on one log
// get their own branches and TensorBoard folders.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "strata/framework/summary/event_reader.h"
#include "strata/versioning/storage_report.h"
#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using tools_test::contains;

TEST(TrainExample, LogCodecSetsANewLogsCodecAndIsRefusedOnAnExistingLogWithAnother) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string example = STRATA_BINARY_DIR
                              "/examples/train_fashion_mnist --model mlp --limit 600 "
                              "--no-tensorboard --log-dir " +
                              dir.path();
  tools_test::CommandOutput first = tools_test::run_command(example + " --epochs 2 --log-codec shuffle+zstd 2>&1");
  ASSERT_EQ(first.code, 0) << first.out;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
    EXPECT_EQ(log->settings().codec, ChunkCodec::kShuffleZstd);
    StorageReport report = storage_report(*log);
    EXPECT_EQ(report.versions, 2u);
    // Every float chunk is shuffle+zstd: the first version's keyframes, the second's deltas
    // (tiny tensors that do not compress are stored raw).
    for (const auto& [key, usage] : report.by_codec)
      EXPECT_TRUE(key == "shuffle+zstd keyframe" || key == "shuffle+zstd delta" || key == "raw") << key;
    EXPECT_EQ(report.by_codec.count("shuffle+zstd delta"), 1u);
  }

  // The same codec again continues the log (--epochs counts from the start); another one is
  // refused before any training.
  tools_test::CommandOutput same = tools_test::run_command(example + " --epochs 3 --resume main --log-codec shuffle+zstd 2>&1");
  EXPECT_EQ(same.code, 0) << same.out;
  tools_test::CommandOutput other = tools_test::run_command(example + " --epochs 4 --resume main --log-codec float-model 2>&1");
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_TRUE(contains(other.out, "this log was created with codec shuffle+zstd")) << other.out;
  EXPECT_FALSE(contains(other.out, "epoch 1/")) << other.out;
  tools_test::CommandOutput unknown = tools_test::run_command(example + " --epochs 1 --log-codec lzma 2>&1");
  EXPECT_NE(unknown.code, 0);
  EXPECT_TRUE(contains(unknown.out, "--log-codec: lzma not in")) << unknown.out;

  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  EXPECT_EQ(log->all_versions().size(), 3u);
  EXPECT_EQ(log->settings().codec, ChunkCodec::kShuffleZstd);
}

// `--resume main` alone continues the run as it was started: the flags it does not give take the
// recorded hyper-parameters (seed, optimizer, learning rate, ...), and the result is bit-exact
// with an uninterrupted run. A flag that is given still wins.
TEST(TrainExample, ResumeTakesTheRecordedHyperParametersUnlessAFlagOverridesThem) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string example = STRATA_BINARY_DIR "/examples/train_fashion_mnist --limit 600 --no-tensorboard --log-dir ";
  const std::string started = " --seed 7 --optimizer sgd --momentum 0.5 --lr 0.05 --batch-size 32 --dropout 0.1";
  ASSERT_EQ(tools_test::run_command(example + dir.sub("straight") + started + " --epochs 2 2>&1").code, 0);
  ASSERT_EQ(tools_test::run_command(example + dir.sub("split") + started + " --epochs 1 2>&1").code, 0);
  tools_test::CommandOutput resumed = tools_test::run_command(example + dir.sub("split") + " --epochs 2 --resume main 2>&1");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "resuming main with its recorded")) << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "--seed 7")) << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "--optimizer sgd")) << resumed.out;
  auto straight = VersionLog::open(dir.sub("straight"), OpenMode::kReadOnly);
  auto split = VersionLog::open(dir.sub("split"), OpenMode::kReadOnly);
  const NamedTensors a = straight->read_params(straight->resolve("main")), b = split->read_params(split->resolve("main"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
  // A flag on the command line wins: another learning rate on a new branch.
  tools_test::CommandOutput changed =
      tools_test::run_command(example + dir.sub("split") + " --epochs 3 --resume main --lr 0.01 --branch slower 2>&1");
  ASSERT_EQ(changed.code, 0) << changed.out;
  split = VersionLog::open(dir.sub("split"), OpenMode::kReadOnly);
  const CommitRecord slower = split->read_record(split->resolve("slower"));
  EXPECT_EQ(slower.hparams.at("lr"), "0.01");
  EXPECT_EQ(slower.hparams.at("seed"), "7");
  EXPECT_EQ(slower.hparams.at("optimizer"), "sgd");
}

// `strata predict` on the Fashion-MNIST test files reproduces the accuracy the version recorded
// (the example validates on the same 10,000 images, normalised as it recorded).
TEST(TrainExample, PredictOnTheTestFilesGivesTheRecordedAccuracy) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string train = STRATA_BINARY_DIR
                            "/examples/train_fashion_mnist --model mlp --limit 1200 --epochs 1 "
                            "--no-tensorboard --log-dir " +
                            dir.path() + " 2>&1";
  tools_test::CommandOutput trained = tools_test::run_command(train);
  ASSERT_EQ(trained.code, 0) << trained.out;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  // The test set is evaluated once, after the last epoch, into its version; validation ran on
  // the 10% held out of the training images. Both, and where the data came from, are recorded.
  const versioning::CommitRecord head = log->read_record(*log->head("main"));
  const double recorded = head.metrics.at("test/accuracy");
  EXPECT_GT(head.metrics.count("val/accuracy"), 0u);
  EXPECT_EQ(head.environment.at("data/train/samples"), "1080");
  EXPECT_EQ(head.environment.at("data/val/samples"), "120");
  EXPECT_EQ(head.environment.at("data/test/samples"), "10000");
  EXPECT_EQ(head.environment.at("data/train/fingerprint").size(), 32u);
  EXPECT_TRUE(contains(head.environment.at("data/val/preprocess"),
                       "first 1200 of 60000 samples; validation part (120 samples) of a validation split 0.1, seed 1"))
      << head.environment.at("data/val/preprocess");
  EXPECT_EQ(head.environment.at("threads"), "2");
  EXPECT_TRUE(contains(head.environment.at("command"), "--limit 1200 --epochs 1")) << head.environment.at("command");
  log.reset();
  const std::string data = "/usr/share/datasets/fashion-mnist/t10k-";
  tools_test::CommandOutput predicted =
      tools_test::run_command(STRATA_BINARY_DIR "/tools/strata predict main --input " + data + "images-idx3-ubyte.gz --labels " +
                              data + "labels-idx1-ubyte.gz --batch 1000 --json --log " + dir.path() + " 2>&1");
  ASSERT_EQ(predicted.code, 0) << predicted.out;
  EXPECT_TRUE(contains(predicted.out, "\"samples\":10000")) << predicted.out.substr(0, 300);
  const size_t at = predicted.out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << predicted.out.substr(0, 300);
  EXPECT_EQ(std::strtod(predicted.out.c_str() + at + 11, nullptr), recorded);
  // A file whose samples do not fit the graph is a clear error.
  tools_test::CommandOutput bad = tools_test::run_command(STRATA_BINARY_DIR "/tools/strata predict main --input " + data +
                                                          "labels-idx1-ubyte.gz --log " + dir.path() + " 2>&1");
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.out, "do not fit the graph's input [1,28,28]")) << bad.out;
}

// `strata quantize` on a CNN trained on real images: the int8 version's accuracy on the 10,000
// test images stays within half a point of the f32 version's, and it says what it did.
TEST(TrainExample, AQuantizedCnnKeepsItsTestAccuracy) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  vtest::TempDir dir;
  const std::string strata = STRATA_BINARY_DIR "/tools/strata --log " + dir.path() + " ";
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  tools_test::CommandOutput trained = tools_test::run_command(
      STRATA_BINARY_DIR "/examples/train_fashion_mnist --model cnn --limit 3000 --epochs 1 --no-tensorboard --log-dir " +
      dir.path() + " 2>&1");
  ASSERT_EQ(trained.code, 0) << trained.out;
  tools_test::CommandOutput quantized = tools_test::run_command(
      strata + "quantize main --calibration " + data + "train-images-idx3-ubyte.gz --samples 500 --branch int8 --json 2>&1");
  ASSERT_EQ(quantized.code, 0) << quantized.out;
  EXPECT_TRUE(contains(quantized.out, "\"quantized\":[\"conv2\",\"fc1\",\"fc2\"]")) << quantized.out;
  EXPECT_TRUE(contains(quantized.out, "\"samples\":500")) << quantized.out;
  auto accuracy = [&](const std::string& version) {
    tools_test::CommandOutput p =
        tools_test::run_command(strata + "predict " + version + " --input " + data + "t10k-images-idx3-ubyte.gz --labels " +
                                data + "t10k-labels-idx1-ubyte.gz --json 2>&1");
    EXPECT_EQ(p.code, 0) << p.out.substr(0, 500);
    const size_t at = p.out.find("\"accuracy\":");
    return at == std::string::npos ? -1.0 : std::strtod(p.out.c_str() + at + 11, nullptr);
  };
  const double f32 = accuracy("main"), int8 = accuracy("int8");
  EXPECT_GT(f32, 0.6);
  EXPECT_NEAR(int8, f32, 0.005);
  tools_test::CommandOutput shown = tools_test::run_command(strata + "show int8 2>&1");
  EXPECT_TRUE(contains(shown.out, "quantize/calibration = train-images-idx3-ubyte.gz")) << shown.out.substr(0, 2000);
  // Quantizing the int8 version again is refused, and a bad flag is a usage error.
  EXPECT_EQ(tools_test::run_command(strata + "quantize int8 --calibration " + data + "train-images-idx3-ubyte.gz 2>&1").code, 1);
  EXPECT_EQ(tools_test::run_command(strata + "quantize main --samples 0 --calibration x.npy 2>&1").code, 2);
}

// Bad flags: exit 2 with one short line saying what is allowed (CLI11's own checks printed
// DBL_MAX in 300 digits and exited 105; --threads 100000 crashed).
// Every convolution of the CNN runs on one of oneDNN's fast kernels, training included: on a CPU
// without AVX-512 the first convolution's weight gradient (1 input channel, plain source) had
// only the reference kernel, which took seconds per batch (49 samples/s for the whole net).
TEST(TrainExample, TheCnnTrainsOnFastConvolutionKernelsOnly) {
  if (!tools_test::have_fashion_mnist())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh installs it)";
  tools_test::CommandOutput run = tools_test::run_command("ONEDNN_VERBOSE=1 " STRATA_BINARY_DIR
                                                          "/examples/train_fashion_mnist --model cnn --limit 256 --epochs 1 "
                                                          "--no-tensorboard 2>&1");
  ASSERT_EQ(run.code, 0) << run.out;
  int convolutions = 0;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);)
    if (contains(line, "onednn_verbose,exec,cpu,convolution,")) {
      ++convolutions;
      EXPECT_FALSE(contains(line, ",ref:")) << line;
    }
  EXPECT_GT(convolutions, 0) << run.out.substr(0, 2000);
}

TEST(TrainExample, BadFlagsExitTwoWithAShortMessage) {
  for (const char* bad : {"--threads 100000", "--threads 0", "--dropout -0.5", "--dropout 1", "--momentum nan", "--lr 0",
                          "--epochs 0", "--limit -3", "--weight-decay -1", "--batch-size 1e400"}) {
    tools_test::CommandOutput r =
        tools_test::run_command(STRATA_BINARY_DIR "/examples/train_fashion_mnist " + std::string(bad) + " 2>&1");
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "must be a number")) << bad << ": " << r.out;
    EXPECT_LT(r.out.size(), 200u) << r.out;
  }
}

// A log written by Strata 0.2.0, checked in byte for byte (tests/versioning/fixtures): every
// later build reads it to the same ids, verifies it, and resumes it.
TEST(TrainExample, ALogWrittenByStrata020ReadsVerifiesAndResumes) {
  vtest::TempDir dir;
  std::filesystem::copy(STRATA_SOURCE_DIR "/tests/versioning/fixtures/log_format2", dir.sub("log"),
                        std::filesystem::copy_options::recursive);
  {
    auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadOnly);
    EXPECT_EQ(to_hex(log->resolve("main@1")), "4f0914944f6f83aa9dcc3a798327ed02");
    EXPECT_EQ(to_hex(log->resolve("main")), "72f3d1e8ddde1fb9f8d0408f1c49f57e");
    EXPECT_EQ(log->settings().format_version, 2u);
    const CommitRecord r = log->read_record(log->resolve("main"));
    EXPECT_EQ(r.format_version, 2u);
    EXPECT_EQ(r.environment.at("strata"), "0.2.0");
    EXPECT_EQ(r.epoch, 2);
    EXPECT_TRUE(log->verify().ok());
    const TrainState s = log->read_state(log->resolve("main"));
    EXPECT_EQ(s.params.size(), 6u);
    EXPECT_EQ(s.optim.size(), 12u);
  }
  tools_test::CommandOutput resumed = tools_test::run_command("cd " + dir.path() +
                                                              " && " STRATA_BINARY_DIR
                                                              "/examples/regression_csv --epochs 3 --threads 1 --no-tensorboard "
                                                              "--log-dir log --resume main 2>&1");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "resumed from main (72f3d1e8 (main@2)): epoch 2")) << resumed.out;
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadOnly);
  EXPECT_EQ(log->read_record(*log->head("main")).epoch, 3);
  EXPECT_EQ(log->read_record(*log->head("main")).parents,
            std::vector<CommitId>{log->resolve("72f3d1e8ddde1fb9f8d0408f1c49f57e")});
  EXPECT_EQ(log->settings().format_version, 3u);  // the resuming writer sealed the ref digests
  EXPECT_TRUE(log->verify().ok());
}

// The bug of examples/run_log: four runs of regression_csv on one log went to main, main-2,
// main-2-2, main-2-3, and all wrote their event files into tb/main.
TEST(TrainExample, RepeatedFreshRunsGetBranchesMainMain2Main3AndTheirOwnEventFolders) {
  vtest::TempDir dir;
  const std::string example = "cd " + dir.path() + " && " STRATA_BINARY_DIR "/examples/regression_csv --epochs 1 --log-dir log";
  for (const char* branch : {"main", "main-2", "main-3"}) {
    tools_test::CommandOutput run = tools_test::run_command(example + " 2>&1");
    ASSERT_EQ(run.code, 0) << run.out;
    EXPECT_TRUE(contains(run.out, std::string("branch: ") + branch + "\n")) << run.out;
    const std::string tb = dir.sub("log/tb/") + branch;
    ASSERT_TRUE(std::filesystem::is_directory(tb)) << tb;
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(tb)) files += contains(e.path().string(), "tfevents");
    EXPECT_EQ(files, 1u) << tb;
  }
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadOnly);
  EXPECT_EQ(log->branches(), (std::vector<std::string>{"main", "main-2", "main-3"}));
}

TEST(TrainText, LanguageIdentificationBeatsTheMajorityClassResumesAndRecordsItsVocabulary) {
  if (!std::filesystem::exists("/usr/share/dict/ngerman") || !std::filesystem::exists("/usr/share/dict/swedish"))
    GTEST_SKIP() << "the word lists are not installed (scripts/install_deps.sh installs them)";
  vtest::TempDir dir;
  const std::string example = STRATA_BINARY_DIR
                              "/examples/train_text --task langid --model lstm --words 800 "
                              "--dim 16 --hidden 32 --no-tensorboard --log-dir " +
                              dir.path();
  tools_test::CommandOutput first = tools_test::run_command(example + " --epochs 2 2>&1");
  ASSERT_EQ(first.code, 0) << first.out;
  // 8 balanced languages: the majority class is about 1/8; two epochs already read far better.
  double accuracy = 0, majority = 0;
  ASSERT_NE(first.out.find("test accuracy"), std::string::npos) << first.out;
  ASSERT_EQ(std::sscanf(first.out.substr(first.out.find("test accuracy")).c_str(), "test accuracy %lf%% (majority class %lf%%)",
                        &accuracy, &majority),
            2)
      << first.out;
  EXPECT_LT(majority, 20.0);
  EXPECT_GT(accuracy, 2 * majority) << first.out;
  tools_test::CommandOutput resumed = tools_test::run_command(example + " --epochs 3 --resume main 2>&1");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "epoch 3/3")) << resumed.out;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  TrainState head = log->read_state(log->resolve("main"));
  EXPECT_EQ(head.epoch(), 3);
  EXPECT_NEAR(head.metrics.at("test/accuracy") * 100, accuracy, 30.0);  // recorded (after one more epoch)
  const std::string vocab = head.hparams.at("data/vocabulary");
  EXPECT_EQ(vocab.rfind("strata-vocabulary/1 char", 0), 0u) << vocab;
  // Bad flags: exit 2.
  EXPECT_EQ(tools_test::run_command(STRATA_BINARY_DIR "/examples/train_text --model rnn 2>&1").code, 2);
  EXPECT_EQ(tools_test::run_command(STRATA_BINARY_DIR "/examples/train_text --model transformer --dim 10 --heads 4 2>&1").code,
            2);
}

TEST(TrainText, LanguageModelSamplesGoToTensorBoardAndAResumedRunSamplesTheSameText) {
  // A small fortune file of our own (the format of Debian's: fortunes between lines of "%", and a
  // .dat index beside it), so that the test runs in seconds.
  vtest::TempDir dir;
  const std::string fortunes = dir.path() + "/fortunes";
  std::filesystem::create_directories(fortunes);
  {
    std::ofstream f(fortunes + "/wisdom");
    for (int i = 0; i < 60; ++i) f << "The early bird gets the worm, but the second mouse gets the cheese. " << i << "\n%\n";
    std::ofstream(fortunes + "/wisdom.dat") << "index";
  }
  const std::string example = STRATA_BINARY_DIR
                              "/examples/train_text --task lm --model transformer --window 16 --dim 16 "
                              "--hidden 16 --heads 2 --sample-length 40 --fortunes " +
                              fortunes;
  const std::string straight = dir.path() + "/straight", split = dir.path() + "/split";
  tools_test::CommandOutput a = tools_test::run_command(example + " --epochs 2 --log-dir " + straight + " 2>&1");
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_TRUE(contains(a.out, "sample after epoch 2: The ")) << a.out;
  EXPECT_LT(a.out.find("epoch 2/2"), a.out.find("sample after epoch 2:")) << a.out;
  ASSERT_EQ(tools_test::run_command(example + " --epochs 1 --log-dir " + split + " 2>&1").code, 0);
  tools_test::CommandOutput b = tools_test::run_command(example + " --epochs 2 --resume main --log-dir " + split + " 2>&1");
  ASSERT_EQ(b.code, 0) << b.out;
  auto sample = [](const std::string& out) {
    size_t at = out.find("sample after epoch 2:");
    return out.substr(at, out.find('\n', at) - at);  // one line, after the epoch's progress line
  };
  EXPECT_EQ(sample(a.out), sample(b.out));  // sampled from (seed, epoch) and bit-identical weights
  // The sample is a TensorBoard text entry per epoch, at the epoch's step.
  int texts = 0;
  for (const summary::EventRecord& e : summary::read_run(straight + "/tb/main"))
    if (e.kind == summary::EventKind::kText && e.tag == "sample") {
      ++texts;
      EXPECT_TRUE(contains(e.text, "The ")) << e.text;
    }
  EXPECT_EQ(texts, 2);
}

}  // namespace
}  // namespace strata::versioning
