// Merging versions (average, task arithmetic, TIES), merge bases, diffs and aligning a changed
// graph.
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
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/diff.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::commit_state;
using vtest::synthetic_state;
using vtest::TempDir;

TEST(VersionLog, MergeAveragesParameters) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  CommitId b = commit_state(*log, synthetic_state(2, 99), {ids[0]}, "other");
  MergeRequest m;
  m.a = "main";
  m.b = "other";
  m.alpha = 0.25;
  m.wall_time_ms = 5000;
  CommitResult res = merge_versions(*log, m);
  CommitRecord r = log->read_record(res.id);
  EXPECT_EQ(r.parents, (std::vector<CommitId>{ids[1], b}));
  EXPECT_EQ(log->head("main"), res.id);
  EXPECT_FALSE(r.had_optim());
  NamedTensors got = log->read_params(res.id);
  NamedTensors pa = synthetic_state(2).params, pb = synthetic_state(2, 99).params;
  for (size_t t = 0; t < got.size(); ++t)
    for (int64_t i = 0; i < got[t].second.numel(); ++i)
      ASSERT_EQ(got[t].second.f32()[i],
                static_cast<float>(0.75 * double(pa[t].second.f32()[i]) + 0.25 * double(pb[t].second.f32()[i])));
  // Different graphs cannot be merged.
  TrainState other = synthetic_state(1);
  other.graph.nodes[0].params[0].shape = {5, 3};
  other.params[0].second = Tensor({5, 3});
  commit_state(*log, other, {}, "wide");
  m.a = "main";
  m.b = "wide";
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"fc1/weight", "[4,3]", "[5,3]"});
}

// A state of tiny_graph whose every parameter value is set by `value(tensor index, i)`.
TrainState state_with(int64_t epoch, const std::function<float(size_t, int64_t)>& value) {
  TrainState s = synthetic_state(epoch);
  for (size_t t = 0; t < s.params.size(); ++t)
    for (int64_t i = 0; i < s.params[t].second.numel(); ++i) s.params[t].second.f32()[i] = value(t, i);
  return s;
}

TEST(VersionLog, MergeBaseIsTheNearestCommonAncestor) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 3);                       // main@1..3
  CommitId x1 = commit_state(*log, synthetic_state(2, 11), {ids[0]}, "x");  // x forks at main@1
  CommitId x2 = commit_state(*log, synthetic_state(3, 11), {x1}, "x");
  CommitId y1 = commit_state(*log, synthetic_state(3, 12), {ids[1]}, "y");  // y forks at main@2
  CommitId lone = commit_state(*log, synthetic_state(1, 13), {}, "lone");
  EXPECT_EQ(merge_base(*log, ids[2], x2), ids[0]);
  EXPECT_EQ(merge_base(*log, ids[2], y1), ids[1]);
  EXPECT_EQ(merge_base(*log, x2, y1), ids[0]);
  EXPECT_EQ(merge_base(*log, ids[1], ids[2]), ids[1]);  // an ancestor is its own merge base
  EXPECT_EQ(merge_base(*log, ids[2], lone), std::nullopt);
  // After merging x into main, main's head and x's next version meet at x2.
  MergeRequest m;
  m.a = "main";
  m.b = "x";
  CommitId merged = merge_versions(*log, m).id;
  CommitId x3 = commit_state(*log, synthetic_state(4, 11), {x2}, "x");
  EXPECT_EQ(merge_base(*log, merged, x3), x2);
}

TEST(VersionLog, TaskArithmeticAndTiesMergeTheChangesSinceTheBase) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  // Base: every value 1. A and B change it; changes chosen so that TIES's trim and sign election
  // have known outcomes.
  CommitId base = commit_state(*log, state_with(1, [](size_t, int64_t) { return 1.0f; }), {});
  auto change_a = [](size_t, int64_t i) { return i % 2 == 0 ? 0.5f : -0.25f; };    // big +, small -
  auto change_b = [](size_t, int64_t i) { return i % 2 == 0 ? -0.125f : -1.0f; };  // small -, big -
  CommitId a = commit_state(*log, state_with(2, [&](size_t t, int64_t i) { return 1.0f + change_a(t, i); }), {base});
  CommitId b = commit_state(*log, state_with(2, [&](size_t t, int64_t i) { return 1.0f + change_b(t, i); }), {base}, "b");

  MergeRequest m;
  m.a = "main";
  m.b = "b";
  m.method = MergeMethod::kTaskArithmetic;
  m.lambda = 0.5;
  m.branch = "ta";
  CommitResult ta = merge_versions(*log, m);
  CommitRecord rec = log->read_record(ta.id);
  EXPECT_EQ(rec.hparams.at("merge/method"), "task-arithmetic");
  EXPECT_EQ(rec.hparams.at("merge/lambda"), "0.5");
  EXPECT_EQ(rec.hparams.at("merge/base"), to_hex(base));
  EXPECT_EQ(rec.parents, (std::vector<CommitId>{a, b}));
  for (const auto& [name, t] : log->read_params(ta.id))
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(t.f32()[i], i % 2 == 0 ? 1.0f + 0.5f * (0.5f - 0.125f) : 1.0f + 0.5f * (-0.25f - 1.0f)) << name << i;

  // TIES, density 1 (no trim): even values: +0.5 and -0.125 elect +, only A's change agrees;
  // odd values: -0.25 and -1 both agree with -, their mean is -0.625.
  m.method = MergeMethod::kTies;
  m.lambda = 1.0;
  m.density = 1.0;
  m.branch = "ties";
  for (const auto& [name, t] : log->read_params(merge_versions(*log, m).id))
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.f32()[i], i % 2 == 0 ? 1.5f : 0.375f) << name << i;

  // Rules take tensors whole: fc1/* from B, the rest by the method.
  m.take = {parse_take_rule("fc1/*=B")};
  m.branch = "ties-take";
  CommitResult taken = merge_versions(*log, m);
  EXPECT_EQ(log->read_record(taken.id).hparams.at("merge/take"), "fc1/weight=B,fc1/bias=B");
  for (const auto& [name, t] : log->read_params(taken.id))
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(t.f32()[i], name.rfind("fc1/", 0) == 0 ? 1.0f + change_b(0, i) : (i % 2 == 0 ? 1.5f : 0.375f)) << name;

  expect_error([] { parse_take_rule("fc1/*"); }, ErrorCode::kInvalidArgument, {"PATTERN=A"});
  expect_error([] { parse_take_rule("fc1/*=C"); }, ErrorCode::kInvalidArgument, {"PATTERN=A"});
  // A method that needs a base is refused without one, and when one side is the base.
  commit_state(*log, synthetic_state(1, 5), {}, "unrelated");
  m.take.clear();
  m.b = "unrelated";
  m.branch = "nope";
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"no common ancestor", "average"});
  m.b = to_hex(base);
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kFailedPrecondition, {"is an ancestor"});
  m.b = "b";
  m.density = 0;
  expect_error([&] { merge_versions(*log, m); }, ErrorCode::kInvalidArgument, {"density"});
}

TEST(VersionLog, DiffVersionsReportsTensorsGraphMetricsAndHparams) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  std::vector<CommitId> ids = commit_epochs(*log, 2);
  TrainState changed = synthetic_state(2);
  changed.graph.nodes[0].params[0].shape = {5, 3};
  changed.params[0].second = Tensor({5, 3});
  changed.hparams["lr"] = "0.5";
  commit_state(*log, changed, {ids[0]}, "wide");

  const VersionDiff same = diff_versions(*log, "main@2", "main@2", 0.0);
  EXPECT_EQ(same.changed_tensors(), 0u);
  EXPECT_TRUE(same.hparams.empty());
  for (const TensorDiff& t : same.tensors) EXPECT_EQ(t.max_abs, 0.0) << t.name;

  const VersionDiff d = diff_versions(*log, "main@1", "wide", 0.0);
  EXPECT_EQ(d.a, ids[0]);
  ASSERT_FALSE(d.tensors.empty());
  EXPECT_EQ(d.tensors[0].status, "reshaped");  // structural changes first
  EXPECT_EQ(d.tensors[0].name, "fc1/weight");
  EXPECT_EQ(d.tensors[0].shape_b, (Shape{5, 3}));
  EXPECT_NE(d.graph_a, d.graph_b);
  ASSERT_EQ(d.graph.changed.size(), 1u);
  EXPECT_NE(d.graph.changed[0].find("fc1"), std::string::npos) << d.graph.changed[0];
  EXPECT_EQ(d.hparams.at("lr").second, "0.5");
  // Metrics: every key of either side, B - A computable.
  const auto& [a_loss, b_loss] = d.metrics.at("train/loss");
  EXPECT_EQ(a_loss, synthetic_state(1).metrics.at("train/loss"));
  EXPECT_EQ(b_loss, synthetic_state(2).metrics.at("train/loss"));
  expect_error([&] { diff_versions(*log, "main", "nope", 0.0); }, ErrorCode::kNotFound, {"nope"});
}

TEST(VersionLog, AlignWarmStartsAChangedGraph) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_epochs(*log, 1);
  TrainState target = synthetic_state(0, 3);
  target.params[2].second = Tensor({2, 5});  // fc2/weight changed shape
  target.params.emplace_back("fc3/weight", Tensor({2, 2}));
  AlignReport report = align_state(*log, "main", target);
  EXPECT_EQ(report.matched, (std::vector<std::string>{"fc1/weight", "fc1/bias", "fc2/bias"}));
  EXPECT_EQ(report.mismatched, (std::vector<std::string>{"fc2/weight"}));
  EXPECT_EQ(report.added, (std::vector<std::string>{"fc3/weight"}));
  EXPECT_TRUE(target.params[0].second.bit_equal(synthetic_state(1).params[0].second));
}

}  // namespace
}  // namespace strata::versioning
