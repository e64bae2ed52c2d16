// End to end on real data: the MLP from the model zoo trained by the Trainer on a 3,000-image
// subset of Fashion-MNIST through the DataLoader must exceed a fixed accuracy bar on 1,000 test
// images; the run is deterministic (a second run gives the same accuracy bit for bit).
#include <gtest/gtest.h>

#include <filesystem>

#include "datasets/data_loader.h"
#include "datasets/idx.h"
#include "framework/train/trainer.h"
#include "models/models.h"

namespace strata {
namespace {

double train_subset_once() {
  Dataset train = load_fashion_mnist(kFashionMnistDir, true, 3000);
  Dataset test = load_fashion_mnist(kFashionMnistDir, false).subset(0, 1000);
  auto options = DataLoaderOptions().with_batch_size(64).with_seed(2).with_threads(1).with_normalize({kFashionMnistMean}, {kFashionMnistStd});
  DataLoader train_loader(train, options), test_loader(test, DataLoaderOptions(options).with_shuffle(false));
  Network net(models::mlp({1, 28, 28}, {784, 128, 10}));
  Trainer trainer(net, TrainerOptions().seed_(2).optimizer_(OptimizerOptions().kind_("adam").lr_(2e-3)).progress_(Progress::kQuiet));
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
