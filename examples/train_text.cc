// Trains a character-level text model with the version log, TensorBoard and resume, as
// train_fashion_mnist does:
//
//   language identification of single words from Debian's word lists (wamerican, wngerman,
//   wfrench, witalian, wspanish, wportuguese, wdutch, wswedish): 8 classes
//     train_text --task langid --model lstm --epochs 5 --log-dir runs/langid
//     train_text --task langid --model transformer --epochs 5 --log-dir runs/langid --branch transformer
//   a character language model on Debian's fortunes, printing (and recording as TensorBoard
//   text) a generated sample after every epoch
//     train_text --task lm --model lstm --epochs 3 --log-dir runs/lm
//
// 10% of the data (seeded) is the test set, evaluated once after the last epoch and recorded as
// test/* in that version; --val-split of the rest validates after every epoch. The vocabulary is
// recorded with every version (hyper-parameter data/vocabulary), so a version
// can be decoded without the training program.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>

#include "examples/run_flags.h"
#include "strata/datasets/data_loader.h"
#include "strata/datasets/text.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "tools/flag_checks.h"

using namespace strata;

namespace {

// After every epoch: sample `length` characters from the model (temperature sampling keyed by
// (seed, epoch), so a resumed run writes the same text) and attach it for TensorBoard. It is
// printed on one line, newlines escaped, after the epoch's progress line (which the progress
// display prints last in on_epoch_end): at the next epoch's start or at the end of the fit.
class SampleText : public Callback {
 public:
  SampleText(Network& net, const Vocabulary& vocab, int64_t window, std::string prompt, int64_t length, uint64_t seed)
      : net_(net), vocab_(vocab), window_(window), prompt_(std::move(prompt)), length_(length), seed_(seed) {}

  void on_epoch_end(EpochEndInfo& info) override {
    std::vector<int64_t> ids = vocab_.encode(prompt_);
    CounterRng rng(seed_, RngPurpose::kData, static_cast<uint64_t>(info.state.epoch()), 0x7e47);
    Tensor x({1, window_}, DType::kI64);
    const int64_t v = vocab_.size();
    for (int64_t k = 0; k < length_; ++k) {
      // The last `window_` ids, left-aligned (the model is causal: later slots do not matter).
      int64_t from = std::max<int64_t>(0, static_cast<int64_t>(ids.size()) - window_);
      int64_t n = static_cast<int64_t>(ids.size()) - from;
      std::fill(x.data<int64_t>(), x.data<int64_t>() + window_, 0);
      std::copy(ids.begin() + from, ids.end(), x.data<int64_t>());
      const float* logits = net_.forward(x, Mode::kEval).f32() + (n - 1) * v;
      // Temperature 0.8 over every symbol but padding.
      double top = -1e30, sum = 0;
      for (int64_t j = 1; j < v; ++j) top = std::max(top, static_cast<double>(logits[j]));
      std::vector<double> p(v, 0.0);
      for (int64_t j = 1; j < v; ++j) sum += (p[j] = std::exp((logits[j] - top) / 0.8));
      double u = rng.uniform(static_cast<uint64_t>(k)) * sum;
      int64_t pick = v - 1;
      for (int64_t j = 1; j < v; ++j)
        if ((u -= p[j]) <= 0) {
          pick = j;
          break;
        }
      ids.push_back(pick);
    }
    std::string text = vocab_.decode(ids.data(), static_cast<int64_t>(ids.size()));
    pending_ = "sample after epoch " + std::to_string(info.state.epoch()) + ": " + escaped(text);
    info.annotations["text/sample"] = "```\n" + text + "\n```";
  }
  void on_epoch_begin(int64_t) override { print_pending(); }
  void on_fit_end(bool) override { print_pending(); }

 private:
  static std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text)
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\\')
        out += "\\\\";
      else
        out += c;
    return out;
  }
  void print_pending() {
    if (pending_.empty()) return;
    std::printf("%s\n", pending_.c_str());
    pending_.clear();
  }

  Network& net_;
  const Vocabulary& vocab_;
  int64_t window_;
  std::string prompt_;
  int64_t length_;
  uint64_t seed_;
  std::string pending_;  // the last sample, printed after its epoch's progress line
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a character-level text model (language identification or a language model) with Strata"};
  std::string task = "langid", model = "lstm", optimizer = "adam", fortunes_dir = "/usr/share/games/fortunes";
  int64_t epochs = 5, batch_size = 64, words = 20000, max_length = 16, window = 64, dim = 64, hidden = 128, layers = 1, heads = 4,
          sample_length = 200;
  double lr = 2e-3, dropout = 0.1, val_split = 0.1;
  uint64_t seed = 1;
  int threads = 2;
  bool bidirectional = false;
  versioning::RunOptions log;
  app.add_option("--task", task, "langid | lm")->check(CLI::IsMember({"langid", "lm"}));
  app.add_option("--model", model, "lstm | gru | transformer")->check(CLI::IsMember({"lstm", "gru", "transformer"}));
  app.add_option("--epochs", epochs, "train until this epoch (counting resumed ones)")->check(flags::positive());
  app.add_option("--batch-size", batch_size, "samples per batch")->check(flags::positive());
  app.add_option("--lr", lr, "learning rate")->check(flags::positive());
  app.add_option("--optimizer", optimizer, "sgd | adam | adamw | rmsprop")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}));
  app.add_option("--dropout", dropout, "dropout")->check(flags::between(0, 1, true));
  app.add_option("--dim", dim, "embedding / model width")->check(flags::positive());
  app.add_option("--hidden", hidden, "recurrent hidden size; Transformer feed-forward width")->check(flags::positive());
  app.add_option("--layers", layers, "recurrent layers / Transformer blocks")->check(flags::positive());
  app.add_option("--heads", heads, "Transformer attention heads (must divide --dim)")->check(flags::positive());
  app.add_flag("--bidirectional", bidirectional, "langid: bidirectional recurrent layers");
  app.add_option("--words", words, "langid: words per language (balanced)")->check(flags::positive());
  app.add_option("--max-length", max_length, "langid: longest word in characters")->check(flags::positive());
  app.add_option("--window", window, "lm: characters per training window")->check(flags::positive());
  app.add_option("--fortunes", fortunes_dir, "lm: the fortunes directory");
  app.add_option("--sample-length", sample_length, "lm: characters generated after every epoch")->check(flags::at_least(0));
  app.add_option("--val-split", val_split,
                 "share of the data (after 10% is held out as the test set) for validation after every epoch (0: none)")
      ->check(flags::between(0, 1, true));
  app.add_option("--seed", seed, "seed of sampling, initialisation, shuffling and dropout");
  app.add_option("--threads", threads, "OpenMP threads")->check(flags::between(1, max_threads()));
  add_run_flags(app, log);
  if (int code = flags::parse(app, argc, argv); code >= 0) return code;
  adopt_resumed_hparams(app, log,
                        {{"--task", "task"},
                         {"--model", "model"},
                         {"--batch-size", "batch_size"},
                         {"--lr", "lr"},
                         {"--optimizer", "optimizer"},
                         {"--dropout", "dropout"},
                         {"--dim", "dim"},
                         {"--hidden", "hidden"},
                         {"--layers", "layers"},
                         {"--heads", "heads"},
                         {"--seed", "seed"},
                         {"--threads", "threads"},
                         {"--bidirectional", "bidirectional"},
                         {"--words", "words"},
                         {"--max-length", "max_length"},
                         {"--window", "window"}});
  if (dim % heads != 0 && model == "transformer") {
    std::fprintf(stderr, "error: --heads %lld must divide --dim %lld\n", static_cast<long long>(heads),
                 static_cast<long long>(dim));
    return 2;
  }
  if (bidirectional && task == "lm") {
    std::fprintf(stderr, "error: --bidirectional: a language model must not read the characters it predicts\n");
    return 2;
  }

  try {
    set_num_threads(threads);
    Vocabulary vocab;
    Dataset data;
    if (task == "langid") {
      data = read_word_lists(default_word_lists(), WordListOptions().words_per_language(words).max_length(max_length).seed(seed),
                             &vocab);
    } else {
      std::string text = read_fortunes(fortunes_dir);
      vocab = build_vocabulary({text}, TextUnit::kChar, 2);
      data = language_model_windows(vocab.encode(text), window, window, vocab.size());
      data.source = fortunes_dir;
    }
    // 10% test (evaluated once, after the last epoch, into that version's test/* metrics), then
    // --val-split of the rest for validation after every epoch.
    auto [rest, test] = data.split_validation(0.1, seed);
    auto [train, held_out] = rest.split_validation(val_split, seed + 1);
    auto loader_options = DataLoaderOptions().batch_size(batch_size).seed(seed).threads(1);
    DataLoader train_loader(train, loader_options);
    std::unique_ptr<DataLoader> val_loader;  // --val-split 0: no validation
    if (held_out.size() > 0)
      val_loader = std::make_unique<DataLoader>(held_out, DataLoaderOptions(loader_options).shuffle(false).batch_size(512));
    DataLoader test_loader(test, DataLoaderOptions(loader_options).shuffle(false).batch_size(512));

    const int64_t length = data.x.dim(1);
    auto o = models::TextModelOptions()
                 .dim(dim)
                 .hidden(hidden)
                 .layers(layers)
                 .heads(heads)
                 .dropout(dropout)
                 .bidirectional(bidirectional)
                 .cell(model == "gru" ? "gru" : "lstm");
    GraphSpec graph = task == "langid"
                          ? (model == "transformer" ? models::transformer_classifier(length, vocab.size(), data.num_classes, o)
                                                    : models::recurrent_classifier(length, vocab.size(), data.num_classes, o))
                          : (model == "transformer" ? models::transformer_language_model(length, vocab.size(), o)
                                                    : models::recurrent_language_model(length, vocab.size(), o));
    Network net(graph);
    Trainer trainer(net, TrainerOptions().seed(seed).optimizer(OptimizerOptions().kind(optimizer).lr(lr)));
    for (const auto& [key, value] : std::map<std::string, std::string>{{"task", task},
                                                                       {"model", model},
                                                                       {"dim", std::to_string(dim)},
                                                                       {"hidden", std::to_string(hidden)},
                                                                       {"layers", std::to_string(layers)},
                                                                       {"heads", std::to_string(heads)},
                                                                       {"dropout", exact_text(dropout)},
                                                                       {"batch_size", std::to_string(batch_size)},
                                                                       {"threads", std::to_string(threads)},
                                                                       {"data/vocabulary", vocab.to_string()}})
      trainer.set_hparam(key, value);
    if (task == "langid" && bidirectional) trainer.set_hparam("bidirectional", "true");
    // What shapes the data and so the graph: a resumed run takes them back (adopt_resumed_hparams).
    if (task == "langid") trainer.set_hparam("words", std::to_string(words));
    if (task == "langid") trainer.set_hparam("max_length", std::to_string(max_length));
    if (task == "lm") trainer.set_hparam("window", std::to_string(window));

    // Majority class of the test set: the baseline an accuracy must beat.
    std::map<int64_t, int64_t> counts;
    if (task == "langid")
      for (int64_t i = 0; i < test.size(); ++i) ++counts[test.y.data<int64_t>()[i]];
    int64_t majority = 0;
    for (const auto& [label, count] : counts) majority = std::max(majority, count);
    std::printf(
        "task %s, model %s: %lld trainable parameters, vocabulary %lld, %lld training / %lld validation / %lld test "
        "samples of %lld tokens\n",
        task.c_str(), model.c_str(), static_cast<long long>(net.num_trainable()), static_cast<long long>(vocab.size()),
        static_cast<long long>(train.size()), static_cast<long long>(held_out.size()), static_cast<long long>(test.size()),
        static_cast<long long>(length));

    SampleText sampler(net, vocab, length, "The ", sample_length, seed);
    if (task == "lm" && sample_length > 0) trainer.add_callback(&sampler);  // before the Run's TensorBoard callback
    versioning::Run run(trainer, log);
    trainer.fit(train_loader, val_loader.get(), epochs, &test_loader);
    EvalResult final_eval = trainer.evaluate(test_loader);
    if (task == "langid") {
      std::printf("test accuracy %.2f%% (majority class %.2f%%)  macro F1 %.4f\n", 100 * final_eval.confusion.accuracy(),
                  test.size() ? 100.0 * static_cast<double>(majority) / static_cast<double>(test.size()) : 0.0,
                  final_eval.confusion.f1());
      std::printf("%s", final_eval.confusion.to_string(data.class_names).c_str());
    } else {
      std::printf("test loss %.4f nats/char (%.3f bits/char), per-character accuracy %.2f%%\n", final_eval.loss,
                  final_eval.loss / std::log(2.0), 100 * final_eval.confusion.accuracy());
    }
    run.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
