// clone, push, pull, remote and serve: sharing histories between logs (versioning/transfer/transfer.h).
#include <unistd.h>

#include <memory>

#include "strata/framework/core/error.h"
#include "strata/versioning/transfer/transfer.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {
namespace {

using versioning::TransferReport;

std::string need_log_dir(const GlobalOptions& g) {
  if (g.log_dir.empty()) throw_invalid("no log given", "", "pass --log DIR or set STRATA_LOG");
  return g.log_dir;
}

void print_report(const GlobalOptions& g, const char* verb, const std::string& other, const TransferReport& r) {
  if (g.json) {
    std::vector<std::string> moved;
    for (const auto& m : r.moved)
      moved.push_back(fmt::format("{{\"ref\":{},\"tag\":{},\"old\":{},\"new\":{},\"forced\":{}}}", json_str(m.name),
                                  m.tag ? "true" : "false", m.old_id ? json_str(versioning::to_hex(*m.old_id)) : "null",
                                  json_str(versioning::to_hex(m.new_id)), m.forced ? "true" : "false"));
    fmt::print(
        "{{\"verb\":{},\"other\":{},\"commits\":{},\"graphs\":{},\"chunks\":{},\"chunk_bytes\":{},\"pack_bytes\":{},"
        "\"moved\":{},\"up_to_date\":{}}}\n",
        json_str(verb), json_str(other), r.commits, r.graphs, r.chunks, r.chunk_bytes, r.pack_bytes, json_list(moved),
        json_str_list(r.up_to_date));
    return;
  }
  if (r.moved.empty()) {
    fmt::print("{}: everything up to date with {}\n", verb, other);
    return;
  }
  fmt::print("{}: {} version{}, {} chunk{} ({}), {} graph{}; {} on the wire\n", verb, r.commits, r.commits == 1 ? "" : "s",
             r.chunks, r.chunks == 1 ? "" : "s", human_bytes(r.chunk_bytes), r.graphs, r.graphs == 1 ? "" : "s",
             human_bytes(r.pack_bytes));
  for (const auto& m : r.moved) {
    const std::string ref = (m.tag ? "tag " : "") + m.name;
    if (!m.old_id)
      fmt::print("  * {:<24} new -> {}\n", ref, m.new_label);
    else
      fmt::print("  {} {:<24} {}{}{}{}\n", m.forced ? '+' : ' ', ref, versioning::short_hex(*m.old_id), m.forced ? "..." : "..",
                 m.new_label, m.forced ? " (forced)" : "");
  }
}

}  // namespace

int cmd_clone(const GlobalOptions& g, const std::string& src, const std::string& dst, const versioning::TransferOptions& o) {
  TransferReport r = versioning::clone(src, dst, o);
  print_report(g, "clone", src, r);
  if (!g.json) fmt::print("cloned into {} (remote 'origin' = {})\n", dst, src);
  return 0;
}

int cmd_push(const GlobalOptions& g, const std::string& remote, const versioning::TransferOptions& o) {
  const std::string dir = need_log_dir(g);
  print_report(g, "push", versioning::resolve_remote(dir, remote), versioning::push(dir, remote, o));
  return 0;
}

int cmd_pull(const GlobalOptions& g, const std::string& remote, const versioning::TransferOptions& o) {
  const std::string dir = need_log_dir(g);
  print_report(g, "pull", versioning::resolve_remote(dir, remote), versioning::pull(dir, remote, o));
  return 0;
}

int cmd_remote(const GlobalOptions& g, const std::string& action, const std::string& name, const std::string& url, bool force) {
  const std::string dir = need_log_dir(g);
  if (action == "add") {
    if (name.empty() || url.empty())
      throw_invalid("remote add needs NAME and URL", "", "strata remote add origin ssh://host/path/log");
    versioning::set_remote(dir, name, url, force);
  } else if (action == "remove") {
    if (name.empty()) throw_invalid("remote remove needs NAME");
    versioning::remove_remote(dir, name);
  } else if (action == "list" || action.empty()) {
    const auto all = versioning::remotes(dir);
    if (g.json)
      fmt::print("{}\n", json_map(all, [](const std::string& u) { return json_str(u); }));
    else
      for (const auto& [n, u] : all) fmt::print("{}\t{}\n", n, u);
  } else {
    throw_invalid("unknown remote action '" + action + "'", "", "use add, remove or list");
  }
  return 0;
}

int cmd_transfer_endpoint(const std::string& log_dir, bool receive) {
  versioning::serve(log_dir, receive, STDIN_FILENO, STDOUT_FILENO);
  return 0;
}

// The command line of these verbs (tools/verbs/verbs.h).
namespace {

// What clone, push and pull share: the flags that become TransferOptions.
struct TransferArgs {
  std::string src, dst, remote, remote_strata = "strata";
  std::vector<std::string> branches;
  bool tags = false, force = false, require_signed = false;
  std::vector<std::string> trusted;
  versioning::TransferOptions options;

  void check() {
    for (const std::string& b : branches)
      options.branches().push_back(as_usage_error("BRANCH", [&] { return versioning::parse_refspec(b); }));
    if (!trusted.empty() && !require_signed) throw CLI::ValidationError("--trusted", "goes with --require-signed");
    options.tags(tags).force(force).remote_strata(remote_strata).require_signed(require_signed).trusted(trusted);
  }
};

// The flags every transfer verb has: the far side's program and the signature requirement.
void add_common_flags(CLI::App* c, TransferArgs& a) {
  c->add_option("--remote-strata", a.remote_strata, "the strata program on the far side of ssh (default: strata)");
  c->add_flag("--require-signed", a.require_signed,
              "refuse, writing nothing, unless every arriving version is signed by a key the receiving log trusts");
  c->add_option("--trusted", a.trusted, "with --require-signed: trust these public keys (FILE.pub) instead");
}

Verb clone_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<TransferArgs>();
  CLI::App* c = app.add_subcommand("clone", "copy a log (every branch and tag) from a directory or ssh://host/path");
  c->add_option("SRC", a->src, "log directory or ssh://[user@]host[:port]/path")->required();
  c->add_option("DST", a->dst, "new log directory")->required();
  add_common_flags(c, *a);
  return {c, [a] { a->check(); }, [&g, a] { return cmd_clone(g, a->src, a->dst, a->options); }};
}

Verb push_or_pull_verb(CLI::App& app, const GlobalOptions& g, bool push) {
  auto a = std::make_shared<TransferArgs>();
  CLI::App* c = push ? app.add_subcommand("push", "send branches (fast-forward only) and their versions to another log")
                     : app.add_subcommand("pull", "bring branches (fast-forward only) and their versions from another log");
  c->add_option("REMOTE", a->remote, "remote name (strata remote), log directory or ssh://[user@]host[:port]/path")->required();
  c->add_option("BRANCH", a->branches, "branches to send, NAME or SRC:DST (default: every branch)");
  c->add_flag("--tags", a->tags, "also every tag");
  c->add_flag("-f,--force", a->force, "move refs that would not fast-forward");
  add_common_flags(c, *a);
  auto run = [&g, a, push] { return push ? cmd_push(g, a->remote, a->options) : cmd_pull(g, a->remote, a->options); };
  return {c, [a] { a->check(); }, run};
}

Verb remote_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string action, name, url;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("remote", "named remotes: list, add NAME URL, remove NAME");
  c->add_option("ACTION", a->action, "list (default), add or remove")->check(CLI::IsMember({"list", "add", "remove"}));
  c->add_option("NAME", a->name, "remote name");
  c->add_option("URL", a->url, "log directory or ssh://[user@]host[:port]/path");
  c->add_flag("-f,--force", a->force, "replace an existing remote");
  return {c, nullptr, [&g, a] { return cmd_remote(g, a->action, a->name, a->url, a->force); }};
}

// Plumbing, run by clone/push/pull over ssh (git's upload-pack / receive-pack): the transfer
// protocol on stdin/stdout, read-only for upload-pack, writing for receive-pack.
Verb pack_verb(CLI::App& app, bool receive) {
  auto dir = std::make_shared<std::string>();
  CLI::App* c = receive ? app.add_subcommand("receive-pack", "the far side of push over ssh (writes the log)")
                        : app.add_subcommand("upload-pack", "the far side of clone/pull over ssh (read-only)");
  c->add_option("DIR", *dir, "the log")->required();
  c->group("");  // hidden from --help: not for people
  return {c, nullptr, [dir, receive] { return cmd_transfer_endpoint(*dir, receive); }};
}

const VerbRegistration kClone(180, clone_verb),
    kPush(190, [](CLI::App&app, const GlobalOptions&g) { return push_or_pull_verb(app, g, true); }),
    kPull(200, [](CLI::App&app, const GlobalOptions&g) { return push_or_pull_verb(app, g, false); }), kRemote(210, remote_verb),
    kUploadPack(230, [](CLI::App&app, const GlobalOptions&) { return pack_verb(app, false); }),
    kReceivePack(240, [](CLI::App&app, const GlobalOptions&) { return pack_verb(app, true); });

}  // namespace
}  // namespace strata::tools
