// The version log across processes: SIGKILL at random instants (crash safety) of a process that
// commits in a loop and of a real training run (Trainer + Recorder) that is then resumed, a second
// writer, and readers running while a writer commits and grows the map. Child processes are this test
// binary re-executed with --gtest_filter=Helper.* and STRATA_HELPER_* in the environment.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/trainer.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/shuffled_source.h"
#include "tests/versioning/test_util.h"

extern char** environ;

namespace strata::versioning {
namespace {

using vtest::TempDir;

// A state that is a cheap pure function of its epoch (so any process can check a version).
TrainState crash_state(int64_t epoch) {
  TrainState s;
  s.graph = vtest::tiny_graph(0, 4 * 1024);
  for (const ParamSpec& p : s.graph.all_params()) {
    for (int slot = 0; slot < 2; ++slot) {
      Tensor t(p.shape);
      CounterRng base(11, RngPurpose::kInit, slot, 0), drift(11, RngPurpose::kData, slot, static_cast<uint64_t>(epoch));
      for (int64_t i = 0; i < t.numel(); ++i)
        t.f32()[i] = 0.05f * base.normal(static_cast<uint64_t>(i)) * (1.f + 1e-3f * static_cast<float>(epoch)) +
                     1e-5f * drift.uniform(static_cast<uint64_t>(i));
      if (slot == 0)
        s.params.emplace_back(p.name, t);
      else
        s.optim.emplace_back("optim/" + p.name + "/m", t);
    }
  }
  s.counters = {{"epoch", epoch}, {"global_step", 100 * epoch}};
  s.metrics = {{"train/loss", 1.0 / static_cast<double>(epoch)}};
  return s;
}

CommitId commit_next(VersionLog& log) {
  auto head = log.head("main");
  int64_t epoch = head ? log.read_record(*head).epoch + 1 : 1;
  TrainState s = crash_state(epoch);
  SnapshotRequest r;
  if (head) r.parents = {*head};
  r.state = &s;
  r.message = "epoch " + std::to_string(epoch);
  return log.commit(r).id;
}

// The training run that gets killed: dropout (RNG counters), Adam (optimizer state), a seeded
// shuffle (data order); epochs of 4 small batches, so that commits follow each other closely.
GraphSpec crash_mlp() { return Sequential({16}).linear(32).relu().dropout(0.2).linear(4).build(); }
TrainerOptions crash_trainer_options() {
  return TrainerOptions().seed(6).optimizer(OptimizerOptions().kind("adam").lr(0.01)).progress(Progress::kQuiet);
}
vtest::ShuffledSource crash_data() { return vtest::ShuffledSource({16}, 64, 16); }

TrainState deep_copy(TrainState s) {
  for (auto* list : {&s.params, &s.optim})
    for (auto& [name, t] : *list) t = t.clone();
  return s;
}

pid_t spawn_helper(const std::string& test, const std::string& dir) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("STRATA_HELPER_DIR=" + dir);
  std::string filter = "--gtest_filter=Helper." + test;
  std::vector<char*> envp, argv;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  argv = {self.data(), filter.data(), nullptr};
  std::string exe(4096, '\0');
  ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  exe.resize(n > 0 ? static_cast<size_t>(n) : 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(exe.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char* helper_dir() { return std::getenv("STRATA_HELPER_DIR"); }

// ---- child processes -------------------------------------------------------------------------

TEST(Helper, CrashWriter) {
  if (!helper_dir()) GTEST_SKIP() << "runs as a child of CrashSafety.SigkillAtRandomInstants";
  auto log = VersionLog::open(helper_dir(), OpenMode::kReadWrite, LogOptions().initial_map_bytes(1 << 20));
  std::FILE* marks = std::fopen((std::string(helper_dir()) + "/marks").c_str(), "a");
  for (;;) {  // until SIGKILL
    std::fputs("b\n", marks);
    std::fflush(marks);
    commit_next(*log);
    std::fputs("c\n", marks);
    std::fflush(marks);
  }
}

// Trains until killed, resuming from the head of main when there is one (as --resume main does).
TEST(Helper, TrainingWriter) {
  if (!helper_dir()) GTEST_SKIP() << "runs as a child of CrashSafety.SigkillDuringTrainingThenResumeIsBitExact";
  std::shared_ptr<VersionLog> log = VersionLog::open(helper_dir(), OpenMode::kReadWrite);
  vtest::ShuffledSource data = crash_data();
  Network net(crash_mlp());
  Trainer trainer(net, crash_trainer_options());
  Recorder recorder(log);
  if (auto head = log->head("main")) {
    trainer.load_state(log->read_state(*head));
    recorder.continue_from(*head);
  }
  // Tells the parent that training is under way (after start-up and the first, slow, epoch).
  struct EpochMarks : Callback {
    std::ofstream out{std::string(helper_dir()) + "/marks", std::ios::app};
    void on_epoch_end(EpochEndInfo&) override { out << "e\n" << std::flush; }
  } marks;
  trainer.add_callback(&recorder);
  trainer.add_callback(&marks);
  trainer.fit(data, nullptr, trainer.epoch() + 1000000);  // until SIGKILL
  std::exit(0);
}

TEST(Helper, SecondWriter) {
  if (!helper_dir()) GTEST_SKIP() << "runs as a child of MultiProcess.SecondWriterIsRefusedReadersWork";
  try {
    VersionLog::open(helper_dir(), OpenMode::kReadWrite);
    std::exit(10);  // opened: wrong
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kFailedPrecondition || std::string(e.what()).find("another process") == std::string::npos)
      std::exit(11);
  }
  auto ro = VersionLog::open(helper_dir(), OpenMode::kReadOnly);
  std::exit(ro->head("main") ? 0 : 12);
}

TEST(Helper, Reader) {
  if (!helper_dir()) GTEST_SKIP() << "runs as a child of MultiProcess.ReadersWorkWhileTheWriterGrowsTheMap";
  auto log = VersionLog::open(helper_dir(), OpenMode::kReadOnly);
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  int reads = 0;
  size_t max_seen = 0;
  while (std::chrono::steady_clock::now() < end) {
    std::vector<CommitId> history = log->history("main");
    max_seen = std::max(max_seen, history.size());
    TrainState s = log->read_state(history.front());
    TrainState want = crash_state(s.epoch());
    for (size_t i = 0; i < want.params.size(); ++i)
      if (!s.params[i].second.bit_equal(want.params[i].second)) std::exit(20);
    ++reads;
  }
  std::exit(reads > 0 && max_seen > 1 ? 0 : 21);
}

// ---- tests -----------------------------------------------------------------------------------

TEST(CrashSafety, SigkillAtRandomInstants) {
  TempDir dir;
  std::mt19937 rng(1234);
  int64_t committed = 0, mid_commit = 0;
  for (int round = 0; round < 22; ++round) {
    auto marks_size = [&] {
      std::error_code ec;
      auto n = std::filesystem::file_size(dir.sub("marks"), ec);
      return ec ? std::uintmax_t{0} : n;
    };
    const std::uintmax_t marks_before = marks_size();
    pid_t pid = spawn_helper("CrashWriter", dir.path());
    ASSERT_GT(pid, 0);
    // Wait until the child is in its commit loop (process start-up is slow under sanitizers),
    // then kill it at a random instant of the loop.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (marks_size() <= marks_before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 80));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
    std::ifstream marks(dir.sub("marks"));
    std::string line, last;
    while (std::getline(marks, line)) last = line;
    if (last == "b") ++mid_commit;

    // The log opens, every version on main reads back exactly, epochs are contiguous, and
    // nothing committed before was lost.
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    std::vector<CommitId> history;
    if (log->head("main")) history = log->history("main");
    ASSERT_GE(static_cast<int64_t>(history.size()), committed);
    for (size_t i = history.size(); i-- > 0;) {    // oldest first: delta bases come from the cache
      TrainState s = log->read_state(history[i]);  // re-hashes every chunk read
      ASSERT_EQ(s.epoch(), static_cast<int64_t>(history.size() - i));
      vtest::expect_state_eq(s, crash_state(s.epoch()));
    }
    // Committing again works.
    commit_next(*log);
    committed = static_cast<int64_t>(history.size()) + 1;
  }
  std::printf("[ crash    ] 22 SIGKILLs, %lld landed inside a commit, %lld versions survived\n",
              static_cast<long long>(mid_commit), static_cast<long long>(committed));
  EXPECT_GE(mid_commit, 1);
  VerifyReport report = VersionLog::open(dir.path(), OpenMode::kReadOnly)->verify();
  EXPECT_TRUE(report.ok()) << (report.issues.empty() ? "" : report.issues[0].problem);
  EXPECT_EQ(report.versions_checked, static_cast<size_t>(committed));
}

// A real training run is killed at random instants (often inside a commit: an epoch is a few
// milliseconds, a commit with its fsync about as long) and resumed from the head of main by the
// next child. After every kill, each version on main must read back (hashes verified) and equal,
// bit for bit in parameters, optimizer state and counters, the same epoch of an uninterrupted run.
TEST(CrashSafety, SigkillDuringTrainingThenResumeIsBitExact) {
  TempDir dir;
  vtest::ShuffledSource ref_data = crash_data();
  Network ref_net(crash_mlp());
  Trainer reference(ref_net, crash_trainer_options());
  std::vector<TrainState> expected;  // expected[e - 1]: the uninterrupted run after epoch e
  std::mt19937 rng(4321);
  size_t versions = 0, kills = 0, during_commit = 0, marks_total = 0, durable_at_least = 0;
  for (int round = 0; round < 20; ++round) {
    auto marks_size = [&] {
      std::error_code ec;
      auto n = std::filesystem::file_size(dir.sub("marks"), ec);
      return ec ? std::uintmax_t{0} : n;
    };
    // Kill after 1 to 3 epoch ends of this child plus a random delay. One epoch end means a
    // snapshot was just handed to the writer thread, so the kill often lands inside its commit;
    // two or more mean the earlier snapshot is durable (a second snapshot waits for the first),
    // so the run progresses however slow the disk or the sanitizer makes each commit.
    const size_t epochs_wanted = 1 + rng() % 3;
    const std::uintmax_t marks_wanted = marks_size() + 2 * epochs_wanted;  // "e\n" per epoch end
    durable_at_least += epochs_wanted - 1;
    pid_t pid = spawn_helper("TrainingWriter", dir.path());
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (marks_size() < marks_wanted && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    ::kill(pid, SIGKILL);
    ASSERT_EQ(wait_exit(pid), 128 + SIGKILL) << "the training child died by itself";
    ++kills;

    auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
    std::vector<CommitId> history;
    if (log->head("main")) history = log->history("main");
    ASSERT_GE(history.size(), versions) << "a committed version was lost";
    // Epochs that ended in this round minus versions that became durable: a snapshot was handed
    // to the writer thread and the kill came before its transaction committed.
    std::ifstream marks(dir.sub("marks"));
    std::string line;
    size_t epoch_marks = 0;
    while (std::getline(marks, line)) epoch_marks += line == "e";
    if (epoch_marks - marks_total > history.size() - versions) ++during_commit;
    marks_total = epoch_marks;
    versions = history.size();
    while (expected.size() < versions) {
      reference.fit(ref_data, nullptr, static_cast<int64_t>(expected.size()) + 1);
      expected.push_back(deep_copy(reference.state()));
    }
    for (size_t i = 0; i < versions; ++i) {
      const CommitId& id = history[versions - 1 - i];  // oldest first
      TrainState s = log->read_state(id);
      const TrainState& want = expected[i];
      ASSERT_EQ(s.epoch(), static_cast<int64_t>(i + 1));
      for (const char* key : {"epoch", "global_step", "optim/step"}) ASSERT_EQ(s.counters.at(key), want.counters.at(key)) << key;
      vtest::expect_tensors_eq(s.params, want.params);
      vtest::expect_tensors_eq(s.optim, want.optim);
      if (::testing::Test::HasFailure()) FAIL() << "version " << log->describe(id) << " differs from the uninterrupted run";
    }
  }
  std::printf(
      "[ crash    ] %zu SIGKILLs of a training run (%zu while a snapshot was being written), %zu versions, "
      "each equal to the uninterrupted run\n",
      kills, during_commit, versions);
  EXPECT_GE(during_commit, 1u);
  EXPECT_GE(versions, durable_at_least);
  EXPECT_GE(versions, 10u);
  EXPECT_TRUE(VersionLog::open(dir.path(), OpenMode::kReadOnly)->verify().ok());
}

TEST(MultiProcess, SecondWriterIsRefusedReadersWork) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_next(*log);
  EXPECT_EQ(wait_exit(spawn_helper("SecondWriter", dir.path())), 0);
  log.reset();  // once the writer closes, another process may write
  pid_t pid = spawn_helper("CrashWriter", dir.path());
  for (int i = 0; i < 500 && !std::ifstream(dir.sub("marks")).good(); ++i)  // the child has the log open
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  expect_error([&] { VersionLog::open(dir.path(), OpenMode::kReadWrite); }, ErrorCode::kFailedPrecondition,
               {"another process is writing"});
  ::kill(pid, SIGKILL);
  wait_exit(pid);
}

TEST(MultiProcess, ReadersWorkWhileTheWriterGrowsTheMap) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite, LogOptions().initial_map_bytes(1 << 20));
  commit_next(*log);
  pid_t reader = spawn_helper("Reader", dir.path());
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
  int commits = 1;
  while (std::chrono::steady_clock::now() < end) {
    commit_next(*log);
    ++commits;
  }
  EXPECT_EQ(wait_exit(reader), 0);
  EXPECT_GT(commits, 3);
}

}  // namespace
}  // namespace strata::versioning
