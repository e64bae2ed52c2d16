// fmnist_app LOG_DIR EPOCHS [LIMIT [VERSION]]: an MLP on Fashion-MNIST, versioned; resumes VERSION.
#include <strata/datasets/data_loader.h>
#include <strata/datasets/idx.h>
#include <strata/models/models.h>
#include <strata/versioning/run/run.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  using namespace strata;
  if (argc < 3) return std::fprintf(stderr, "usage: %s LOG_DIR EPOCHS [LIMIT [VERSION]]\n", argv[0]), 2;
  const std::string data = "/usr/share/datasets/fashion-mnist";
  const int64_t limit = argc > 3 ? std::stoll(argv[3]) : 0;
  auto loader = DataLoaderOptions().batch_size(128).seed(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
  DataLoader train(load_fashion_mnist(data, true, limit), loader);
  DataLoader test(load_fashion_mnist(data, false, limit), loader.shuffle(false));
  Network net(models::mlp({1, 28, 28}, {784, 256, 10}));
  Trainer trainer(net, TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(1e-3)));
  versioning::Run run(trainer, versioning::RunOptions().log_dir(argv[1]).resume(argc > 4 ? argv[4] : ""));
  trainer.fit(train, &test, std::stoll(argv[2]));
  run.finish();
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
