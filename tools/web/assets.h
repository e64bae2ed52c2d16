// The files `strata ui` serves under /assets/, compiled into the binary: no CDN, no request
// leaves the machine. Plain SVG drawn on the server and one small script, so there is no
// third-party code to vendor (docs/web-view.md says why).
#pragma once

#include <string>

namespace strata::tools::web {

struct Asset {
  const char* content_type;
  const std::string* body;
};
// The asset called `name` ("style.css", "app.js", "favicon.svg"); nullptr for any other name.
const Asset* find_asset(const std::string& name);

}  // namespace strata::tools::web
