// strata branch / tag / merge: moving names and making merge versions.
#include <cstdlib>
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
struct RefArgs {
  std::string name, version;
  bool del = false, force = false;
  bool sign = false, verify = false;  // tags only
  std::string sign_key;
  std::vector<std::string> trusted;
};

// `strata tag -v NAME`: exit 0 only for a good signature by a trusted key.
int cmd_verify_tag(const GlobalOptions& g, const RefArgs& a) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const versioning::SignatureCheck c = log->check_tag(a.name, log->trust_policy(a.trusted));
  const CommitId target = log->tags().at(a.name);
  const bool good = c.status == versioning::SignatureStatus::kTrusted;
  if (g.json) {
    fmt::print("{{\"tag\":{},\"id\":{},\"status\":\"{}\",\"signer\":{},\"key_id\":{},\"time_ms\":{},\"problem\":{}}}\n",
               json_str(a.name), json_str(to_hex(target)), versioning::signature_status_name(c.status), json_str(c.signer),
               json_str(c.status == versioning::SignatureStatus::kUnsigned ? "" : versioning::key_id_hex(c.key_id)), c.time_ms,
               json_str(c.problem));
  } else if (c.status == versioning::SignatureStatus::kUnsigned) {
    fmt::print("tag {} -> {}: not signed\n", a.name, log->describe(target));
  } else if (c.status == versioning::SignatureStatus::kBad) {
    fmt::print("tag {} -> {}: BAD signature: {}\n", a.name, log->describe(target), c.problem);
  } else {
    fmt::print("tag {} -> {}: {} signature by {} (key {}), made {}\n", a.name, log->describe(target),
               good ? "good" : fmt::format("good but {}", versioning::signature_status_name(c.status)), c.signer,
               versioning::key_id_hex(c.key_id), local_time(c.time_ms));
  }
  if (good) return 0;
  using versioning::SignatureStatus;
  const std::string why = c.status == SignatureStatus::kBad         ? "badly signed"
                          : c.status == SignatureStatus::kRevoked   ? "signed by a revoked key"
                          : c.status == SignatureStatus::kUntrusted ? "signed by a key not in the trust list or --trusted"
                                                                    : "not signed";
  std::cerr << "error: tag " << a.name << " is " << why << "\n";
  return 1;
}

int cmd_refs(const GlobalOptions& g, bool is_tag, const RefArgs& a) {
  const std::string& name = a.name;
  const std::string& version = a.version;
  const bool del = a.del, force = a.force;
  if (a.verify) return cmd_verify_tag(g, a);
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
    if (g.json) print_json(g, fmt::format("{{\"{}\":{}}}", is_tag ? "tags" : "branches", json_list(items)));
    return 0;
  }
  auto log = open_log(g, OpenMode::kReadWrite, versioning::LogOptions().signing_key(a.sign_key));
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
  is_tag ? log->set_tag(name, id, force, a.sign) : log->set_branch(name, id, force);
  const std::string signer = a.sign ? versioning::key_id_hex(log->signing_key()->public_key().id()) : "";
  if (g.json) {
    fmt::print("{{\"name\":{},\"kind\":\"{}\",\"id\":{},\"version\":{},\"signed_by\":{}}}\n", json_str(name), kind,
               json_str(to_hex(id)), json_str(log->describe(id)), a.sign ? json_str(signer) : "null");
  } else {
    fmt::print("{} {} -> {}{}\n", kind, name, log->describe(id), a.sign ? ", signed with key " + signer : "");
  }
  return 0;
}

int cmd_merge(const GlobalOptions& g, const versioning::MergeRequest& request, const std::string& sign_key) {
  auto log = open_log(g, OpenMode::kReadWrite, versioning::LogOptions().signing_key(sign_key));
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
  auto a = std::make_shared<RefArgs>();
  CLI::App* c = is_tag ? app.add_subcommand("tag", "list, create, move, delete, sign or verify tags")
                       : app.add_subcommand("branch", "list, create, move or delete branches");
  c->add_option("NAME", a->name, "ref name");
  c->add_option("VERSION", a->version, "version it points to");
  c->add_flag("-d,--delete", a->del, "delete the ref");
  c->add_flag("-f,--force", a->force, "move an existing ref");
  if (!is_tag) return {c, nullptr, [&g, a] { return cmd_refs(g, false, *a); }};
  c->add_flag("-s,--sign", a->sign, "sign the tag's name, target and time (--sign-key or $STRATA_SIGNING_KEY)");
  c->add_option("--sign-key", a->sign_key, "the secret key to sign with");
  c->add_flag("-v,--verify", a->verify, "verify tag NAME's signature; exit 1 unless a trusted key made it");
  c->add_option("--trusted", a->trusted, "with -v: trust these public keys instead of the log's trust list");
  auto check = [a] {
    if (a->verify && (a->sign || a->del || a->force || !a->version.empty() || a->name.empty()))
      throw CLI::ValidationError("--verify", "takes a tag NAME only");
    if (!a->trusted.empty() && !a->verify) throw CLI::ValidationError("--trusted", "goes with -v");
    if (a->sign && (a->del || a->version.empty())) throw CLI::ValidationError("--sign", "signs a tag being set: NAME VERSION");
    if (!a->sign_key.empty() && !a->sign) throw CLI::ValidationError("--sign-key", "goes with -s");
    if (a->sign && !signing_key_given(a->sign_key))
      throw CLI::ValidationError("--sign", "no signing key: pass --sign-key FILE or set STRATA_SIGNING_KEY");
  };
  return {c, check, [&g, a] { return cmd_refs(g, true, *a); }};
}

Verb merge_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    versioning::MergeRequest request;
    std::string method = "average";
    std::vector<std::string> take;
    std::string sign_key;
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
  c->add_option("--sign-key", a->sign_key, "sign the merge with this secret key (default: $STRATA_SIGNING_KEY)");
  auto check = [a] {
    a->request.method = *versioning::merge_method_from_name(a->method);  // checked by IsMember
    for (const std::string& rule : a->take)
      a->request.take.push_back(as_usage_error("--take", [&] { return versioning::parse_take_rule(rule); }));
  };
  return {c, check, [&g, a] { return cmd_merge(g, a->request, a->sign_key); }};
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
