// `/v/<ref>`: one version: record, metrics, hyper-parameters, provenance, its graph, its parents,
// children and refs, stored size and signatures.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "strata/framework/core/error.h"
#include "tools/cli_output.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools::web {
namespace {

using versioning::CommitId;

// The graph as a column of boxes in evaluation order, each input drawn as an arc on the left from
// the box that produces it.
std::string graph_svg(const GraphSpec& g) {
  struct Box {
    std::string name, op, shape;
  };
  std::vector<Box> boxes = {{g.input_name, "Input", shape_str(g.input_shape)}};
  for (const NodeSpec& n : g.nodes) boxes.push_back({n.name, n.op, shape_str(n.output_shape)});
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < boxes.size(); ++i) index[boxes[i].name] = i;
  constexpr int kBoxH = 30, kGap = 14, kLeft = 80, kWidth = 420;
  auto top = [&](size_t i) { return 8 + static_cast<int>(i) * (kBoxH + kGap); };
  const int height = top(boxes.size()) + 8;
  std::string svg = fmt::format("<svg class=\"graph\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">", kLeft + kWidth + 10,
                                height, kLeft + kWidth + 10, height);
  for (size_t i = 1; i < boxes.size(); ++i)
    for (const std::string& in : g.nodes[i - 1].inputs) {
      auto it = index.find(in);
      if (it == index.end()) continue;
      const int y0 = top(it->second) + kBoxH / 2, y1 = top(i) + kBoxH / 2;
      const int bulge = kLeft - 8 - std::min(60, 6 * static_cast<int>(i - it->second));
      svg += fmt::format("<path class=\"wire\" d=\"M{} {} C{} {} {} {} {} {}\"/>", kLeft, y0, bulge, y0, bulge, y1, kLeft, y1);
    }
  for (size_t i = 0; i < boxes.size(); ++i)
    svg += fmt::format(
        "<g class=\"box\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\"/><text x=\"{}\" y=\"{}\">{} "
        "<tspan class=\"op\">{}</tspan> <tspan class=\"shape\">{}</tspan></text></g>",
        kLeft, top(i), kWidth, kBoxH, kLeft + 8, top(i) + 20, esc(boxes[i].name), esc(boxes[i].op), esc(boxes[i].shape));
  return svg + "</svg>";
}

std::string signatures_html(const versioning::VersionLog& log, const CommitId& id) {
  std::vector<versioning::Signature> signatures;
  try {
    signatures = log.signatures(id);
  } catch (const Error& e) {
    return "<p class=\"sig bad\">bad signature: " + esc(e.what_failed()) + "</p>";
  }
  if (signatures.empty()) return "<p>not signed</p>";
  const versioning::TrustPolicy trust = log.trust_policy();
  std::string out = "<ul class=\"signatures\">";
  for (const versioning::Signature& s : signatures) {
    const versioning::SignatureCheck c = versioning::check_signatures({s}, trust, id);
    out += fmt::format("<li>{} by <b>{}</b>, ed25519 key <code>{}</code>, {}</li>", versioning::signature_status_name(c.status),
                       esc(c.signer), versioning::key_id_hex(c.key_id), esc(local_time(s.time_ms)));
  }
  return out + "</ul>";
}

}  // namespace

std::string version_page(const versioning::VersionLog& log, const std::string& ref) {
  const CommitId id = log.resolve(ref);
  const versioning::CommitRecord r = log.read_record(id);
  const std::string hex = versioning::to_hex(id);
  std::vector<CommitId> children;
  for (const CommitId& other : log.all_versions()) {
    const versioning::CommitRecord o = log.read_record(other);
    if (std::find(o.parents.begin(), o.parents.end(), id) != o.parents.end()) children.push_back(other);
  }
  const Decorations deco = decorations(log);
  std::string refs;
  for (const std::string& name : deco.refs_of(id)) refs += "<span class=\"ref\">" + esc(name) + "</span> ";
  std::string parents, kids;
  for (const CommitId& p : r.parents) parents += "<li>" + version_link(log, p) + "</li>";
  for (const CommitId& c : children) kids += "<li>" + version_link(log, c) + "</li>";
  std::string links;
  if (!r.parents.empty()) {
    const std::string parent = versioning::to_hex(r.parents[0]);
    links = fmt::format(
        "<a href=\"/compare?a={}&amp;b={}\">compare with its parent</a> · <a href=\"/diff?a={}&amp;b={}\">diff "
        "against its parent</a>",
        parent, hex, parent, hex);
  }
  const std::optional<versioning::CommitStats> stats = log.read_stats(id);
  std::vector<std::pair<std::string, std::string>> record = {
      {"id", hex},
      {"branch", r.branch},
      {"epoch", r.epoch_label()},
      {"step", std::to_string(r.global_step)},
      {"author", r.author},
      {"time", local_time(r.wall_time_ms)},
      {"graph", r.graph_id},
      {"optimizer state", r.optim_present ? "kept" : (r.optim_dropped() ? "dropped by retention" : "none")},
      {"stored", stats ? human_bytes(stats->new_stored_bytes) + " new of " + human_bytes(stats->raw_bytes) + " raw" : "-"}};
  std::vector<std::pair<std::string, std::string>> metrics, hparams, env;
  for (const auto& [k, v] : r.metrics) metrics.emplace_back(k, num(v));
  for (const auto& [k, v] : r.hparams) hparams.emplace_back(k, v);
  for (const auto& [k, v] : r.environment) env.emplace_back(k, v);
  std::string graph;
  try {
    graph = graph_svg(log.read_graph(r.graph_id));
  } catch (const Error& e) {
    graph = "<p>the graph cannot be read: " + esc(e.what_failed()) + "</p>";
  }
  const std::string body = fmt::format(
      "<h1 data-version=\"{}\">{} <small>{}</small></h1><p class=\"msg\">{}</p><p>{}</p><p>{}</p>"
      "<div class=\"cols\"><section><h2>record</h2>{}<h2>parents</h2><ul>{}</ul><h2>children</h2><ul>{}</ul>"
      "<h2>signatures</h2>{}</section><section><h2>metrics</h2>{}<h2>hyper-parameters</h2>{}</section></div>"
      "<h2>provenance</h2>{}<h2>graph</h2>{}",
      hex, esc(log.describe(id)), refs, esc(r.message), links,
      fmt::format("<a href=\"/curves?refs={}\">curves of its branch</a>", url_encode(r.branch)), kv_table(record),
      parents.empty() ? "<li>none (a root)</li>" : parents, kids.empty() ? "<li>none</li>" : kids, signatures_html(log, id),
      kv_table(metrics), kv_table(hparams), kv_table(env), graph);
  return page(log.describe(id), body);
}

}  // namespace strata::tools::web
