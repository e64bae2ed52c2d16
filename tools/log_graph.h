// The layout of the version DAG, in the style of `git log --graph`: one lane per line of descent,
// drawn as text by `strata log --graph` ('*' the version, '|' lanes passing by, '/' where a lane
// joins the version it waits for, '\' where a merge opens a lane for its second parent) and as SVG
// by `strata ui`, from the same lanes.
//
// A lane that waits for a version joins it on the line before the version's row, so every edge
// ends at its own parent; a lane that ends at a root stays empty rather than pulling the lanes to
// its right over (which would draw an edge into the root). Pure functions; no I/O.
#pragma once

#include <string>
#include <utility>
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
  size_t column = 0;                    // the version's lane
  std::string row;                      // lanes with the version's '*', to prefix its line
  std::vector<std::string> connectors;  // lines to print after it (joins, merges)
};

// One parent edge: the lane it takes in every row from the child's to the parent's.
struct GraphEdge {
  size_t child = 0, parent = 0;                   // rows
  std::vector<std::pair<size_t, size_t>> points;  // (row, lane), one per row, child to parent
};

struct GraphLayout {
  std::vector<GraphRow> rows;  // one per node, same order
  std::vector<GraphEdge> edges;
  size_t lanes = 0;  // the widest row
};

// `nodes` must be children-first (children_first's order).
GraphLayout layout_graph(const std::vector<DagNode>& nodes);

}  // namespace strata::tools
