#include "strata/framework/summary/event_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "proto/event.pb.h"
#include "proto/hparams.pb.h"
#include "strata/framework/core/error.h"
#include "strata/framework/summary/internal/graph_def.h"
#include "strata/framework/summary/internal/proto_bytes.h"
#include "strata/framework/summary/internal/record_io.h"

namespace strata::summary {
namespace {

constexpr size_t kFlushThreshold = 1 << 20;

// Process-wide writer count: the `.<n>` suffix that keeps two writers of one second apart.
std::atomic<uint64_t> g_writer_count{0};

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string host(buf);
  for (char& c : host)
    if (c == '/') c = '_';
  return host;
}

tensorboard::Event make_event(double wall_time, int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  return event;
}

tensorboard::Summary::Value* add_value(tensorboard::Event& event, const std::string& tag) {
  tensorboard::Summary::Value* value = event.mutable_summary()->add_value();
  value->set_tag(tag);
  return value;
}

// The hparams plugin wants its summaries to carry a DT_FLOAT tensor of shape [0]
// (`08 01 12 02 12 00`) next to the metadata that holds the actual data.
void set_hparams_value(tensorboard::Event& event, const std::string& tag, const tensorboard::hparams::HParamsPluginData& data) {
  tensorboard::Summary::Value* value = add_value(event, tag);
  auto* plugin = value->mutable_metadata()->mutable_plugin_data();
  plugin->set_plugin_name("hparams");
  plugin->set_content(deterministic_bytes(data));
  tensorboard::TensorProto* tensor = value->mutable_tensor();
  tensor->set_dtype(tensorboard::DT_FLOAT);
  tensor->mutable_tensor_shape()->add_dim()->set_size(0);
}

void check_tag(const std::string& tag, const std::string& path) {
  if (tag.empty()) throw_invalid("empty summary tag", path, "give every summary a tag");
}

}  // namespace

double wall_clock_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

EventWriter::EventWriter(const std::string& run_dir, EventWriterOptions options) : run_dir_(run_dir) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec)
    throw_io("cannot create the TensorBoard run directory: " + ec.message(), run_dir,
             "check the permissions and free space of the log directory");
  const double start = options.start_time() >= 0 ? options.start_time() : wall_clock_seconds();
  const std::string host = host_name();
  const long long secs = static_cast<long long>(std::floor(start));
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", secs);
  const std::string prefix = (std::filesystem::path(run_dir) / "events.out.tfevents.").string() + stamp + "." + host + "." +
                             std::to_string(getpid()) + ".";
  // O_EXCL: another writer (or a reused pid) never shares a file; take the next suffix instead.
  for (int attempt = 0; fd_ < 0; ++attempt) {
    path_ = prefix + std::to_string(g_writer_count.fetch_add(1));
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || attempt > 1000))
      throw_io(std::string("cannot create event file: ") + std::strerror(errno), path_,
               "check the permissions and free space of the log directory");
  }
  tensorboard::Event event = make_event(start, 0);
  event.set_file_version(kFileVersion);
  try {
    std::lock_guard<std::mutex> lock(mu_);
    append_locked(deterministic_bytes(event));
    // Flushed at once so the file is a valid event file from the moment it exists.
    flush_locked();
  } catch (...) {
    ::close(fd_);  // the destructor does not run for a throwing constructor
    throw;
  }
}

EventWriter::~EventWriter() {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    flush_locked();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata: %s\n", e.what());
  }
  if (fd_ >= 0) ::close(fd_);
}

void EventWriter::add_scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  check_tag(tag, path_);
  tensorboard::Event event = make_event(wall_time, step);
  add_value(event, tag)->set_simple_value(static_cast<float>(value));
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::add_histogram(const std::string& tag, int64_t step, const float* data, size_t n, double wall_time) {
  add_histogram(tag, step, make_histogram(data, n), wall_time);
}

void EventWriter::add_histogram(const std::string& tag, int64_t step, const HistogramData& h, double wall_time) {
  check_tag(tag, path_);
  if (h.bucket.size() != h.bucket_limit.size())
    throw_invalid("histogram '" + tag + "' has " + std::to_string(h.bucket.size()) + " buckets but " +
                      std::to_string(h.bucket_limit.size()) + " limits",
                  path_, "build it with make_histogram()");
  tensorboard::Event event = make_event(wall_time, step);
  tensorboard::HistogramProto* histo = add_value(event, tag)->mutable_histo();
  histo->set_min(h.min);
  histo->set_max(h.max);
  histo->set_num(h.num);
  histo->set_sum(h.sum);
  histo->set_sum_squares(h.sum_squares);
  histo->mutable_bucket_limit()->Add(h.bucket_limit.begin(), h.bucket_limit.end());
  histo->mutable_bucket()->Add(h.bucket.begin(), h.bucket.end());
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::add_text(const std::string& tag, int64_t step, const std::string& markdown, double wall_time) {
  check_tag(tag, path_);
  tensorboard::Event event = make_event(wall_time, step);
  tensorboard::Summary::Value* value = add_value(event, tag);
  // Content stays empty: it is TextPluginData{version: 0}.
  value->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  tensorboard::TensorProto* tensor = value->mutable_tensor();
  tensor->set_dtype(tensorboard::DT_STRING);
  tensor->mutable_tensor_shape();  // scalar: present, no dims
  tensor->add_string_val(markdown);
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

bool EventWriter::add_graph(const GraphSpec& graph, int64_t batch_size_for_shapes, double wall_time) {
  const std::string id = graph.graph_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (graph_ids_.count(id)) return false;
  }
  tensorboard::Event event = make_event(wall_time, 0);
  event.set_graph_def(graph_to_graphdef(graph, batch_size_for_shapes));
  std::lock_guard<std::mutex> lock(mu_);
  if (!graph_ids_.insert(id).second) return false;  // another thread won the race
  append_locked(deterministic_bytes(event));
  return true;
}

void EventWriter::add_hparams_start(const std::map<std::string, HParamValue>& hparams, const std::string& group_name,
                                    double start_time) {
  tensorboard::hparams::HParamsPluginData data;
  tensorboard::hparams::SessionStartInfo* info = data.mutable_session_start_info();
  for (const auto& [name, v] : hparams) {
    if (name.empty()) throw_invalid("empty hyper-parameter name", path_);
    google::protobuf::Value& out = (*info->mutable_hparams())[name];
    if (const double* d = std::get_if<double>(&v)) {
      out.set_number_value(*d);
    } else if (const bool* b = std::get_if<bool>(&v)) {
      out.set_bool_value(*b);
    } else {
      out.set_string_value(std::get<std::string>(v));
    }
  }
  info->set_group_name(group_name);
  info->set_start_time_secs(start_time);
  tensorboard::Event event = make_event(start_time, 0);
  set_hparams_value(event, kHParamsStartTag, data);
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::add_hparams_experiment(const HParamsExperiment& experiment, double wall_time) {
  tensorboard::hparams::HParamsPluginData data;
  tensorboard::hparams::Experiment* e = data.mutable_experiment();
  e->set_description(experiment.description);
  e->set_time_created_secs(wall_time);
  for (const HParamsExperiment::HParam& h : experiment.hparams) {
    tensorboard::hparams::HParamInfo* info = e->add_hparam_infos();
    info->set_name(h.name);
    info->set_display_name(h.display_name);
    info->set_description(h.description);
    HParamsExperiment::Type type = h.type;
    if (type == HParamsExperiment::Type::kUnset && !h.domain.empty()) {  // from the values: all numbers, all bools, else strings
      bool numbers = true, bools = true;
      for (const HParamValue& v : h.domain) {
        numbers = numbers && std::holds_alternative<double>(v);
        bools = bools && std::holds_alternative<bool>(v);
      }
      type = numbers ? HParamsExperiment::Type::kFloat64
             : bools ? HParamsExperiment::Type::kBool
                     : HParamsExperiment::Type::kString;
    }
    info->set_type(static_cast<tensorboard::hparams::DataType>(type));
    if (type == HParamsExperiment::Type::kFloat64 && !h.domain.empty()) {
      double lo = INFINITY, hi = -INFINITY;
      for (const HParamValue& v : h.domain)
        if (const double* d = std::get_if<double>(&v)) {
          lo = std::min(lo, *d);
          hi = std::max(hi, *d);
        }
      info->mutable_domain_interval()->set_min_value(lo);
      info->mutable_domain_interval()->set_max_value(hi);
    } else if (!h.domain.empty()) {
      // Mixed types are listed as strings, which is how the session start shows non-numbers.
      const bool bools = type == HParamsExperiment::Type::kBool;
      for (const HParamValue& v : h.domain) {
        google::protobuf::Value* out = info->mutable_domain_discrete()->add_values();
        if (const bool* b = std::get_if<bool>(&v)) {
          if (bools)
            out->set_bool_value(*b);
          else
            out->set_string_value(*b ? "true" : "false");
        } else if (const double* d = std::get_if<double>(&v)) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", *d);
          out->set_string_value(buf);
        } else {
          out->set_string_value(std::get<std::string>(v));
        }
      }
    }
  }
  for (const HParamsExperiment::Metric& m : experiment.metrics) {
    tensorboard::hparams::MetricInfo* info = e->add_metric_infos();
    info->mutable_name()->set_tag(m.tag);
    info->set_display_name(m.display_name);
    info->set_description(m.description);
    info->set_dataset_type(m.validation ? tensorboard::hparams::DATASET_VALIDATION : tensorboard::hparams::DATASET_TRAINING);
  }
  tensorboard::Event event = make_event(wall_time, 0);
  set_hparams_value(event, kHParamsExperimentTag, data);
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::add_hparams_end(HParamsStatus status, double end_time) {
  tensorboard::hparams::HParamsPluginData data;
  tensorboard::hparams::SessionEndInfo* info = data.mutable_session_end_info();
  info->set_status(static_cast<tensorboard::hparams::Status>(status));
  info->set_end_time_secs(end_time);
  tensorboard::Event event = make_event(end_time, 0);
  set_hparams_value(event, kHParamsEndTag, data);
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::add_session_log(SessionStatus status, int64_t step, const std::string& msg, double wall_time) {
  tensorboard::Event event = make_event(wall_time, step);
  tensorboard::SessionLog* log = event.mutable_session_log();
  log->set_status(static_cast<tensorboard::SessionLog::SessionStatus>(status));
  log->set_msg(msg);
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(deterministic_bytes(event));
}

void EventWriter::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  flush_locked();
}

void EventWriter::append_locked(const std::string& event_bytes) {
  pending_ += encode_record(event_bytes);
  if (pending_.size() >= kFlushThreshold) flush_locked();
}

void EventWriter::flush_locked() {
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // Cut a partly written record off so readers still see a well-formed file; the pending
      // records are dropped (the version log, not this view, is the source of truth).
      if (::ftruncate(fd_, static_cast<off_t>(file_size_)) == 0) ::lseek(fd_, static_cast<off_t>(file_size_), SEEK_SET);
      pending_.clear();
      throw_io(std::string("cannot write event file: ") + std::strerror(err), path_,
               "free disk space; `strata tensorboard` can re-create the event files later");
    }
    done += static_cast<size_t>(n);
  }
  file_size_ += pending_.size();
  pending_.clear();
}

}  // namespace strata::summary
