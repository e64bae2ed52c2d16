// `/`: the version DAG like `git log --graph --all`, one lane per line of descent, paged.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "strata/framework/core/error.h"
#include "tools/cli_output.h"
#include "tools/log_graph.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools::web {
namespace {

constexpr int kRowHeight = 28, kLaneWidth = 16;
constexpr size_t kBlockRows = 50;

int lane_x(size_t lane) { return 10 + static_cast<int>(lane) * kLaneWidth; }
int row_y(size_t row, size_t first) {
  return (static_cast<int>(row) - static_cast<int>(first)) * kRowHeight + kRowHeight / 2;  // < 0 just above the block
}

// The lanes and versions of rows [first, end) as one SVG beside the rows.
std::string dag_svg(const GraphLayout& layout, size_t first, size_t end, const std::vector<bool>& merges) {
  const int width = lane_x(layout.lanes) + 4, height = static_cast<int>(end - first) * kRowHeight;
  std::string svg =
      fmt::format("<svg class=\"dag\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">", width, height, width, height);
  for (const GraphEdge& e : layout.edges) {
    if (e.parent < first || e.child >= end) continue;
    // Only the stretch within the block and one row either side: a long lane (a branch off an old
    // version) crosses many blocks, and each block draws only its part.
    std::string points;
    for (const auto& [row, lane] : e.points)
      if (row + 1 >= first && row <= end) points += fmt::format("{},{} ", lane_x(lane), row_y(row, first));
    svg += fmt::format("<polyline class=\"edge l{}\" points=\"{}\"/>", e.points.front().second % 8, points);
  }
  for (size_t r = first; r < end; ++r)
    svg += fmt::format("<circle class=\"node l{}{}\" cx=\"{}\" cy=\"{}\" r=\"5\"/>", layout.rows[r].column % 8,
                       merges[r] ? " merge" : "", lane_x(layout.rows[r].column), row_y(r, first));
  return svg + "</svg>";
}

}  // namespace

std::string dag_page(const versioning::VersionLog& log, const Params& p) {
  const std::vector<versioning::CommitId> ids = log.all_versions();
  std::map<versioning::CommitId, versioning::CommitRecord> records;
  std::vector<DagNode> nodes;
  for (const versioning::CommitId& id : ids) {
    versioning::CommitRecord r = log.read_record(id);
    nodes.push_back({id, r.parents, r.wall_time_ms, r.epoch});
    records.emplace(id, std::move(r));
  }
  const std::vector<DagNode> order = children_first(std::move(nodes));
  const GraphLayout layout = layout_graph(order);
  const size_t per = static_cast<size_t>(std::clamp<int64_t>(int_param(p, "per", 100), 1, 10000));
  const size_t pages = std::max<size_t>(1, (order.size() + per - 1) / per);
  const size_t pageno = static_cast<size_t>(std::clamp<int64_t>(int_param(p, "page", 0), 0, static_cast<int64_t>(pages) - 1));
  const size_t first = pageno * per, end = std::min(order.size(), first + per);
  std::vector<bool> merges(order.size());
  for (size_t r = 0; r < order.size(); ++r) merges[r] = records.at(order[r].id).is_merge();

  const Decorations deco = decorations(log);
  const versioning::TrustPolicy trust = log.trust_policy();
  // Blocks of kBlockRows rows, each its own SVG beside its rows: the browser lays out and paints
  // only the blocks on screen (content-visibility), so 10,000 rows on one page open at once.
  std::string blocks, rows;
  size_t block_first = first;
  for (size_t r = first; r < end; ++r) {
    const versioning::CommitId& id = order[r].id;
    const versioning::CommitRecord& rec = records.at(id);
    std::string labels;
    for (const std::string& ref : deco.refs_of(id))
      labels += fmt::format("<span class=\"ref{}\">{}</span>", ref.rfind("tag: ", 0) == 0 ? " tag" : "", esc(ref));
    rows += fmt::format(
        "<div class=\"row\" data-version=\"{}\"><a class=\"id\" href=\"/v/{}\">{}</a> <span class=\"name\">{}@{}{}</span>{} "
        "<span class=\"msg\">{}</span>{}{}</div>",
        versioning::to_hex(id), versioning::to_hex(id), versioning::short_hex(id), esc(rec.branch), esc(rec.epoch_label()),
        rec.is_merge() ? " merge" : "", labels, esc(rec.message), key_metric_html(rec),
        signature_html(log.check_version(id, trust)));
    if (r + 1 == end || r + 1 - block_first == kBlockRows) {
      blocks +=
          "<div class=\"block\">" + dag_svg(layout, block_first, r + 1, merges) + "<div class=\"rows\">" + rows + "</div></div>";
      rows.clear();
      block_first = r + 1;
    }
  }
  std::string nav;
  auto page_link = [&](size_t n, const std::string& text) {
    return fmt::format("<a href=\"/{}\">{}</a>", esc(query({{"page", std::to_string(n)}, {"per", std::to_string(per)}})), text);
  };
  if (pageno > 0) nav += page_link(pageno - 1, "&larr; newer") + " ";
  nav += fmt::format("<span>versions {}&ndash;{} of {} (page {} of {})</span>", order.empty() ? 0 : first + 1, end, order.size(),
                     pageno + 1, pages);
  if (pageno + 1 < pages) nav += " " + page_link(pageno + 1, "older &rarr;");
  const std::string body = fmt::format("<h1>{}</h1><p class=\"pager\">{}</p><div class=\"history\" data-versions=\"{}\">{}</div>",
                                       esc(log.log_dir()), nav, order.size(), blocks);
  return page("history", body);
}

}  // namespace strata::tools::web
