#include "strata/versioning/commit_graph.h"

#include <deque>
#include <map>

#include "strata/versioning/version_log.h"

namespace strata::versioning {

CommitLookup log_commits(const VersionLog& log) {
  return [&log](const CommitId& id) -> std::optional<CommitNode> {
    CommitRecord r = log.read_record(id);
    return CommitNode{std::move(r.parents), r.wall_time_ms};
  };
}

std::vector<CommitId> ancestors(const CommitLookup& lookup, const CommitId& start) {
  std::set<CommitId> seen{start};
  std::deque<CommitId> todo{start};
  std::vector<CommitId> out;
  while (!todo.empty()) {
    const CommitId id = todo.front();
    todo.pop_front();
    const std::optional<CommitNode> node = lookup(id);
    if (!node) continue;
    out.push_back(id);
    for (const CommitId& p : node->parents)
      if (seen.insert(p).second) todo.push_back(p);
  }
  return out;
}

bool is_ancestor(const CommitLookup& lookup, const CommitId& ancestor, const CommitId& id) {
  std::set<CommitId> seen{id};
  std::vector<CommitId> todo{id};
  while (!todo.empty()) {
    const CommitId cur = todo.back();
    todo.pop_back();
    if (cur == ancestor) return true;
    if (const std::optional<CommitNode> node = lookup(cur))
      for (const CommitId& p : node->parents)
        if (seen.insert(p).second) todo.push_back(p);
  }
  return false;
}

std::optional<CommitId> merge_base(const CommitLookup& lookup, const CommitId& a, const CommitId& b) {
  const std::vector<CommitId> of_a = ancestors(lookup, a);
  const std::set<CommitId> in_a(of_a.begin(), of_a.end());
  std::map<CommitId, CommitNode> common;
  for (const CommitId& id : ancestors(lookup, b))
    if (in_a.count(id)) common.emplace(id, *lookup(id));
  // Common ancestors are closed under ancestry, so one that is an ancestor of another is the
  // parent of a common ancestor: one pass over parents finds them.
  std::set<CommitId> dominated;
  for (const auto& [id, node] : common) dominated.insert(node.parents.begin(), node.parents.end());
  std::optional<CommitId> best;
  int64_t best_time = 0;
  for (const auto& [id, node] : common) {
    if (dominated.count(id)) continue;
    if (!best || std::make_pair(node.wall_time_ms, id) > std::make_pair(best_time, *best)) {
      best = id;
      best_time = node.wall_time_ms;
    }
  }
  return best;
}

std::optional<CommitId> merge_base(const VersionLog& log, const CommitId& a, const CommitId& b) {
  return merge_base(log_commits(log), a, b);
}

std::vector<CommitId> parents_first(const CommitLookup& lookup, const std::vector<CommitId>& heads,
                                    const std::set<CommitId>& known) {
  std::vector<CommitId> order;
  std::set<CommitId> done;
  for (const CommitId& head : heads) {
    if (known.count(head) || !done.insert(head).second) continue;
    // Post-order with an explicit stack: (version, its parents, the next parent to visit).
    struct Frame {
      CommitId id;
      std::vector<CommitId> parents;
      size_t next = 0;
    };
    auto frame = [&](const CommitId& id) {
      std::optional<CommitNode> node = lookup(id);
      return Frame{id, node ? std::move(node->parents) : std::vector<CommitId>{}, 0};
    };
    std::vector<Frame> stack{frame(head)};
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next < top.parents.size()) {
        const CommitId p = top.parents[top.next++];
        if (!known.count(p) && done.insert(p).second) stack.push_back(frame(p));
        continue;
      }
      order.push_back(top.id);
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace strata::versioning
