#include "strata/versioning/serving/internal/served_model.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "strata/framework/core/error.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning::serving {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::shared_ptr<LoadedVersion> load_version(const std::string& log_dir, const std::string& version, int workers) {
  const auto start = std::chrono::steady_clock::now();
  auto loaded = std::make_shared<LoadedVersion>();
  {
    std::unique_ptr<VersionLog> log = VersionLog::open(log_dir, OpenMode::kReadOnly);
    const CommitId id = log->resolve(version);
    const CommitRecord record = log->read_record(id);
    for (const CommitId& p : record.parents) loaded->parents.push_back(to_hex(p));
    if (auto fp = record.environment.find("data/train/fingerprint"); fp != record.environment.end())
      loaded->data_fingerprint = fp->second;
    loaded->id = to_hex(id);
  }
  for (int i = 0; i < workers; ++i)  // by full id: every worker loads the same version
    loaded->predictors.push_back(std::make_unique<Predictor>(log_dir, loaded->id));
  Predictor& first = *loaded->predictors.front();
  loaded->name = first.name();
  loaded->warnings = first.warnings();
  const GraphSpec& graph = first.graph();
  loaded->signature = {graph.input_name, graph.input_shape, graph.input_dtype, graph.output, first.output_shape()};
  Shape one = {1};
  one.insert(one.end(), graph.input_shape.begin(), graph.input_shape.end());
  Tensor zeros(one, graph.input_dtype);
  std::memset(zeros.raw(), 0, zeros.nbytes());
  for (auto& p : loaded->predictors) p->predict(zeros);  // warm-up: compiles the batch-1 plan
  loaded->loaded_at = unix_now();
  loaded->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return loaded;
}

ServedModel::ServedModel(std::string ref, std::shared_ptr<LoadedVersion> initial, int keep_versions, int64_t drift_window)
    : ref_(std::move(ref)),
      keep_versions_(std::max(keep_versions, 1)),
      drift_window_(std::max<int64_t>(drift_window, 1)),
      current_(std::move(initial)) {
  feature_names_ = drift_feature_names(current_->signature.input_shape, current_->signature.input_dtype);
}

std::shared_ptr<LoadedVersion> ServedModel::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::shared_ptr<LoadedVersion> ServedModel::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (current_->id == id) return current_;
  for (const auto& v : kept_)
    if (v->id == id) return v;
  return nullptr;
}

std::string ServedModel::swap(std::shared_ptr<LoadedVersion> next) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!(next->signature == current_->signature))
    return "version " + next->name + " takes and gives " + next->signature.describe() + ", the served version " + current_->name +
           " " + current_->signature.describe() + ": not swapped";
  if (next == current_) return "";
  previous_id_ = current_->id;
  keep_locked(current_);
  current_ = std::move(next);
  for (auto it = kept_.begin(); it != kept_.end(); ++it)
    if (*it == current_) {
      kept_.erase(it);
      break;
    }
  last_load_error_.clear();
  failed_id_.clear();
  return "";
}

void ServedModel::keep(std::shared_ptr<LoadedVersion> version) {
  std::lock_guard<std::mutex> lock(mu_);
  keep_locked(std::move(version));
}

void ServedModel::keep_locked(std::shared_ptr<LoadedVersion> version) {
  for (auto it = kept_.begin(); it != kept_.end(); ++it)
    if ((*it)->id == version->id) {
      kept_.erase(it);
      break;
    }
  kept_.push_front(std::move(version));
  while (static_cast<int>(kept_.size()) > keep_versions_ - 1 && !kept_.empty()) kept_.pop_back();
}

void ServedModel::set_load_error(const std::string& error, const std::string& failed_id) {
  std::lock_guard<std::mutex> lock(mu_);
  last_load_error_ = error;
  failed_id_ = failed_id;
}

std::string ServedModel::failed_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_id_;
}

void ServedModel::set_checked(double t) {
  std::lock_guard<std::mutex> lock(mu_);
  last_checked_ = t;
}

void ServedModel::set_draining(bool draining) {
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = draining;
}

void ServedModel::record_inputs(const Tensor& x) {
  if (feature_names_.empty()) return;
  const DriftFeatures f = drift_features(x);
  if (f.names.size() != feature_names_.size()) return;
  const size_t width = f.names.size();
  std::lock_guard<std::mutex> lock(window_mu_);
  window_.resize(static_cast<size_t>(drift_window_) * width);
  for (int64_t i = 0; i < f.samples; ++i) {
    std::copy_n(f.values.data() + static_cast<size_t>(i) * width, width,
                window_.data() + static_cast<size_t>(window_next_) * width);
    window_next_ = (window_next_ + 1) % drift_window_;
    window_rows_ = std::min(window_rows_ + 1, drift_window_);
  }
}

DriftReport ServedModel::drift(const DriftThresholds& thresholds) const {
  const std::shared_ptr<LoadedVersion> version = current();
  const InputReference& ref = version->predictors.front()->input_statistics();
  std::vector<float> rows;
  int64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(window_mu_);
    n = window_rows_;
    rows.assign(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(n * static_cast<int64_t>(feature_names_.size())));
  }
  if (!ref.empty() && ref.features.size() != feature_names_.size()) {
    DriftReport r;
    r.reason = "the version's input statistics have other features than its inputs";
    return r;
  }
  return drift_report(ref, rows, n, thresholds);
}

std::string ServedModel::status_json() const {
  using nlohmann::json;
  std::lock_guard<std::mutex> lock(mu_);
  json kept = json::array();
  for (const auto& v : kept_) kept.push_back({{"version", v->id}, {"name", v->name}, {"loaded_at", v->loaded_at}});
  json out = {{"model", ref_},
              {"ref", ref_},
              {"version", current_->id},
              {"name", current_->name},
              {"state", draining_ ? "draining" : "available"},
              {"loaded_at", current_->loaded_at},
              {"load_seconds", current_->load_seconds},
              {"previous_version", previous_id_.empty() ? json(nullptr) : json(previous_id_)},
              {"last_load_error", last_load_error_.empty() ? json(nullptr) : json(last_load_error_)},
              {"last_checked", last_checked_},
              {"signature", current_->signature.describe()},
              {"warnings", current_->warnings},
              {"kept_versions", kept},
              {"lineage", {{"parents", current_->parents}, {"data_fingerprint", current_->data_fingerprint}}}};
  return out.dump();
}

}  // namespace strata::versioning::serving
