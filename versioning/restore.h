// Restoring training state from a version log: exact resume and warm start (align).
//
// Free functions over a VersionLog; thread-safe as the log's const methods are.
#pragma once

#include <string>
#include <vector>

#include "framework/train/train_state.h"
#include "versioning/version_log.h"

namespace strata::versioning {

// The full training state of a version (any name VersionLog::resolve accepts), to resume from
// bit-exactly. Refuses (kFailedPrecondition) a version whose optimizer state retention dropped.
TrainState load_state(const VersionLog& log, const std::string& version_name);

// What align_state matched (DESIGN "Align").
struct AlignReport {
  CommitId source{};
  std::vector<std::string> matched;   // copied: same name, shape and dtype
  std::vector<std::string> added;     // in the target only: keep their fresh initialisation
  std::vector<std::string> dropped;   // in the source only
  std::vector<std::string> mismatched;  // same name, another shape or dtype: not copied
};

// Warm start: copies the parameters of `version_name` into `target.params` wherever name, shape
// and dtype agree, leaves the others as they are, and reports what matched. The graphs may
// differ. Record the source as the parent of the next commit with Recorder::warm_start_from.
AlignReport align_state(const VersionLog& log, const std::string& version_name, TrainState& target);

}  // namespace strata::versioning
