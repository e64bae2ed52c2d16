// Reading TensorBoard event files back: for tests, for `strata` tools, and to check what a
// run directory holds. Both CRCs of every record are checked (record_io.h).
//
// One EventRecord per Summary.Value (an Event carrying several values yields several records
// with its wall time and step) and one per other Event. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "strata/framework/summary/event_writer.h"
#include "strata/framework/summary/histogram.h"

namespace strata::summary {

enum class EventKind {
  kFileVersion,        // file_version
  kScalar,             // simple_value, or a scalar float tensor of the "scalars" plugin
  kHistogram,          // histo
  kText,               // DT_STRING tensor (plugin "text")
  kTensor,             // any other tensor
  kHParamsStart,       // hparams plugin session_start_info
  kHParamsEnd,         // hparams plugin session_end_info
  kHParamsExperiment,  // hparams plugin experiment
  kGraph,              // graph_def
  kSessionLog,         // session_log
  kOther,              // anything else (e.g. an image)
};
const char* event_kind_name(EventKind kind);

struct EventRecord {
  std::string file;     // path of the event file
  uint64_t offset = 0;  // byte offset of the record in that file
  double wall_time = 0;
  int64_t step = 0;
  EventKind kind = EventKind::kOther;
  std::string tag;                                             // the Summary.Value tag; kGraphTag for graphs
  std::string plugin_name;                                     // from the value's metadata, when present
  double value = 0;                                            // kScalar
  HistogramData histogram;                                     // kHistogram
  std::string text;                                            // kText: the Markdown (string values joined by newlines)
  std::string graph_def;                                       // kGraph: serialized GraphDef (parse_graphdef in graph_def.h)
  std::string file_version;                                    // kFileVersion
  SessionStatus session_status = SessionStatus::kUnspecified;  // kSessionLog
  std::string session_msg;                                     // kSessionLog
  std::map<std::string, HParamValue> hparams;                  // kHParamsStart
  std::string hparams_group;                                   // kHParamsStart
  double hparams_time = 0;                                     // kHParamsStart start / kHParamsEnd end seconds
  HParamsStatus hparams_status = HParamsStatus::kUnknown;      // kHParamsEnd
  HParamsExperiment experiment;                                // kHParamsExperiment (domains as listed)
};

// All events of one file in order. Throws Error(kCorruption) naming the file and the byte
// offset on a bad CRC, a truncated record or a record that is not an Event; kNotFound when the
// file does not exist.
std::vector<EventRecord> read_events(const std::string& path);

// Paths of the event files of a run directory (names containing "tfevents"), in name order,
// which is the order TensorBoard reads them.
std::vector<std::string> list_event_files(const std::string& run_dir);

// Events of every event file of a run directory, file after file.
std::vector<EventRecord> read_run(const std::string& run_dir);

}  // namespace strata::summary
