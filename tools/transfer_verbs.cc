// clone, push, pull, remote and serve: sharing histories between logs (versioning/transfer.h).
#include <unistd.h>

#include "strata/framework/core/error.h"
#include "tools/verbs.h"

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
    fmt::print("{{\"verb\":{},\"other\":{},\"commits\":{},\"graphs\":{},\"chunks\":{},\"chunk_bytes\":{},\"pack_bytes\":{},"
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
    if (name.empty() || url.empty()) throw_invalid("remote add needs NAME and URL", "", "strata remote add origin ssh://host/path/log");
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

}  // namespace strata::tools
