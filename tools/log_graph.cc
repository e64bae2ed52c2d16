#include "tools/log_graph.h"

#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <tuple>

namespace strata::tools {
namespace {

using versioning::CommitId;
using Lanes = std::vector<std::optional<CommitId>>;

void put(std::string& line, size_t pos, char c) {
  if (line.size() <= pos) line.resize(pos + 1, ' ');
  line[pos] = c;
}

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// A line that moves lanes left: old lane j goes to new position target[j] <= j. A lane that
// stays is '|'; one that moves is '/' leaning towards its new place, with '_' bridging longer
// moves.
std::string shift_line(const Lanes& old_lanes, const std::vector<size_t>& target) {
  std::string line;
  for (size_t j = 0; j < old_lanes.size(); ++j) {
    if (!old_lanes[j]) continue;
    const size_t to = target[j];
    if (to == j) {
      put(line, 2 * j, '|');
      continue;
    }
    put(line, 2 * j - 1, '/');
    for (size_t p = 2 * to + 1; p + 1 < 2 * j; p += 2) put(line, p, '_');
  }
  return trimmed(line);
}

}  // namespace

std::vector<DagNode> children_first(std::vector<DagNode> nodes) {
  std::map<CommitId, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].id] = i;
  std::vector<int> pending_children(nodes.size(), 0);
  for (const DagNode& n : nodes)
    for (const CommitId& p : std::set<CommitId>(n.parents.begin(), n.parents.end()))
      if (auto it = index.find(p); it != index.end()) ++pending_children[it->second];
  auto older = [&](size_t a, size_t b) {
    return std::tie(nodes[a].time_ms, nodes[a].epoch, nodes[a].id) < std::tie(nodes[b].time_ms, nodes[b].epoch, nodes[b].id);
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(older)> ready(older);
  for (size_t i = 0; i < nodes.size(); ++i)
    if (pending_children[i] == 0) ready.push(i);
  std::vector<DagNode> out;
  out.reserve(nodes.size());
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    out.push_back(nodes[i]);
    for (const CommitId& p : std::set<CommitId>(nodes[i].parents.begin(), nodes[i].parents.end()))
      if (auto it = index.find(p); it != index.end() && --pending_children[it->second] == 0) ready.push(it->second);
  }
  return out;  // a cycle cannot happen: ids are hashes over the parents
}

std::vector<GraphRow> draw_graph(const std::vector<DagNode>& nodes) {
  std::set<CommitId> drawn;
  for (const DagNode& n : nodes) drawn.insert(n.id);
  Lanes lanes;
  std::vector<GraphRow> rows;
  for (const DagNode& node : nodes) {
    GraphRow out;
    // The version's lane: the first one waiting for it, else a free or new one (a branch head).
    auto first = std::find(lanes.begin(), lanes.end(), std::optional<CommitId>(node.id));
    if (first == lanes.end()) first = std::find(lanes.begin(), lanes.end(), std::nullopt);
    if (first == lanes.end()) first = lanes.insert(lanes.end(), std::nullopt);
    const size_t col = static_cast<size_t>(first - lanes.begin());
    lanes[col] = node.id;
    for (size_t i = 0; i < lanes.size(); ++i) put(out.row, 2 * i, i == col ? '*' : (lanes[i] ? '|' : ' '));
    out.row = trimmed(out.row);

    std::vector<CommitId> parents;
    for (const CommitId& p : node.parents)
      if (drawn.count(p) && std::find(parents.begin(), parents.end(), p) == parents.end()) parents.push_back(p);

    // Other lanes waiting for this version join its lane; its lane continues with the first
    // parent (or ends at a root); lanes to the right close the gaps.
    Lanes next;
    std::vector<size_t> target(lanes.size(), 0);
    size_t new_col = 0;
    for (size_t j = 0; j < lanes.size(); ++j) {
      if (j == col) {
        new_col = next.size();
        target[j] = new_col;
        if (!parents.empty()) next.push_back(parents[0]);
      } else if (lanes[j] == node.id) {
        target[j] = col;  // col < j: the first waiting lane is the version's own
      } else if (lanes[j]) {
        target[j] = next.size();
        next.push_back(lanes[j]);
      }
    }
    Lanes passing = lanes;
    passing[col] = parents.empty() ? std::nullopt : std::optional<CommitId>(parents[0]);
    bool moved = false;
    for (size_t j = 0; j < lanes.size(); ++j) moved |= passing[j] && target[j] != j;
    if (moved) out.connectors.push_back(shift_line(passing, target));

    // A merge opens one lane per further parent right of its own; lanes beyond move right.
    for (size_t k = 1; k < parents.size(); ++k) {
      std::string line;
      for (size_t i = 0; i < next.size(); ++i) put(line, i <= new_col ? 2 * i : 2 * i + 1, i <= new_col ? '|' : '\\');
      put(line, 2 * new_col + 1, '\\');
      out.connectors.push_back(trimmed(line));
      next.insert(next.begin() + static_cast<std::ptrdiff_t>(new_col + k), parents[k]);
    }
    lanes = std::move(next);
    rows.push_back(std::move(out));
  }
  return rows;
}

}  // namespace strata::tools
