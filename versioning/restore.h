// Moving parameters between versions: exact resume, warm start into a changed graph (align),
// and merging two versions into a new one (DESIGN "Resume", "Align", "Merge").
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

// How merge_versions combines two versions' parameters (base: their merge base).
enum class MergeMethod {
  kAverage,          // (1 - alpha) A + alpha B (model soups); needs no base
  kTaskArithmetic,   // base + lambda ((A - base) + (B - base)) (Ilharco et al. 2023)
  kTies,             // base + lambda * TIES(A - base, B - base) (Yadav et al. 2023): trim each change to
                     // its largest-magnitude `density` share, elect a sign per value (the sign of the
                     // trimmed changes' sum), average the trimmed changes that agree with it
};
const char* merge_method_name(MergeMethod method);
std::optional<MergeMethod> merge_method_from_name(std::string_view name);

// A per-tensor rule: tensors whose name matches `pattern` (fnmatch: `*`, `?`, `[...]`) are taken
// whole from one side instead of merged. The first matching rule wins.
struct TakeRule {
  std::string pattern;
  bool from_b = false;  // false: from A
};
// Parses "PATTERN=A" or "PATTERN=B" (kInvalidArgument otherwise).
TakeRule parse_take_rule(const std::string& text);

// The nearest common ancestor of a and b in the version DAG (parents of merges included): among
// the common ancestors that are not ancestors of another common ancestor (git's "best common
// ancestors"), the newest (wall time, then id). nullopt when the histories never meet. a itself
// when a is an ancestor of b.
std::optional<CommitId> merge_base(const VersionLog& log, const CommitId& a, const CommitId& b);

struct MergeRequest {
  std::string a, b;          // version names; the result has parents {a, b}
  MergeMethod method = MergeMethod::kAverage;
  double alpha = 0.5;        // average: result = (1 - alpha) * a + alpha * b, per parameter
  double lambda = 1.0;       // task arithmetic and TIES: the scale of the merged change
  double density = 0.2;      // TIES: share of each change's values kept (largest magnitudes)
  std::vector<TakeRule> take;
  std::string branch;        // empty: a's branch, which must have a at its head
  std::string message;       // empty: "merge <a> and <b> (alpha=...)"
  std::string author;
  int64_t wall_time_ms = 0;
};

// Merges two versions into one with parents {a, b} and no optimizer state, by request.method
// (per float tensor; other dtypes and non-trainable buffers such as batch-norm statistics are
// averaged with alpha, or taken by a rule). The method, its parameters, the base and the rules
// are recorded in the version's hparams (merge/...). Refused (kFailedPrecondition) when the
// parameters differ in names or shapes (also the base's, for the methods that need one), when a
// method needs a merge base and there is none, or when the target branch's head is not a.
CommitResult merge_versions(VersionLog& log, const MergeRequest& request);

}  // namespace strata::versioning
