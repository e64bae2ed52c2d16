// EventWriter: appends TensorBoard events to one event file of a run directory
// (docs/design.md "TensorBoard", docs/wire-formats.md).
//
// The file is `<run_dir>/events.out.tfevents.<10-digit unix seconds>.<host>.<pid>.<n>`, where
// n counts the writers this process has opened, so two writers started in the same second get
// different files; the file is created exclusively, so an existing file is never appended to.
// Its first record is Event{file_version: "brain.Event:2"}. Records are framed as TFRecords
// with masked CRC32C and buffered in memory until flush() (call it at every epoch end so a
// running TensorBoard shows the epoch) or until 1 MiB is pending. A failed write is cut back
// to the last whole record, so the file stays readable, and throws Error(kIOError).
//
// Owns its file descriptor; not copyable. Thread-safe: every method takes an internal mutex.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/summary/histogram.h"

namespace strata::summary {

// Seconds since the Unix epoch, with sub-second precision (TensorBoard's wall_time).
double wall_clock_seconds();

// An hparams value: number_value, string_value or bool_value in TensorBoard's hparams plugin.
using HParamValue = std::variant<double, std::string, bool>;

// hparams plugin SessionEndInfo.status.
enum class HParamsStatus { kUnknown = 0, kSuccess = 1, kFailure = 2, kRunning = 3 };

// SessionLog.status. TensorBoard ignores the first START of a run; a later START at step s
// drops the run's points at steps >= s (how a resumed run overwrites an abandoned future).
enum class SessionStatus { kUnspecified = 0, kStart = 1, kStop = 2, kCheckpoint = 3 };

inline constexpr const char* kFileVersion = "brain.Event:2";
inline constexpr const char* kGraphTag = "__run_graph__";
inline constexpr const char* kHParamsStartTag = "_hparams_/session_start_info";
inline constexpr const char* kHParamsEndTag = "_hparams_/session_end_info";
inline constexpr const char* kHParamsExperimentTag = "_hparams_/experiment";

// The hparams plugin's experiment: which hyper-parameters and metrics its table shows. Without
// one TensorBoard infers it, making every scalar tag a metric column without a name.
struct HParamsExperiment {
  // The hparams plugin's DataType: how TensorBoard sorts and filters the column.
  enum class Type { kUnset = 0, kString = 1, kBool = 2, kFloat64 = 3 };
  struct HParam {
    std::string name, display_name, description;
    std::vector<HParamValue> domain;  // distinct values seen; numbers become an interval; may be empty
    Type type = Type::kUnset;
  };
  struct Metric {
    std::string tag, display_name, description;
    bool validation = false;  // dataset type: validation (val/, test/) or training
  };
  std::vector<HParam> hparams;
  std::vector<Metric> metrics;
  std::string description;
};

struct EventWriterOptions {
  // Wall time written into the file name and the file-version record; < 0 means now. The
  // re-creation of event files from the version log passes the first commit's time.
  STRATA_ARG(double, start_time) = -1;
};

class EventWriter {
 public:
  // Creates run_dir (and parents) and the event file. Throws Error(kIOError) when either
  // cannot be created.
  explicit EventWriter(const std::string& run_dir, EventWriterOptions options = {});
  // Flushes and closes; a failure here is reported on stderr (destructors must not throw).
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& run_dir() const { return run_dir_; }
  const std::string& path() const { return path_; }

  // Summary.Value.simple_value (a float, as TensorBoard stores it).
  void add_scalar(const std::string& tag, int64_t step, double value, double wall_time = wall_clock_seconds());
  // Histogram of n floats with TensorFlow's default buckets (see histogram.h).
  void add_histogram(const std::string& tag, int64_t step, const float* data, size_t n, double wall_time = wall_clock_seconds());
  void add_histogram(const std::string& tag, int64_t step, const HistogramData& histogram,
                     double wall_time = wall_clock_seconds());
  // Markdown shown by the Text dashboard (a DT_STRING tensor with plugin "text").
  void add_text(const std::string& tag, int64_t step, const std::string& markdown, double wall_time = wall_clock_seconds());
  // The graph as a GraphDef at step 0 (see graph_def.h). Written once per graph id by this
  // writer: returns false, writing nothing, when that graph was already written.
  bool add_graph(const GraphSpec& graph, int64_t batch_size_for_shapes = -1, double wall_time = wall_clock_seconds());
  // hparams plugin: session_start_info at step 0 with the values and the group name (sessions
  // in one group are aggregated by the HParams dashboard; "" keeps each run apart).
  void add_hparams_start(const std::map<std::string, HParamValue>& hparams, const std::string& group_name = "",
                         double start_time = wall_clock_seconds());
  // hparams plugin: the experiment at step 0.
  void add_hparams_experiment(const HParamsExperiment& experiment, double wall_time = wall_clock_seconds());
  // hparams plugin: session_end_info at step 0.
  void add_hparams_end(HParamsStatus status, double end_time = wall_clock_seconds());
  void add_session_log(SessionStatus status, int64_t step, const std::string& msg = "", double wall_time = wall_clock_seconds());
  void add_session_start(int64_t step, double wall_time = wall_clock_seconds()) {
    add_session_log(SessionStatus::kStart, step, "", wall_time);
  }

  // Writes every pending record to the file (not fsync'ed: TensorBoard reads the page cache).
  void flush();

 private:
  void append_locked(const std::string& event_bytes);
  void flush_locked();

  std::mutex mu_;
  std::string run_dir_;
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;  // bytes of whole records on disk
  std::string pending_;     // framed records not yet written
  std::set<std::string> graph_ids_;
};

}  // namespace strata::summary
