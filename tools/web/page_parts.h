// Pieces several pages share (internal to tools/web).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/versioning/version_log.h"
#include "tools/web/pages.h"

namespace strata::tools::web {

std::string str_param(const Params& p, const std::string& key, const std::string& fallback = "");
int64_t int_param(const Params& p, const std::string& key, int64_t fallback);
// Every value of `key`, and of a comma-separated list in each.
std::vector<std::string> list_param(const Params& p, const std::string& key);

// The validation accuracy and loss of a version, as a short span ("" without them).
std::string key_metric_html(const versioning::CommitRecord& r);
// "signed: alice" and the like, as a span ("" when unsigned).
std::string signature_html(const versioning::SignatureCheck& c);
// A link to a version's page: "1a2b3c4d main@3".
std::string version_link(const versioning::VersionLog& log, const versioning::CommitId& id);
// A two-column table of key/value rows (escaped).
std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows);

}  // namespace strata::tools::web
