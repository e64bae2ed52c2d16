#include "strata/framework/summary/tensorboard_callback.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <variant>

#include "strata/framework/core/error.h"
#include "strata/framework/summary/event_reader.h"

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

std::string version_markdown(const std::map<std::string, std::string>& annotations, int64_t epoch) {
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

namespace {

struct Described {
  const char* display;
  const char* description;
};

Described describe_hparam(const std::string& name) {
  static const std::map<std::string, Described> known = {
      {"lr", {"learning rate", "the optimizer's base learning rate"}},
      {"batch_size", {"batch size", "samples per training step"}},
      {"optimizer", {"optimizer", ""}},
      {"model", {"model", ""}},
      {"seed", {"seed", "initialisation, shuffling and dropout"}},
      {"dropout", {"dropout", "dropout probability after hidden layers"}},
      {"loss", {"loss", "the training loss function"}},
      {"threads", {"threads", "OpenMP threads"}},
      {"val_split", {"validation split", "share of the training data held out for validation"}},
      {"weight_decay", {"weight decay", ""}},
      {"momentum", {"momentum", ""}},
      {"forked_from", {"forked from", "the version this branch's first version has as parent"}},
  };
  auto it = known.find(name);
  return it == known.end() ? Described{"", ""} : it->second;
}

// "val/accuracy" -> "validation accuracy", "train/loss" -> "training loss".
std::string metric_display(const std::string& key) {
  const size_t slash = key.find('/');
  const std::string split = key.substr(0, slash), what = key.substr(slash + 1);
  const char* name = split == "train" ? "training" : split == "val" ? "validation" : split == "test" ? "test" : "";
  return std::string(name) + " " + what;
}

}  // namespace

HParamsExperiment make_experiment(const std::map<std::string, std::vector<std::string>>& hparam_values_seen,
                                  const std::vector<std::string>& metric_keys, bool with_domains) {
  HParamsExperiment e;
  e.description = "Strata runs: one per branch of the version log";
  for (const auto& [name, values] : hparam_values_seen) {
    const Described d = describe_hparam(name);
    HParamsExperiment::HParam h{name, d.display, d.description, {}, HParamsExperiment::Type::kUnset};
    bool numbers = !values.empty(), bools = !values.empty();
    std::map<std::string, std::string> one;
    for (const std::string& v : values) {
      one[name] = v;
      const HParamValue value = hparam_values(one).at(name);
      numbers = numbers && std::holds_alternative<double>(value);
      bools = bools && std::holds_alternative<bool>(value);
      if (with_domains) h.domain.push_back(value);
    }
    // As the session start writes the values: numbers, booleans, else strings (PyTorch's
    // SummaryWriter types its HParamInfo the same way).
    if (!values.empty())
      h.type = numbers ? HParamsExperiment::Type::kFloat64
               : bools ? HParamsExperiment::Type::kBool
                       : HParamsExperiment::Type::kString;
    e.hparams.push_back(std::move(h));
  }
  std::set<std::string> keys;
  for (const std::string& k : metric_keys) {
    if (k == "train/loss" || k == "train/accuracy" || k.rfind("val/", 0) == 0 || k.rfind("test/", 0) == 0) keys.insert(k);
    if (k.rfind("val/", 0) == 0) keys.insert("test/" + k.substr(4));  // written once, after the last epoch
  }
  for (const std::string& k : keys) {
    const bool held_out = k.rfind("train/", 0) != 0;
    e.metrics.push_back({metric_tag(k), metric_display(k),
                         k.rfind("test/", 0) == 0 ? "on the test set, once, after the last epoch"
                         : held_out               ? "on the validation data, after every epoch"
                                                  : "mean over the epoch's training batches",
                         held_out});
  }
  return e;
}

int64_t session_start_step(int64_t global_step) { return global_step <= 0 ? 0 : global_step + 1; }

RunSoFar read_run_so_far(const std::string& run_dir) {
  RunSoFar so_far;
  std::error_code ec;
  if (!std::filesystem::is_directory(run_dir, ec)) return so_far;
  for (const std::string& file : list_event_files(run_dir)) {
    std::vector<EventRecord> events;
    try {
      events = read_events(file);
    } catch (const Error&) {
      continue;  // a file cut short by a kill: what it holds is not counted
    }
    for (const EventRecord& e : events) {
      if (e.kind == EventKind::kGraph) so_far.graph = true;
      if (e.kind == EventKind::kHParamsStart) so_far.hparams_session = true;
      if (e.kind == EventKind::kHParamsExperiment) so_far.experiment = true;
    }
  }
  return so_far;
}

bool write_run_begin(EventWriter& writer, const TrainState* state, int64_t global_step, const TensorBoardOptions& options,
                     double wall_time, const RunSoFar& already) {
  // START first: on a fresh run at step 0 it purges stale step-0 records of an earlier run in
  // the same directory before this run's graph and hparams.
  writer.add_session_start(session_start_step(global_step), wall_time);
  if (!state) return false;
  if (!state->graph.nodes.empty() && !already.graph) writer.add_graph(state->graph, options.graph_batch_size(), wall_time);
  std::map<std::string, std::string> hparams = state->hparams;
  for (const auto& [k, v] : options.session_hparams()) hparams[k] = v;
  if (hparams.empty()) return false;
  if (already.hparams_session) return true;  // the first process's session goes on
  writer.add_hparams_start(hparam_values(hparams), options.hparams_group(), wall_time);
  return true;
}

void write_epoch_events(EventWriter& writer, const TrainState& state, const NamedTensors* gradients,
                        const std::map<std::string, std::string>& annotations, const TensorBoardOptions& options,
                        double wall_time) {
  const int64_t step = state.global_step();
  for (const auto& [key, value] : state.metrics) writer.add_scalar(metric_tag(key), step, value, wall_time);
  auto number = [&](const std::string& key, const std::string& text) {
    double value = 0;
    if (!parse_number(text, &value))
      throw_invalid("annotation '" + key + "' is not a number: '" + text + "'", writer.path(), "set it to a decimal number");
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
        writer.add_histogram("params/" + name, step, tensor.f32(), static_cast<size_t>(tensor.numel()), wall_time);
    if (options.gradient_histograms() && gradients)
      for (const auto& [name, tensor] : *gradients)
        if (tensor.defined() && tensor.dtype() == DType::kF32)
          writer.add_histogram("grads/" + name, step, tensor.f32(), static_cast<size_t>(tensor.numel()), wall_time);
  }
  if (find(annotations, "version")) writer.add_text("version", step, version_markdown(annotations, state.epoch()), wall_time);
  // Text other callbacks attach to the epoch ("text/sample": a language model's generated text).
  for (const auto& [key, text] : annotations)
    if (key.rfind("text/", 0) == 0) writer.add_text(key.substr(5), step, text, wall_time);
}

}  // namespace summary

TensorBoardCallback::TensorBoardCallback(std::string run_dir, TensorBoardOptions options)
    : run_dir_(std::move(run_dir)), options_(std::move(options)) {
  if (run_dir_.empty()) throw_invalid("empty TensorBoard run directory", "TensorBoardCallback", "pass <log_dir>/tb/<branch>");
  if (options_.train_loss_every() < 0)
    throw_invalid("train_loss_every must be >= 0, got " + std::to_string(options_.train_loss_every()), "TensorBoardOptions",
                  "use 0 to turn per-step losses off");
}

summary::EventWriter& TensorBoardCallback::writer() {
  if (!writer_) writer_ = std::make_unique<summary::EventWriter>(run_dir_);
  return *writer_;
}

void TensorBoardCallback::on_fit_begin(const FitBeginInfo& info) {
  const double now = summary::wall_clock_seconds();
  const summary::RunSoFar so_far = summary::read_run_so_far(run_dir_);  // before our own file exists
  experiment_written_ = so_far.experiment;
  hparams_open_ = summary::write_run_begin(writer(), info.state, info.global_step, options_, now, so_far);
  writer().flush();
}

void TensorBoardCallback::on_batch_end(const BatchEndInfo& info) {
  if (options_.train_loss_every() <= 0 || info.global_step % options_.train_loss_every() != 0) return;
  writer().add_scalar("loss/train_step", info.global_step, info.loss);
}

void TensorBoardCallback::on_epoch_end(EpochEndInfo& info) {
  if (!experiment_written_ && hparams_open_) {
    // Once the metrics are known (the first epoch's end): the columns of the HParams table.
    // This run's values give the types; no domains, as other runs have other values.
    std::map<std::string, std::vector<std::string>> values;
    for (const auto& [k, v] : info.state.hparams) values[k] = {v};
    for (const auto& [k, v] : options_.session_hparams()) values[k] = {v};
    std::vector<std::string> metrics;
    for (const auto& [k, v] : info.state.metrics) metrics.push_back(k);
    writer().add_hparams_experiment(summary::make_experiment(values, metrics, false));
    experiment_written_ = true;
  }
  summary::write_epoch_events(writer(), info.state, &info.gradients, info.annotations, options_, summary::wall_clock_seconds());
  writer().flush();
}

void TensorBoardCallback::on_fit_done(std::map<std::string, std::string>& annotations) {
  auto bytes = annotations.find("snapshot/bytes");
  auto step = annotations.find("snapshot/bytes_step");
  if (bytes == annotations.end() || step == annotations.end()) return;
  writer().add_scalar("snapshot/bytes", std::stoll(step->second), std::stod(bytes->second));
  writer().flush();
}

void TensorBoardCallback::on_fit_end(bool failed) {
  if (!writer_) return;
  try {
    if (hparams_open_) writer().add_hparams_end(failed ? summary::HParamsStatus::kFailure : summary::HParamsStatus::kSuccess);
    hparams_open_ = false;
    writer().flush();
  } catch (const Error& e) {
    // fit() is already unwinding with the error that matters; do not replace it with ours.
    if (!failed) throw;
    std::fprintf(stderr, "strata: TensorBoard: %s\n", e.what());
  }
}

}  // namespace strata
