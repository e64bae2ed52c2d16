// Trains an MLP or a LeNet-style CNN on Fashion-MNIST (Debian's dataset-fashion-mnist), with a
// progress bar, per-epoch metrics, a version log (--log-dir) and TensorBoard event files.
//
//   train_fashion_mnist --model mlp --epochs 10 --log-dir runs/fmnist
//   train_fashion_mnist --model mlp --epochs 12 --log-dir runs/fmnist --resume main@10
//   mpirun -np 2 -x OMP_NUM_THREADS=1 train_fashion_mnist --distributed --threads 1 --log-dir runs/dp
//
// --distributed: data-parallel over MPI; --batch-size is the global batch, split over the ranks;
// rank 0 owns the version log and TensorBoard files, the other ranks never open them.
//
// 10% of the training images (seeded) are held out for validation after every epoch; the test
// set is evaluated once, after the last epoch, and recorded in that version (--val-split 0
// validates on the test set instead, as Strata did before 0.3).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>

#include "examples/run_flags.h"
#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/train/early_stopping.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#ifdef STRATA_WITH_MPI
#include "strata/framework/distributed/mpi_communicator.h"
#endif
#include "tools/flag_checks.h"

using namespace strata;

int main(int argc, char** argv) {
  CLI::App app{"Train a classifier on Fashion-MNIST with Strata"};
  std::string model = "mlp", activation = "relu", optimizer = "adam", data_dir = "/usr/share/datasets/fashion-mnist";
  int64_t epochs = 10, batch_size = 128, limit = 0, patience = 0;
  double lr = 1e-3, dropout = 0.0, momentum = 0.9, weight_decay = 0.0, val_split = 0.1;
  uint64_t seed = 1;
  int threads = 2;
  versioning::RunOptions log;
  app.add_option("--model", model, "mlp | cnn")->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--activation", activation, "mlp: the hidden layers' activation")
      ->check(CLI::IsMember({"relu", "gelu", "tanh", "sigmoid"}));
  app.add_option("--epochs", epochs, "train until this epoch (counting resumed ones)")->check(flags::positive());
  app.add_option("--batch-size", batch_size, "samples per batch")->check(flags::positive());
  app.add_option("--lr", lr, "learning rate")->check(flags::positive());
  app.add_option("--optimizer", optimizer, "sgd | adam | adamw | rmsprop")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}));
  app.add_option("--momentum", momentum, "momentum for sgd / rmsprop")->check(flags::between(0, 1, true));
  app.add_option("--weight-decay", weight_decay, "L2 (adamw: decoupled) weight decay")->check(flags::at_least(0));
  app.add_option("--dropout", dropout, "dropout after hidden layers")->check(flags::between(0, 1, true));
  app.add_option("--seed", seed, "seed of initialisation, shuffling and dropout");
  app.add_option("--threads", threads, "OpenMP threads")->check(flags::between(1, max_threads()));
  app.add_option("--data", data_dir, "directory with the Fashion-MNIST IDX files");
  app.add_option("--limit", limit, "use only the first N training images (0 = all)")->check(flags::at_least(0));
  app.add_option("--early-stopping", patience, "stop after N epochs without a lower val/loss (0 = off)")
      ->check(flags::at_least(0));
  app.add_option("--val-split", val_split,
                 "share of the training images held out (seeded by --seed) to validate on every epoch; the test "
                 "set is evaluated once, after the last epoch, into its version (0: validate on the test set)")
      ->check(flags::between(0, 1, true));
  bool distributed = false;
  int64_t bucket_kb = 4096;
  CLI::Option* distributed_flag =
      app.add_flag("--distributed", distributed,
                   "data-parallel training over MPI (start with mpirun -np N); --batch-size is the global batch");
  bool overlap = false;
  app.add_option("--allreduce-bucket-kb", bucket_kb, "--distributed: gradients are summed in buckets of this many KiB")
      ->check(flags::positive())
      ->needs(distributed_flag);
  app.add_flag("--overlap", overlap, "--distributed: sum gradient buckets on a thread while backward runs")
      ->needs(distributed_flag);
  add_run_flags(app, log);
  if (int code = flags::parse(app, argc, argv); code >= 0) return code;

  std::unique_ptr<Communicator> world;
  try {
    if (distributed) {
#ifdef STRATA_WITH_MPI
      world = std::make_unique<MpiCommunicator>(&argc, &argv);
#else
      throw Error(ErrorCode::kFailedPrecondition, "--distributed: this build has no MPI", "",
                  "install libopenmpi-dev and rebuild Strata");
#endif
    }
    const bool rank0 = !world || world->rank() == 0;
    adopt_resumed_hparams(app, log,
                          {{"--model", "model"},
                           {"--activation", "activation"},
                           {"--batch-size", "batch_size"},
                           {"--lr", "lr"},
                           {"--optimizer", "optimizer"},
                           {"--momentum", "momentum"},
                           {"--weight-decay", "weight_decay"},
                           {"--dropout", "dropout"},
                           {"--seed", "seed"},
                           {"--threads", "threads"},
                           {"--val-split", "val_split"}});
    if (!rank0) log = versioning::RunOptions().tensorboard(false).verbose(false);  // rank 0 owns the log
    set_num_threads(threads);
    Dataset all_train = load_fashion_mnist(data_dir, true, limit);
    Dataset test = load_fashion_mnist(data_dir, false);
    auto [train, held_out] = all_train.split_validation(val_split, seed);
    auto loader_options =
        DataLoaderOptions().batch_size(batch_size).seed(seed).threads(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
    DataLoader train_loader(train, loader_options);
    DataLoader test_loader(test, DataLoaderOptions(loader_options).shuffle(false).batch_size(1000));
    // --val-split 0 holds nothing out (an empty dataset makes no loader): validate on the test set.
    std::optional<DataLoader> val_loader;
    if (val_split > 0) val_loader.emplace(held_out, DataLoaderOptions(loader_options).shuffle(false).batch_size(1000));
    DataLoader& validation = val_loader ? *val_loader : test_loader;

    Network net(model == "mlp" ? models::mlp({1, 28, 28}, {784, 512, 256, 10}, activation, dropout)
                               : models::by_name(model, {1, 28, 28}, 10, dropout));
    auto opt = OptimizerOptions().kind(optimizer).lr(lr).weight_decay(weight_decay);
    if (optimizer == "sgd" || optimizer == "rmsprop") opt.momentum(momentum);
    Trainer trainer(net, TrainerOptions().seed(seed).optimizer(opt).progress(rank0 ? Progress::kAuto : Progress::kQuiet));
    if (world)
      trainer.set_data_parallel(world.get(),
                                DataParallelOptions().bucket_bytes(static_cast<size_t>(bucket_kb) << 10).overlap(overlap));
    trainer.set_hparam("model", model);
    if (model == "mlp" && activation != "relu") trainer.set_hparam("activation", activation);
    trainer.set_hparam("batch_size", std::to_string(batch_size));
    trainer.set_hparam("dropout", exact_text(dropout));
    trainer.set_hparam("threads", std::to_string(threads));

    trainer.set_hparam("val_split", exact_text(val_split));
    if (rank0)
      std::printf(
          "model %s: %lld trainable parameters, %lld training / %lld validation / %lld test images, %d ranks x %d threads\n",
          model.c_str(), static_cast<long long>(net.num_trainable()), static_cast<long long>(train.size()),
          static_cast<long long>(val_split > 0 ? held_out.size() : 0), static_cast<long long>(test.size()), trainer.world_size(),
          threads);
    EarlyStopping early_stopping(EarlyStoppingOptions().patience(std::max<int64_t>(patience, 1)));
    if (patience > 0) trainer.add_callback(&early_stopping);
    versioning::Run run(trainer, log);  // opens the log, resumes or warm-starts, attaches the recorder
    // The test set once, after the last epoch, recorded as test/* in that version (unless it
    // already serves as the validation set, --val-split 0).
    trainer.fit(train_loader, &validation, epochs, val_split > 0 ? &test_loader : nullptr);
    if (rank0) {
      EvalResult final_eval = trainer.evaluate(test_loader);
      std::printf("test accuracy %.2f%%  macro F1 %.4f  (%lld images)\n", 100 * final_eval.confusion.accuracy(),
                  final_eval.confusion.f1(), static_cast<long long>(final_eval.samples));
      std::printf("%s", final_eval.confusion.to_string(train.class_names).c_str());
    }
    run.finish();
  } catch (const Error& e) {
    if (world && world->size() > 1) {
      std::fprintf(stderr, "error on rank %d of %d: %s\n", world->rank(), world->size(), e.what());
      world->abort(1);  // the other ranks would wait in a collective forever
    }
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
