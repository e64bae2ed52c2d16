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

// A lane's state between two rows: the version it waits for and the edge it carries.
struct Slot {
  CommitId parent{};
  size_t edge = 0;
};
using Lanes = std::vector<std::optional<Slot>>;

void put(std::string& line, size_t pos, char c) {
  if (line.size() <= pos) line.resize(pos + 1, ' ');
  line[pos] = c;
}

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The line before a version's row where lanes `joining` (all right of `col`) lean into it.
std::string join_line(const Lanes& lanes, size_t col, const std::vector<size_t>& joining) {
  std::string line;
  for (size_t j = 0; j < lanes.size(); ++j) {
    if (!lanes[j]) continue;
    if (std::find(joining.begin(), joining.end(), j) == joining.end()) {
      put(line, 2 * j, '|');
      continue;
    }
    put(line, 2 * j - 1, '/');
    for (size_t p = 2 * col + 1; p + 1 < 2 * j; p += 2) put(line, p, '_');
  }
  return trimmed(line);
}

// The line after a merge's row where a lane opens right of `col` and the lanes beyond lean right.
std::string merge_line(const Lanes& lanes, size_t col) {
  std::string line;
  for (size_t j = 0; j < lanes.size(); ++j) {
    if (!lanes[j]) continue;
    if (j <= col)
      put(line, 2 * j, '|');
    else
      put(line, 2 * j + 1, '\\');
  }
  put(line, 2 * col + 1, '\\');
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

GraphLayout layout_graph(const std::vector<DagNode>& nodes) {
  std::map<CommitId, size_t> row_of;
  for (size_t r = 0; r < nodes.size(); ++r) row_of[nodes[r].id] = r;
  GraphLayout out;
  Lanes lanes;
  for (size_t r = 0; r < nodes.size(); ++r) {
    const DagNode& node = nodes[r];
    // The version's lane: the first one waiting for it, else the first free one (a new line).
    std::vector<size_t> waiting;
    for (size_t j = 0; j < lanes.size(); ++j)
      if (lanes[j] && lanes[j]->parent == node.id) waiting.push_back(j);
    size_t col = 0;
    if (!waiting.empty()) {
      col = waiting[0];
    } else {
      while (col < lanes.size() && lanes[col]) ++col;
    }
    if (waiting.size() > 1)  // the other waiting lanes join before the row, not after it
      out.rows.back().connectors.push_back(join_line(lanes, col, {waiting.begin() + 1, waiting.end()}));
    for (size_t j : waiting) {
      out.edges[lanes[j]->edge].points.emplace_back(r, col);
      lanes[j].reset();
    }
    GraphRow row;
    row.column = col;
    if (lanes.size() <= col) lanes.resize(col + 1);
    for (size_t j = 0; j < lanes.size(); ++j) {
      if (lanes[j]) out.edges[lanes[j]->edge].points.emplace_back(r, j);
      put(row.row, 2 * j, j == col ? '*' : (lanes[j] ? '|' : ' '));
    }
    row.row = trimmed(row.row);

    std::vector<CommitId> parents;
    for (const CommitId& p : node.parents)
      if (row_of.count(p) && std::find(parents.begin(), parents.end(), p) == parents.end()) parents.push_back(p);
    auto new_edge = [&](const CommitId& parent) {
      out.edges.push_back({r, row_of.at(parent), {{r, col}}});
      return Slot{parent, out.edges.size() - 1};
    };
    if (!parents.empty()) lanes[col] = new_edge(parents[0]);
    // A merge opens one lane per further parent right of its own; lanes beyond move right.
    for (size_t k = 1; k < parents.size(); ++k) {
      row.connectors.push_back(merge_line(lanes, col + k - 1));
      lanes.insert(lanes.begin() + static_cast<std::ptrdiff_t>(col + k), new_edge(parents[k]));
    }
    while (!lanes.empty() && !lanes.back()) lanes.pop_back();
    out.lanes = std::max(out.lanes, std::max(lanes.size(), col + 1));
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace strata::tools
