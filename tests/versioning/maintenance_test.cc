// Retention and garbage collection: what stays resumable, what no ref reaches.
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
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::commit_state;
using vtest::expect_state_eq;
using vtest::expect_tensors_eq;
using vtest::synthetic_state;
using vtest::TempDir;

TEST(VersionLog, RetentionKeepsRecentFullStateAndRefusesExactResumeElsewhere) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 10, 100000);
  log->set_tag("first", ids[0]);
  const uint64_t before = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats().chunk_value_bytes;
  RetentionReport report = log->apply_retention(3);
  EXPECT_EQ(report.full_versions, 4u);  // epochs 8, 9, 10 and the tagged epoch 1
  EXPECT_EQ(report.dropped_now, 6u);
  EXPECT_EQ(report.params_only, 6u);
  EXPECT_GT(report.chunks_deleted, 0u);
  const uint64_t after = LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats().chunk_value_bytes;
  EXPECT_EQ(static_cast<int64_t>(before - after), report.bytes_freed);
  // Ids are stable; parameters of every version, the full state of kept ones, still read.
  for (int e = 1; e <= 10; ++e) {
    EXPECT_EQ(log->read_record(ids[e - 1]).id(), ids[e - 1]);
    expect_tensors_eq(log->read_params(ids[e - 1]), synthetic_state(e, 7, 100000).params);
  }
  for (int e : {1, 8, 9, 10}) expect_state_eq(log->read_state(ids[e - 1]), synthetic_state(e, 7, 100000));
  expect_error([&] { log->read_state(ids[4]); }, ErrorCode::kFailedPrecondition, {"retention", "main@5", "align_state"});
  expect_error([&] { load_state(*log, "main@5"); }, ErrorCode::kFailedPrecondition, {"retention"});
  expect_error([&] { log->read_optim(ids[4]); }, ErrorCode::kFailedPrecondition, {"retention"});
  EXPECT_FALSE(log->read_record(ids[4]).optim_present);
  EXPECT_TRUE(log->verify().ok());
  // Idempotent.
  RetentionReport again = log->apply_retention(3);
  EXPECT_EQ(again.dropped_now, 0u);
  EXPECT_EQ(again.chunks_deleted, 0u);
  expect_error([&] { log->apply_retention(0); }, ErrorCode::kInvalidArgument, {});
}

TEST(VersionLog, GcDeletesWhatNoRefReaches) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> main_ids = commit_epochs(*log, 3);
  // A side branch from main@2 with its own versions, then deleted.
  std::vector<CommitId> side{commit_state(*log, synthetic_state(3, 8), {main_ids[1]}, "side")};
  side.push_back(commit_state(*log, synthetic_state(4, 8), {side[0]}, "side"));
  EXPECT_EQ(log->gc().commits_deleted, 0u);
  log->delete_branch("side");
  GcReport report = log->gc();
  EXPECT_EQ(report.commits_deleted, 2u);
  EXPECT_GT(report.chunks_deleted, 0u);
  EXPECT_FALSE(log->has_version(side[0]));
  for (int e = 1; e <= 3; ++e) expect_state_eq(log->read_state(main_ids[e - 1]), synthetic_state(e));
  EXPECT_TRUE(log->verify().ok());
}

}  // namespace
}  // namespace strata::versioning
