#include "strata/framework/summary/event_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "proto/event.pb.h"
#include "proto/hparams.pb.h"
#include "strata/framework/core/error.h"
#include "strata/framework/summary/internal/record_io.h"

namespace strata::summary {
namespace {

std::string place(const std::string& path, uint64_t offset) { return path + " at byte offset " + std::to_string(offset); }

HistogramData from_proto(const tensorboard::HistogramProto& p) {
  HistogramData h;
  h.min = p.min();
  h.max = p.max();
  h.num = p.num();
  h.sum = p.sum();
  h.sum_squares = p.sum_squares();
  h.bucket_limit.assign(p.bucket_limit().begin(), p.bucket_limit().end());
  h.bucket.assign(p.bucket().begin(), p.bucket().end());
  return h;
}

void read_hparams(const tensorboard::Summary::Value& value, EventRecord& r) {
  tensorboard::hparams::HParamsPluginData data;
  if (!data.ParseFromString(value.metadata().plugin_data().content()))
    throw_corruption("hparams plugin data of '" + value.tag() + "' does not parse", place(r.file, r.offset));
  if (data.has_session_start_info()) {
    const auto& info = data.session_start_info();
    r.kind = EventKind::kHParamsStart;
    r.hparams_group = info.group_name();
    r.hparams_time = info.start_time_secs();
    for (const auto& [name, v] : info.hparams()) {
      switch (v.kind_case()) {
        case google::protobuf::Value::kNumberValue:
          r.hparams[name] = v.number_value();
          break;
        case google::protobuf::Value::kBoolValue:
          r.hparams[name] = v.bool_value();
          break;
        default:
          r.hparams[name] = v.string_value();
          break;
      }
    }
  } else if (data.has_experiment()) {
    const auto& e = data.experiment();
    r.kind = EventKind::kHParamsExperiment;
    r.experiment.description = e.description();
    for (const auto& h : e.hparam_infos()) {
      HParamsExperiment::HParam out{
          h.name(), h.display_name(), h.description(), {}, static_cast<HParamsExperiment::Type>(h.type())};
      if (h.has_domain_interval()) {
        out.domain = {h.domain_interval().min_value(), h.domain_interval().max_value()};
      } else if (h.has_domain_discrete()) {
        for (const auto& v : h.domain_discrete().values())
          out.domain.push_back(v.kind_case() == google::protobuf::Value::kBoolValue ? HParamValue(v.bool_value())
                                                                                    : HParamValue(v.string_value()));
      }
      r.experiment.hparams.push_back(std::move(out));
    }
    for (const auto& m : e.metric_infos())
      r.experiment.metrics.push_back(
          {m.name().tag(), m.display_name(), m.description(), m.dataset_type() == tensorboard::hparams::DATASET_VALIDATION});
  } else if (data.has_session_end_info()) {
    r.kind = EventKind::kHParamsEnd;
    r.hparams_status = static_cast<HParamsStatus>(data.session_end_info().status());
    r.hparams_time = data.session_end_info().end_time_secs();
  }
}

// Reads a scalar out of a tensor (TF2-style scalars); false when it is not one.
bool scalar_of(const tensorboard::TensorProto& t, double* out) {
  if (t.tensor_shape().dim_size() != 0) return false;
  const std::string& c = t.tensor_content();
  if (t.dtype() == tensorboard::DT_FLOAT && c.size() == sizeof(float)) {
    float f;
    std::memcpy(&f, c.data(), sizeof f);
    *out = f;
    return true;
  }
  if (t.dtype() == tensorboard::DT_DOUBLE && c.size() == sizeof(double)) {
    std::memcpy(out, c.data(), sizeof(double));
    return true;
  }
  return false;
}

EventRecord read_value(const tensorboard::Summary::Value& value, EventRecord r) {
  r.tag = value.tag();
  r.plugin_name = value.metadata().plugin_data().plugin_name();
  switch (value.value_case()) {
    case tensorboard::Summary::Value::kSimpleValue:
      r.kind = EventKind::kScalar;
      r.value = value.simple_value();
      break;
    case tensorboard::Summary::Value::kHisto:
      r.kind = EventKind::kHistogram;
      r.histogram = from_proto(value.histo());
      break;
    case tensorboard::Summary::Value::kTensor: {
      const tensorboard::TensorProto& t = value.tensor();
      if (r.plugin_name == "hparams") {
        read_hparams(value, r);
      } else if (t.dtype() == tensorboard::DT_STRING) {
        r.kind = EventKind::kText;
        for (int i = 0; i < t.string_val_size(); ++i) r.text += (i ? "\n" : "") + t.string_val(i);
      } else if (scalar_of(t, &r.value)) {
        r.kind = EventKind::kScalar;
      } else {
        r.kind = EventKind::kTensor;
      }
      break;
    }
    default:
      r.kind = EventKind::kOther;
      break;
  }
  return r;
}

}  // namespace

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kFileVersion:
      return "file_version";
    case EventKind::kScalar:
      return "scalar";
    case EventKind::kHistogram:
      return "histogram";
    case EventKind::kText:
      return "text";
    case EventKind::kTensor:
      return "tensor";
    case EventKind::kHParamsStart:
      return "hparams_start";
    case EventKind::kHParamsEnd:
      return "hparams_end";
    case EventKind::kHParamsExperiment:
      return "hparams_experiment";
    case EventKind::kGraph:
      return "graph";
    case EventKind::kSessionLog:
      return "session_log";
    case EventKind::kOther:
      return "other";
  }
  return "other";
}

std::vector<EventRecord> read_events(const std::string& path) {
  std::vector<EventRecord> out;
  for (const RawRecord& raw : read_records(path)) {
    tensorboard::Event event;
    if (!event.ParseFromString(raw.data))
      throw_corruption("record is not a TensorBoard Event (" + std::to_string(raw.data.size()) + " bytes)",
                       place(path, raw.offset), "is this an event file?");
    EventRecord r;
    r.file = path;
    r.offset = raw.offset;
    r.wall_time = event.wall_time();
    r.step = event.step();
    switch (event.what_case()) {
      case tensorboard::Event::kFileVersion:
        r.kind = EventKind::kFileVersion;
        r.file_version = event.file_version();
        out.push_back(std::move(r));
        break;
      case tensorboard::Event::kGraphDef:
        r.kind = EventKind::kGraph;
        r.tag = kGraphTag;
        r.graph_def = event.graph_def();
        out.push_back(std::move(r));
        break;
      case tensorboard::Event::kSessionLog:
        r.kind = EventKind::kSessionLog;
        r.session_status = static_cast<SessionStatus>(event.session_log().status());
        r.session_msg = event.session_log().msg();
        out.push_back(std::move(r));
        break;
      case tensorboard::Event::kSummary:
        for (const auto& value : event.summary().value()) out.push_back(read_value(value, r));
        break;
      default:
        out.push_back(std::move(r));
        break;
    }
  }
  return out;
}

std::vector<std::string> list_event_files(const std::string& run_dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(run_dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) throw Error(ErrorCode::kNotFound, "run directory does not exist", run_dir);
    throw_io("cannot list run directory: " + ec.message(), run_dir);
  }
  std::vector<std::string> files;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.find("tfevents") != std::string::npos && entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<EventRecord> read_run(const std::string& run_dir) {
  std::vector<EventRecord> out;
  for (const std::string& file : list_event_files(run_dir)) {
    std::vector<EventRecord> events = read_events(file);
    out.insert(out.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
  }
  return out;
}

}  // namespace strata::summary
