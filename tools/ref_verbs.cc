// strata branch / tag / merge: moving names and making merge versions.
#include "strata/framework/core/error.h"
#include "tools/verbs.h"

#include <iostream>

#include "strata/versioning/commit_graph.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/restore.h"

namespace strata::tools {

using versioning::CommitId;
using versioning::OpenMode;
using versioning::to_hex;

// `branch` and `tag` share their shape: list, create, force-move, delete.
int cmd_refs(const GlobalOptions& g, bool is_tag, const std::string& name, const std::string& version, bool del,
             bool force) {
  const char* kind = is_tag ? "tag" : "branch";
  if (name.empty()) {
    if (del || force || !version.empty()) throw_invalid(fmt::format("{} name missing", kind));
    auto log = open_log(g, OpenMode::kReadOnly);
    std::vector<std::pair<std::string, CommitId>> refs;
    if (is_tag) {
      for (const auto& [n, id] : log->tags()) refs.emplace_back(n, id);
    } else {
      for (const std::string& b : log->branches()) {
        if (auto h = log->head(b)) refs.emplace_back(b, *h);
      }
    }
    std::vector<std::string> items;
    for (const auto& [n, id] : refs) {
      if (g.json) {
        items.push_back(fmt::format("{{\"name\":{},\"id\":{},\"version\":{}}}", json_str(n), json_str(to_hex(id)),
                                    json_str(safe_describe(*log, id))));
      } else {
        fmt::print("{:<24} {}\n", n, safe_describe(*log, id));
      }
    }
    if (g.json) fmt::print("{{\"{}\":{}}}\n", is_tag ? "tags" : "branches", json_list(items));
    return 0;
  }
  auto log = open_log(g, OpenMode::kReadWrite);
  if (del) {
    if (!version.empty()) throw_invalid(fmt::format("{} -d takes only a name", kind));
    is_tag ? log->delete_tag(name) : log->delete_branch(name);
    if (g.json) {
      fmt::print("{{\"deleted\":{},\"kind\":\"{}\"}}\n", json_str(name), kind);
    } else {
      fmt::print("deleted {} {}\n", kind, name);
    }
    return 0;
  }
  if (version.empty()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} {}: no version given", kind, name), "",
                fmt::format("strata {} NAME VERSION", kind));
  }
  const CommitId id = log->resolve(version);
  is_tag ? log->set_tag(name, id, force) : log->set_branch(name, id, force);
  if (g.json) {
    fmt::print("{{\"name\":{},\"kind\":\"{}\",\"id\":{},\"version\":{}}}\n", json_str(name), kind, json_str(to_hex(id)),
               json_str(log->describe(id)));
  } else {
    fmt::print("{} {} -> {}\n", kind, name, log->describe(id));
  }
  return 0;
}

int cmd_merge(const GlobalOptions& g, const versioning::MergeRequest& request) {
  auto log = open_log(g, OpenMode::kReadWrite);
  versioning::CommitResult r = versioning::merge_versions(*log, request);
  if (g.json) {
    fmt::print("{{\"id\":{},\"name\":{}}}\n", json_str(to_hex(r.id)), json_str(log->describe(r.id)));
  } else {
    const versioning::CommitRecord rec = log->read_record(r.id);
    auto base = rec.hparams.find("merge/base");
    fmt::print("merged {} and {} by {} into {}{}\n", request.a, request.b, versioning::merge_method_name(request.method),
               log->describe(r.id),
               base == rec.hparams.end() ? std::string()
                                         : " (merge base " + log->describe(*versioning::digest_from_hex(base->second)) + ")");
  }
  return 0;
}

int cmd_merge_base(const GlobalOptions& g, const std::string& a_name, const std::string& b_name) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId a = log->resolve(a_name), b = log->resolve(b_name);
  std::optional<CommitId> base = versioning::merge_base(*log, a, b);
  if (!base) {
    std::cerr << "error: " << log->describe(a) << " and " << log->describe(b) << " have no common ancestor\n";
    return 1;
  }
  if (g.json) {
    fmt::print("{{\"id\":{},\"name\":{}}}\n", json_str(to_hex(*base)), json_str(log->describe(*base)));
  } else {
    fmt::print("{}\n", log->describe(*base));
  }
  return 0;
}

}  // namespace strata::tools
