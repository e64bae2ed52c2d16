// Signing: who made a version or a tag (docs/signing.md; byte layouts in docs/formats.md
// "Signatures" and "Trusted keys").
//
// A version id proves that the bytes match, not who produced them. A signature binds an ed25519
// key (libsodium) to a version id or to a tag's name and target, with the time it was made; the
// log keeps signatures beside the records and a list of the keys it trusts, like ssh's
// allowed_signers file. Verification answers, per version, one of: trusted, untrusted (a good
// signature by a key nobody trusts), revoked, bad (the bytes do not verify: Corruption), unsigned.
//
// Thread-safety: all functions are thread-safe; SigningKey is immutable after load.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/versioning/ids.h"

namespace strata::versioning {

// BLAKE2b-128 of the 32-byte public key: the key's fingerprint, shown as 32 hex digits.
using KeyId = std::array<uint8_t, 16>;
std::string key_id_hex(const KeyId& id);
std::string short_key_id(const KeyId& id);  // the first 16 hex digits

struct PublicKey {
  std::array<uint8_t, 32> bytes{};
  std::string comment;  // the .pub file's third field (user@host at keygen); not signed
  KeyId id() const;
  std::string hex() const;  // the key's 64 hex digits
  // "strata-ed25519 <64 hex digits> <comment>\n"
  std::string to_text() const;
  // Parses to_text()'s line; kInvalidArgument naming `where` otherwise.
  static PublicKey parse(std::string_view text, const std::string& where);
};
PublicKey read_public_key(const std::string& path);

class SigningKey {
 public:
  static SigningKey generate(const std::string& comment);
  // Reads a secret key file. Refuses (kFailedPrecondition) a file that group or others may read,
  // as ssh does: a key others could copy proves nothing.
  static SigningKey load(const std::string& path);
  // Writes the secret key to `path` (mode 0600, refusing an existing file) and the public key
  // to `path`.pub.
  void save(const std::string& path) const;
  const PublicKey& public_key() const { return public_; }
  std::array<uint8_t, 64> sign(std::string_view message) const;

 private:
  std::array<uint8_t, 32> seed_{};
  std::array<uint8_t, 64> secret_{};  // libsodium's form: seed, then public key
  PublicKey public_;
};

// A signature over a version or a tag, as stored (docs/formats.md "Signatures").
struct Signature {
  enum class Kind : uint8_t { kVersion = 1, kTag = 2 };
  Kind kind = Kind::kVersion;
  CommitId version{};   // the signed version; a tag's target
  std::string tag;      // kTag: the tag's name
  int64_t time_ms = 0;  // when it was signed
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> signature{};

  KeyId key_id() const;
  // What the ed25519 signature covers: a domain string, the version id (or the tag's name and
  // target), the signer's key id and the time.
  std::string signed_message() const;
  // True when `signature` is ed25519 by `public_key` over signed_message().
  bool valid() const;
  std::string encode() const;
  // kCorruption naming what is wrong; never reads out of bounds (a fuzz target).
  static Signature decode(std::string_view bytes);
};
Signature sign_version(const SigningKey& key, const CommitId& version, int64_t time_ms);
Signature sign_tag(const SigningKey& key, const std::string& tag, const CommitId& target, int64_t time_ms);

// A key the log trusts (docs/formats.md "Trusted keys").
struct TrustedKey {
  std::string name;
  PublicKey key;
  int64_t added_ms = 0;
  int64_t revoked_ms = 0;  // 0: not revoked; signatures by a revoked key stop counting
  bool revoked() const { return revoked_ms != 0; }
  std::string encode() const;
  static TrustedKey decode(std::string_view bytes);  // kCorruption when malformed
};

enum class SignatureStatus { kUnsigned, kBad, kUntrusted, kRevoked, kTrusted };
const char* signature_status_name(SignatureStatus s);  // "unsigned", "bad", ...

// Which keys count: the keys given (`strata verify --trusted`), or, when none are, the log's
// trust list. Revoked entries of the trust list stay known, so their signatures are reported as
// revoked rather than as unknown.
struct TrustPolicy {
  std::vector<PublicKey> keys;  // explicit keys; empty: the log's trust list
  std::vector<TrustedKey> log_keys;
  static TrustPolicy from_files(const std::vector<std::string>& pub_files, std::vector<TrustedKey> log_keys);
};

// The verdict on one version (or tag) from all its signatures: trusted when any good signature
// is by a trusted key; bad when any signature does not verify; else revoked, untrusted or
// unsigned. `signer` names the deciding key: its trust-list name, else its short key id.
struct SignatureCheck {
  SignatureStatus status = SignatureStatus::kUnsigned;
  std::string signer;
  KeyId key_id{};
  int64_t time_ms = 0;
  std::string problem;  // for kBad: what does not verify
};
// `version` (and `tag`, for a tag) is what the signatures are stored under: a signature that
// covers anything else was moved, and is bad.
SignatureCheck check_signatures(const std::vector<Signature>& signatures, const TrustPolicy& policy, const CommitId& version,
                                const std::string& tag = "");

}  // namespace strata::versioning
