// `/curves?metric=NAME[&refs=B1,B2][&x=epoch|time][&log=1]`: one series per branch along its
// first-parent history; `/curves?tensor=NAME` plots what `strata log --tensor` reports (the mean
// |change| from the parent), from the same verb.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/json_reader.h"
#include "tools/verbs/verbs.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools::web {
namespace {

using versioning::CommitId;

struct Point {
  double x = 0, y = 0;
  std::string label;  // "main@3: 0.8812"
  std::string id;
};
struct Series {
  std::string branch;
  std::vector<Point> points;
};

// The branch's metric along its first-parent history, oldest first.
Series metric_series(const versioning::VersionLog& log, const std::string& branch, const std::string& metric, bool time_x) {
  Series s{branch, {}};
  std::vector<CommitId> history = log.history(branch);
  std::reverse(history.begin(), history.end());
  for (const CommitId& id : history) {
    const versioning::CommitRecord r = log.read_record(id);
    auto it = r.metrics.find(metric);
    if (it == r.metrics.end() || !std::isfinite(it->second)) continue;
    const double x = time_x ? static_cast<double>(r.wall_time_ms) / 1000.0
                            : static_cast<double>(r.epoch) + static_cast<double>(r.step_in_epoch()) / 1e6;
    s.points.push_back({x, it->second, r.branch + "@" + r.epoch_label() + ": " + num(it->second), versioning::to_hex(id)});
  }
  return s;
}

// The tensor's movement along the branch, as `strata log --tensor NAME BRANCH --json` answers.
Series tensor_series(const versioning::VersionLog& log, const std::string& log_dir, const std::string& branch,
                     const std::string& tensor, bool time_x) {
  std::string json;
  GlobalOptions g{log_dir, true, &json};
  cmd_log_tensor(g, branch, tensor);
  const versioning::JsonValue doc = versioning::parse_json(json);
  Series s{branch, {}};
  const auto& versions = doc.find("versions")->items();
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    const versioning::JsonValue* mean = it->find("mean_abs");
    if (!mean || !mean->is_number()) continue;
    const CommitId id = *versioning::digest_from_hex(it->find("id")->string());
    const versioning::CommitRecord r = log.read_record(id);
    const double x = time_x ? static_cast<double>(r.wall_time_ms) / 1000.0 : static_cast<double>(r.epoch);
    s.points.push_back({x, mean->number, it->find("name")->string() + ": mean |D| " + num(mean->number), versioning::to_hex(id)});
  }
  return s;
}

std::string plot(const std::vector<Series>& series, bool log_y, bool time_x, const std::string& y_name) {
  constexpr int kW = 820, kH = 400, kL = 70, kR = 20, kT = 20, kB = 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto yv = [&](double y) { return log_y ? std::log10(y) : y; };
  for (const Series& s : series)
    for (const Point& p : s.points) {
      if (log_y && p.y <= 0) continue;
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, yv(p.y)), y1 = std::max(y1, yv(p.y));
    }
  if (!std::isfinite(x0)) return "<p>no values to plot</p>";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto sx = [&](double x) { return kL + (x - x0) / (x1 - x0) * (kW - kL - kR); };
  auto sy = [&](double y) { return kT + (1 - (yv(y) - y0) / (y1 - y0)) * (kH - kT - kB); };
  std::string svg = fmt::format("<svg class=\"plot\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">", kW, kH, kW, kH);
  svg += fmt::format(
      "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" "
      "y2=\"{}\"/>",
      kL, kH - kB, kW - kR, kH - kB, kL, kT, kL, kH - kB);
  for (int i = 0; i <= 4; ++i) {
    const double fy = y0 + (y1 - y0) * i / 4.0, fx = x0 + (x1 - x0) * i / 4.0;
    const double label_y = log_y ? std::pow(10.0, fy) : fy;
    const int py = static_cast<int>(kT + (1 - i / 4.0) * (kH - kT - kB)), px = static_cast<int>(kL + i / 4.0 * (kW - kL - kR));
    svg += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", kL - 6, py + 4, num(label_y));
    svg += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px, kH - kB + 16,
                       time_x ? num(fx - x0) + " s" : num(fx));
  }
  svg += fmt::format(
      "<text class=\"label\" x=\"{}\" y=\"{}\">{}</text><text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
      kL, kT - 6, esc(y_name) + (log_y ? " (log scale)" : ""), kW - kR, kH - 6,
      time_x ? "wall time since the first point" : "epoch");
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    std::string points, dots;
    for (const Point& p : s.points) {
      if (log_y && p.y <= 0) continue;
      points += fmt::format("{:.1f},{:.1f} ", sx(p.x), sy(p.y));
      dots += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" data-value=\"{}\" data-version=\"{}\"><title>{}</title></circle>",
          sx(p.x), sy(p.y), esc(p.label), p.id, esc(p.label));
    }
    svg += fmt::format("<g class=\"series s{}\" data-series=\"{}\"><polyline points=\"{}\"/>{}</g>", i % 8, esc(s.branch), points,
                       dots);
  }
  return svg + "</svg>";
}

}  // namespace

std::string curves_page(const versioning::VersionLog& log, const std::string& log_dir, const Params& p) {
  const std::string metric = str_param(p, "metric"), tensor = str_param(p, "tensor");
  std::vector<std::string> refs = list_param(p, "refs");
  if (refs.empty()) refs = log.branches();
  const bool time_x = str_param(p, "x") == "time", log_y = str_param(p, "log") == "1";
  if (metric.empty() && tensor.empty()) {
    std::set<std::string> names;
    for (const CommitId& id : log.all_versions())
      for (const auto& [k, v] : log.read_record(id).metrics) names.insert(k);
    std::string list;
    for (const std::string& n : names)
      list +=
          "<li><a href=\"/curves" + esc(query({{"metric", n}, {"refs", str_param(p, "refs")}})) + "\">" + esc(n) + "</a></li>";
    return page("curves", "<h1>curves</h1><p>choose a metric:</p><ul class=\"metrics\">" + list + "</ul>");
  }
  std::vector<Series> series;
  for (const std::string& branch : refs)
    series.push_back(tensor.empty() ? metric_series(log, branch, metric, time_x)
                                    : tensor_series(log, log_dir, branch, tensor, time_x));
  const std::string what = tensor.empty() ? metric : tensor + " mean |change|";
  const std::string kind = tensor.empty() ? "metric" : "tensor", name = tensor.empty() ? metric : tensor;
  auto toggle = [&](const std::string& key, const std::string& on, const std::string& text, bool is_on) {
    std::vector<std::pair<std::string, std::string>> q = {{kind, name}, {"refs", str_param(p, "refs")}};
    q.emplace_back("x", key == "x" ? (is_on ? "" : on) : (time_x ? "time" : ""));
    q.emplace_back("log", key == "log" ? (is_on ? "" : on) : (log_y ? "1" : ""));
    return fmt::format("<a class=\"toggle{}\" href=\"/curves{}\">{}</a>", is_on ? " on" : "", esc(query(q)), text);
  };
  std::string legend;
  for (size_t i = 0; i < series.size(); ++i)
    legend +=
        fmt::format("<span class=\"key s{}\">{} ({} points)</span> ", i % 8, esc(series[i].branch), series[i].points.size());
  const std::string body = fmt::format("<h1>{}</h1><p>{} {}</p><p class=\"legend\">{}</p>{}<p id=\"hover\" class=\"hover\"></p>",
                                       esc(what), toggle("x", "time", "x: wall time", time_x),
                                       toggle("log", "1", "log scale", log_y), legend, plot(series, log_y, time_x, what));
  return page("curves: " + what, body);
}

}  // namespace strata::tools::web
