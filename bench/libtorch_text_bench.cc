// libtorch (Debian libtorch-dev) side of bench/text_pytorch.py: the LSTM classifier and the
// pre-norm Transformer encoder classifier of text_bench.cc through PyTorch's C++ frontend, on the
// same synthetic token ids, batch, optimizer and threads. Prints the same JSON line.
//   libtorch_text_bench lstm|transformer REPEATS THREADS
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kVocab = 60, kSteps = 16, kClasses = 8, kBatch = 64, kTrain = 12800, kEval = 6400, kEvalBatch = 512;
constexpr int64_t kDim = 64, kHidden = 128, kHeads = 4;

torch::Tensor masked_mean(const torch::Tensor& h, const torch::Tensor& ids) {
  torch::Tensor keep = (ids != 0).unsqueeze(-1).to(h.dtype());
  return (h * keep).sum(1) / keep.sum(1).clamp_min(1);
}

struct LstmClassifierImpl : torch::nn::Module {
  LstmClassifierImpl()
      : embed(torch::nn::EmbeddingOptions(kVocab, kDim).padding_idx(0)),
        rnn(torch::nn::LSTMOptions(kDim, kHidden).batch_first(true)),
        fc(kHidden, kClasses) {
    register_module("embed", embed);
    register_module("rnn", rnn);
    register_module("fc", fc);
  }
  torch::Tensor forward(const torch::Tensor& ids) { return fc(masked_mean(std::get<0>(rnn(embed(ids))), ids)); }
  torch::nn::Embedding embed;
  torch::nn::LSTM rnn;
  torch::nn::Linear fc;
};
TORCH_MODULE(LstmClassifier);

// x + MHA(LN x) with the key padding mask, x + FF(LN x): PyTorch's norm_first encoder layer.
struct BlockImpl : torch::nn::Module {
  BlockImpl()
      : ln1(torch::nn::LayerNormOptions({kDim})),
        attn(torch::nn::MultiheadAttentionOptions(kDim, kHeads)),
        ln2(torch::nn::LayerNormOptions({kDim})),
        ff1(kDim, kHidden),
        ff2(kHidden, kDim) {
    register_module("ln1", ln1);
    register_module("attn", attn);
    register_module("ln2", ln2);
    register_module("ff1", ff1);
    register_module("ff2", ff2);
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& pad) {  // x [T, N, D] (time first)
    torch::Tensor h = ln1(x);
    x = x + std::get<0>(attn(h, h, h, pad));
    return x + ff2(torch::gelu(ff1(ln2(x))));
  }
  torch::nn::LayerNorm ln1;
  torch::nn::MultiheadAttention attn;
  torch::nn::LayerNorm ln2;
  torch::nn::Linear ff1, ff2;
};
TORCH_MODULE(Block);

struct TransformerClassifierImpl : torch::nn::Module {
  TransformerClassifierImpl()
      : embed(torch::nn::EmbeddingOptions(kVocab, kDim).padding_idx(0)),
        b1(),
        b2(),
        norm(torch::nn::LayerNormOptions({kDim})),
        fc(kDim, kClasses) {
    register_module("embed", embed);
    pos = register_parameter("pos", torch::randn({kSteps, kDim}) * 0.02);
    register_module("b1", b1);
    register_module("b2", b2);
    register_module("norm", norm);
    register_module("fc", fc);
  }
  torch::Tensor forward(const torch::Tensor& ids) {
    torch::Tensor pad = ids == 0;
    torch::Tensor x = (embed(ids) + pos).transpose(0, 1);
    x = b2(b1(x, pad), pad).transpose(0, 1);
    return fc(masked_mean(norm(x), ids));
  }
  torch::nn::Embedding embed;
  torch::Tensor pos;
  Block b1, b2;
  torch::nn::LayerNorm norm;
  torch::nn::Linear fc;
};
TORCH_MODULE(TransformerClassifier);

std::pair<torch::Tensor, torch::Tensor> data(int64_t n) {
  torch::Tensor i = torch::arange(n).unsqueeze(1), t = torch::arange(kSteps).unsqueeze(0);
  torch::Tensor ids = 1 + (7919 * i + 104729 * t).remainder(kVocab - 1);
  ids = torch::where(t < 3 + i.remainder(14), ids, torch::zeros_like(ids));
  return {ids, torch::arange(n).remainder(kClasses)};
}

template <class Net>
int run(Net net, const std::string& model, int repeats) {
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  auto [x, y] = data(kTrain);
  torch::Tensor ex = data(kEval).first;
  std::vector<torch::Tensor> bx = x.split(kBatch), by = y.split(kBatch), eval_x = ex.split(kEvalBatch);
  double last = 0;
  auto step = [&](size_t b) {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(bx[b]), by[b]);
    loss.backward();
    opt.step();
    last = loss.item<double>();
  };
  auto infer = [&] {
    torch::NoGradGuard no_grad;
    net->eval();
    for (const torch::Tensor& e : eval_x) net->forward(e);
    net->train();
  };
  for (size_t b = 0; b < 20; ++b) step(b);
  infer();
  std::vector<double> train, inf;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    for (size_t b = 0; b < bx.size(); ++b) step(b);
    train.push_back(kTrain / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    infer();
    inf.push_back(kEval / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(train.begin(), train.end());
  std::sort(inf.begin(), inf.end());
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  std::printf(
      "{\"framework\": \"libtorch\", \"model\": \"%s\", \"train_samples_per_s\": %.1f, \"train_min\": %.1f, "
      "\"train_max\": %.1f, \"infer_samples_per_s\": %.1f, \"infer_min\": %.1f, \"infer_max\": %.1f, "
      "\"final_loss\": %.4f, \"parameters\": %lld}\n",
      model.c_str(), train[train.size() / 2], train.front(), train.back(), inf[inf.size() / 2], inf.front(), inf.back(), last,
      static_cast<long long>(params));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "lstm";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  torch::set_num_threads(argc > 3 ? std::atoi(argv[3]) : 2);
  torch::manual_seed(1);
  if (model == "lstm") return run(LstmClassifier(), model, repeats);
  return run(TransformerClassifier(), model, repeats);
}
