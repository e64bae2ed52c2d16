// `/compare?a=REF&b=REF[&c=REF...]`: versions side by side: metrics (last and best along each
// version's first-parent history), hyper-parameters, provenance; `only=diff` keeps the rows
// whose values differ.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "strata/framework/core/error.h"
#include "tools/cli_output.h"
#include "tools/web/html.h"
#include "tools/web/page_parts.h"
#include "tools/web/pages.h"

namespace strata::tools::web {
namespace {

using versioning::CommitId;

struct Column {
  CommitId id{};
  versioning::CommitRecord record;
  std::map<std::string, std::pair<double, std::string>> best;  // metric -> best value, where
};

// The best value of each metric along the version's first-parent history (its own included).
std::map<std::string, std::pair<double, std::string>> best_values(const versioning::VersionLog& log, const CommitId& id) {
  std::map<std::string, std::pair<double, std::string>> best;
  for (const CommitId& h : log.history_from(id)) {
    const versioning::CommitRecord r = log.read_record(h);
    for (const auto& [name, v] : r.metrics) {
      const int dir = metric_direction(name);
      if (!std::isfinite(v) || dir == 0) continue;
      auto it = best.find(name);
      if (it == best.end() || dir * v > dir * it->second.first) best[name] = {v, r.branch + "@" + r.epoch_label()};
    }
  }
  return best;
}

std::string row(const std::string& key, const std::vector<std::string>& cells, bool only_diff) {
  const bool same = std::all_of(cells.begin(), cells.end(), [&](const std::string& c) { return c == cells.front(); });
  if (same && only_diff) return "";
  std::string out = fmt::format("<tr class=\"{}\"><th>{}</th>", same ? "same" : "differs", esc(key));
  for (const std::string& c : cells) out += "<td>" + c + "</td>";
  return out + "</tr>";
}

}  // namespace

std::string compare_page(const versioning::VersionLog& log, const Params& p) {
  std::vector<Column> cols;
  for (const auto& [key, value] : p)
    if (key.size() == 1 && key[0] >= 'a' && key[0] <= 'z') {
      Column c;
      c.id = log.resolve(value);
      c.record = log.read_record(c.id);
      c.best = best_values(log, c.id);
      cols.push_back(std::move(c));
    }
  if (cols.empty())
    throw Error(ErrorCode::kInvalidArgument, "name the versions to compare", "", "/compare?a=REF&b=REF[&c=REF...]");
  const bool only_diff = str_param(p, "only") == "diff";
  std::set<std::string> metrics, hparams, env;
  for (const Column& c : cols) {
    for (const auto& [k, v] : c.record.metrics) metrics.insert(k);
    for (const auto& [k, v] : c.record.hparams) hparams.insert(k);
    for (const auto& [k, v] : c.record.environment) env.insert(k);
  }
  std::string head = "<tr><th></th>";
  for (const Column& c : cols)
    head += "<th data-version=\"" + versioning::to_hex(c.id) + "\">" + version_link(log, c.id) + "</th>";
  head += "</tr>";
  std::string metric_rows, hparam_rows, env_rows;
  for (const std::string& m : metrics) {
    std::vector<std::string> cells;
    for (const Column& c : cols) {
      auto it = c.record.metrics.find(m);
      std::string cell = it == c.record.metrics.end() ? "-" : num(it->second);
      if (auto b = c.best.find(m); b != c.best.end())
        cell += fmt::format(" <span class=\"best\">best {} at {}</span>", num(b->second.first), esc(b->second.second));
      cells.push_back(cell);
    }
    metric_rows += row(m, cells, only_diff);
  }
  auto text_rows = [&](const std::set<std::string>& keys, auto&& value_of) {
    std::string out;
    for (const std::string& k : keys) {
      std::vector<std::string> cells;
      for (const Column& c : cols) cells.push_back(esc(value_of(c, k)));
      out += row(k, cells, only_diff);
    }
    return out;
  };
  auto find_or = [](const std::map<std::string, std::string>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("-") : it->second;
  };
  hparam_rows = text_rows(hparams, [&](const Column& c, const std::string& k) { return find_or(c.record.hparams, k); });
  env_rows = text_rows(env, [&](const Column& c, const std::string& k) { return find_or(c.record.environment, k); });
  Params toggled;
  for (const auto& [k, v] : p)
    if (k != "only") toggled.emplace(k, v);
  if (!only_diff) toggled.emplace("only", "diff");
  std::vector<std::pair<std::string, std::string>> q(toggled.begin(), toggled.end());
  const std::string body = fmt::format(
      "<h1>compare {} versions</h1><p><a class=\"toggle{}\" href=\"/compare{}\">differences only</a></p>"
      "<table class=\"compare\"><thead>{}</thead><tbody><tr class=\"section\"><th>metrics</th></tr>{}"
      "<tr class=\"section\"><th>hyper-parameters</th></tr>{}<tr class=\"section\"><th>provenance</th></tr>{}</tbody></table>",
      cols.size(), only_diff ? " on" : "", esc(query(q)), head, metric_rows, hparam_rows, env_rows);
  return page("compare", body);
}

}  // namespace strata::tools::web
