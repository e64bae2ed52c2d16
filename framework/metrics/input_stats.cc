#include "strata/framework/metrics/input_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "strata/framework/core/error.h"

namespace strata {
namespace {

constexpr int kBins = 10;
constexpr int kGrid = 4;
constexpr int kSegments = 16;
constexpr int64_t kMaxRawFeatures = 32;

enum class Scheme { kNone, kRaw, kImage, kSegments };

Scheme scheme_for(const Shape& sample, DType dtype, int64_t* values) {
  int64_t n = 1;
  for (int64_t d : sample) n *= d;
  *values = n;
  if (dtype != DType::kF32 || n == 0) return Scheme::kNone;
  if (n <= kMaxRawFeatures) return Scheme::kRaw;
  if (sample.size() == 3 && sample[1] >= kGrid && sample[2] >= kGrid) return Scheme::kImage;
  return Scheme::kSegments;
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Mean and population std of a range of floats.
void mean_std(const float* v, int64_t n, float* mean, float* std) {
  double s = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i) s += v[i];
  const double m = s / std::max<int64_t>(n, 1);
  for (int64_t i = 0; i < n; ++i) ss += (v[i] - m) * (v[i] - m);
  *mean = static_cast<float>(m);
  *std = static_cast<float>(std::sqrt(ss / std::max<int64_t>(n, 1)));
}

// The features of one image [C, H, W]: mean, std, per-channel means (C > 1), 4x4 cell means.
void image_features(const float* x, const Shape& s, float* out) {
  const int64_t c = s[0], h = s[1], w = s[2];
  mean_std(x, c * h * w, &out[0], &out[1]);
  int k = 2;
  if (c > 1)
    for (int64_t ch = 0; ch < c; ++ch) {
      float sd;
      mean_std(x + ch * h * w, h * w, &out[k++], &sd);
    }
  for (int r = 0; r < kGrid; ++r)
    for (int q = 0; q < kGrid; ++q) {
      const int64_t y0 = h * r / kGrid, y1 = h * (r + 1) / kGrid, x0 = w * q / kGrid, x1 = w * (q + 1) / kGrid;
      double sum = 0;
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t xx = x0; xx < x1; ++xx) sum += x[(ch * h + y) * w + xx];
      out[k++] = static_cast<float>(sum / static_cast<double>(c * (y1 - y0) * (x1 - x0)));
    }
}

void segment_features(const float* x, int64_t n, float* out) {
  mean_std(x, n, &out[0], &out[1]);
  for (int k = 0; k < kSegments; ++k) {
    const int64_t a = n * k / kSegments, b = n * (k + 1) / kSegments;
    double sum = 0;
    for (int64_t i = a; i < b; ++i) sum += x[i];
    out[2 + k] = static_cast<float>(b > a ? sum / static_cast<double>(b - a) : 0.0);
  }
}

int bin_of(const std::vector<double>& edges, double v) {
  return static_cast<int>(std::lower_bound(edges.begin(), edges.end(), v) - edges.begin());
}

std::vector<double> parse_list(const std::string& text, size_t count) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v)) return {};
    out.push_back(v);
  }
  if (out.size() != count) return {};
  return out;
}

}  // namespace

std::vector<std::string> drift_feature_names(const Shape& sample, DType dtype) {
  int64_t values = 0;
  std::vector<std::string> names;
  switch (scheme_for(sample, dtype, &values)) {
    case Scheme::kNone:
      break;
    case Scheme::kRaw:
      for (int64_t i = 0; i < values; ++i) names.push_back("x[" + std::to_string(i) + "]");
      break;
    case Scheme::kImage:
      names = {"mean", "std"};
      if (sample[0] > 1)
        for (int64_t c = 0; c < sample[0]; ++c) names.push_back("mean[" + std::to_string(c) + "]");
      for (int r = 0; r < kGrid; ++r)
        for (int q = 0; q < kGrid; ++q) names.push_back("cell[" + std::to_string(r) + "," + std::to_string(q) + "]");
      break;
    case Scheme::kSegments:
      names = {"mean", "std"};
      for (int k = 0; k < kSegments; ++k) names.push_back("segment[" + std::to_string(k) + "]");
      break;
  }
  return names;
}

namespace {

// The features of sample `i` of x into out (names.size() values).
void sample_features(const Tensor& x, Scheme scheme, const Shape& sample, int64_t values, int64_t i, float* out) {
  const float* row = x.f32() + i * values;
  if (scheme == Scheme::kRaw) std::copy(row, row + values, out);
  if (scheme == Scheme::kImage) image_features(row, sample, out);
  if (scheme == Scheme::kSegments) segment_features(row, values, out);
}

}  // namespace

DriftFeatures drift_features(const Tensor& x) {
  DriftFeatures out;
  if (!x.defined() || x.rank() == 0) return out;
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  int64_t values = 0;
  const Scheme scheme = scheme_for(sample, x.dtype(), &values);
  out.names = drift_feature_names(sample, x.dtype());
  if (out.names.empty()) return out;
  out.samples = x.dim(0);
  const size_t f = out.names.size();
  out.values.resize(static_cast<size_t>(out.samples) * f);
  for (int64_t i = 0; i < out.samples; ++i)
    sample_features(x, scheme, sample, values, i, out.values.data() + static_cast<size_t>(i) * f);
  return out;
}

InputReference input_reference(const Tensor& x, int64_t max_samples) {
  InputReference ref;
  if (!x.defined() || x.rank() == 0 || x.dtype() != DType::kF32 || x.dim(0) == 0) return ref;
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  int64_t values = 0;
  const Scheme scheme = scheme_for(sample, x.dtype(), &values);
  const std::vector<std::string> names = drift_feature_names(sample, x.dtype());
  if (names.empty()) return ref;
  // Evenly spaced samples, read in place: deterministic, and spread over a sorted dataset too.
  const int64_t n = x.dim(0), take = std::min(n, std::max<int64_t>(max_samples, 1));
  const size_t f = names.size();
  std::vector<float> feats(static_cast<size_t>(take) * f);
  for (int64_t i = 0; i < take; ++i)
    sample_features(x, scheme, sample, values, i * n / take, feats.data() + static_cast<size_t>(i) * f);
  ref.samples = take;
  std::vector<double> column;
  for (size_t j = 0; j < f; ++j) {
    // Over the finite values only: a NaN would poison the mean and break the sort's ordering.
    column.clear();
    for (int64_t i = 0; i < take; ++i)
      if (const float v = feats[static_cast<size_t>(i) * f + j]; std::isfinite(v)) column.push_back(v);
    FeatureReference fr;
    fr.name = names[j];
    const double count = static_cast<double>(std::max<size_t>(column.size(), 1));
    double sum = 0, ss = 0;
    for (double v : column) sum += v;
    fr.mean = sum / count;
    for (double v : column) ss += (v - fr.mean) * (v - fr.mean);
    fr.std = std::sqrt(ss / count);
    std::vector<double> sorted = column;
    std::sort(sorted.begin(), sorted.end());
    for (int k = 1; k < kBins; ++k)
      fr.edges.push_back(sorted.empty() ? 0.0 : sorted[(sorted.size() - 1) * static_cast<size_t>(k) / kBins]);
    fr.proportions.assign(kBins, 0.0);
    for (double v : column) fr.proportions[static_cast<size_t>(bin_of(fr.edges, v))] += 1.0;
    for (double& p : fr.proportions) p /= count;
    ref.features.push_back(std::move(fr));
  }
  return ref;
}

std::string InputReference::to_string() const {
  std::string out = "strata-input-stats 1 " + std::to_string(samples) + "\n";
  for (const FeatureReference& f : features) {
    out += f.name + " " + fmt_double(f.mean) + " " + fmt_double(f.std) + " ";
    for (size_t k = 0; k < f.edges.size(); ++k) out += (k ? "," : "") + fmt_double(f.edges[k]);
    out += " ";
    for (size_t k = 0; k < f.proportions.size(); ++k) out += (k ? "," : "") + fmt_double(f.proportions[k]);
    out += "\n";
  }
  return out;
}

InputReference InputReference::parse(const std::string& text) {
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kCorruption, "input statistics: " + why, "environment data/train/input_stats",
                 "the version serves with drift status 'unknown'");
  };
  std::stringstream in(text);
  std::string magic;
  int version = 0;
  InputReference ref;
  if (!(in >> magic >> version >> ref.samples) || magic != "strata-input-stats" || version != 1 || ref.samples <= 0)
    throw bad("no 'strata-input-stats 1 <samples>' header");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ls(line);
    FeatureReference f;
    std::string edges, props;
    if (!(ls >> f.name >> f.mean >> f.std >> edges >> props)) throw bad("malformed line '" + line + "'");
    f.edges = parse_list(edges, kBins - 1);
    f.proportions = parse_list(props, kBins);
    if (f.edges.empty() || f.proportions.empty() || !std::is_sorted(f.edges.begin(), f.edges.end()))
      throw bad("malformed bins in line '" + line + "'");
    ref.features.push_back(std::move(f));
  }
  if (ref.features.empty()) throw bad("no features");
  return ref;
}

DriftReport drift_report(const InputReference& ref, const std::vector<float>& window, int64_t samples, const DriftThresholds& t) {
  DriftReport report;
  report.window = samples;
  const size_t f = ref.features.size();
  if (ref.empty()) {
    report.reason = "the version recorded no input statistics";
    return report;
  }
  if (samples == 0 || window.size() != static_cast<size_t>(samples) * f) {
    report.reason = samples == 0 ? "no inputs received yet" : "the window's features do not match the reference";
    return report;
  }
  int alerts = 0, drifted = 0;
  for (size_t j = 0; j < f; ++j) {
    const FeatureReference& fr = ref.features[j];
    std::vector<double> counts(kBins, 0.0);
    double sum = 0;
    for (int64_t i = 0; i < samples; ++i) {
      const double v = window[static_cast<size_t>(i) * f + j];
      counts[static_cast<size_t>(bin_of(fr.edges, v))] += 1;
      sum += v;
    }
    FeatureDrift d;
    d.name = fr.name;
    for (int k = 0; k < kBins; ++k) {
      const double p = (fr.proportions[static_cast<size_t>(k)] + t.epsilon) / (1 + kBins * t.epsilon);
      const double q = (counts[static_cast<size_t>(k)] / static_cast<double>(samples) + t.epsilon) / (1 + kBins * t.epsilon);
      d.psi += (q - p) * std::log(q / p);
    }
    d.mean_shift_sigma = fr.std > 0 ? (sum / static_cast<double>(samples) - fr.mean) / fr.std : 0.0;
    d.status = d.psi >= t.alert ? "alert" : d.psi >= t.warn ? "warn" : "ok";
    alerts += d.psi >= t.alert;
    drifted += d.psi >= t.warn;
    report.psi_max = std::max(report.psi_max, d.psi);
    report.features.push_back(std::move(d));
  }
  std::stable_sort(report.features.begin(), report.features.end(),
                   [](const FeatureDrift& a, const FeatureDrift& b) { return a.psi > b.psi; });
  const double n = static_cast<double>(f);
  report.drifted_share = drifted / n;
  report.status = alerts / n >= t.share ? "alert" : (alerts > 0 || drifted / n >= t.share) ? "warn" : "ok";
  return report;
}

}  // namespace strata
