// Data-parallel training over MPI (Trainer::set_data_parallel, train_fashion_mnist --distributed),
// run for real with `mpirun --oversubscribe -np 2` and `-np 3` on this machine: N ranks against
// one rank with the same global batch, repeatability, a rank killed with SIGKILL and the resume,
// another N on resume, and the log such a run writes.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "strata/framework/core/error.h"
#include "strata/versioning/version_log.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using tools_test::contains;
using vtest::TempDir;

const std::string kTrain = std::string(STRATA_BINARY_DIR) + "/examples/train_fashion_mnist";
const std::string kStrata = std::string(STRATA_BINARY_DIR) + "/tools/strata";

using Result = tools_test::CommandResult;

Result run(const TempDir& dir, const std::string& cmd) {
  return tools_test::run_capturing_stderr("timeout 300 " + cmd, dir.sub("stderr.txt"));
}

// Small and quick: 90% of 12,800 images in global batches of 64 (180 steps an epoch), the MLP.
std::string train_flags(const std::string& log_dir, int epochs, int limit = 12800) {
  return " --epochs " + std::to_string(epochs) + " --limit " + std::to_string(limit) +
         " --batch-size 64 --threads 1 --no-tensorboard --log-dir " + log_dir;
}

std::string mpirun(int ranks) {
  return "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " -x OMP_NUM_THREADS=1 " + kTrain +
         " --distributed";
}

NamedTensors head_params(const std::string& log_dir, const std::string& name = "main") {
  auto log = VersionLog::open(log_dir, OpenMode::kReadOnly);
  return log->read_params(log->resolve(name));
}

float max_abs_diff(const NamedTensors& a, const NamedTensors& b) {
  float worst = 0;
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    for (int64_t j = 0; j < a[i].second.numel(); ++j)
      worst = std::max(worst, std::abs(a[i].second.f32()[j] - b[i].second.f32()[j]));
  return worst;
}

bool bit_equal(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !a[i].second.bit_equal(b[i].second)) return false;
  return true;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tools_test::have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
    if (std::system("command -v mpirun > /dev/null") != 0) GTEST_SKIP() << "mpirun is not installed (openmpi-bin)";
#ifndef STRATA_WITH_MPI
    GTEST_SKIP() << "Strata was built without MPI (libopenmpi-dev)";
#endif
  }
  TempDir dir;
};

TEST_F(Distributed, TwoAndThreeRanksOfOneThreadMatchOneRankWithTheSameGlobalBatch) {
  // 4 epochs of 90 steps (global batch 64) with Adam at lr 3e-4. The ranks sum two or three
  // partial gradients where one rank sums one batch: only float rounding differs. How far that
  // carries depends on the run: a ReLU pre-activation within rounding of zero that flips, or
  // Adam normalising a near-zero gradient, turns it into a visible difference that then grows,
  // exactly as between 1 and 2 OpenMP threads of one process (docs/distributed.md:
  // 3e-2 after 180 steps of the default lr 1e-3 on 12,800 images, either way). This run has no
  // such event with 2 ranks: measured 9.1e-7; the bound is 1e-5. With 3 ranks it has one (measured
  // 1.9e-2), so 3 ranks are held to the same training only (metrics), and to bit-identical repeats
  // (ThreeRanksTwiceAreBitIdentical).
  const std::string one = dir.sub("one"), two = dir.sub("two"), three = dir.sub("three");
  const std::string flags = " --lr 0.0003";
  Result a = run(dir, "env OMP_NUM_THREADS=1 " + kTrain + train_flags(one, 4, 6400) + flags);
  ASSERT_EQ(a.code, 0) << a.err;
  Result b = run(dir, mpirun(2) + train_flags(two, 4, 6400) + flags);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(contains(b.out, "2 ranks x 1 threads")) << b.out;
  Result c = run(dir, mpirun(3) + train_flags(three, 4, 6400) + flags);
  ASSERT_EQ(c.code, 0) << c.err;
  const float diff2 = max_abs_diff(head_params(one), head_params(two));
  const float diff3 = max_abs_diff(head_params(one), head_params(three));
  std::printf("max |difference| of the parameters after 360 steps: 1 vs 2 ranks %.3g, 1 vs 3 ranks %.3g\n", diff2, diff3);
  EXPECT_LT(diff2, 1e-5f);
  EXPECT_LT(diff3, 0.1f);
  // The recorded metrics describe the whole epoch: the same steps and nearly the same loss.
  auto la = VersionLog::open(one, OpenMode::kReadOnly), lb = VersionLog::open(two, OpenMode::kReadOnly);
  const CommitRecord ra = la->read_record(la->resolve("main@4")), rb = lb->read_record(lb->resolve("main@4"));
  EXPECT_EQ(ra.global_step, rb.global_step);
  EXPECT_NEAR(ra.metrics.at("train/loss"), rb.metrics.at("train/loss"), 1e-5);
  EXPECT_NEAR(ra.metrics.at("train/accuracy"), rb.metrics.at("train/accuracy"), 1e-9);
  EXPECT_NEAR(ra.metrics.at("val/accuracy"), rb.metrics.at("val/accuracy"), 1e-9);
  auto lc = VersionLog::open(three, OpenMode::kReadOnly);
  const CommitRecord rc = lc->read_record(lc->resolve("main@4"));
  EXPECT_EQ(ra.global_step, rc.global_step);
  EXPECT_NEAR(ra.metrics.at("val/accuracy"), rc.metrics.at("val/accuracy"), 0.01);
  EXPECT_EQ(rb.environment.at("distributed/world_size"), "2");
  EXPECT_EQ(rb.environment.at("distributed/rank1/threads"), "1");
  EXPECT_EQ(ra.environment.count("distributed/world_size"), 0u);
}

TEST_F(Distributed, ThreeRanksTwiceAreBitIdentical) {
  const std::string a = dir.sub("a"), b = dir.sub("b");
  ASSERT_EQ(run(dir, mpirun(3) + train_flags(a, 1)).code, 0);
  ASSERT_EQ(run(dir, mpirun(3) + train_flags(b, 1)).code, 0);
  EXPECT_TRUE(bit_equal(head_params(a), head_params(b)));
}

// Process ids of the ranks of a job whose command line mentions `marker`, by rank.
std::map<int, pid_t> find_ranks(const std::string& marker) {
  std::map<int, pid_t> out;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream cmd("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (!contains(cmdline, marker) || !contains(cmdline, "train_fashion_mnist") || contains(cmdline, "mpirun")) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ");
    std::string environ((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    const size_t at = environ.find("OMPI_COMM_WORLD_RANK=");
    if (at != std::string::npos) out[std::atoi(environ.c_str() + at + 21)] = pid;
  }
  ::closedir(proc);
  return out;
}

TEST_F(Distributed, ARankKilledWithSigkillStopsAllKeepsTheLogAndTheResumeIsBitExact) {
  const std::string straight = dir.sub("straight"), killed = dir.sub("killed");
  constexpr int kLimit = 40000;  // ~0.5 s an epoch: room to kill in the middle of epoch 2
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  ASSERT_EQ(run(dir, mpirun(2) + train_flags(straight, 3, kLimit)).code, 0);
  // Under a sanitizer and a loaded machine an epoch takes tens of seconds, not 0.5 s: watch for
  // the first commit as long as the whole straight run took, and at least 30 s.
  const Clock::time_point deadline = Clock::now() + std::max<Clock::duration>(Clock::now() - started, std::chrono::seconds(30));

  Result crashed;
  std::thread job([&] { crashed = run(dir, mpirun(2) + train_flags(killed, 3, kLimit)); });
  bool shot = false;
  while (!shot && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (::access((killed + "/versions.lmdb/data.mdb").c_str(), R_OK) != 0) continue;
    try {
      auto log = VersionLog::open(killed, OpenMode::kReadOnly);
      if (log->history("main").empty()) continue;
    } catch (const Error&) {
      continue;
    }
    auto ranks = find_ranks(killed);
    if (ranks.count(1)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // into epoch 2
      ::kill(ranks[1], SIGKILL);
      shot = true;
    }
  }
  job.join();
  ASSERT_TRUE(shot) << "rank 1 was never seen";
  EXPECT_NE(crashed.code, 0) << "the job went on without rank 1";
  std::printf("mpirun after SIGKILL of rank 1: exit %d\n", crashed.code);

  // Every committed version is intact; the head is an epoch end before the kill.
  Result verify = run(dir, kStrata + " --log " + killed + " verify --all");
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  {
    auto log = VersionLog::open(killed, OpenMode::kReadOnly);
    const int64_t epoch = log->read_record(*log->head("main")).epoch;
    EXPECT_GE(epoch, 1);
    EXPECT_LT(epoch, 3);
  }
  Result resumed = run(dir, mpirun(2) + train_flags(killed, 3, kLimit) + " --resume main");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(bit_equal(head_params(straight), head_params(killed)));

  // Another number of ranks on resume: allowed, said, and recorded.
  Result three = run(dir, mpirun(3) + train_flags(killed, 3, kLimit) + " --resume main@1 --branch three");
  ASSERT_EQ(three.code, 0) << three.err;
  EXPECT_TRUE(contains(three.err, "ranks 2 -> 3")) << three.err;
  auto log = VersionLog::open(killed, OpenMode::kReadOnly);
  EXPECT_EQ(log->read_record(*log->head("three")).environment.at("distributed/world_size"), "3");
  // Not bit-exact (other partial sums), but the same training: the same steps, a close result.
  const CommitRecord a = VersionLog::open(straight, OpenMode::kReadOnly)
                             ->read_record(*VersionLog::open(straight, OpenMode::kReadOnly)->head("main"));
  const CommitRecord b = log->read_record(*log->head("three"));
  EXPECT_EQ(a.global_step, b.global_step);
  EXPECT_NEAR(a.metrics.at("val/accuracy"), b.metrics.at("val/accuracy"), 0.02);
}

TEST_F(Distributed, ALogWrittenByADistributedRunReadsDiffsAndExportsLikeAnyOther) {
  const std::string log = dir.sub("log");
  ASSERT_EQ(run(dir, mpirun(2) + train_flags(log, 2)).code, 0);
  for (const std::string& verb :
       std::vector<std::string>{"verify --all", "diff main@1 main@2", "show main@2", "log",
                                "export main@2 --onnx " + dir.sub("m.onnx"), "export main@2 --params " + dir.sub("p.npz")}) {
    Result r = run(dir, kStrata + " --log " + log + " " + verb);
    EXPECT_EQ(r.code, 0) << verb << ": " << r.err;
  }
  EXPECT_TRUE(contains(run(dir, kStrata + " --log " + log + " show main@2").out, "ranks    2"));
}

TEST_F(Distributed, AnErrorOnOneRankStopsEveryRankWithoutAHang) {
  const std::string log = dir.sub("log");
  ASSERT_EQ(run(dir, mpirun(2) + train_flags(log, 1)).code, 0);
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run(dir, mpirun(2) + train_flags(log, 2) + " --resume nope");  // only rank 0 resolves it
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "error on rank 0 of 2")) << r.err;
  EXPECT_TRUE(contains(r.err, "nope")) << r.err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);
}

}  // namespace
}  // namespace strata::versioning
