// strata predict: a version's predictions on a file of inputs, through versioning::Predictor;
// strata quantize: an int8 version of a version, calibrated on a file of the same inputs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "strata/datasets/csv.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/metrics/metrics.h"
#include "strata/framework/train/runtime.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/run/quantize.h"
#include "strata/versioning/tensor_files.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

struct PredictOptions {
  std::string version, input, labels, format;  // format: idx | npy | csv ("" : by extension)
  std::string target;                          // csv: the label column (else every column is a feature)
  int64_t batch = 256, top = 3, show = 10;
  int bench = 0;  // > 0: also time this many single-sample predictions (latency p50 / p99)
};

namespace {

std::string input_format(const PredictOptions& o) {
  if (!o.format.empty()) return o.format;
  const std::string ext = std::filesystem::path(o.input).extension().string();
  return ext == ".npy" ? "npy" : ext == ".csv" ? "csv" : "idx";
}

// Every column of a CSV file with a header, as f32 [rows, columns] (the graph's features).
Tensor read_csv_features(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot open the CSV file", path, "check the path");
  std::string line;
  std::getline(in, line);  // the header
  std::vector<float> values;
  int64_t rows = 0, columns = -1, line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    int64_t count = 0;
    for (size_t i = 0; i <= line.size();) {
      size_t j = line.find(',', i);
      if (j == std::string::npos) j = line.size();
      const std::string field = line.substr(i, j - i);
      char* end = nullptr;
      const float v = std::strtof(field.c_str(), &end);
      if (end == field.c_str() || (*end != '\0' && *end != '\r' && *end != ' '))
        throw_invalid("'" + field + "' is not a number", path + ":" + std::to_string(line_no),
                      "give numeric feature columns (pass --target NAME for a label column)");
      values.push_back(v);
      ++count;
      i = j + 1;
    }
    if (columns >= 0 && count != columns)
      throw_invalid(std::to_string(count) + " columns, the first row has " + std::to_string(columns),
                    path + ":" + std::to_string(line_no));
    columns = count;
    ++rows;
  }
  if (rows == 0) throw_invalid("no data rows", path);
  Tensor x({rows, columns});
  std::copy(values.begin(), values.end(), x.f32());
  return x;
}

// Inputs as f32 [N, ...] in the dataset's units: IDX bytes scaled to [0, 1] (as the dataset
// readers do), .npy as stored (uint8 also scaled), CSV as numbers.
Tensor read_inputs(const std::string& path, const std::string& format) {
  if (format == "csv") return read_csv_features(path);
  const bool npy = format == "npy";
  Tensor raw = npy ? versioning::read_npy(path) : read_idx(path);
  if (raw.dtype() == DType::kF32) return raw;
  if (raw.dtype() != DType::kU8)
    throw_invalid(std::string("inputs of dtype ") + dtype_name(raw.dtype()) + " are not supported", path,
                  "give float32 or uint8 inputs");
  Tensor x(raw.shape());
  for (int64_t i = 0; i < raw.numel(); ++i) x.f32()[i] = static_cast<float>(raw.data<uint8_t>()[i]) / 255.0f;
  return x;
}

// The inputs reshaped to [N, input shape...]: an image file [N, H, W] feeds a graph that takes
// [C=1, H, W].
Tensor as_graph_input(const Tensor& x, const Shape& in, const std::string& path) {
  int64_t per_sample = 1;
  for (int64_t d : in) per_sample *= d;
  if (x.rank() == 0 || x.dim(0) == 0 || x.numel() != x.dim(0) * per_sample)
    throw_invalid("inputs of shape " + shape_str(x.shape()) + " do not fit the graph's input " + shape_str(in) + " per sample",
                  path, "give one sample per row with the graph's input size");
  Shape batched = {x.dim(0)};
  batched.insert(batched.end(), in.begin(), in.end());
  return x.reshaped(batched);
}

// Labels as i64 [N]: an IDX label file or a .npy of integers.
Tensor read_labels(const std::string& path) {
  Tensor raw = std::filesystem::path(path).extension() == ".npy" ? versioning::read_npy(path) : read_idx(path);
  Tensor y({raw.numel()}, DType::kI64);
  for (int64_t i = 0; i < raw.numel(); ++i) {
    switch (raw.dtype()) {
      case DType::kU8:
        y.data<int64_t>()[i] = raw.data<uint8_t>()[i];
        break;
      case DType::kI32:
        y.data<int64_t>()[i] = raw.data<int32_t>()[i];
        break;
      case DType::kI64:
        y.data<int64_t>()[i] = raw.data<int64_t>()[i];
        break;
      default:
        throw_invalid("labels must be integers", path);
    }
  }
  return y;
}

// `strata predict --json`: per row the best class and the top classes with probabilities; with
// labels, accuracy and the confusion matrix; with --bench, the single-sample latency.
void print_predictions_json(const versioning::Predictor& predictor, int64_t n, double seconds,
                            const std::vector<std::vector<std::pair<int64_t, float>>>& top, const ConfusionMatrix* confusion,
                            const LatencyStats& latency) {
  std::vector<std::string> rows;
  for (const auto& row : top) {
    std::vector<std::string> items;
    for (const auto& [c, p] : row) items.push_back(fmt::format("[{},{}]", c, json_num(p)));
    rows.push_back(fmt::format("{{\"class\":{},\"top\":{}}}", row[0].first, json_list(items)));
  }
  std::string extra;
  if (confusion) {
    std::vector<std::string> matrix;
    for (int64_t t = 0; t < confusion->classes(); ++t) {
      std::vector<std::string> counts;
      for (int64_t p = 0; p < confusion->classes(); ++p) counts.push_back(std::to_string(confusion->at(t, p)));
      matrix.push_back("[" + fmt::format("{}", fmt::join(counts, ",")) + "]");
    }
    extra = fmt::format(",\"accuracy\":{},\"confusion\":{}", json_num(confusion->accuracy()), json_list(matrix));
  }
  if (latency.runs > 0)
    extra += fmt::format(",\"latency_ms_p50\":{},\"latency_ms_p99\":{}", json_num(latency.p50_ms), json_num(latency.p99_ms));
  fmt::print("{{\"id\":{},\"name\":{},\"samples\":{},\"seconds\":{},\"predictions\":{}{}}}\n",
             json_str(versioning::to_hex(predictor.version())), json_str(predictor.name()), n, json_num(seconds), json_list(rows),
             extra);
}

}  // namespace

int cmd_predict(const GlobalOptions& g, const PredictOptions& o) {
  if (g.log_dir.empty()) throw_invalid("no log directory", "", "pass --log DIR or set STRATA_LOG");
  versioning::Predictor predictor(g.log_dir, o.version);
  for (const std::string& w : predictor.warnings()) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const Shape& in = predictor.graph().input_shape;
  const std::string format = input_format(o);
  Dataset data;                              // y stays undefined without labels
  if (format == "csv" && !o.target.empty())  // features and labels from one file
    data = load_csv(o.input, CsvOptions().target(o.target).classification(true));
  else
    data.x = read_inputs(o.input, format);
  Tensor& x = data.x;
  const Tensor& labels = data.y;
  x = as_graph_input(x, in, o.input);
  const int64_t n = x.dim(0);
  if (!o.labels.empty()) {
    data.y = read_labels(o.labels);
    if (labels.numel() != n)
      throw_invalid(std::to_string(labels.numel()) + " labels for " + std::to_string(n) + " inputs", o.labels);
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<std::pair<int64_t, float>>> top;  // per row: (class, probability), best first
  ConfusionMatrix confusion;
  const int64_t batch = std::max<int64_t>(o.batch, 1);
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b = std::min(batch, n - b0);
    const Dataset part = data.subset(b0, b0 + b);
    Tensor p = predictor.predict_proba(part.x);
    const int64_t classes = p.shape().back();
    if (confusion.classes() == 0) confusion = ConfusionMatrix(classes);
    if (labels.defined()) confusion.add_batch(p, part.y, b);
    for (int64_t r = 0; r < b; ++r) {
      std::vector<std::pair<int64_t, float>> row;
      for (int64_t c = 0; c < classes; ++c) row.emplace_back(c, p.f32()[r * classes + c]);
      std::stable_sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      row.resize(static_cast<size_t>(std::min<int64_t>(o.top, classes)));
      top.push_back(std::move(row));
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // What the version measured on its test set, else on its validation data.
  auto recorded = predictor.metrics().find("test/accuracy");
  if (recorded == predictor.metrics().end()) recorded = predictor.metrics().find("val/accuracy");
  LatencyStats latency;
  if (o.bench > 0) {
    const Tensor one = data.subset(0, 1).x;
    latency = measure_latency([&] { predictor.predict(one); }, o.bench);
  }

  if (g.json) {
    print_predictions_json(predictor, n, seconds, top, labels.defined() ? &confusion : nullptr, latency);
    return 0;
  }
  fmt::print("predict {}: {} samples in {:.2f} s ({:.0f} samples/s, batch {})\n", predictor.name(), n, seconds,
             n / std::max(seconds, 1e-9), batch);
  if (latency.runs > 0)
    fmt::print("single-sample latency: p50 {:.3f} ms, p99 {:.3f} ms ({} runs)\n", latency.p50_ms, latency.p99_ms, latency.runs);
  for (size_t r = 0; r < top.size() && r < static_cast<size_t>(o.show); ++r) {
    std::string line = fmt::format("  {:>6}  class {:>3}", r, top[r][0].first);
    for (const auto& [c, p] : top[r]) line += fmt::format("  {}:{:.4f}", c, p);
    if (labels.defined()) line += fmt::format("   (label {})", labels.data<int64_t>()[r]);
    fmt::print("{}\n", line);
  }
  if (top.size() > static_cast<size_t>(o.show)) fmt::print("  ... {} more rows (--show N, or --json)\n", top.size() - o.show);
  if (labels.defined()) {
    int64_t correct = 0;
    for (int64_t c = 0; c < confusion.classes(); ++c) correct += confusion.at(c, c);
    fmt::print("accuracy {:.2f}% ({} of {})", 100 * confusion.accuracy(), correct, n);
    if (recorded != predictor.metrics().end()) fmt::print("   recorded {} {:.2f}%", recorded->first, 100 * recorded->second);
    fmt::print("\n{}", confusion.to_string());
  }
  return 0;
}

struct QuantizeOptions {
  std::string version, calibration, format, branch, message, sign_key;
  int64_t samples = 1000;
};

int cmd_quantize(const GlobalOptions& g, const QuantizeOptions& o) {
  auto log = open_log(g, versioning::OpenMode::kReadWrite, versioning::LogOptions().signing_key(o.sign_key));
  versioning::QuantizeRequest request;
  request.version = o.version;
  const GraphSpec graph = log->read_graph(log->read_record(log->resolve(o.version)).graph_id);
  PredictOptions as_predict;
  as_predict.input = o.calibration;
  as_predict.format = o.format;
  request.calibration = as_graph_input(read_inputs(o.calibration, input_format(as_predict)), graph.input_shape, o.calibration);
  request.calibration_name = std::filesystem::path(o.calibration).filename().string();
  request.samples = o.samples;
  request.branch = o.branch;
  request.message = o.message;
  const versioning::QuantizeReport r = versioning::quantize(*log, request);
  if (g.json) {
    fmt::print(
        "{{\"id\":{},\"name\":{},\"branch\":{},\"quantized\":{},\"kept_f32\":{},\"samples\":{},"
        "\"top1_agreement\":{},\"calibration_xxh3\":{}}}\n",
        json_str(versioning::to_hex(r.id)), json_str(log->describe(r.id)), json_str(r.branch), json_str_list(r.quantized),
        json_str_list(r.kept_f32), r.samples, json_num(r.top1_agreement), json_str(r.fingerprint));
    return 0;
  }
  fmt::print("quantized {} to int8 as {} [params only]\n", o.version, log->describe(r.id));
  fmt::print("  int8: {}\n", fmt::join(r.quantized, ", "));
  for (const std::string& k : r.kept_f32) fmt::print("  f32:  {}\n", k);
  fmt::print("  calibration: {} samples of {}; top-1 agreement with f32 on them {:.2f}%\n", r.samples, o.calibration,
             100 * r.top1_agreement);
  if (r.top1_agreement < 0.98)
    std::fprintf(stderr,
                 "warning: int8 and f32 disagree on %.1f%% of the calibration samples; check the int8 version's accuracy "
                 "(strata predict --labels) before serving it\n",
                 100 * (1 - r.top1_agreement));
  return 0;
}

// The command lines of `predict` and `quantize` (tools/verbs/verbs.h).
namespace {

Verb predict_verb(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* c = app.add_subcommand("predict", "a version's predictions on a file of inputs");
  c->add_option("VERSION", o->version, "version name")->required();
  c->add_option("--input", o->input, "inputs: an IDX file (Fashion-MNIST images), a .npy array or a CSV file")->required();
  c->add_option("--labels", o->labels, "labels (IDX or .npy): adds accuracy and the confusion matrix");
  c->add_option("--format", o->format, "idx | npy | csv (default: by extension)")->check(CLI::IsMember({"idx", "npy", "csv"}));
  c->add_option("--target", o->target, "csv: the column holding the labels");
  c->add_option("--batch", o->batch, "samples per forward pass")->check(CLI::Range(1, 1 << 20));
  c->add_option("--top", o->top, "classes listed per row")->check(CLI::Range(1, 1000));
  c->add_option("--show", o->show, "rows printed (text output)")->check(CLI::Range(0, 1 << 30));
  c->add_option("--bench", o->bench, "also time N single-sample predictions (latency p50/p99)")->check(CLI::Range(1, 1000000));
  return {c, nullptr, [&g, o] { return cmd_predict(g, *o); }};
}

Verb quantize_verb(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* c = app.add_subcommand("quantize", "an int8 version of a version (params only), calibrated on sample inputs");
  c->add_option("VERSION", o->version, "the f32 version")->required();
  c->add_option("--calibration", o->calibration, "sample inputs, as for predict: an IDX file, a .npy array or a CSV file")
      ->required();
  c->add_option("--format", o->format, "idx | npy | csv (default: by extension)")->check(CLI::IsMember({"idx", "npy", "csv"}));
  c->add_option("--samples", o->samples, "calibrate on the first N inputs (default 1000)")->check(CLI::Range(1, 1 << 24));
  c->add_option("--branch", o->branch, "the new branch (default: int8-<version's short id>)");
  c->add_option("-m,--message", o->message, "commit message");
  c->add_option("--sign-key", o->sign_key, "sign the new version with this secret key (default: $STRATA_SIGNING_KEY)");
  return {c, nullptr, [&g, o] { return cmd_quantize(g, *o); }};
}

const VerbRegistration kPredict(150, predict_verb), kQuantize(155, quantize_verb);

}  // namespace
}  // namespace strata::tools
