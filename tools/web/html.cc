#include "tools/web/html.h"

#include <fmt/format.h>

#include <cmath>

namespace strata::tools::web {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@' || c == '/')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string num(double v) { return std::isnan(v) ? "-" : fmt::format("{:.4g}", v); }

std::string page(const std::string& title, const std::string& body) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
         " · strata</title><meta name=\"viewport\" content=\"width=device-width\">"
         "<link rel=\"icon\" href=\"/assets/favicon.svg\"><link rel=\"stylesheet\" href=\"/assets/style.css\">"
         "<script src=\"/assets/app.js\" defer></script></head><body>"
         "<nav><a class=\"brand\" href=\"/\">strata</a> <a href=\"/\">history</a> <a href=\"/curves\">curves</a>"
         " <span id=\"fresh\" hidden></span></nav><main>" +
         body + "</main></body></html>\n";
}

std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    out += (out.empty() ? "?" : "&") + url_encode(k) + "=" + url_encode(v);
  }
  return out;
}

}  // namespace strata::tools::web
