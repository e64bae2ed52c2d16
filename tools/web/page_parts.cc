#include "tools/web/page_parts.h"

#include <fmt/format.h>

#include <cstdlib>

#include "tools/cli_output.h"
#include "tools/web/html.h"

namespace strata::tools::web {

std::string str_param(const Params& p, const std::string& key, const std::string& fallback) {
  auto it = p.find(key);
  return it == p.end() ? fallback : it->second;
}

int64_t int_param(const Params& p, const std::string& key, int64_t fallback) {
  const std::string v = str_param(p, key);
  if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos) return fallback;
  return std::stoll(v);
}

std::vector<std::string> list_param(const Params& p, const std::string& key) {
  std::vector<std::string> out;
  auto [begin, end] = p.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    size_t start = 0;
    for (size_t comma; (comma = it->second.find(',', start)) != std::string::npos; start = comma + 1)
      if (comma > start) out.push_back(it->second.substr(start, comma - start));
    if (start < it->second.size()) out.push_back(it->second.substr(start));
  }
  return out;
}

std::string key_metric_html(const versioning::CommitRecord& r) {
  std::string out;
  for (const auto& [name, value] : r.metrics) {
    if (!is_key_metric(name)) continue;
    out += fmt::format(" <span class=\"metric\">{}={}</span>", esc(name), num(value));
  }
  return out;
}

std::string signature_html(const versioning::SignatureCheck& c) {
  using versioning::SignatureStatus;
  switch (c.status) {
    case SignatureStatus::kUnsigned:
      return "";
    case SignatureStatus::kTrusted:
      return " <span class=\"sig ok\">signed: " + esc(c.signer) + "</span>";
    case SignatureStatus::kBad:
      return " <span class=\"sig bad\">bad signature</span>";
    default:
      return " <span class=\"sig warn\">signed: " + esc(c.signer) + " (" + versioning::signature_status_name(c.status) +
             ")</span>";
  }
}

std::string version_link(const versioning::VersionLog& log, const versioning::CommitId& id) {
  return fmt::format("<a href=\"/v/{}\">{}</a>", versioning::to_hex(id), esc(safe_describe(log, id)));
}

std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string out = "<table class=\"kv\">";
  for (const auto& [k, v] : rows) out += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>";
  return out + "</table>";
}

}  // namespace strata::tools::web
