#include "strata/framework/summary/tensorboard_callback.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "strata/framework/core/error.h"

namespace strata {
namespace summary {
namespace {

// Parses a whole string as a finite number (no leading blanks, nothing after it).
bool parse_number(const std::string& s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

const std::string* find(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() || it->second.empty() ? nullptr : &it->second;
}

std::string version_markdown(const std::map<std::string, std::string>& annotations,
                             int64_t epoch) {
  std::string md = "version `" + *find(annotations, "version") + "`";
  if (const std::string* branch = find(annotations, "branch"))
    md += " (" + *branch + "@" + std::to_string(epoch) + ")";
  else
    md += " (epoch " + std::to_string(epoch) + ")";
  if (const std::string* message = find(annotations, "message")) md += "\n\n" + *message;
  return md;
}

}  // namespace

std::string metric_tag(const std::string& metric_key) {
  for (const char* split : {"train/", "val/", "test/"}) {
    const std::string prefix(split);
    if (metric_key.size() > prefix.size() && metric_key.compare(0, prefix.size(), prefix) == 0)
      return metric_key.substr(prefix.size()) + "/" + prefix.substr(0, prefix.size() - 1);
  }
  return metric_key;
}

std::map<std::string, HParamValue> hparam_values(const std::map<std::string, std::string>& text) {
  std::map<std::string, HParamValue> out;
  for (const auto& [name, s] : text) {
    double number = 0;
    if (parse_number(s, &number))
      out[name] = number;
    else if (s == "true" || s == "false")
      out[name] = (s == "true");
    else
      out[name] = s;
  }
  return out;
}

int64_t session_start_step(int64_t global_step) {
  return global_step <= 0 ? 0 : global_step + 1;
}

bool write_run_begin(EventWriter& writer, const TrainState* state, int64_t global_step,
                     const TensorBoardOptions& options, double wall_time) {
  // START first: on a fresh run at step 0 it purges stale step-0 records of an earlier run in
  // the same directory before this run's graph and hparams.
  writer.add_session_start(session_start_step(global_step), wall_time);
  if (!state) return false;
  if (!state->graph.nodes.empty())
    writer.add_graph(state->graph, options.graph_batch_size(), wall_time);
  if (state->hparams.empty()) return false;
  writer.add_hparams_start(hparam_values(state->hparams), options.hparams_group(), wall_time);
  return true;
}

void write_epoch_events(EventWriter& writer, const TrainState& state,
                        const NamedTensors* gradients,
                        const std::map<std::string, std::string>& annotations,
                        const TensorBoardOptions& options, double wall_time) {
  const int64_t step = state.global_step();
  for (const auto& [key, value] : state.metrics)
    writer.add_scalar(metric_tag(key), step, value, wall_time);
  auto number = [&](const std::string& key, const std::string& text) {
    double value = 0;
    if (!parse_number(text, &value))
      throw_invalid("annotation '" + key + "' is not a number: '" + text + "'", writer.path(),
                    "set it to a decimal number");
    return value;
  };
  for (const char* key : {"snapshot/ms", "snapshot/bytes"}) {
    const std::string* text = find(annotations, key);
    if (state.metrics.count(key) || !text) continue;
    // A value about an earlier step (the bytes of the previous commit) goes to that step.
    const std::string step_key = std::string(key) + "_step";
    const std::string* at = find(annotations, step_key);
    writer.add_scalar(key, at ? static_cast<int64_t>(number(step_key, *at)) : step, number(key, *text), wall_time);
  }
  if (options.histograms()) {
    for (const auto& [name, tensor] : state.params)
      if (tensor.defined() && tensor.dtype() == DType::kF32)
        writer.add_histogram("params/" + name, step, tensor.f32(),
                             static_cast<size_t>(tensor.numel()), wall_time);
    if (options.gradient_histograms() && gradients)
      for (const auto& [name, tensor] : *gradients)
        if (tensor.defined() && tensor.dtype() == DType::kF32)
          writer.add_histogram("grads/" + name, step, tensor.f32(),
                               static_cast<size_t>(tensor.numel()), wall_time);
  }
  if (find(annotations, "version"))
    writer.add_text("version", step, version_markdown(annotations, state.epoch()), wall_time);
}

}  // namespace summary

TensorBoardCallback::TensorBoardCallback(std::string run_dir, TensorBoardOptions options)
    : run_dir_(std::move(run_dir)), options_(std::move(options)) {
  if (run_dir_.empty())
    throw_invalid("empty TensorBoard run directory", "TensorBoardCallback",
                  "pass <log_dir>/tb/<branch>");
  if (options_.train_loss_every() < 0)
    throw_invalid("train_loss_every must be >= 0, got " +
                      std::to_string(options_.train_loss_every()),
                  "TensorBoardOptions", "use 0 to turn per-step losses off");
}

summary::EventWriter& TensorBoardCallback::writer() {
  if (!writer_) writer_ = std::make_unique<summary::EventWriter>(run_dir_);
  return *writer_;
}

void TensorBoardCallback::on_fit_begin(const FitBeginInfo& info) {
  const double now = summary::wall_clock_seconds();
  hparams_open_ = summary::write_run_begin(writer(), info.state, info.global_step, options_, now);
  writer().flush();
}

void TensorBoardCallback::on_batch_end(const BatchEndInfo& info) {
  if (options_.train_loss_every() <= 0 || info.global_step % options_.train_loss_every() != 0) return;
  writer().add_scalar("loss/train_step", info.global_step, info.loss);
}

void TensorBoardCallback::on_epoch_end(EpochEndInfo& info) {
  summary::write_epoch_events(writer(), info.state, &info.gradients, info.annotations, options_,
                              summary::wall_clock_seconds());
  writer().flush();
}

void TensorBoardCallback::on_fit_end(bool failed) {
  if (!writer_) return;
  try {
    if (hparams_open_)
      writer().add_hparams_end(failed ? summary::HParamsStatus::kFailure
                                      : summary::HParamsStatus::kSuccess);
    hparams_open_ = false;
    writer().flush();
  } catch (const Error& e) {
    // fit() is already unwinding with the error that matters; do not replace it with ours.
    if (!failed) throw;
    std::fprintf(stderr, "strata: TensorBoard: %s\n", e.what());
  }
}

}  // namespace strata
