// Moving parameters between versions: exact resume, warm start into a changed graph (align),
// and merging two versions into a new one (docs/design.md "Resume", "Align", "Merge").
//
// Free functions over a VersionLog; thread-safe as the log's const methods are.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/framework/train/train_state.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

// The full training state of a version (any name VersionLog::resolve accepts), to resume from
// bit-exactly. Refuses (kFailedPrecondition) a version whose optimizer state retention dropped.
TrainState load_state(const VersionLog& log, const std::string& version_name);

// Which tensors of a source matched a target by name (copy_matching).
struct TensorMatch {
  std::vector<std::string> matched;     // same name, shape and dtype: copied
  std::vector<std::string> missing;     // in the target only: left as they were
  std::vector<std::string> unexpected;  // in the source only
  std::vector<std::string> mismatched;  // same name, another shape or dtype: left as they were
};

// Copies each tensor of `source` into the tensor of `target` with the same name, shape and
// dtype; names in target order, then the source's.
TensorMatch copy_matching(const NamedTensors& source, NamedTensors& target);

// What align_state matched (docs/design.md "Align").
struct AlignReport {
  CommitId source{};
  std::vector<std::string> matched;     // copied: same name, shape and dtype
  std::vector<std::string> added;       // in the target only: keep their fresh initialisation
  std::vector<std::string> dropped;     // in the source only
  std::vector<std::string> mismatched;  // same name, another shape or dtype: not copied
};

// Warm start: copies the parameters of `version_name` into `target.params` wherever name, shape
// and dtype agree, leaves the others as they are, and reports what matched. The graphs may
// differ. Record the source as the parent of the next commit with Recorder::warm_start_from.
AlignReport align_state(const VersionLog& log, const std::string& version_name, TrainState& target);

}  // namespace strata::versioning
