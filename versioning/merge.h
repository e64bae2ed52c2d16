// Merging two versions into one (docs/design.md "Merge"): model soups, task arithmetic and TIES
// over the parameters, per-tensor rules, the merge base from versioning/commit_graph.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/versioning/version_log.h"

namespace strata::versioning {

// How merge_versions combines two versions' parameters (base: their merge base).
enum class MergeMethod {
  kAverage,         // (1 - alpha) A + alpha B (model soups); needs no base
  kTaskArithmetic,  // base + lambda ((A - base) + (B - base)) (Ilharco et al. 2023)
  kTies,            // base + lambda * TIES(A - base, B - base) (Yadav et al. 2023): trim each change to
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

struct MergeRequest {
  std::string a, b;  // version names; the result has parents {a, b}
  MergeMethod method = MergeMethod::kAverage;
  double alpha = 0.5;    // average: result = (1 - alpha) * a + alpha * b, per parameter
  double lambda = 1.0;   // task arithmetic and TIES: the scale of the merged change
  double density = 0.2;  // TIES: share of each change's values kept (largest magnitudes)
  std::vector<TakeRule> take;
  std::string branch;   // empty: a's branch, which must have a at its head
  std::string message;  // empty: "merge <a> and <b> (alpha=...)"
  std::string author;
  int64_t wall_time_ms = 0;
};

// Merges two versions into one with parents {a, b} and no optimizer state, by request.method
// (per float tensor; non-trainable buffers such as batch-norm statistics are averaged with alpha,
// tensors of other dtypes are copied from A, and a rule takes a tensor whole from one side). The method, its parameters, the base
// and the rules are recorded in the version's hparams (merge/...). Refused (kFailedPrecondition) when the parameters differ in
// names or shapes (also the base's, for the methods that need one), when a method needs a merge base and there is none, or when
// the target branch's head is not a.
CommitResult merge_versions(VersionLog& log, const MergeRequest& request);

}  // namespace strata::versioning
