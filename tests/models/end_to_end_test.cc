// End to end on real data: the MLP from the model zoo trained by the Trainer on a 3,000-image
// subset of Fashion-MNIST through the DataLoader must exceed a fixed accuracy bar on 1,000 test
// images; the run is deterministic (a second run gives the same accuracy bit for bit).
#include <gtest/gtest.h>

#include <filesystem>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"

namespace strata {
namespace {

double train_subset_once() {
  Dataset train = load_fashion_mnist(kFashionMnistDir, true, 3000);
  Dataset test = load_fashion_mnist(kFashionMnistDir, false).subset(0, 1000);
  auto options = DataLoaderOptions().batch_size(64).seed(2).threads(1).normalize({kFashionMnistMean}, {kFashionMnistStd});
  DataLoader train_loader(train, options), test_loader(test, DataLoaderOptions(options).shuffle(false));
  Network net(models::mlp({1, 28, 28}, {784, 128, 10}));
  Trainer trainer(net, TrainerOptions().seed(2).optimizer(OptimizerOptions().kind("adam").lr(2e-3)).progress(Progress::kQuiet));
  FitResult r = trainer.fit(train_loader, &test_loader, 4);
  return r.last_metrics.at("val/accuracy");
}

TEST(EndToEnd, MlpOnFashionMnistSubsetBeatsTheBar) {
  if (!std::filesystem::exists(kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  double accuracy = train_subset_once();
  EXPECT_GT(accuracy, 0.78);  // 4 epochs on 5% of the data; ~10% is chance
  EXPECT_EQ(accuracy, train_subset_once());
}

}  // namespace
}  // namespace strata
