// strata keygen / sign / trust: who made a version (versioning/signing.h, docs/signing.md).
#include <iostream>
#include <memory>

#include "strata/framework/core/error.h"
#include "strata/versioning/signing.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

using versioning::OpenMode;

int cmd_keygen(const GlobalOptions& g, const std::string& file, const std::string& comment) {
  const auto key = versioning::SigningKey::generate(comment.empty() ? versioning::default_author() : comment);
  key.save(file);
  const std::string id = versioning::key_id_hex(key.public_key().id());
  if (g.json) {
    fmt::print("{{\"secret_key\":{},\"public_key\":{},\"key_id\":{}}}\n", json_str(file), json_str(file + ".pub"), json_str(id));
  } else {
    fmt::print("wrote {} (secret, mode 0600) and {}.pub\nkey id {}\n", file, file, id);
  }
  return 0;
}

int cmd_sign(const GlobalOptions& g, const std::string& version, const std::string& key_file) {
  auto log = open_log(g, OpenMode::kReadWrite, versioning::LogOptions().signing_key(key_file));
  const versioning::CommitId id = log->resolve(version);
  log->sign(id);
  const std::string key = versioning::key_id_hex(log->signing_key()->public_key().id());
  if (g.json) {
    fmt::print("{{\"id\":{},\"key_id\":{}}}\n", json_str(versioning::to_hex(id)), json_str(key));
  } else {
    fmt::print("signed {} with key {}\n", log->describe(id), key);
  }
  return 0;
}

std::string trusted_key_json(const versioning::TrustedKey& t) {
  return fmt::format("{{\"name\":{},\"key_id\":{},\"public_key\":{},\"added_ms\":{},\"revoked_ms\":{}}}", json_str(t.name),
                     json_str(versioning::key_id_hex(t.key.id())), json_str(t.key.hex()), t.added_ms,
                     t.revoked_ms == 0 ? std::string("null") : std::to_string(t.revoked_ms));
}

int cmd_trust(const GlobalOptions& g, const std::string& action, const std::string& arg, const std::string& name) {
  if (action == "list") {
    auto log = open_log(g, OpenMode::kReadOnly);
    std::vector<std::string> items;
    for (const versioning::TrustedKey& t : log->trusted_keys()) {
      if (g.json) {
        items.push_back(trusted_key_json(t));
      } else {
        fmt::print("{:<20} {}  added {}{}\n", t.name, versioning::key_id_hex(t.key.id()), local_time(t.added_ms),
                   t.revoked() ? "  REVOKED " + local_time(t.revoked_ms) : "");
      }
    }
    if (g.json) fmt::print("{{\"trusted_keys\":{}}}\n", json_list(items));
    return 0;
  }
  auto log = open_log(g, OpenMode::kReadWrite);
  if (action == "add") {
    const versioning::PublicKey key = versioning::read_public_key(arg);
    log->trust_key(name, key);
    if (g.json) {
      fmt::print("{{\"added\":{},\"key_id\":{}}}\n", json_str(name), json_str(versioning::key_id_hex(key.id())));
    } else {
      fmt::print("trusted key {} as '{}'\n", versioning::key_id_hex(key.id()), name);
    }
    return 0;
  }
  const versioning::TrustedKey revoked = log->revoke_key(arg);
  if (g.json) {
    fmt::print("{{\"revoked\":{}}}\n", trusted_key_json(revoked));
  } else {
    fmt::print("revoked key {} ('{}'): its signatures no longer count\n", versioning::key_id_hex(revoked.key.id()), revoked.name);
  }
  return 0;
}

// The command line of these verbs (tools/verbs/verbs.h).
namespace {

Verb keygen_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* c = app.add_subcommand("keygen", "make an ed25519 signing key: FILE (secret, 0600) and FILE.pub");
  c->add_option("FILE", a->first, "the secret key file to create (never overwritten)")->required();
  c->add_option("--comment", a->second, "the comment in FILE.pub (default: user@host)");
  return {c, nullptr, [&g, a] { return cmd_keygen(g, a->first, a->second); }};
}

Verb sign_verb(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* c = app.add_subcommand("sign", "add a signature to a version already in the log");
  c->add_option("VERSION", a->first, "the version")->required();
  c->add_option("--sign-key", a->second, "the secret key (default: $STRATA_SIGNING_KEY)");
  auto check = [a] {
    if (!signing_key_given(a->second))
      throw CLI::ValidationError("--sign-key", "no signing key: pass --sign-key FILE or set STRATA_SIGNING_KEY");
  };
  return {c, check, [&g, a] { return cmd_sign(g, a->first, a->second); }};
}

Verb trust_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string action, arg, name;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("trust", "the keys this log trusts: add KEY.pub --name NAME, list, revoke NAME|KEYID");
  c->add_option("ACTION", a->action, "add, list or revoke")->required()->check(CLI::IsMember({"add", "list", "revoke"}));
  c->add_option("KEY", a->arg, "add: the public key file; revoke: the key's name or key id");
  c->add_option("--name", a->name, "add: the name the key's signatures are shown with");
  auto check = [a] {
    if (a->action == "list" && (!a->arg.empty() || !a->name.empty()))
      throw CLI::ValidationError("trust list", "takes no KEY or --name");
    if (a->action != "list" && a->arg.empty())
      throw CLI::ValidationError("trust " + a->action, a->action == "add" ? "name the public key file" : "name the key");
    if (a->action == "add" && a->name.empty()) throw CLI::ValidationError("--name", "trust add needs --name NAME");
    if (a->action == "revoke" && !a->name.empty()) throw CLI::ValidationError("--name", "trust revoke takes the name as KEY");
  };
  return {c, check, [&g, a] { return cmd_trust(g, a->action, a->arg, a->name); }};
}

const VerbRegistration kKeygen(250, keygen_verb), kSign(255, sign_verb), kTrust(260, trust_verb);

}  // namespace
}  // namespace strata::tools
