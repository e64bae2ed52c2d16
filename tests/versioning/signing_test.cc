// Signing (versioning/signing.h, versioning/signatures.cc): ed25519 keys, signatures stored
// beside versions and tags, the trust list, and the verdicts: a round trip, a flipped byte, a
// signature moved onto another version, a revoked key, an unsigned version.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/internal/log_internals.h"
#include "tests/expect_error.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::commit_epochs;
using vtest::TempDir;

// A key with a fixed seed (ed25519 is deterministic: fixed signatures for golden bytes).
std::string write_fixed_key(const TempDir& dir, const std::string& name, char seed_digit) {
  const std::string path = dir.sub(name);
  std::ofstream(path) << "strata-ed25519-secret-key v1\n" << std::string(64, seed_digit) << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

TEST(SigningKey, GenerateSaveLoadAndPublicKeyFile) {
  TempDir dir;
  const SigningKey key = SigningKey::generate("alice@lab");
  key.save(dir.sub("alice"));
  struct stat st {};
  ASSERT_EQ(::stat(dir.sub("alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const SigningKey loaded = SigningKey::load(dir.sub("alice"));
  EXPECT_EQ(loaded.public_key().bytes, key.public_key().bytes);
  EXPECT_EQ(loaded.public_key().comment, "alice@lab");
  const PublicKey pub = read_public_key(dir.sub("alice.pub"));
  EXPECT_EQ(pub.bytes, key.public_key().bytes);
  EXPECT_EQ(pub.id(), key.public_key().id());
  EXPECT_EQ(key_id_hex(pub.id()).size(), 32u);
  // Never overwritten; a key others may read is refused, as ssh does.
  expect_error([&] { key.save(dir.sub("alice")); }, ErrorCode::kAlreadyExists, {"never overwritten"});
  ::chmod(dir.sub("alice").c_str(), 0644);
  expect_error([&] { SigningKey::load(dir.sub("alice")); }, ErrorCode::kFailedPrecondition, {"0644 are too open", "chmod 600"});
  expect_error([&] { SigningKey::load(dir.sub("alice.pub")); }, ErrorCode::kFailedPrecondition, {"too open"});
  ::chmod(dir.sub("alice.pub").c_str(), 0600);
  expect_error([&] { SigningKey::load(dir.sub("alice.pub")); }, ErrorCode::kInvalidArgument, {"not a Strata signing key"});
  expect_error([&] { read_public_key(dir.sub("alice")); }, ErrorCode::kInvalidArgument, {"not a Strata public key"});
  expect_error([&] { SigningKey::load(dir.sub("missing")); }, ErrorCode::kNotFound, {"strata keygen"});
}

TEST(Signature, GoldenBytesOfAFixedKey) {
  TempDir dir;
  const SigningKey key = SigningKey::load(write_fixed_key(dir, "k", '7'));
  CommitId version;
  for (size_t i = 0; i < version.size(); ++i) version[i] = static_cast<uint8_t>(i);
  const Signature s = sign_version(key, version, 1700000000000);
  const std::string bytes = s.encode();
  // "SSG1", kind 1, the id, an empty tag name (u16 0), the time (i64 LE), the key, the signature.
  ASSERT_EQ(bytes.size(), 4u + 1 + 16 + 2 + 8 + 32 + 64);
  EXPECT_EQ(bytes.substr(0, 5), std::string("SSG1\x01", 5));
  EXPECT_EQ(bytes.substr(21, 2), std::string("\0\0", 2));
  EXPECT_EQ(bytes.substr(23, 8), std::string("\x00\x68\xe5\xcf\x8b\x01\x00\x00", 8));
  EXPECT_EQ(key_id_hex(s.key_id()), key_id_hex(key.public_key().id()));
  EXPECT_EQ(to_hex(hash128(bytes)), "01a6092ab46c74845e2408fcfd5edf57");
  EXPECT_TRUE(s.valid());
  const Signature back = Signature::decode(bytes);
  EXPECT_EQ(back.encode(), bytes);
  const Signature tag = sign_tag(key, "prod", version, 1700000000000);
  EXPECT_EQ(to_hex(hash128(tag.encode())), "d144f5cb9a6c095c2c6018d0d44a326d");
  TrustedKey t;
  t.name = "alice";
  t.key = key.public_key();
  t.added_ms = 1700000000000;
  EXPECT_EQ(to_hex(hash128(t.encode())), "3ef7745f725ecdf39803dd49bbe5b54a");
  EXPECT_EQ(TrustedKey::decode(t.encode()).name, "alice");
}

TEST(Signature, EveryFlippedByteIsBadOrUndecodable) {
  TempDir dir;
  const SigningKey key = SigningKey::load(write_fixed_key(dir, "k", '3'));
  CommitId version{};
  version[0] = 9;
  const std::string bytes = sign_version(key, version, 42).encode();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x20);
    try {
      const Signature s = Signature::decode(flipped);
      EXPECT_EQ(check_signatures({s}, TrustPolicy{{key.public_key()}, {}}, version).status, SignatureStatus::kBad) << i;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorruption) << i;
    }
  }
  expect_error([&] { Signature::decode(bytes.substr(0, 50)); }, ErrorCode::kCorruption, {"truncated"});
  expect_error([&] { Signature::decode(bytes + "x"); }, ErrorCode::kCorruption, {"trailing"});
}

struct SignedLog {
  TempDir dir;
  std::string alice, bob;
  std::vector<CommitId> ids;
  SignedLog() {
    alice = write_fixed_key(dir, "alice", '1');
    bob = write_fixed_key(dir, "bob", '2');
    auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite, LogOptions().signing_key(alice));
    ids = commit_epochs(*log, 2);
  }
};

TEST(SignedVersions, RoundTripTrustAndRevocation) {
  SignedLog t;
  auto log = VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite, LogOptions().signing_key(t.bob));
  const CommitId third = vtest::commit_state(*log, vtest::synthetic_state(3), {t.ids[1]});
  ASSERT_EQ(log->signatures(t.ids[0]).size(), 1u);
  const PublicKey alice = SigningKey::load(t.alice).public_key(), bob = SigningKey::load(t.bob).public_key();
  EXPECT_EQ(log->signatures(t.ids[0])[0].key_id(), alice.id());
  EXPECT_EQ(log->check_version(t.ids[0], log->trust_policy()).status, SignatureStatus::kUntrusted);
  log->trust_key("alice", alice);
  SignatureCheck c = log->check_version(t.ids[0], log->trust_policy());
  EXPECT_EQ(c.status, SignatureStatus::kTrusted);
  EXPECT_EQ(c.signer, "alice");
  EXPECT_EQ(log->check_version(third, log->trust_policy()).status, SignatureStatus::kUntrusted);
  // A second signature by a trusted key makes the version trusted.
  log->sign(t.ids[0]);
  EXPECT_EQ(log->signatures(t.ids[0]).size(), 2u);
  expect_error([&] { log->trust_key("alice2", alice); }, ErrorCode::kAlreadyExists, {"already, as 'alice'"});
  expect_error([&] { log->trust_key("alice", bob); }, ErrorCode::kAlreadyExists, {"named 'alice'"});
  EXPECT_EQ(log->revoke_key("alice").name, "alice");
  EXPECT_EQ(log->check_version(t.ids[1], log->trust_policy()).status, SignatureStatus::kRevoked);
  expect_error([&] { log->revoke_key("alice"); }, ErrorCode::kNotFound, {"no trusted key"});
  // Explicit keys replace the trust list (revocation is the list's).
  const TrustPolicy explicit_alice{{alice}, {}};
  EXPECT_EQ(log->check_version(t.ids[1], explicit_alice).status, SignatureStatus::kTrusted);
  ASSERT_EQ(log->trusted_keys().size(), 1u);
  EXPECT_TRUE(log->trusted_keys()[0].revoked());
}

TEST(SignedVersions, UnsignedFlippedAndMovedSignaturesAreNamed) {
  SignedLog t;
  auto log = VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite);
  const CommitId unsigned_id = vtest::commit_state(*log, vtest::synthetic_state(3), {t.ids[1]});
  const PublicKey alice = SigningKey::load(t.alice).public_key();
  log->trust_key("alice", alice);
  EXPECT_EQ(log->check_version(unsigned_id, log->trust_policy()).status, SignatureStatus::kUnsigned);
  // Rewritten through Strata's own transaction (so the digests agree): only the signature can tell.
  const std::string sig = log->signatures(t.ids[0])[0].encode();
  auto& env = LogInternals::env(*log);
  std::string flipped = sig;
  flipped[sig.size() - 10] = static_cast<char>(flipped[sig.size() - 10] ^ 1);
  env.write([&](LmdbTxn& txn) {
    txn.put(Db::kSignatures, version_signature_key(t.ids[0], alice.id()), flipped);
    txn.put(Db::kSignatures, version_signature_key(unsigned_id, alice.id()), log->signatures(t.ids[1])[0].encode());
  });
  SignatureCheck c = log->check_version(t.ids[0], log->trust_policy());
  EXPECT_EQ(c.status, SignatureStatus::kBad);
  EXPECT_NE(c.problem.find("does not verify"), std::string::npos) << c.problem;
  c = log->check_version(unsigned_id, log->trust_policy());
  EXPECT_EQ(c.status, SignatureStatus::kBad);
  EXPECT_NE(c.problem.find("covers version " + short_hex(t.ids[1]) + ", not this one: it was moved here"), std::string::npos)
      << c.problem;
  EXPECT_EQ(log->check_version(t.ids[1], log->trust_policy()).status, SignatureStatus::kTrusted);
}

TEST(SignedVersions, AByteFlippedInTheFileIsCaughtByTheDigestAndTheSignature) {
  SignedLog t;
  std::string sig;
  {
    auto log = VersionLog::open(t.dir.sub("log"), OpenMode::kReadOnly);
    sig = log->signatures(t.ids[1])[0].encode();
  }
  const std::string data = t.dir.sub("log/versions.lmdb/data.mdb");
  std::ifstream in(data, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t at = file.find(sig);
  ASSERT_NE(at, std::string::npos);
  file[at + sig.size() - 1] = static_cast<char>(file[at + sig.size() - 1] ^ 0x40);
  std::ofstream(data, std::ios::binary | std::ios::trunc).write(file.data(), static_cast<std::streamsize>(file.size()));
  expect_error([&] { VersionLog::open(t.dir.sub("log"), OpenMode::kReadOnly); }, ErrorCode::kCorruption,
               {"'signatures' database does not match its digest"});
  auto log = VersionLog::open(t.dir.sub("log"), OpenMode::kReadOnly, LogOptions().check_digests(false));
  EXPECT_EQ(log->check_version(t.ids[1], TrustPolicy{}).status, SignatureStatus::kBad);
  EXPECT_EQ(log->check_version(t.ids[0], TrustPolicy{}).status, SignatureStatus::kUntrusted);
}

TEST(SignedTags, SignVerifyMoveAndDelete) {
  SignedLog t;
  auto log = VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite, LogOptions().signing_key(t.bob));
  const PublicKey bob = SigningKey::load(t.bob).public_key();
  log->set_tag("prod", t.ids[0], false, /*sign=*/true);
  ASSERT_TRUE(log->tag_signature("prod").has_value());
  EXPECT_EQ(log->check_tag("prod", TrustPolicy{{bob}, {}}).status, SignatureStatus::kTrusted);
  EXPECT_EQ(log->check_tag("prod", log->trust_policy()).status, SignatureStatus::kUntrusted);
  log->set_tag("prod", t.ids[1], /*force=*/true);  // moved without signing: the old signature goes
  EXPECT_FALSE(log->tag_signature("prod").has_value());
  EXPECT_EQ(log->check_tag("prod", TrustPolicy{{bob}, {}}).status, SignatureStatus::kUnsigned);
  log->set_tag("prod", t.ids[1], true, true);
  log->delete_tag("prod");
  EXPECT_FALSE(log->tag_signature("prod").has_value());
  // gc takes the signatures of the versions it deletes with them.
  const CommitId side = vtest::commit_state(*log, vtest::synthetic_state(5), {t.ids[0]}, "side");
  ASSERT_EQ(log->signatures(side).size(), 1u);
  log->delete_branch("side");
  EXPECT_EQ(log->gc().commits_deleted, 1u);
  EXPECT_TRUE(log->signatures(side).empty());
  EXPECT_TRUE(log->verify().ok());
  auto no_key = VersionLog::open(t.dir.sub("log"), OpenMode::kReadOnly);
  expect_error([&] { no_key->check_tag("prod", TrustPolicy{}); }, ErrorCode::kNotFound, {"no tag 'prod'"});
}

TEST(SignedVersions, TheEnvironmentVariableNamesTheKeyOfWriters) {
  SignedLog t;
  ::setenv("STRATA_SIGNING_KEY", t.bob.c_str(), 1);
  auto writer = VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite);
  ::unsetenv("STRATA_SIGNING_KEY");
  ASSERT_NE(writer->signing_key(), nullptr);
  EXPECT_EQ(writer->signing_key()->public_key().bytes, SigningKey::load(t.bob).public_key().bytes);
  writer.reset();
  EXPECT_EQ(VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite)->signing_key(), nullptr);
  ::setenv("STRATA_SIGNING_KEY", t.dir.sub("missing").c_str(), 1);
  expect_error([&] { VersionLog::open(t.dir.sub("log"), OpenMode::kReadWrite); }, ErrorCode::kNotFound, {"signing key"});
  EXPECT_NO_THROW(VersionLog::open(t.dir.sub("log"), OpenMode::kReadOnly));  // readers never sign
  ::unsetenv("STRATA_SIGNING_KEY");
}

}  // namespace
}  // namespace strata::versioning
