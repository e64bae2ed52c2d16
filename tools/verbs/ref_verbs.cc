// strata branch / tag / merge: moving names and making merge versions.
#include <iostream>
#include <memory>
#include <utility>

#include "strata/framework/core/error.h"
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/merge.h"
#include "strata/versioning/restore.h"
#include "tools/flag_checks.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

using versioning::CommitId;
using versioning::OpenMode;
using versioning::to_hex;

// `branch` and `tag` share their shape: list, create, force-move, delete.
int cmd_refs(const GlobalOptions& g, bool is_tag, const std::string& name, const std::string& version, bool del, bool force) {
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

// The command line of these verbs (tools/verbs/verbs.h).
namespace {

Verb ref_verb(CLI::App& app, const GlobalOptions& g, bool is_tag) {
  struct Args {
    std::string name, version;
    bool del = false, force = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = is_tag ? app.add_subcommand("tag", "list, create, move or delete tags")
                       : app.add_subcommand("branch", "list, create, move or delete branches");
  c->add_option("NAME", a->name, "ref name");
  c->add_option("VERSION", a->version, "version it points to");
  c->add_flag("-d,--delete", a->del, "delete the ref");
  c->add_flag("-f,--force", a->force, "move an existing ref");
  return {c, nullptr, [&g, a, is_tag] { return cmd_refs(g, is_tag, a->name, a->version, a->del, a->force); }};
}

Verb merge_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    versioning::MergeRequest request;
    std::string method = "average";
    std::vector<std::string> take;
  };
  auto a = std::make_shared<Args>();
  versioning::MergeRequest& m = a->request;
  CLI::App* c = app.add_subcommand("merge", "merge two versions into a new one (average, task arithmetic, TIES)");
  c->add_option("A", m.a, "first version (its branch gets the merge)")->required();
  c->add_option("B", m.b, "second version")->required();
  c->add_option("--method", a->method,
                "average: (1-alpha)A + alpha B; task-arithmetic: base + lambda((A-base) + (B-base)); ties: "
                "trim, elect sign, disjoint mean of the changes since the merge base")
      ->check(CLI::IsMember({"average", "task-arithmetic", "ties"}));
  c->add_option("--alpha", m.alpha, "average: result = (1 - alpha) A + alpha B")->check(flags::between(0, 1));
  c->add_option("--lambda", m.lambda, "task-arithmetic, ties: scale of the merged change")->check(flags::between(0, 10));
  c->add_option("--density", m.density, "ties: share of each change kept (largest magnitudes)")
      ->check(flags::between(0, 1))
      ->check(flags::at_least(0, true));
  c->add_option("--take", a->take, "PATTERN=A|B: tensors matching PATTERN (fnmatch) taken whole from one side");
  c->add_option("--branch", m.branch, "branch for the merge (default: A's, A must be its head)");
  c->add_option("-m,--message", m.message, "commit message");
  auto check = [a] {
    a->request.method = *versioning::merge_method_from_name(a->method);  // checked by IsMember
    for (const std::string& rule : a->take)
      a->request.take.push_back(as_usage_error("--take", [&] { return versioning::parse_take_rule(rule); }));
  };
  return {c, check, [&g, a] { return cmd_merge(g, a->request); }};
}

Verb merge_base_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* c = app.add_subcommand("merge-base", "the nearest common ancestor of two versions");
  c->add_option("A", a->first, "a version")->required();
  c->add_option("B", a->second, "another version")->required();
  return {c, nullptr, [&g, a] { return cmd_merge_base(g, a->first, a->second); }};
}

const VerbRegistration kBranch(60, [](CLI::App&app, const GlobalOptions&g) { return ref_verb(app, g, false); }),
    kTag(70, [](CLI::App&app, const GlobalOptions&g) { return ref_verb(app, g, true); }), kMerge(80, merge_verb),
    kMergeBase(170, merge_base_verb);

}  // namespace
}  // namespace strata::tools
