// VersionLog: the signatures stored beside versions and tags, and the trust list
// (versioning/signing.h; layouts in docs/formats.md "Signatures" and "Trusted keys").
#include <algorithm>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/log_internals.h"

namespace strata::versioning {
namespace {

std::vector<Signature> read_signatures(const LmdbTxn& txn, const CommitId& id) {
  std::vector<Signature> out;
  txn.scan_prefix(Db::kSignatures, version_signature_prefix(id), [&](std::string_view, std::string_view v) {
    out.push_back(Signature::decode(v));
    return true;
  });
  return out;
}

std::vector<TrustedKey> read_trust(const LmdbTxn& txn) {
  std::vector<TrustedKey> out;
  txn.scan_from(Db::kTrust, {}, [&](std::string_view, std::string_view v) {
    out.push_back(TrustedKey::decode(v));
    return true;
  });
  return out;
}

// The verdict on signatures that cannot even be decoded; other errors are not about them.
SignatureCheck malformed(const Error& e) {
  if (e.code() != ErrorCode::kCorruption) throw e;
  SignatureCheck bad;
  bad.status = SignatureStatus::kBad;
  bad.problem = e.what_failed();
  return bad;
}

std::string key_of(const KeyId& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

}  // namespace

void VersionLog::sign(const CommitId& id) {
  require_writable("sign a version");
  if (!signer_)
    throw Error(ErrorCode::kFailedPrecondition, "no signing key", log_dir_,
                "pass --sign-key FILE or set STRATA_SIGNING_KEY (make a key with `strata keygen FILE`)");
  const Signature s = sign_version(*signer_, id, now_ms());
  env_->write([&](LmdbTxn& txn) {
    LogInternals::need_record(txn, id);
    txn.put(Db::kSignatures, version_signature_key(id, s.key_id()), s.encode());
  });
}

std::vector<Signature> VersionLog::signatures(const CommitId& id) const {
  std::vector<Signature> out;
  env_->read([&](const LmdbTxn& txn) {
    try {
      out = read_signatures(txn, id);
    } catch (const Error& e) {
      throw Error(ErrorCode::kCorruption, e.what_failed(), "version " + LogInternals::describe(txn, id), e.hint());
    }
  });
  return out;
}

std::optional<Signature> VersionLog::tag_signature(const std::string& tag) const {
  std::optional<Signature> out;
  env_->read([&](const LmdbTxn& txn) {
    auto v = txn.get(Db::kSignatures, tag_signature_key(tag));
    if (!v) return;
    try {
      out = Signature::decode(*v);
    } catch (const Error& e) {
      throw Error(ErrorCode::kCorruption, e.what_failed(), "tag '" + tag + "'", e.hint());
    }
  });
  return out;
}

SignatureCheck VersionLog::check_version(const CommitId& id, const TrustPolicy& policy) const {
  try {
    return check_signatures(signatures(id), policy, id);
  } catch (const Error& e) {
    return malformed(e);
  }
}

SignatureCheck VersionLog::check_tag(const std::string& tag, const TrustPolicy& policy) const {
  // The tag and its signature from one snapshot: a tag moved and re-signed in between must not
  // read as a signature moved onto another target.
  std::optional<CommitId> target;
  std::optional<std::string> bytes;
  env_->read([&](const LmdbTxn& txn) {
    target = LogInternals::get_ref(txn, tag_key(tag));
    if (auto v = txn.get(Db::kSignatures, tag_signature_key(tag))) bytes = std::string(*v);
  });
  if (!target) throw Error(ErrorCode::kNotFound, "no tag '" + tag + "'", log_dir_, "see `strata tag`");
  try {
    return check_signatures(bytes ? std::vector<Signature>{Signature::decode(*bytes)} : std::vector<Signature>{}, policy, *target,
                            tag);
  } catch (const Error& e) {
    return malformed(e);
  }
}

void VersionLog::trust_key(const std::string& name, const PublicKey& key) {
  require_writable("trust a key");
  if (name.empty() || name.size() > 200 || name.find_first_of("\n\r\t") != std::string::npos)
    throw_invalid("a trusted key's name must be 1 to 200 characters on one line", name);
  TrustedKey entry;
  entry.name = name;
  entry.key = key;
  entry.key.comment.clear();  // the name is what the log says; the comment stays in the .pub file
  entry.added_ms = now_ms();
  env_->write([&](LmdbTxn& txn) {
    for (const TrustedKey& t : read_trust(txn)) {
      if (t.key.bytes == key.bytes)
        throw Error(ErrorCode::kAlreadyExists,
                    "key " + short_key_id(key.id()) + " is in the trust list already, as '" + t.name + "'" +
                        (t.revoked() ? " (revoked)" : ""),
                    log_dir_, t.revoked() ? "a revoked key stays revoked: make a new key" : "nothing to do");
      if (t.name == name && !t.revoked())
        throw Error(ErrorCode::kAlreadyExists, "a trusted key is named '" + name + "' already", log_dir_,
                    "choose another name, or revoke that key first");
    }
    txn.put(Db::kTrust, key_of(key.id()), entry.encode());
  });
}

TrustedKey VersionLog::revoke_key(const std::string& name_or_id) {
  require_writable("revoke a key");
  TrustedKey revoked;
  env_->write([&](LmdbTxn& txn) {
    std::vector<TrustedKey> matches;
    for (const TrustedKey& t : read_trust(txn))
      if (!t.revoked() && (t.name == name_or_id || (name_or_id.size() >= 8 && key_id_hex(t.key.id()).rfind(name_or_id, 0) == 0)))
        matches.push_back(t);
    if (matches.empty())
      throw Error(ErrorCode::kNotFound, "no trusted key (not revoked) is named '" + name_or_id + "' or has that key id", log_dir_,
                  "see `strata trust list`");
    if (matches.size() > 1)
      throw Error(ErrorCode::kInvalidArgument, "'" + name_or_id + "' names " + std::to_string(matches.size()) + " keys", log_dir_,
                  "give the full key id from `strata trust list`");
    revoked = matches.front();
    revoked.revoked_ms = now_ms();
    txn.put(Db::kTrust, key_of(revoked.key.id()), revoked.encode());
  });
  return revoked;
}

std::vector<TrustedKey> VersionLog::trusted_keys() const {
  std::vector<TrustedKey> out;
  env_->read([&](const LmdbTxn& txn) { out = read_trust(txn); });
  std::sort(out.begin(), out.end(), [](const TrustedKey& a, const TrustedKey& b) { return a.added_ms < b.added_ms; });
  return out;
}

TrustPolicy VersionLog::trust_policy(const std::vector<std::string>& pub_files) const {
  return TrustPolicy::from_files(pub_files, trusted_keys());
}

}  // namespace strata::versioning
