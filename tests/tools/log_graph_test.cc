// `strata log --graph` drawing: golden lane layouts for a line, a branch point, a merge, two
// roots, and the children-first order (newest first among versions free to go).
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
    std::vector<GraphRow> rows = draw_graph(order);
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
            "* | m2\n"
            "|/\n"
            "* m1\n");
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
            "* | m2\n"
            "|/\n"
            "* m1\n");
}

TEST(LogGraph, LanesRightOfAnEndedLaneMoveLeft) {
  // Two unrelated roots (two runs in one log) and a third line that outlives the second.
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
            "|  /\n"  // c1 is a root: its lane ends and a's lane moves into its place
            "* | b1\n"
            " /\n"
            "* a1\n");
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

TEST(LogGraph, ParentsOutsideTheDrawnSetAreIgnored) {
  Dag d;
  d.add("outside", 1);
  d.add("x", 2, {"outside"});
  std::vector<DagNode> only_x = {d.nodes[1]};
  std::vector<GraphRow> rows = draw_graph(children_first(only_x));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].row, "*");
  EXPECT_TRUE(rows[0].connectors.empty());
}

}  // namespace
}  // namespace strata::tools
