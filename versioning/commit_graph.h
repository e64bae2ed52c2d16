// The commit graph: versions and their parents, and the questions asked of it (ancestry,
// merge base, parents-before-children order). One implementation for every caller: a log's
// records (merge, `strata log --graph`, transfers checking fast-forwards) and a transfer's
// advertisement of the other side's history.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "strata/versioning/ids.h"

namespace strata::versioning {

class VersionLog;

struct CommitNode {
  std::vector<CommitId> parents;  // [0] is the first parent
  int64_t wall_time_ms = 0;       // breaks ties between merge base candidates
};

// Reads one version's node; nullopt for a version the source does not hold (its ancestry then
// ends there). A lookup over a log throws its errors (a missing record there is corruption).
using CommitLookup = std::function<std::optional<CommitNode>(const CommitId&)>;

// The lookup over a log's records.
CommitLookup log_commits(const VersionLog& log);

// `start` and every version reachable from it through all parents (merges included), breadth
// first, `start` first; versions the lookup lacks are left out.
std::vector<CommitId> ancestors(const CommitLookup& lookup, const CommitId& start);

// Whether `ancestor` is `id` or reachable from it through parents.
bool is_ancestor(const CommitLookup& lookup, const CommitId& ancestor, const CommitId& id);

// The nearest common ancestor of a and b: among the common ancestors that are not ancestors of
// another common ancestor (git's "best common ancestors"), the newest (wall time, then id).
// nullopt when the histories never meet; a itself when a is an ancestor of b.
std::optional<CommitId> merge_base(const CommitLookup& lookup, const CommitId& a, const CommitId& b);
// The same over a log's records.
std::optional<CommitId> merge_base(const VersionLog& log, const CommitId& a, const CommitId& b);

// The ancestry of `heads` (heads included) that `known` lacks, parents before children: the
// order in which a receiver can store them. Iterative, so a history of any length is fine.
std::vector<CommitId> parents_first(const CommitLookup& lookup, const std::vector<CommitId>& heads,
                                    const std::set<CommitId>& known = {});

}  // namespace strata::versioning
