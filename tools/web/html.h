// HTML and SVG building blocks of the web view's pages (internal to tools/web).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace strata::tools::web {

// Escapes &, <, >, " and ' : safe in text and in quoted attribute values.
std::string esc(const std::string& s);
// Percent-encodes a query parameter value or a path segment.
std::string url_encode(const std::string& s);
// A number for people: 4 significant digits, "-" for NaN.
std::string num(double v);

// A whole page: title, the navigation, the body.
std::string page(const std::string& title, const std::string& body);

// A query string "?k=v&..." from parameters (empty values left out).
std::string query(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace strata::tools::web
