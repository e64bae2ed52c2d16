// Regression on a CSV file: an MLP trained with MSE, reporting MSE, MAE and R^2 on a held-out
// split, with the same --log-dir / --resume support as the other examples.
//
//   regression_csv --csv data.csv --target price --epochs 30 --log-dir runs/reg
// Without --csv it writes a synthetic file (y = sin(x0) + x1 x2 - 0.5 x3 + noise, 4000 rows) to
// runs/synthetic_regression.csv first, so the example runs anywhere.

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "examples/run_flags.h"
#include "strata/datasets/csv.h"
#include "strata/datasets/data_loader.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "tools/flag_checks.h"

using namespace strata;

std::string write_synthetic(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << "x0,x1,x2,x3,y\n";
  CounterRng rng(7, RngPurpose::kData);
  for (int64_t i = 0; i < 4000; ++i) {
    float x[4];
    for (int j = 0; j < 4; ++j) x[j] = rng.uniform(i * 5 + j) * 4 - 2;
    float y = std::sin(x[0]) + x[1] * x[2] - 0.5f * x[3] + 0.05f * rng.normal(i * 5 + 4);
    out << x[0] << ',' << x[1] << ',' << x[2] << ',' << x[3] << ',' << y << '\n';
  }
  return path;
}

int main(int argc, char** argv) {
  CLI::App app{"Train an MLP regressor on a CSV file with Strata"};
  std::string csv, target = "y";
  int64_t epochs = 30, batch_size = 64;
  double lr = 3e-3, validation_share = 0.2;
  uint64_t seed = 1;
  int threads = 2;
  versioning::RunOptions log;
  app.add_option("--csv", csv, "CSV file with a header and numeric columns");
  app.add_option("--target", target, "name of the column to predict");
  app.add_option("--epochs", epochs)->check(flags::positive());
  app.add_option("--batch-size", batch_size)->check(flags::positive());
  app.add_option("--lr", lr)->check(flags::positive());
  app.add_option("--validation", validation_share, "share of rows held out (the last rows)")->check(flags::between(0.05, 0.9));
  app.add_option("--seed", seed);
  app.add_option("--threads", threads)->check(flags::between(1, max_threads()));
  add_run_flags(app, log);
  if (int code = flags::parse(app, argc, argv); code >= 0) return code;
  try {
    set_num_threads(threads);
    if (csv.empty()) {
      csv = write_synthetic("runs/synthetic_regression.csv");
      std::printf("no --csv given: wrote a synthetic dataset to %s\n", csv.c_str());
    }
    Dataset all = load_csv(csv, CsvOptions().target(target));
    int64_t split = all.size() - static_cast<int64_t>(all.size() * validation_share);
    if (split <= 0 || split >= all.size())
      throw_invalid("too few rows (" + std::to_string(all.size()) + ") to hold out a validation split", csv);
    Dataset train = all.subset(0, split), val = all.subset(split, all.size());
    ChannelStats stats = channel_stats(train.x);  // standardise features with training statistics
    auto loader = DataLoaderOptions().batch_size(batch_size).seed(seed).threads(1).normalize(stats.mean, stats.std);
    DataLoader train_loader(train, loader), val_loader(val, DataLoaderOptions(loader).shuffle(false));
    int64_t features = train.x.dim(1), outputs = train.y.dim(1);
    Network net(models::mlp({features}, {features, 64, 64, outputs}, "tanh"));
    Trainer trainer(net, TrainerOptions().seed(seed).loss(LossKind::kMse).optimizer(OptimizerOptions().kind("adam").lr(lr)));
    trainer.set_hparam("model", "mlp-64-64-tanh");
    trainer.set_hparam("batch_size", std::to_string(batch_size));
    trainer.set_hparam("data", csv);
    std::printf("%lld training / %lld validation rows, %lld features -> %s\n", static_cast<long long>(train.size()),
                static_cast<long long>(val.size()), static_cast<long long>(features), target.c_str());
    versioning::Run run(trainer, log);  // opens the log, resumes or warm-starts, attaches the recorder
    trainer.fit(train_loader, &val_loader, epochs);
    EvalResult r = trainer.evaluate(val_loader);
    std::printf("validation: MSE %.4f  MAE %.4f  R^2 %.4f\n", r.regression.mse(), r.regression.mae(), r.regression.r2());
    run.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
