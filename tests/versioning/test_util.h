// Helpers for the versioning tests: temp dirs, a hand-made GraphSpec and synthetic TrainStates
// whose contents are a pure function of (seed, epoch), so any process can check what a version
// must hold.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "strata/framework/core/rng.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/train/train_state.h"
#include "strata/versioning/version_log.h"
#include "tests/temp_dir.h"

namespace strata::versioning::vtest {

using TempDir = strata::test::TempDir;

inline ParamSpec param(const std::string& name, Shape shape) {
  ParamSpec p;
  p.name = name;
  p.shape = std::move(shape);
  p.init = "kaiming_uniform";
  return p;
}

// input[3] -> fc1 Linear(3->4) -> relu -> fc2 Linear(4->2), plus an optional "big" frozen table
// and an optional "wide" trained layer.
inline GraphSpec tiny_graph(int64_t big = 0, int64_t wide = 0) {
  GraphSpec g;
  g.input_shape = {3};
  NodeSpec fc1;
  fc1.name = "fc1";
  fc1.op = "Linear";
  fc1.inputs = {"input"};
  fc1.ints["out_features"] = {4};
  fc1.params = {param("fc1/weight", {4, 3}), param("fc1/bias", {4})};
  fc1.output_shape = {4};
  NodeSpec relu;
  relu.name = "relu1";
  relu.op = "ReLU";
  relu.inputs = {"fc1"};
  relu.output_shape = {4};
  NodeSpec fc2;
  fc2.name = "fc2";
  fc2.op = "Linear";
  fc2.inputs = {"relu1"};
  fc2.ints["out_features"] = {2};
  fc2.params = {param("fc2/weight", {2, 4}), param("fc2/bias", {2})};
  fc2.output_shape = {2};
  g.nodes = {fc1, relu, fc2};
  if (big > 0) {
    NodeSpec emb;
    emb.name = "frozen";
    emb.op = "Embedding";
    emb.inputs = {"input"};
    emb.params = {param("frozen/table", {big})};
    emb.params[0].trainable = false;
    g.nodes.push_back(emb);
  }
  if (wide > 0) {
    NodeSpec head;
    head.name = "head";
    head.op = "Linear";
    head.inputs = {"input"};
    head.params = {param("head/weight", {wide / 64, 64})};
    g.nodes.push_back(head);
  }
  g.output = "fc2";
  return g;
}

// Values of tensor `salt` at `epoch`: a seeded start that drifts by ~1e-3 relative per epoch,
// as training would move it (the drift keeps delta coding busy). O(numel) for any epoch.
inline Tensor evolving(Shape shape, uint64_t seed, uint32_t salt, int64_t epoch, float scale = 0.05f) {
  Tensor t(std::move(shape));
  CounterRng start(seed, RngPurpose::kInit, salt, 0);
  CounterRng drift(seed, RngPurpose::kData, salt, static_cast<uint64_t>(epoch));
  const float grow = 1.f + 1e-3f * static_cast<float>(epoch);
  float* p = t.f32();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const auto k = static_cast<uint64_t>(i);
    p[i] = scale * start.normal(k) * grow + (epoch > 0 ? 1e-5f * scale * drift.uniform(k) : 0.f);
  }
  return t;
}

// A full TrainState of tiny_graph(big, wide) at `epoch`; the "frozen/table" never changes.
inline TrainState synthetic_state(int64_t epoch, uint64_t seed = 7, int64_t big = 0, int64_t wide = 0) {
  TrainState s;
  s.graph = tiny_graph(big, wide);
  uint32_t salt = 0;
  for (const ParamSpec& p : s.graph.all_params()) {
    ++salt;
    if (p.name == "frozen/table") {
      s.params.emplace_back(p.name, evolving(p.shape, seed, salt, 0));
      continue;
    }
    s.params.emplace_back(p.name, evolving(p.shape, seed, salt, epoch));
    s.optim.emplace_back("optim/" + p.name + "/m", evolving(p.shape, seed, salt + 100, epoch, 1e-3f));
    Tensor v = evolving(p.shape, seed, salt + 200, epoch, 1e-4f);
    for (int64_t i = 0; i < v.numel(); ++i) v.f32()[i] = v.f32()[i] * v.f32()[i];
    s.optim.emplace_back("optim/" + p.name + "/v", v);
  }
  s.counters = {{"epoch", epoch},        {"global_step", epoch * 10}, {"seed", static_cast<int64_t>(seed)},
                {"loader/epoch", epoch}, {"loader/batch", 0},         {"optim/step", epoch * 10}};
  s.metrics = {{"train/loss", 1.0 / static_cast<double>(epoch + 1)}, {"val/accuracy", 0.5 + 0.01 * static_cast<double>(epoch)}};
  s.hparams = {{"optimizer", "adam"}, {"lr", "0.001"}, {"batch_size", "32"}};
  return s;
}

inline void expect_tensors_eq(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
  }
}

inline void expect_state_eq(const TrainState& got, const TrainState& want) {
  EXPECT_TRUE(got.graph == want.graph);
  expect_tensors_eq(got.params, want.params);
  expect_tensors_eq(got.optim, want.optim);
  EXPECT_EQ(got.counters, want.counters);
  EXPECT_EQ(got.metrics, want.metrics);
  EXPECT_EQ(got.hparams, want.hparams);
}

// Commits `s` on `branch` with fixed author, message and time (ids are reproducible).
inline CommitId commit_state(VersionLog& log, const TrainState& s, std::vector<CommitId> parents,
                             const std::string& branch = "main", int64_t time_ms = 0) {
  SnapshotRequest r;
  r.parents = std::move(parents);
  r.branch = branch;
  r.message = "epoch " + std::to_string(s.epoch());
  r.author = "tester@host";
  r.wall_time_ms = time_ms ? time_ms : 1700000000000 + s.epoch() * 1000;
  r.state = &s;
  return log.commit(r).id;
}

// Commits epochs 1..n on `branch` and returns the ids, oldest first.
inline std::vector<CommitId> commit_epochs(VersionLog& log, int n, int64_t big = 0, const std::string& branch = "main") {
  std::vector<CommitId> ids;
  for (int e = 1; e <= n; ++e) {
    std::vector<CommitId> parents;
    if (!ids.empty()) parents.push_back(ids.back());
    ids.push_back(commit_state(log, synthetic_state(e, 7, big), parents, branch));
  }
  return ids;
}

}  // namespace strata::versioning::vtest
