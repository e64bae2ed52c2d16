// The text models against PyTorch: the same parameters and batch through Strata's LSTM
// classifier and Transformer encoder classifier and through torch.nn (LSTM;
// TransformerEncoderLayer with norm_first, GELU and the key padding mask), via
// tests/models/pytorch_equivalence.py on Debian's python3-torch. Logits, loss and every
// parameter gradient must agree to float rounding. Skips when python3-torch is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "strata/framework/core/rng.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"
#include "strata/models/models.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

bool have_torch() { return std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0; }

std::string file_name(std::string name) {
  for (size_t at = name.find('/'); at != std::string::npos; at = name.find('/')) name.replace(at, 1, "__");
  return name;
}
void write_raw(const fs::path& p, const void* data, size_t bytes) {
  std::ofstream(p, std::ios::binary).write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}
template <class T>
std::vector<T> read_raw(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

void check_against_pytorch(const std::string& kind, const models::TextModelOptions& o) {
  const int64_t vocab = 11, steps = 7, classes = 3, batch = 4;
  GraphSpec g = kind == "lstm" ? models::recurrent_classifier(steps, vocab, classes, o)
                               : models::transformer_classifier(steps, vocab, classes, o);
  Network net(g);
  net.init_params(3);
  // Move every parameter off its initialiser (layer norms' ones and zeros) so that all count.
  for (Parameter& p : net.parameters()) {
    CounterRng rng(17, RngPurpose::kData, std::hash<std::string>{}(p.name));
    for (int64_t i = 0; i < p.value.numel(); ++i) p.value.f32()[i] += 0.2f * (rng.uniform(i) - 0.5f);
  }
  // PyTorch's padding row is zero (initialised so, never updated); Strata's Embedding gives zeros
  // for the padding id whatever the row holds.
  std::fill(net.find_parameter("embed/weight")->value.f32(), net.find_parameter("embed/weight")->value.f32() + o.dim(), 0.f);
  Tensor ids({batch, steps}, DType::kI64), labels({batch}, DType::kI64);
  for (int64_t s = 0; s < batch; ++s) {
    for (int64_t t = 0; t < steps; ++t) ids.data<int64_t>()[s * steps + t] = t < 3 + s ? 1 + (5 * s + 3 * t) % (vocab - 1) : 0;
    labels.data<int64_t>()[s] = s % classes;
  }
  const Tensor& logits = net.forward(ids, Mode::kTrain);
  std::vector<float> strata_logits(logits.f32(), logits.f32() + logits.numel());
  const double loss = make_loss(LossKind::kSoftmaxCrossEntropy)->compute(logits, labels, &net.output_grad());
  net.backward();

  fs::path dir = fs::temp_directory_path() / ("strata_pt_equiv_" + kind + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string meta = "{\"vocab\": " + std::to_string(vocab) + ", \"steps\": " + std::to_string(steps) +
                     ", \"classes\": " + std::to_string(classes) + ", \"dim\": " + std::to_string(o.dim()) +
                     ", \"hidden\": " + std::to_string(o.hidden()) + ", \"layers\": " + std::to_string(o.layers()) +
                     ", \"heads\": " + std::to_string(o.heads()) +
                     ", \"bidirectional\": " + (o.bidirectional() ? "true" : "false") + ", \"params\": {";
  for (size_t k = 0; k < net.parameters().size(); ++k) {
    const Parameter& p = net.parameters()[k];
    std::string shape;
    for (int64_t d : p.value.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    meta += (k ? ", \"" : "\"") + p.name + "\": [" + shape + "]";
    write_raw(dir / ("p_" + file_name(p.name)), p.value.raw(), p.value.nbytes());
  }
  meta += "}}";
  std::ofstream(dir / "meta.json") << meta;
  write_raw(dir / "ids", ids.raw(), ids.nbytes());
  write_raw(dir / "labels", labels.raw(), labels.nbytes());
  const std::string cmd =
      "/usr/bin/python3 " STRATA_SOURCE_DIR "/tests/models/pytorch_equivalence.py " + kind + " " + dir.string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  std::vector<float> torch_logits = read_raw<float>(dir / "torch_logits");
  ASSERT_EQ(torch_logits.size(), strata_logits.size());
  for (size_t i = 0; i < torch_logits.size(); ++i) EXPECT_NEAR(strata_logits[i], torch_logits[i], 2e-5) << "logit " << i;
  EXPECT_NEAR(loss, read_raw<double>(dir / "torch_loss").at(0), 2e-6);
  for (const Parameter& p : net.parameters()) {
    std::vector<float> want = read_raw<float>(dir / ("g_" + file_name(p.name)));
    ASSERT_EQ(static_cast<int64_t>(want.size()), p.grad.numel()) << p.name;
    double scale = 0;
    for (float w : want) scale = std::max(scale, static_cast<double>(std::abs(w)));
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(p.grad.f32()[i], want[i], 1e-5 + 1e-4 * scale) << p.name << "[" << i << "]";
  }
  fs::remove_all(dir);
}

TEST(PyTorchEquivalence, LstmClassifierTwoLayersBidirectional) {
  if (!have_torch()) GTEST_SKIP() << "python3-torch is not installed (scripts/install_deps.sh installs it)";
  check_against_pytorch("lstm", models::TextModelOptions().dim(6).hidden(5).layers(2).bidirectional(true));
}

TEST(PyTorchEquivalence, TransformerEncoderClassifier) {
  if (!have_torch()) GTEST_SKIP() << "python3-torch is not installed (scripts/install_deps.sh installs it)";
  check_against_pytorch("transformer", models::TextModelOptions().dim(8).hidden(12).heads(2).layers(2));
}

}  // namespace
}  // namespace strata
