// Merging fine-tuned branches, measured: the Fashion-MNIST MLP is trained on all ten
// classes for --base-epochs (the common version), then fine-tuned on two branches, A on classes
// 0-4 only and B on classes 5-9 only, for --epochs each (Adam, lr 1e-3, batch 128, seed 1). The
// branch heads are merged by every method (average; task arithmetic and TIES against the merge
// base, at several lambdas) and every version is evaluated on the 10,000 test images: accuracy
// on all classes, on A's classes (0-4) and on B's classes (5-9).
//
//   merge_bench [--base-epochs 2] [--epochs 2] [--threads 2] [--data DIR] [--log-dir DIR]
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/restore.h"
#include "strata/versioning/version_log.h"

using namespace strata;

namespace {

// The samples of `data` whose class lies in [lo, hi].
Dataset with_classes(const Dataset& data, int64_t lo, int64_t hi) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < data.size(); ++i) {
    const int64_t y = data.y.data<int64_t>()[i];
    if (y >= lo && y <= hi) rows.push_back(i);
  }
  Dataset out = data;
  Shape xs = data.x.shape();
  xs[0] = static_cast<int64_t>(rows.size());
  out.x = Tensor(xs);
  out.y = Tensor({xs[0]}, DType::kI64);
  const int64_t row = data.x.numel() / data.size();
  for (size_t k = 0; k < rows.size(); ++k) {
    std::copy(data.x.f32() + rows[k] * row, data.x.f32() + (rows[k] + 1) * row, out.x.f32() + static_cast<int64_t>(k) * row);
    out.y.data<int64_t>()[k] = data.y.data<int64_t>()[rows[k]];
  }
  return out;
}

struct Accuracy {
  double all = 0, low = 0, high = 0;  // classes 0-9, 0-4, 5-9
};

Accuracy evaluate(const versioning::VersionLog& log, const versioning::CommitId& id, DataLoader& test) {
  Network net(log.read_graph(log.read_record(id).graph_id));
  net.load_state_tensors(log.read_params(id));
  Trainer trainer(net, TrainerOptions().progress(Progress::kQuiet));
  const ConfusionMatrix c = trainer.evaluate(test).confusion;
  auto part = [&](int64_t lo, int64_t hi) {
    int64_t hit = 0, total = 0;
    for (int64_t t = lo; t <= hi; ++t)
      for (int64_t p = 0; p < c.classes(); ++p) {
        total += c.at(t, p);
        if (p == t) hit += c.at(t, p);
      }
    return total ? static_cast<double>(hit) / static_cast<double>(total) : 0.0;
  };
  return {c.accuracy(), part(0, 4), part(5, 9)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Merging two fine-tuned branches: accuracy of each merge method against both parents"};
  int64_t base_epochs = 2, epochs = 2;
  int threads = 2;
  std::string data_dir = kFashionMnistDir, log_dir;
  app.add_option("--base-epochs", base_epochs, "epochs of the common version (all classes)")->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs, "fine-tuning epochs of each branch")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads")->check(CLI::PositiveNumber);
  app.add_option("--data", data_dir, "directory with the Fashion-MNIST IDX files");
  app.add_option("--log-dir", log_dir, "keep the version log here (default: a temporary directory, removed)");
  CLI11_PARSE(app, argc, argv);

  std::string dir = log_dir;
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() / "strata-merge-bench-XXXXXX").string();
    if (!mkdtemp(dir.data())) return 1;
  }
  int rc = 0;
  try {
    set_num_threads(threads);
    const Dataset train = load_fashion_mnist(data_dir, true), test = load_fashion_mnist(data_dir, false);
    const auto loader_options =
        DataLoaderOptions().batch_size(128).seed(1).threads(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
    DataLoader test_loader(test, DataLoaderOptions(loader_options).shuffle(false).batch_size(1000));
    const auto trainer_options =
        TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(1e-3)).progress(Progress::kQuiet);
    std::shared_ptr<versioning::VersionLog> log = versioning::VersionLog::open(dir, versioning::OpenMode::kReadWrite);

    // The common version, then the two fine-tuned branches.
    auto train_on = [&](const Dataset& data, int64_t until, const std::string& branch,
                        const std::optional<versioning::CommitId>& from) {
      Network net(models::by_name("mlp", {1, 28, 28}, 10));
      Trainer trainer(net, trainer_options);
      versioning::Recorder rec(log, versioning::RecorderOptions().branch(branch));
      if (from) {
        trainer.load_state(log->read_state(*from));
        rec.continue_from(*from, branch);
      }
      trainer.add_callback(&rec);
      DataLoader loader(data, loader_options);
      trainer.fit(loader, nullptr, until);
      return *log->head(rec.branch());
    };
    const versioning::CommitId base = train_on(train, base_epochs, "main", std::nullopt);
    const versioning::CommitId a = train_on(with_classes(train, 0, 4), base_epochs + epochs, "classes-0-4", base);
    const versioning::CommitId b = train_on(with_classes(train, 5, 9), base_epochs + epochs, "classes-5-9", base);

    struct Row {
      std::string what;
      versioning::CommitId id;
    };
    std::vector<Row> rows = {{"common version (all classes)", base}, {"A: fine-tuned on 0-4", a}, {"B: fine-tuned on 5-9", b}};
    auto merge = [&](versioning::MergeMethod method, double lambda, const std::string& label, const std::string& branch) {
      versioning::MergeRequest m;
      m.a = versioning::to_hex(a);
      m.b = versioning::to_hex(b);
      m.method = method;
      m.lambda = lambda;
      m.branch = branch;
      rows.push_back({label, versioning::merge_versions(*log, m).id});
    };
    merge(versioning::MergeMethod::kAverage, 1, "average (alpha 0.5)", "avg");
    for (double l : {0.5, 0.8, 1.0}) {
      char label[64];
      std::snprintf(label, sizeof label, "task arithmetic, lambda %.1f", l);
      merge(versioning::MergeMethod::kTaskArithmetic, l, label, "ta-" + std::to_string(static_cast<int>(l * 10)));
    }
    for (double l : {0.8, 1.0, 1.5}) {
      char label[64];
      std::snprintf(label, sizeof label, "TIES (density 0.2), lambda %.1f", l);
      merge(versioning::MergeMethod::kTies, l, label, "ties-" + std::to_string(static_cast<int>(l * 10)));
    }
    std::printf("merge base of A and B: %s\n\n", log->describe(*versioning::merge_base(*log, a, b)).c_str());
    std::printf("| version | test accuracy, all classes | classes 0-4 | classes 5-9 |\n|---|---|---|---|\n");
    for (const Row& r : rows) {
      const Accuracy acc = evaluate(*log, r.id, test_loader);
      std::printf("| %s | %.2f%% | %.2f%% | %.2f%% |\n", r.what.c_str(), 100 * acc.all, 100 * acc.low, 100 * acc.high);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    rc = 1;
  }
  if (log_dir.empty()) std::filesystem::remove_all(dir);
  return rc;
}
