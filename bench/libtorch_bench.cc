// libtorch (Debian libtorch-dev) side of bench/compare_pytorch.py: the same nets, data, batch,
// optimizer and threads as fashion_mnist_bench, through PyTorch's C++ frontend. Prints the same
// JSON line.
//   libtorch_bench mlp|cnn|resnet STEPS REPEATS THREADS
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_data.h"

using Clock = std::chrono::steady_clock;

namespace {

struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        bn1(out),
        conv2(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)),
        bn2(out) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (stride != 1 || in != out) {
      proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      proj_bn = register_module("proj_bn", torch::nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor h = bn2(conv2(torch::relu(bn1(conv1(x)))));
    torch::Tensor shortcut = proj ? proj_bn(proj(x)) : x;
    return torch::relu(h + shortcut);
  }
  torch::nn::Conv2d conv1, conv2, proj{nullptr};
  torch::nn::BatchNorm2d bn1, bn2, proj_bn{nullptr};
};
TORCH_MODULE(Block);

// models::resnet(3x32x32, 10, 1 block per stage).
struct ResNetImpl : torch::nn::Module {
  ResNetImpl() : stem(torch::nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)), bn(16), fc(64, 10) {
    register_module("stem", stem);
    register_module("bn", bn);
    blocks = register_module("blocks", torch::nn::Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2)));
    register_module("fc", fc);
  }
  torch::Tensor forward(torch::Tensor x) {
    x = blocks->forward(torch::relu(bn(stem(x))));
    return fc(x.mean({2, 3}));
  }
  torch::nn::Conv2d stem;
  torch::nn::BatchNorm2d bn;
  torch::nn::Sequential blocks;
  torch::nn::Linear fc;
};
TORCH_MODULE(ResNet);

struct Net {
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

Net make_net(const std::string& model) {
  namespace nn = torch::nn;
  if (model == "resnet") {
    ResNet net;
    return {net.ptr(), [net](const torch::Tensor& x) mutable { return net->forward(x); }};
  }
  nn::Sequential seq =
      model == "mlp"
          ? nn::Sequential(nn::Flatten(), nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 256), nn::ReLU(), nn::Linear(256, 10))
          : nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                           nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                           nn::Linear(3136, 256), nn::ReLU(), nn::Linear(256, 10));
  return {seq.ptr(), [seq](const torch::Tensor& x) mutable { return seq->forward(x); }};
}

torch::Tensor to_torch(const strata::Tensor& t) {
  std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == strata::DType::kF32) return torch::from_blob(const_cast<float*>(t.f32()), shape, torch::kFloat32).clone();
  return torch::from_blob(const_cast<int64_t*>(t.data<int64_t>()), shape, torch::kInt64).clone();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = argc > 1 ? argv[1] : "mlp";
  int steps = argc > 2 ? std::atoi(argv[2]) : 100, repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  torch::set_num_threads(threads);
  torch::manual_seed(1);
  bench::Data data = bench::load(model);
  torch::Tensor x = to_torch(data.train_x), y = to_torch(data.train_y), tx = to_torch(data.test_x);
  Net net = make_net(model);
  auto& module = net.module;
  torch::optim::Adam opt(module->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor order = torch::randperm(x.size(0));
  int64_t pos = 0;
  auto step = [&] {
    if (pos + 128 > x.size(0)) pos = 0;
    torch::Tensor i = order.slice(0, pos, pos + 128);
    pos += 128;
    opt.zero_grad();
    torch::nn::functional::cross_entropy(net.forward(x.index_select(0, i)), y.index_select(0, i)).backward();
    opt.step();
  };
  auto evaluate = [&] {
    module->eval();
    torch::NoGradGuard no_grad;
    for (int64_t b = 0; b < tx.size(0); b += 1000) net.forward(tx.slice(0, b, std::min<int64_t>(b + 1000, tx.size(0))));
    module->train();
  };
  for (int i = 0; i < 5; ++i) step();  // warm-up, as on the Strata side
  evaluate();
  std::vector<double> train_rate, eval_rate;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    train_rate.push_back(steps * 128 / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    evaluate();
    eval_rate.push_back(tx.size(0) / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s\n", bench::json_line("libtorch", model, train_rate, eval_rate, usage.ru_maxrss / 1024.0).c_str());
}
