// The DAG layout of `strata log --graph` and `strata ui`: golden lane drawings for a line, a
// branch point, a merge, unrelated roots, and the children-first order; and, over random DAGs,
// every edge of the layout runs from its version to exactly that version's recorded parent.
#include "tools/log_graph.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace strata::tools {
namespace {

using versioning::CommitId;

// A tiny DAG by name: id = hash of the name; time = the given order (larger is newer).
struct Dag {
  std::map<std::string, CommitId> ids;
  std::map<CommitId, std::string> names;
  std::vector<DagNode> nodes;

  void add(const std::string& name, int64_t time, std::vector<std::string> parents = {}) {
    DagNode n;
    n.id = versioning::hash128(name);
    n.time_ms = time;
    for (const std::string& p : parents) n.parents.push_back(ids.at(p));
    ids[name] = n.id;
    names[n.id] = name;
    nodes.push_back(n);
  }

  // Lines as the CLI prints them, with the name in place of the version's text.
  std::string draw() const {
    std::vector<DagNode> order = children_first(nodes);
    std::vector<GraphRow> rows = layout_graph(order).rows;
    std::string out;
    for (size_t i = 0; i < order.size(); ++i) {
      out += rows[i].row + " " + names.at(order[i].id) + "\n";
      for (const std::string& c : rows[i].connectors) out += c + "\n";
    }
    return out;
  }
};

TEST(LogGraph, LinearHistoryIsOneLane) {
  Dag d;
  d.add("a", 1);
  d.add("b", 2, {"a"});
  d.add("c", 3, {"b"});
  EXPECT_EQ(d.draw(), "* c\n* b\n* a\n");
}

TEST(LogGraph, BranchPointJoinsTheLanes) {
  Dag d;
  d.add("m1", 1);
  d.add("m2", 2, {"m1"});
  d.add("m3", 3, {"m2"});
  d.add("x3", 4, {"m2"});
  d.add("x4", 5, {"x3"});
  EXPECT_EQ(d.draw(),
            "* x4\n"
            "* x3\n"
            "| * m3\n"
            "|/\n"  // m3's lane joins m2, its parent, before m2's row
            "* m2\n"
            "* m1\n");
}

// The report's picture: main@6 drawn beside main@5 and joining only at main@4 named the wrong
// parent. main@6's parent is main@5.
TEST(LogGraph, AForkIsDrawnAtItsOwnParent) {
  Dag d;
  d.add("main@4", 1);
  d.add("main@5", 2, {"main@4"});
  d.add("side@5", 3, {"main@5"});
  d.add("main@6", 4, {"main@5"});
  EXPECT_EQ(d.draw(),
            "* main@6\n"
            "| * side@5\n"
            "|/\n"
            "* main@5\n"
            "* main@4\n");
}

TEST(LogGraph, MergeOpensALaneForItsSecondParent) {
  Dag d;
  d.add("m1", 1);
  d.add("m2", 2, {"m1"});
  d.add("m3", 3, {"m2"});
  d.add("x3", 4, {"m2"});
  d.add("merge", 5, {"m3", "x3"});
  EXPECT_EQ(d.draw(),
            "* merge\n"
            "|\\\n"
            "| * x3\n"
            "* | m3\n"
            "|/\n"
            "* m2\n"
            "* m1\n");
}

TEST(LogGraph, ALaneEndingAtARootStaysEmpty) {
  // Three unrelated roots (runs in one log). A lane moving left under a root would read as an
  // edge into it (the stray ' /' after a root), so the lanes to its right stay where they are.
  Dag d;
  d.add("a1", 1);
  d.add("b1", 2);
  d.add("c1", 3);
  d.add("a2", 4, {"a1"});
  d.add("c2", 5, {"c1"});
  d.add("b2", 6, {"b1"});
  EXPECT_EQ(d.draw(),
            "* b2\n"
            "| * c2\n"
            "| | * a2\n"
            "| * | c1\n"
            "*   | b1\n"
            "    * a1\n");
  // A new line takes the first free lane.
  d.add("d1", 0);
  EXPECT_EQ(d.draw().substr(d.draw().rfind("* a1")), "* a1\n* d1\n");
}

TEST(LogGraph, ChildrenAlwaysComeBeforeParentsEvenWithSkewedClocks) {
  Dag d;
  d.add("p", 10);
  d.add("child", 5, {"p"});  // a clock that went backwards
  std::vector<DagNode> order = children_first(d.nodes);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(d.names.at(order[0].id), "child");
  EXPECT_EQ(d.names.at(order[1].id), "p");
}

// Random DAGs with branches, merges and several roots: each edge of the layout starts at its
// version, ends at the version's recorded parent, takes one lane per row in between, and never
// passes through another version's place.
TEST(LogGraph, EveryEdgeRunsFromItsVersionToItsRecordedParent) {
  uint64_t state = 12345;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  for (int trial = 0; trial < 200; ++trial) {
    Dag d;
    const int n = 2 + static_cast<int>(next(40));
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> parents;
      if (i > 0 && next(6) != 0) parents.push_back("v" + std::to_string(next(static_cast<uint64_t>(i))));
      if (i > 1 && next(5) == 0) {
        const std::string p = "v" + std::to_string(next(static_cast<uint64_t>(i)));
        if (parents.empty() || p != parents[0]) parents.push_back(p);
      }
      d.add("v" + std::to_string(i), i, parents);
    }
    const std::vector<DagNode> order = children_first(d.nodes);
    const GraphLayout layout = layout_graph(order);
    ASSERT_EQ(layout.rows.size(), order.size());
    std::map<size_t, std::vector<CommitId>> drawn_parents;
    for (const GraphEdge& e : layout.edges) {
      ASSERT_LT(e.child, e.parent) << "trial " << trial;
      drawn_parents[e.child].push_back(order[e.parent].id);
      ASSERT_EQ(e.points.size(), e.parent - e.child + 1) << "trial " << trial;
      EXPECT_EQ(e.points.front(), std::make_pair(e.child, layout.rows[e.child].column));
      EXPECT_EQ(e.points.back(), std::make_pair(e.parent, layout.rows[e.parent].column));
      for (size_t k = 1; k + 1 < e.points.size(); ++k) {
        EXPECT_EQ(e.points[k].first, e.child + k);
        EXPECT_NE(e.points[k].second, layout.rows[e.points[k].first].column)
            << "trial " << trial << ": an edge of " << d.names.at(order[e.child].id) << " passes through "
            << d.names.at(order[e.points[k].first].id);
      }
    }
    for (size_t r = 0; r < order.size(); ++r) EXPECT_EQ(drawn_parents[r], order[r].parents) << "trial " << trial;
  }
}

TEST(LogGraph, ParentsOutsideTheDrawnSetAreIgnored) {
  Dag d;
  d.add("outside", 1);
  d.add("x", 2, {"outside"});
  std::vector<DagNode> only_x = {d.nodes[1]};
  std::vector<GraphRow> rows = layout_graph(children_first(only_x)).rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].row, "*");
  EXPECT_TRUE(rows[0].connectors.empty());
}

}  // namespace
}  // namespace strata::tools
