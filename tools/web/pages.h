// The pages of `strata ui` (docs/web-view.md), each rendered from one read-only snapshot of the log.
// Every page keeps its state in its URL's query, so a link can be shared.
#pragma once

#include <map>
#include <string>

#include "strata/versioning/version_log.h"

namespace strata::tools::web {

using Params = std::multimap<std::string, std::string>;

std::string dag_page(const versioning::VersionLog& log, const Params& p);                                 // /
std::string version_page(const versioning::VersionLog& log, const std::string& ref);                      // /v/<ref>
std::string compare_page(const versioning::VersionLog& log, const Params& p);                             // /compare
std::string diff_page(const versioning::VersionLog& log, const Params& p);                                // /diff
std::string curves_page(const versioning::VersionLog& log, const std::string& log_dir, const Params& p);  // /curves

}  // namespace strata::tools::web
