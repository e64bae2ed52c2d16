// `/diff?a=REF&b=REF[&sort=COLUMN&desc=1]`: one row per tensor, sortable; a per-layer bar chart;
// the graph, metric and hyper-parameter changes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/versioning/diff.h"
#include "tools/cli_output.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools::web {
namespace {

using versioning::TensorDiff;

// The largest relative L2 change of each layer's tensors (a layer: the name up to its last '/').
std::string layer_chart(const std::vector<TensorDiff>& tensors) {
  std::map<std::string, double> layers;
  for (const TensorDiff& t : tensors) {
    const size_t slash = t.name.rfind('/');
    double& v = layers[slash == std::string::npos ? t.name : t.name.substr(0, slash)];
    if (std::isfinite(t.rel_l2)) v = std::max(v, t.rel_l2);
  }
  double top = 0;
  for (const auto& [name, v] : layers) top = std::max(top, v);
  constexpr int kBar = 18, kLabel = 180, kWidth = 360;
  const int height = static_cast<int>(layers.size()) * kBar + 4;
  std::string svg = fmt::format("<svg class=\"bars\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">", kLabel + kWidth + 90,
                                height, kLabel + kWidth + 90, height);
  int y = 2;
  for (const auto& [name, v] : layers) {
    const int w = top > 0 ? static_cast<int>(std::lround(kWidth * v / top)) : 0;
    svg += fmt::format(
        "<g class=\"bar\" data-layer=\"{}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{}\" y=\"{}\" "
        "width=\"{}\" height=\"{}\"><title>{}: rel L2 {}</title></rect><text x=\"{}\" y=\"{}\">{}</text></g>",
        esc(name), kLabel - 6, y + 13, esc(name), kLabel, y + 2, std::max(w, 1), kBar - 4, esc(name), num(v), kLabel + w + 6,
        y + 13, num(v));
    y += kBar;
  }
  return svg + "</svg>";
}

}  // namespace

std::string diff_page(const versioning::VersionLog& log, const Params& p) {
  const std::string a = str_param(p, "a"), b = str_param(p, "b");
  if (a.empty() || b.empty()) throw Error(ErrorCode::kInvalidArgument, "name two versions", "", "/diff?a=REF&b=REF");
  const versioning::VersionDiff d = versioning::diff_versions(log, a, b, 0.0);
  std::vector<TensorDiff> tensors = d.tensors;
  const std::string sort = str_param(p, "sort");
  const bool desc = str_param(p, "desc") == "1";
  auto key = [&](const TensorDiff& t) {
    if (sort == "max") return t.max_abs;
    if (sort == "rel") return t.rel_l2;
    if (sort == "cos") return t.cosine;
    return t.mean_abs;
  };
  if (sort == "name") {
    std::stable_sort(tensors.begin(), tensors.end(),
                     [&](const TensorDiff& x, const TensorDiff& y) { return desc ? x.name > y.name : x.name < y.name; });
  } else if (!sort.empty()) {  // NaN (added, removed) last either way
    std::stable_sort(tensors.begin(), tensors.end(), [&](const TensorDiff& x, const TensorDiff& y) {
      const double kx = key(x), ky = key(y);
      if (std::isnan(kx) || std::isnan(ky)) return !std::isnan(kx) && std::isnan(ky);
      return desc ? kx > ky : kx < ky;
    });
  }
  auto header = [&](const std::string& column, const std::string& text) {
    const bool now = sort == column;
    return fmt::format("<th><a href=\"/diff{}\">{}{}</a></th>",
                       esc(query({{"a", a}, {"b", b}, {"sort", column}, {"desc", now && !desc ? "1" : ""}})), text,
                       now ? (desc ? " &darr;" : " &uarr;") : "");
  };
  std::string rows;
  for (const TensorDiff& t : tensors) {
    // data-mean-abs-diff is exactly `strata diff --json`'s mean_abs (the same formatting).
    rows += fmt::format(
        "<tr class=\"{}\" data-tensor=\"{}\" data-mean-abs-diff=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>",
        esc(t.status), esc(t.name), json_num(t.mean_abs), esc(t.name), esc(t.status),
        t.shape_a == t.shape_b ? shape_str(t.shape_a) : shape_str(t.shape_a) + " &rarr; " + shape_str(t.shape_b), num(t.mean_abs),
        num(t.max_abs), num(t.rel_l2), num(t.cosine));
  }
  std::string graph;
  for (const std::string& n : d.graph.added) graph += "<li class=\"added\">+ " + esc(n) + "</li>";
  for (const std::string& n : d.graph.removed) graph += "<li class=\"removed\">&minus; " + esc(n) + "</li>";
  for (const std::string& n : d.graph.changed) graph += "<li class=\"changed\">~ " + esc(n) + "</li>";
  std::string metrics;
  for (const auto& [k, v] : d.metrics)
    metrics += fmt::format("<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>", esc(k), num(v.first), num(v.second),
                           num(v.second - v.first));
  std::string hparams;
  for (const auto& [k, v] : d.hparams)
    hparams += fmt::format("<tr><th>{}</th><td>{}</td><td>{}</td></tr>", esc(k), esc(v.first), esc(v.second));
  const std::string body = fmt::format(
      "<h1>diff {} &rarr; {}</h1><p>{} of {} tensors changed · <a href=\"/compare?a={}&amp;b={}\">compare</a></p>"
      "<h2>change per layer (largest relative L2)</h2>{}"
      "<table class=\"diff sortable\"><thead><tr>{}<th>status</th><th>shape</th>{}{}{}{}</tr></thead><tbody>{}</tbody></table>"
      "<h2>graph</h2><ul class=\"graphdiff\">{}</ul><h2>metrics (a, b, b &minus; a)</h2><table>{}</table>"
      "<h2>hyper-parameters</h2><table>{}</table>",
      version_link(log, d.a), version_link(log, d.b), d.changed_tensors(), d.tensors.size(), versioning::to_hex(d.a),
      versioning::to_hex(d.b), layer_chart(d.tensors), header("name", "tensor"), header("mean", "mean |&Delta;|"),
      header("max", "max |&Delta;|"), header("rel", "rel L2"), header("cos", "cosine"), rows,
      graph.empty() ? "<li>identical</li>" : graph, metrics, hparams);
  return page("diff", body);
}

}  // namespace strata::tools::web
