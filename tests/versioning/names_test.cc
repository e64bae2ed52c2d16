// Naming versions: ids, prefixes, branch@epoch, tags and branches and the rules on their names.
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
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/corruption_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::commit_state;
using vtest::synthetic_state;
using vtest::TempDir;

TEST(VersionLog, ResolvesNames) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 4);
  log->set_tag("best", ids[1]);
  log->set_branch("exp", ids[2]);
  const std::string hex = to_hex(ids[3]);
  EXPECT_EQ(log->resolve(hex), ids[3]);
  EXPECT_EQ(log->resolve(hex.substr(0, 6)), ids[3]);
  EXPECT_EQ(log->resolve(hex.substr(0, 12) + "~2"), ids[1]);
  EXPECT_EQ(log->resolve("main"), ids[3]);
  EXPECT_EQ(log->resolve("main~1"), ids[2]);
  EXPECT_EQ(log->resolve("main~3"), ids[0]);
  EXPECT_EQ(log->resolve("main~~"), ids[1]);
  EXPECT_EQ(log->resolve("main@2"), ids[1]);
  EXPECT_EQ(log->resolve("main@4~1"), ids[2]);
  EXPECT_EQ(log->resolve("best"), ids[1]);
  EXPECT_EQ(log->resolve("best~1"), ids[0]);
  EXPECT_EQ(log->resolve("exp"), ids[2]);
  EXPECT_EQ(log->resolve("exp@1"), ids[0]);  // a branch's history includes where it came from
  EXPECT_EQ(log->describe(ids[1]), short_hex(ids[1]) + " (main@2)");

  expect_error([&] { log->resolve("nope"); }, ErrorCode::kNotFound, {"nope", "strata log --all"});
  expect_error([&] { log->resolve("main~9"); }, ErrorCode::kNotFound, {"past the first version"});
  expect_error([&] { log->resolve("main@99"); }, ErrorCode::kNotFound, {"epoch 99"});
  expect_error([&] { log->resolve("ghost@1"); }, ErrorCode::kNotFound, {"ghost"});
  expect_error([&] { log->resolve("main~x"); }, ErrorCode::kInvalidArgument, {"main~x"});
  expect_error([&] { log->resolve("abc"); }, ErrorCode::kInvalidArgument, {"4 hex"});
  expect_error([&] { log->resolve(std::string(32, '0')); }, ErrorCode::kNotFound, {});
  expect_error([&] { log->resolve(""); }, ErrorCode::kInvalidArgument, {});
}

TEST(VersionLog, AmbiguousPrefixListsCandidates) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  // Find two records whose ids share 4 hex digits by varying the message (prepare is cheap).
  TrainState s = synthetic_state(1);
  std::map<std::string, std::string> seen;  // prefix -> message
  std::pair<std::string, std::string> pair;
  for (int i = 0; pair.first.empty(); ++i) {
    SnapshotRequest r;
    r.branch = "b" + std::to_string(i);
    r.message = "m";
    r.wall_time_ms = 1000;
    r.author = "a@b";
    r.state = &s;
    std::string prefix = to_hex(log->prepare(r).id).substr(0, 4);
    auto [it, fresh] = seen.emplace(prefix, r.branch);
    if (!fresh) pair = {it->second, r.branch};
  }
  std::vector<CommitId> ids;
  for (const std::string& branch : {pair.first, pair.second}) {
    SnapshotRequest r;
    r.branch = branch;
    r.message = "m";
    r.wall_time_ms = 1000;
    r.author = "a@b";
    r.state = &s;
    ids.push_back(log->commit(r).id);
  }
  const std::string prefix = to_hex(ids[0]).substr(0, 4);
  ASSERT_EQ(prefix, to_hex(ids[1]).substr(0, 4));
  expect_error([&] { log->resolve(prefix); }, ErrorCode::kInvalidArgument,
               {"ambiguous", short_hex(ids[0]), short_hex(ids[1]), pair.first + "@1"});
  // One more digit usually decides; the full ids always do.
  EXPECT_EQ(log->resolve(to_hex(ids[1])), ids[1]);
}

TEST(VersionLog, BranchesAndTags) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 3);
  log->set_branch("exp", ids[0]);
  expect_error([&] { log->set_branch("exp", ids[1]); }, ErrorCode::kAlreadyExists, {"exp", "force"});
  log->set_branch("exp", ids[1], /*force=*/true);
  EXPECT_EQ(log->head("exp"), ids[1]);
  EXPECT_EQ(log->resolve("exp@1"), ids[0]);
  EXPECT_EQ(log->branches(), (std::vector<std::string>{"exp", "main"}));
  log->set_tag("v1", ids[2]);
  expect_error([&] { log->set_tag("v1", ids[0]); }, ErrorCode::kAlreadyExists, {"v1"});
  EXPECT_EQ(log->tags().at("v1"), ids[2]);
  log->delete_tag("v1");
  EXPECT_TRUE(log->tags().empty());
  log->delete_branch("exp");
  EXPECT_FALSE(log->head("exp"));
  expect_error([&] { log->resolve("exp@1"); }, ErrorCode::kNotFound, {"exp"});
  expect_error([&] { log->delete_branch("exp"); }, ErrorCode::kNotFound, {"exp"});
  expect_error([&] { log->set_branch("bad name", ids[0]); }, ErrorCode::kInvalidArgument, {"bad name"});
  expect_error([&] { log->set_branch("a@b", ids[0]); }, ErrorCode::kInvalidArgument, {"'@'"});
  expect_error([&] { log->set_tag("t", hash128("zz", 2)); }, ErrorCode::kNotFound, {});
  // A commit whose parent is not the branch head is refused: history is never rewritten.
  TrainState s = synthetic_state(9);
  expect_error([&] { commit_state(*log, s, {ids[0]}, "main"); }, ErrorCode::kFailedPrecondition, {"has moved", "new branch"});
  EXPECT_EQ(log->all_versions().size(), 3u);
}

// A tag and a branch never share a name (a resume would otherwise retrain onto an unexpected
// branch); names follow git's check-ref-format so that branch folders never collide.
TEST(VersionLog, TagsAndBranchesNeverShareANameAndNamesAreCheckedLikeGit) {
  TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  expect_error([&] { log->set_tag("main", ids[0]); }, ErrorCode::kAlreadyExists, {"a branch is named 'main'"});
  log->set_tag("best", ids[0]);
  expect_error([&] { log->set_branch("best", ids[1]); }, ErrorCode::kAlreadyExists, {"a tag is named 'best'"});
  expect_error([&] { commit_state(*log, synthetic_state(1, 3), {}, "best"); }, ErrorCode::kAlreadyExists,
               {"a tag is named 'best'"});
  {  // A fresh recorder asked for "best" skips to best-2.
    Recorder rec(log, RecorderOptions().branch("best"));
    EXPECT_EQ(rec.branch(), "best-2");
    expect_error([&] { rec.continue_from(ids[0], "best"); }, ErrorCode::kAlreadyExists, {"a tag is named 'best'"});
  }
  for (const char* bad : {"a//b", "a/./b", ".", "..", "a/.hidden", "x.lock", "a/b.lock/c", "heads/x", "tags/x", "a b",
                          "tab\tname", "-x", "x/", "/x"})
    expect_error([&] { log->set_branch(bad, ids[0]); }, ErrorCode::kInvalidArgument, {"invalid branch name"});
  log->set_branch("team/alice/exp1", ids[0]);
  EXPECT_EQ(log->resolve("team/alice/exp1"), ids[0]);
  // tags/NAME and heads/NAME select the kind explicitly.
  EXPECT_EQ(log->resolve("tags/best"), ids[0]);
  EXPECT_EQ(log->resolve("heads/main"), ids[1]);
  expect_error([&] { log->resolve("tags/main"); }, ErrorCode::kNotFound, {"no tag 'main'"});
}

TEST(VersionLog, ANameThatIsBothATagAndABranchInAnOldLogIsAmbiguous) {
  TempDir dir;
  std::vector<CommitId> ids;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    ids = commit_epochs(*log, 2);
  }
  {  // As an older Strata could write it: a tag "main" beside the branch.
    auto env = LmdbEnv::open(dir.sub("versions.lmdb"), false, 0);
    env->write([&](LmdbTxn& txn) { txn.put(Db::kRefs, "tags/main", as_bytes(ids[0])); });
  }
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  expect_error([&] { log->resolve("main"); }, ErrorCode::kInvalidArgument,
               {"'main' is ambiguous: both a tag and a branch", "tags/main or heads/main"});
  EXPECT_EQ(log->resolve("tags/main"), ids[0]);
  EXPECT_EQ(log->resolve("heads/main"), ids[1]);
  EXPECT_EQ(log->resolve("main@1"), ids[0]);
}

// A truncated data.mdb or a damaged page size in the current meta page is a Corruption error
// naming the file, for readers and writers alike; before, LMDB mapped it and the process died of
// SIGBUS (exit 135).

}  // namespace
}  // namespace strata::versioning
