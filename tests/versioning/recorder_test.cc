// The recorder callback: asynchronous commits every epoch, resume and branching, writer errors.
#include "strata/versioning/recorder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::commit_state;
using vtest::expect_state_eq;
using vtest::synthetic_state;
using vtest::TempDir;

// ---- recorder --------------------------------------------------------------------------------

CommitId run_epoch(Recorder& rec, const TrainState& s, std::map<std::string, std::string>& notes) {
  NamedTensors grads;
  EpochEndInfo info{s, grads, notes};
  rec.on_epoch_end(info);
  return *digest_from_hex(notes.at("version_full"));
}

TEST(Recorder, CommitsEveryEpochAsynchronously) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids;
  {
    Recorder rec(log, RecorderOptions().author("me@box"));
    rec.on_fit_begin(FitBeginInfo{});
    for (int e = 1; e <= 4; ++e) {
      TrainState s = synthetic_state(e, 7, 300000);
      std::map<std::string, std::string> notes;
      ids.push_back(run_epoch(rec, s, notes));
      // The id is known at once; the summary line shows its first 8 hex digits.
      EXPECT_EQ(notes["version"], short_hex(ids.back()));
      EXPECT_EQ(notes["branch"], "main");
      EXPECT_EQ(notes["message"], "epoch " + std::to_string(e) + ": loss=" +
                                      (e == 1   ? "0.5"
                                       : e == 2 ? "0.3333"
                                       : e == 3 ? "0.25"
                                                : "0.2") +
                                      " val_acc=" +
                                      (e == 1   ? "0.51"
                                       : e == 2 ? "0.52"
                                       : e == 3 ? "0.53"
                                                : "0.54"));
      // `s` goes out of scope now: the recorder must have copied it.
    }
    rec.on_fit_end(false);
    EXPECT_EQ(rec.last_commit(), ids.back());
    RecorderTiming t = rec.timing();
    EXPECT_EQ(t.snapshots, 4);
    EXPECT_EQ(t.staged_bytes, 1200000u + 3 * 4 * 26u);
    EXPECT_GT(t.last_writer_cpu_s, 0.0);                                      // encoding 1.2 MB takes CPU on the writer thread
    EXPECT_LE(t.last_writer_cpu_s, t.last_encode_s + t.last_write_s + 0.01);  // one thread: CPU <= wall
  }
  EXPECT_THROW(Recorder(log, RecorderOptions().writer_threads(0)), Error);
  EXPECT_EQ(log->head("main"), ids.back());
  std::vector<CommitId> history = log->history("main");
  ASSERT_EQ(history.size(), 4u);
  for (int e = 1; e <= 4; ++e) {
    EXPECT_EQ(history[4 - e], ids[e - 1]);
    expect_state_eq(log->read_state(ids[e - 1]), synthetic_state(e, 7, 300000));
    EXPECT_EQ(log->read_record(ids[e - 1]).author, "me@box");
  }
}

TEST(Recorder, ResumeContinuesHeadOrBranchesFromOlderVersions) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids;
  {
    Recorder rec(log);
    for (int e = 1; e <= 3; ++e) {
      std::map<std::string, std::string> notes;
      ids.push_back(run_epoch(rec, synthetic_state(e), notes));
    }
    rec.on_fit_end(false);
  }
  {  // Resume from the head: same branch.
    Recorder rec(log);
    TrainState s = load_state(*log, "main");
    expect_state_eq(s, synthetic_state(3));
    rec.continue_from(log->resolve("main"));
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(4), notes);
    rec.on_fit_end(false);
    EXPECT_EQ(notes["branch"], "main");
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[2]});
    EXPECT_EQ(log->head("main"), id);
  }
  {  // Resume from an older version: a new branch whose first commit has it as parent.
    Recorder rec(log);
    rec.continue_from(log->resolve("main@2"));
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(3, 11), notes);
    rec.on_fit_end(false);
    const std::string branch = "main-2";
    EXPECT_EQ(notes["branch"], branch);
    EXPECT_EQ(log->head(branch), id);
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[1]});
    EXPECT_EQ(log->resolve(branch + "@1"), ids[0]);
    EXPECT_EQ(log->history(branch).size(), 3u);
  }
  {  // Named branch, and a warm start into a changed graph.
    Recorder rec(log);
    rec.warm_start_from(ids[0], "wide");
    TrainState s = synthetic_state(1, 5);
    s.graph.nodes[0].params[0].shape = {6, 3};
    s.params[0].second = Tensor({6, 3});
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, s, notes);
    rec.flush();
    EXPECT_EQ(log->read_record(id).parents, std::vector<CommitId>{ids[0]});
    EXPECT_EQ(log->head("wide"), id);
    EXPECT_THROW(rec.continue_from(ids[0], "wide"), Error);
  }
  {  // A fresh run on a log whose branch exists goes on the next free "<branch>-<n>", decided
     // before any epoch ends (main-2 is taken by the resume above).
    Recorder rec(log);
    EXPECT_EQ(rec.branch(), "main-3");
    std::map<std::string, std::string> notes;
    CommitId id = run_epoch(rec, synthetic_state(1, 42), notes);
    rec.on_fit_end(false);
    EXPECT_EQ(notes["branch"], "main-3");
    EXPECT_TRUE(log->read_record(id).parents.empty());
  }
  {  // And the next one on main-4, not main-3-2.
    Recorder rec(log);
    EXPECT_EQ(rec.branch(), "main-4");
  }
}

TEST(Recorder, WriterErrorsSurfaceAtFitEnd) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_epochs(*log, 1);
  Recorder rec(log);
  rec.continue_from(log->resolve("main"));
  // Someone else moves the branch before the recorder's commit lands: the write must fail.
  commit_state(*log, synthetic_state(2, 3), {log->resolve("main")}, "main");
  std::map<std::string, std::string> notes;
  run_epoch(rec, synthetic_state(2), notes);
  expect_error([&] { rec.on_fit_end(false); }, ErrorCode::kFailedPrecondition, {"has moved"});
  expect_error([&] { run_epoch(rec, synthetic_state(3), notes); }, ErrorCode::kFailedPrecondition, {});
}

}  // namespace
}  // namespace strata::versioning
