// The commit graph module on hand-made histories: ancestry, is_ancestor, merge base (including a
// criss-cross merge with two best common ancestors) and parents-before-children order, over a
// lookup that lacks some versions as a transfer advertisement does.
#include "strata/versioning/commit_graph.h"

#include <gtest/gtest.h>

#include <map>

namespace strata::versioning {
namespace {

CommitId id(uint8_t n) {
  CommitId c{};
  c[0] = n;
  return c;
}

// A history given as version -> (parents, time); versions not in the map are unknown.
struct History {
  std::map<CommitId, CommitNode> nodes;
  void add(uint8_t n, std::vector<uint8_t> parents, int64_t time) {
    CommitNode node;
    for (uint8_t p : parents) node.parents.push_back(id(p));
    node.wall_time_ms = time;
    nodes[id(n)] = node;
  }
  CommitLookup lookup() const {
    return [this](const CommitId& c) -> std::optional<CommitNode> {
      auto it = nodes.find(c);
      if (it == nodes.end()) return std::nullopt;
      return it->second;
    };
  }
};

//   1 - 2 - 3 - 6 (merge of 3 and 5)
//        \- 4 - 5 /
//   7 (a root of its own)
History forked() {
  History h;
  h.add(1, {}, 10);
  h.add(2, {1}, 20);
  h.add(3, {2}, 30);
  h.add(4, {2}, 40);
  h.add(5, {4}, 50);
  h.add(6, {3, 5}, 60);
  h.add(7, {}, 70);
  return h;
}

TEST(CommitGraph, AncestorsAreBreadthFirstFromTheStart) {
  const History h = forked();
  EXPECT_EQ(ancestors(h.lookup(), id(6)), (std::vector<CommitId>{id(6), id(3), id(5), id(2), id(4), id(1)}));
  EXPECT_EQ(ancestors(h.lookup(), id(1)), (std::vector<CommitId>{id(1)}));
  EXPECT_TRUE(ancestors(h.lookup(), id(99)).empty());  // unknown
}

TEST(CommitGraph, IsAncestorFollowsEveryParent) {
  const History h = forked();
  EXPECT_TRUE(is_ancestor(h.lookup(), id(4), id(6)));  // through the merge's second parent
  EXPECT_TRUE(is_ancestor(h.lookup(), id(6), id(6)));
  EXPECT_FALSE(is_ancestor(h.lookup(), id(6), id(4)));
  EXPECT_FALSE(is_ancestor(h.lookup(), id(7), id(6)));
}

TEST(CommitGraph, MergeBaseIsTheNewestBestCommonAncestor) {
  const History h = forked();
  EXPECT_EQ(merge_base(h.lookup(), id(3), id(5)), id(2));
  EXPECT_EQ(merge_base(h.lookup(), id(2), id(5)), id(2));  // an ancestor is its own merge base
  EXPECT_EQ(merge_base(h.lookup(), id(6), id(5)), id(5));
  EXPECT_EQ(merge_base(h.lookup(), id(6), id(7)), std::nullopt);
  // Criss-cross: 8 and 9 both merge 3 and 5; their best common ancestors are 3 and 5, and the
  // newer one (5, time 50) wins.
  History c = forked();
  c.add(8, {3, 5}, 80);
  c.add(9, {5, 3}, 90);
  EXPECT_EQ(merge_base(c.lookup(), id(8), id(9)), id(5));
  // Equal times: the larger id.
  c.nodes[id(3)].wall_time_ms = 50;
  EXPECT_EQ(merge_base(c.lookup(), id(8), id(9)), id(5));
}

TEST(CommitGraph, ParentsFirstSkipsWhatIsKnownAndKeepsUnknownTips) {
  const History h = forked();
  const std::vector<CommitId> all = parents_first(h.lookup(), {id(6), id(7)});
  ASSERT_EQ(all.size(), 7u);
  std::map<CommitId, size_t> at;
  for (size_t i = 0; i < all.size(); ++i) at[all[i]] = i;
  for (const auto& [c, node] : h.nodes)
    for (const CommitId& p : node.parents) EXPECT_LT(at.at(p), at.at(c));
  EXPECT_EQ(parents_first(h.lookup(), {id(6)}, {id(2)}), (std::vector<CommitId>{id(3), id(4), id(5), id(6)}));
  EXPECT_TRUE(parents_first(h.lookup(), {id(6)}, {id(6)}).empty());
  // A head the lookup does not hold is still listed (the receiver will ask for it).
  EXPECT_EQ(parents_first(h.lookup(), {id(99)}), (std::vector<CommitId>{id(99)}));
}

TEST(CommitGraph, ALongChainNeedsNoRecursion) {
  History h;
  std::map<CommitId, CommitNode>& nodes = h.nodes;
  CommitId prev{};
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    CommitId c{};
    c[0] = static_cast<uint8_t>(i & 0xff);
    c[1] = static_cast<uint8_t>((i >> 8) & 0xff);
    c[2] = static_cast<uint8_t>((i >> 16) & 0xff);
    c[3] = 1;
    nodes[c] = CommitNode{i ? std::vector<CommitId>{prev} : std::vector<CommitId>{}, i};
    prev = c;
  }
  EXPECT_EQ(parents_first(h.lookup(), {prev}).size(), static_cast<size_t>(n));
  EXPECT_EQ(ancestors(h.lookup(), prev).size(), static_cast<size_t>(n));
}

}  // namespace
}  // namespace strata::versioning
