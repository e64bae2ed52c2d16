// Warm start on a branch with a changed graph (docs/design.md "Align"): trains the Fashion-MNIST MLP
// 784-512-256-10 for 3 epochs on `main`, inserts a hidden layer (fc2b, 256 -> 256, after relu2),
// warm-starts the deeper network from main@3 (fc1, fc2 and fc3 are copied because name and shape
// match; fc2b is new), and trains it 2 more epochs on the branch `deeper`, whose first version
// has main@3 as parent. Then:
//
//   finetune_branch --log-dir runs/finetune
//   strata log --all --graph --log runs/finetune
//   strata diff main@3 deeper@1 --log runs/finetune     # fc2b added, graph diff
//
// The new layer starts as the identity (ReLU outputs are >= 0, so relu(I h) = h): the deeper
// network computes exactly what main@3 computed before its first step, and --identity=false
// shows what a random initialisation costs.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/run/run.h"
#include "strata/versioning/version_log.h"
#include "tools/flag_checks.h"

using namespace strata;

namespace {

GraphSpec mlp(bool deeper) {
  GraphBuilder b({1, 28, 28});
  Value x = b.flatten("flatten1", b.input());
  x = b.relu("relu1", b.linear("fc1", x, 512));
  x = b.relu("relu2", b.linear("fc2", x, 256));
  if (deeper) x = b.relu("relu2b", b.linear("fc2b", x, 256));
  return b.build(b.linear("fc3", x, 10));
}

// Trains `graph` for `epochs` with a version log; returns the id of the last version.
std::string train(const GraphSpec& graph, const versioning::RunOptions& log, int64_t epochs, bool identity_fc2b,
                  DataLoader& train_loader, DataLoader& test_loader, uint64_t seed) {
  Network net(graph);
  Trainer trainer(net, TrainerOptions().seed(seed).optimizer(OptimizerOptions().kind("adam").lr(1e-3)));
  trainer.set_hparam("model", graph.find("fc2b") ? "mlp+fc2b" : "mlp");
  versioning::Run run(trainer, log);
  if (identity_fc2b && graph.find("fc2b")) {
    NamedTensors params = net.state_tensors();
    for (auto& [name, t] : params) {
      if (name != "fc2b/weight" && name != "fc2b/bias") continue;
      t.fill(0.f);
      if (name == "fc2b/weight")
        for (int64_t i = 0; i < t.dim(0); ++i) t.f32()[i * t.dim(1) + i] = 1.f;
    }
    net.load_state_tensors(params);
    EvalResult before = trainer.evaluate(test_loader);
    std::printf("fc2b starts as the identity: test accuracy before training %.2f%%\n", 100 * before.confusion.accuracy());
  }
  trainer.fit(train_loader, &test_loader, epochs);
  run.finish();
  return versioning::to_hex(*run.recorder()->last_commit());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train an MLP on main, then warm-start a deeper MLP on a branch (align)"};
  std::string log_dir, branch = "deeper", data_dir = "/usr/share/datasets/fashion-mnist";
  int64_t base_epochs = 3, finetune_epochs = 2, limit = 0;
  int threads = 2;
  bool identity = true;
  app.add_option("--log-dir", log_dir, "version log directory")->required();
  app.add_option("--base-epochs", base_epochs, "epochs of the base MLP on main")->check(flags::positive());
  app.add_option("--finetune-epochs", finetune_epochs, "epochs of the deeper MLP")->check(flags::positive());
  app.add_option("--branch", branch, "branch of the deeper MLP");
  app.add_option("--identity", identity, "start the inserted layer as the identity");
  app.add_option("--limit", limit, "use only the first N training images (0 = all)")->check(flags::at_least(0));
  app.add_option("--threads", threads, "OpenMP threads")->check(flags::between(1, max_threads()));
  app.add_option("--data", data_dir, "directory with the Fashion-MNIST IDX files");
  if (int code = flags::parse(app, argc, argv); code >= 0) return code;

  try {
    set_num_threads(threads);
    {  // refuse before training rather than after: the second phase needs a free branch name
      auto log = versioning::VersionLog::open(log_dir, versioning::OpenMode::kReadWrite);
      versioning::validate_ref_name("branch", branch);
      if (log->head(branch))
        throw Error(ErrorCode::kAlreadyExists, "branch '" + branch + "' already exists", log_dir,
                    "pass --branch NAME or a fresh --log-dir");
    }
    Dataset train_set = load_fashion_mnist(data_dir, true, limit);
    Dataset test_set = load_fashion_mnist(data_dir, false);
    const uint64_t seed = 1;
    auto loader_options =
        DataLoaderOptions().batch_size(128).seed(seed).threads(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
    DataLoader train_loader(train_set, loader_options);
    DataLoader test_loader(test_set, DataLoaderOptions(loader_options).shuffle(false).batch_size(1000));

    auto base = versioning::RunOptions().log_dir(log_dir);
    std::printf("== base MLP, %lld epochs\n", static_cast<long long>(base_epochs));
    const std::string base_head = train(mlp(false), base, base_epochs, false, train_loader, test_loader, seed);

    auto deeper = versioning::RunOptions(base).warm_start(base_head).branch(branch);
    std::printf("\n== deeper MLP (fc2b inserted), warm start from the base's last version, %lld epochs\n",
                static_cast<long long>(finetune_epochs));
    train(mlp(true), deeper, finetune_epochs, identity, train_loader, test_loader, seed);
    std::printf("\nstrata log --all --graph --log %s\n", log_dir.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
