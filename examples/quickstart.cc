#include <strata/datasets/data_loader.h>
#include <strata/datasets/idx.h>
#include <strata/models/models.h>
#include <strata/versioning/run/run.h>

#include <string>

using namespace strata;

// quickstart [LOG_DIR [EPOCHS]]: trains an MLP on Fashion-MNIST, a version per epoch.
int main(int argc, char** argv) {
  const std::string log_dir = argc > 1 ? argv[1] : "runs/quickstart";
  const int64_t epochs = argc > 2 ? std::stoll(argv[2]) : 10;
  const std::string dir = kFashionMnistDir;  // Debian's dataset-fashion-mnist
  auto loader = DataLoaderOptions().batch_size(128).seed(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
  auto [train_set, val_set] = load_fashion_mnist(dir, true).split_validation(0.1, 1);  // 6,000 held out
  DataLoader train(train_set, loader), val(val_set, loader.shuffle(false)), test(load_fashion_mnist(dir, false), loader);
  Network net(models::mlp({1, 28, 28}, {784, 512, 256, 10}));
  Trainer trainer(net, TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(1e-3)));
  versioning::Run run(trainer, versioning::RunOptions().log_dir(log_dir));  // .resume("main@3") continues a version
  trainer.fit(train, &val, epochs, &test);  // a version per epoch, test/* in the last; TensorBoard in <log_dir>/tb
  run.finish();                             // waits for the last commit (the destructor does too)
}
