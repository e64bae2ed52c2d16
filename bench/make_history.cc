// Writes a version log of N small versions shaped like a busy project, for the web view's
// benchmark (bench/ui_bench.sh): a main line, a branch every 25 versions that trains 3 versions
// and is merged back, metrics on every version.
//   make_history --versions N --log DIR
#include <CLI/CLI.hpp>
#include <cstdio>

#include "strata/versioning/version_log.h"

int main(int argc, char** argv) {
  using namespace strata;
  using namespace strata::versioning;
  CLI::App app("make_history: a version log of N small versions with branches and merges");
  int versions = 1000;
  std::string dir;
  app.add_option("--versions", versions, "how many versions")->check(CLI::Range(1, 1000000));
  app.add_option("--log", dir, "the new log's directory")->required();
  CLI11_PARSE(app, argc, argv);
  auto log = VersionLog::open(dir, OpenMode::kReadWrite);
  GraphSpec graph;
  graph.input_name = "input";
  graph.input_shape = {4};
  NodeSpec fc;
  fc.name = "fc";
  fc.op = "Linear";
  fc.inputs = {"input"};
  fc.output_shape = {2};
  ParamSpec weight;
  weight.name = "fc/weight";
  weight.shape = {2, 4};
  fc.params = {weight};
  graph.nodes = {fc};
  graph.output = "fc";
  auto state = [&](int64_t epoch, float salt) {
    TrainState s;
    s.graph = graph;
    Tensor w({2, 4});
    for (int i = 0; i < 8; ++i) w.f32()[i] = salt + 0.001f * static_cast<float>(epoch * 8 + i);
    s.params.emplace_back("fc/weight", w);
    s.counters["epoch"] = epoch;
    s.metrics = {{"val/accuracy", 0.5 + 0.4 * (1.0 - 1.0 / static_cast<double>(epoch + 1))}, {"train/loss", 1.0 / (epoch + 1)}};
    return s;
  };
  auto commit = [&](const TrainState& s, std::vector<CommitId> parents, const std::string& branch, const std::string& message) {
    SnapshotRequest r;
    r.parents = std::move(parents);
    r.branch = branch;
    r.message = message;
    r.state = &s;
    r.include_optim = false;
    return log->commit(r).id;
  };
  CommitId head = commit(state(1, 0), {}, "main", "epoch 1");
  int made = 1, epoch = 1;
  while (made < versions) {
    if (made % 25 == 0 && made + 4 <= versions) {  // a branch of 3 versions, merged back
      const std::string branch = "exp-" + std::to_string(made / 25);
      CommitId tip = head;
      for (int k = 1; k <= 3; ++k) tip = commit(state(epoch + k, 0.5f), {tip}, branch, branch + " try " + std::to_string(k));
      head = commit(state(epoch, 0.25f), {head, tip}, "main", "merge " + branch);
      made += 4;
      continue;
    }
    ++epoch;  // apart: the arguments' order of evaluation is unspecified
    head = commit(state(epoch, 0), {head}, "main", "epoch " + std::to_string(epoch));
    ++made;
  }
  std::printf("%d versions in %s\n", made, dir.c_str());
  return 0;
}
