#include "framework/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "framework/core/error.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fmt_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void draw_bar(int64_t epoch, int64_t target, int64_t done, int64_t total, double loss, double rate, double eta) {
  const int width = 28;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f %.0f samples/s ETA %.0fs",
               static_cast<long long>(epoch), static_cast<long long>(target), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total), loss, rate, eta);
  std::fflush(stderr);
}

}  // namespace

Trainer::Trainer(Network& network, TrainerOptions options) : network_(network), options_(std::move(options)) {
  validate(options_.schedule);
  optimizer_ = std::make_unique<Optimizer>(network_, options_.optimizer);
  loss_ = make_loss(options_.loss, options_.loss_options);
  network_.init_params(options_.seed);
  if (options_.progress == Progress::kAuto) options_.progress = isatty(fileno(stderr)) ? Progress::kBar : Progress::kLines;
}

Trainer::~Trainer() = default;

std::map<std::string, std::string> Trainer::hparams() const {
  auto h = optimizer_->hparams();
  h["loss"] = loss_->name();
  h["seed"] = std::to_string(options_.seed);
  if (options_.schedule.kind != "constant") h["schedule"] = options_.schedule.kind;
  if (options_.loss_options.label_smoothing > 0) h["label_smoothing"] = fmt_num(options_.loss_options.label_smoothing);
  for (const auto& [k, v] : extra_hparams_) h[k] = v;
  return h;
}

TrainState Trainer::current_state(bool deep_copy) const {
  TrainState s;
  s.graph = network_.spec();
  s.params = network_.state_tensors(deep_copy);
  s.optim = optimizer_->state(deep_copy);
  s.counters = {{"epoch", epoch_}, {"global_step", global_step_}, {"optim/step", optimizer_->steps()},
                {"seed", static_cast<int64_t>(options_.seed)}, {"loader/epoch", epoch_ + 1}, {"loader/batch", 0}};
  s.metrics = metrics_;
  s.hparams = hparams();
  return s;
}

void Trainer::load_state(const TrainState& state) {
  if (!(state.graph == network_.spec()))
    throw Error(ErrorCode::kFailedPrecondition, "cannot resume: the saved graph (" + state.graph.graph_id().substr(0, 12) +
                ") differs from this network's graph (" + network_.spec().graph_id().substr(0, 12) + ")", "",
                "resume with the same model flags, or warm-start the changed graph with align");
  auto seed_it = state.counters.find("seed");
  if (seed_it != state.counters.end() && static_cast<uint64_t>(seed_it->second) != options_.seed)
    throw Error(ErrorCode::kFailedPrecondition, "cannot resume: the saved run used seed " + std::to_string(seed_it->second) +
                ", this trainer seed " + std::to_string(options_.seed), "", "pass the original seed to resume exactly");
  network_.load_state_tensors(state.params);
  auto step_it = state.counters.find("optim/step");
  optimizer_->load_state(state.optim, step_it == state.counters.end() ? 0 : step_it->second);
  epoch_ = state.epoch();
  global_step_ = state.global_step();
  metrics_ = state.metrics;
  resumed_ = true;
}

EvalResult Trainer::evaluate(BatchSource& data) {
  auto start = Clock::now();
  EvalResult r;
  r.classification = loss_->classification();
  double loss_sum = 0;
  data.start_epoch(1);
  Batch batch;
  while (data.next(batch)) {
    const Tensor& out = network_.forward(batch.x, Mode::kEval);
    if (r.classification && r.confusion.classes() == 0) r.confusion = ConfusionMatrix(out.dim(1));
    loss_sum += loss_->compute(out, batch.y, nullptr) * static_cast<double>(batch.size);
    if (r.classification) r.confusion.add_batch(out, batch.y, batch.size);
    else r.regression.add_batch(out, batch.y, batch.size);
    r.samples += batch.size;
  }
  r.loss = r.samples ? loss_sum / static_cast<double>(r.samples) : 0.0;
  r.seconds = seconds_since(start);
  return r;
}

FitResult Trainer::fit(BatchSource& train, BatchSource* validation, int64_t epochs) {
  if (epochs <= 0) throw_invalid("epochs must be > 0, got " + std::to_string(epochs));
  if (train.num_batches() <= 0) throw_invalid("the training data has no batches", "", "check the dataset and batch size");
  FitResult result;
  // Callbacks get views of the live tensors (they run on this thread, between steps): a recorder
  // copies what it keeps, and a clone here would cost every epoch end a copy of the whole state.
  TrainState begin_state = current_state(false);
  FitBeginInfo begin{epoch_, epochs, global_step_, resumed_, &begin_state};
  for (Callback* cb : callbacks_) cb->on_fit_begin(begin);

  double best_val = INFINITY;
  int64_t since_best = 0;
  try {
    while (epoch_ < epochs) {
      const int64_t epoch = epoch_ + 1;
      for (Callback* cb : callbacks_) cb->on_epoch_begin(epoch);
      auto start = Clock::now();
      train.start_epoch(epoch);
      double loss_sum = 0, lr = options_.optimizer.lr;
      int64_t seen = 0, batch_index = 0, total = train.num_batches();
      ConfusionMatrix train_confusion;
      Batch batch;
      while (train.next(batch)) {
        network_.set_step_key(options_.seed, epoch, global_step_);
        lr = scheduled_lr(options_.schedule, options_.optimizer.lr, epoch - 1, global_step_);
        const Tensor& out = network_.forward(batch.x, Mode::kTrain);
        double loss = loss_->compute(out, batch.y, &network_.output_grad());
        if (!std::isfinite(loss))
          throw Error(ErrorCode::kNumerical,
                      "non-finite loss (" + fmt_num(loss) + ") at epoch " + std::to_string(epoch) + ", batch " +
                          std::to_string(batch_index),
                      last_version_.empty() ? "no version was committed in this run" : "last good version: " + last_version_,
                      "lower the learning rate or enable gradient clipping, then resume from the last good version");
        if (loss_->classification()) {
          if (train_confusion.classes() == 0) train_confusion = ConfusionMatrix(out.dim(1));
          train_confusion.add_batch(out, batch.y, batch.size);
        }
        network_.backward();
        optimizer_->step(lr);
        ++global_step_;
        loss_sum += loss * static_cast<double>(batch.size);
        seen += batch.size;
        ++batch_index;
        BatchEndInfo info{epoch, batch_index - 1, global_step_, loss, lr};
        for (Callback* cb : callbacks_) cb->on_batch_end(info);
        if (options_.progress == Progress::kBar && (batch_index % 10 == 0 || batch_index == total)) {
          double elapsed = seconds_since(start), rate = seen / std::max(elapsed, 1e-9);
          draw_bar(epoch, epochs, batch_index, total, loss_sum / seen, rate,
                   (total - batch_index) * elapsed / batch_index);
        }
      }
      double train_seconds = seconds_since(start);
      epoch_ = epoch;
      metrics_.clear();
      metrics_["train/loss"] = loss_sum / std::max<int64_t>(seen, 1);
      if (loss_->classification()) metrics_["train/accuracy"] = train_confusion.accuracy();
      metrics_["lr"] = lr;
      metrics_["throughput/samples_per_s"] = seen / std::max(train_seconds, 1e-9);
      if (validation) {
        EvalResult v = evaluate(*validation);
        metrics_["val/loss"] = v.loss;
        if (v.classification) {
          metrics_["val/accuracy"] = v.confusion.accuracy();
          metrics_["val/precision"] = v.confusion.precision();
          metrics_["val/recall"] = v.confusion.recall();
          metrics_["val/f1"] = v.confusion.f1();
        } else {
          metrics_["val/mse"] = v.regression.mse();
          metrics_["val/mae"] = v.regression.mae();
          metrics_["val/r2"] = v.regression.r2();
        }
      }
      metrics_["time/epoch_s"] = seconds_since(start);
      if (options_.progress == Progress::kBar) std::fprintf(stderr, "\r\033[K");

      TrainState snapshot = current_state(false);
      NamedTensors grads;
      for (const Parameter& p : network_.parameters())
        if (p.trainable) grads.emplace_back(p.name, p.grad);
      std::map<std::string, std::string> notes;
      EpochEndInfo info{snapshot, grads, notes};
      for (Callback* cb : callbacks_) cb->on_epoch_end(info);
      if (notes.count("version")) last_version_ = notes["version"];
      print_epoch_line(epoch, epochs, notes);

      if (options_.early_stopping_patience > 0 && validation) {
        if (metrics_["val/loss"] < best_val) {
          best_val = metrics_["val/loss"];
          since_best = 0;
        } else if (++since_best >= options_.early_stopping_patience) {
          result.stopped_early = true;
          if (options_.progress != Progress::kQuiet)
            std::printf("early stopping: val/loss has not improved for %lld epochs\n",
                        static_cast<long long>(since_best));
          break;
        }
      }
    }
  } catch (...) {
    if (options_.progress == Progress::kBar) std::fprintf(stderr, "\n");
    for (Callback* cb : callbacks_) cb->on_fit_end(true);
    throw;
  }
  for (Callback* cb : callbacks_) cb->on_fit_end(false);
  resumed_ = false;
  result.epochs_completed = epoch_;
  result.last_metrics = metrics_;
  return result;
}

void Trainer::print_epoch_line(int64_t epoch, int64_t target, const std::map<std::string, std::string>& notes) const {
  if (options_.progress == Progress::kQuiet) return;
  auto get = [&](const char* k) { auto it = metrics_.find(k); return it == metrics_.end() ? NAN : it->second; };
  std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(target);
  char buf[160];
  std::snprintf(buf, sizeof buf, "  loss %.4f", get("train/loss"));
  line += buf;
  if (metrics_.count("val/loss")) {
    std::snprintf(buf, sizeof buf, "  val_loss %.4f", get("val/loss"));
    line += buf;
  }
  if (metrics_.count("val/accuracy")) {
    std::snprintf(buf, sizeof buf, "  val_acc %.2f%%  val_f1 %.4f", 100 * get("val/accuracy"), get("val/f1"));
    line += buf;
  }
  if (metrics_.count("val/r2")) {
    std::snprintf(buf, sizeof buf, "  val_mae %.4f  val_r2 %.4f", get("val/mae"), get("val/r2"));
    line += buf;
  }
  std::snprintf(buf, sizeof buf, "  %.1fs  %.0f samples/s", get("time/epoch_s"), get("throughput/samples_per_s"));
  line += buf;
  auto v = notes.find("version");
  if (v != notes.end()) line += "  -> " + v->second;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace strata
