// The text drawing of the version DAG for `strata log --graph`, in the style of `git log --graph`:
// one lane per line of descent, '*' for the version, '|' for lanes passing by, '/' where a lane
// joins another (a branch point seen from its children) and '\' where a merge opens a lane for its
// second parent.
//
// Pure functions over ids and parent lists; no I/O.
#pragma once

#include <string>
#include <vector>

#include "strata/versioning/ids.h"

namespace strata::tools {

struct DagNode {
  versioning::CommitId id{};
  std::vector<versioning::CommitId> parents;  // parents outside the drawn set are ignored
  int64_t time_ms = 0, epoch = 0;             // newer first among versions free to go next
};

// Orders versions so that every version comes before its parents (children first), and among
// those free to go next, the newest (time, then epoch) first.
std::vector<DagNode> children_first(std::vector<DagNode> nodes);

struct GraphRow {
  std::string row;                      // lanes with the version's '*', to prefix its line
  std::vector<std::string> connectors;  // lines to print after it (joins, merges)
};

// `nodes` must be children-first (children_first's order). One row per node, same order.
std::vector<GraphRow> draw_graph(const std::vector<DagNode>& nodes);

}  // namespace strata::tools
