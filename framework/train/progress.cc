#include "strata/framework/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace strata {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void draw_bar(int64_t epoch, int64_t target, int64_t done, int64_t total, double loss, double rate, double eta) {
  const int width = 28;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f %.0f samples/s ETA %.0fs", static_cast<long long>(epoch),
               static_cast<long long>(target), bar.c_str(), static_cast<long long>(done), static_cast<long long>(total), loss,
               rate, eta);
  std::fflush(stderr);
}

}  // namespace

ProgressCallback::ProgressCallback(Progress mode) : mode_(mode) {
  if (mode_ == Progress::kAuto) mode_ = isatty(fileno(stderr)) ? Progress::kBar : Progress::kLines;
}

void ProgressCallback::on_fit_begin(const FitBeginInfo& info) { target_epochs_ = info.target_epochs; }

void ProgressCallback::on_epoch_begin(int64_t) {
  samples_ = 0;
  loss_sum_ = 0;
  epoch_start_ = std::chrono::steady_clock::now();
}

void ProgressCallback::on_batch_end(const BatchEndInfo& info) {
  samples_ += info.samples;
  loss_sum_ += info.loss * static_cast<double>(info.samples);
  const int64_t done = info.batch + 1, total = info.batches_in_epoch;
  if (mode_ != Progress::kBar || (done % 10 != 0 && done != total)) return;
  const double elapsed = seconds_since(epoch_start_);
  draw_bar(info.epoch, target_epochs_, done, total, loss_sum_ / static_cast<double>(std::max<int64_t>(samples_, 1)),
           static_cast<double>(samples_) / std::max(elapsed, 1e-9),
           static_cast<double>(total - done) * elapsed / static_cast<double>(done));
}

void ProgressCallback::on_epoch_end(EpochEndInfo& info) {
  if (mode_ == Progress::kQuiet) return;
  if (mode_ == Progress::kBar) std::fprintf(stderr, "\r\033[K");
  const auto& metrics = info.state.metrics;
  auto get = [&](const char* k) {
    auto it = metrics.find(k);
    return it == metrics.end() ? NAN : it->second;
  };
  std::string line = "epoch " + std::to_string(info.state.epoch()) + "/" + std::to_string(target_epochs_);
  char buf[160];
  std::snprintf(buf, sizeof buf, "  loss %.4f", get("train/loss"));
  line += buf;
  if (metrics.count("val/loss")) {
    std::snprintf(buf, sizeof buf, "  val_loss %.4f", get("val/loss"));
    line += buf;
  }
  if (metrics.count("val/accuracy")) {
    std::snprintf(buf, sizeof buf, "  val_acc %.2f%%  val_f1 %.4f", 100 * get("val/accuracy"), get("val/f1"));
    line += buf;
  }
  if (metrics.count("val/r2")) {
    std::snprintf(buf, sizeof buf, "  val_mae %.4f  val_r2 %.4f", get("val/mae"), get("val/r2"));
    line += buf;
  }
  std::snprintf(buf, sizeof buf, "  %.1fs  %.0f samples/s", get("time/epoch_s"), get("throughput/samples_per_s"));
  line += buf;
  // The version is being written while training goes on: durable once the recorder says so
  // (at the next epoch end, or when fit() returns).
  if (auto v = info.annotations.find("version"); v != info.annotations.end()) line += "  -> " + v->second + " (pending)";
  std::printf("%s\n", line.c_str());
  if (auto stop = info.annotations.find("stop"); stop != info.annotations.end()) std::printf("%s\n", stop->second.c_str());
  std::fflush(stdout);
}

void ProgressCallback::on_mid_epoch_snapshot(EpochEndInfo& info) {
  auto v = info.annotations.find("version");
  if (mode_ == Progress::kQuiet || v == info.annotations.end()) return;
  if (mode_ == Progress::kBar) std::fprintf(stderr, "\r\033[K");
  auto batch = info.state.counters.find("loader/batch");
  auto branch = info.annotations.find("branch");
  std::printf("  mid-epoch snapshot %s@%lld.%lld (step %lld)  -> %s (pending)\n",
              branch == info.annotations.end() ? "?" : branch->second.c_str(), static_cast<long long>(info.state.epoch()),
              static_cast<long long>(batch == info.state.counters.end() ? 0 : batch->second),
              static_cast<long long>(info.state.global_step()), v->second.c_str());
  std::fflush(stdout);
}

void ProgressCallback::on_fit_end(bool failed) {
  if (failed && mode_ == Progress::kBar) std::fprintf(stderr, "\n");
}

}  // namespace strata
