// ed25519 keys, signatures and the verdict over them (libsodium).
#include "strata/versioning/signing.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/little_endian.h"

namespace strata::versioning {
namespace {

constexpr char kSecretHeader[] = "strata-ed25519-secret-key v1";
constexpr char kPublicType[] = "strata-ed25519";
constexpr char kSignatureMagic[] = "SSG1";
constexpr char kTrustMagic[] = "STK1";
constexpr char kVersionDomain[] = "strata version signature v1\n";
constexpr char kTagDomain[] = "strata tag signature v1\n";

void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw Error(ErrorCode::kInternal, "libsodium could not initialise", "", "check the system's random source");
}

// sodium_bin2hex writes a NUL after the digits: the buffer is one longer.
template <size_t N>
std::string to_hex_digits(const std::array<uint8_t, N>& bytes) {
  std::string out(2 * N + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), N);
  out.pop_back();
  return out;
}

template <size_t N>
bool from_hex_digits(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  size_t len = 0;
  return sodium_hex2bin(out.data(), N, text.data(), text.size(), nullptr, &len, nullptr) == 0 && len == N;
}

// Reads fields from stored bytes, throwing kCorruption at the first short read.
class Reader {
 public:
  Reader(std::string_view bytes, const char* what) : bytes_(bytes), what_(what) {}
  std::string_view take(size_t n) {
    if (bytes_.size() - pos_ < n) fail("is truncated");
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint16_t u16() { return get_u16(take(2).data()); }
  int64_t i64() { return static_cast<int64_t>(get_u64(take(8).data())); }
  template <size_t N>
  std::array<uint8_t, N> bytes() {
    std::string_view b = take(N);
    std::array<uint8_t, N> out;
    std::memcpy(out.data(), b.data(), N);
    return out;
  }
  void finish() {
    if (pos_ != bytes_.size()) fail("has " + std::to_string(bytes_.size() - pos_) + " trailing bytes");
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(ErrorCode::kCorruption, std::string(what_) + " " + problem, "", "run `strata verify --all`");
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  const char* what_;
};

std::string read_whole(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::kNotFound, std::string("cannot read the ") + what + ": " + std::strerror(errno), path,
                "check the path (`strata keygen FILE` makes FILE and FILE.pub)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return std::string(s);
}

}  // namespace

std::string key_id_hex(const KeyId& id) { return to_hex(id); }  // a KeyId is a Digest128
std::string short_key_id(const KeyId& id) { return key_id_hex(id).substr(0, 16); }

KeyId PublicKey::id() const {
  ensure_sodium();
  KeyId out;
  crypto_generichash(out.data(), out.size(), bytes.data(), bytes.size(), nullptr, 0);
  return out;
}

std::string PublicKey::hex() const { return to_hex_digits(bytes); }

std::string PublicKey::to_text() const {
  return std::string(kPublicType) + " " + hex() + (comment.empty() ? "" : " " + comment) + "\n";
}

PublicKey PublicKey::parse(std::string_view text, const std::string& where) {
  const std::string line = trim(text);
  auto bad = [&](const std::string& problem) -> PublicKey {
    throw Error(ErrorCode::kInvalidArgument, "not a Strata public key: " + problem, where,
                "pass the FILE.pub that `strata keygen FILE` wrote");
  };
  if (line.find('\n') != std::string::npos) return bad("more than one line");
  std::istringstream fields(line);
  std::string type, digits;
  fields >> type >> digits;
  if (type != kPublicType) return bad("it does not start with '" + std::string(kPublicType) + "'");
  PublicKey key;
  if (!from_hex_digits(digits, key.bytes)) return bad("the key is not 64 hex digits");
  std::getline(fields >> std::ws, key.comment);
  return key;
}

PublicKey read_public_key(const std::string& path) { return PublicKey::parse(read_whole(path, "public key"), path); }

SigningKey SigningKey::generate(const std::string& comment) {
  ensure_sodium();
  SigningKey k;
  randombytes_buf(k.seed_.data(), k.seed_.size());
  crypto_sign_seed_keypair(k.public_.bytes.data(), k.secret_.data(), k.seed_.data());
  k.public_.comment = comment;
  return k;
}

SigningKey SigningKey::load(const std::string& path) {
  ensure_sodium();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(ErrorCode::kNotFound, std::string("cannot read the signing key: ") + std::strerror(errno), path,
                "make one with `strata keygen FILE`, or check STRATA_SIGNING_KEY / --sign-key");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Error(ErrorCode::kFailedPrecondition,
                std::string("the signing key's permissions ") + mode + " are too open: others could copy it", path,
                "run `chmod 600 " + path + "`");
  }
  const std::string text = read_whole(path, "signing key");
  std::istringstream lines(text);
  std::string header, digits;
  std::getline(lines, header);
  std::getline(lines, digits);
  SigningKey k;
  if (trim(header) != kSecretHeader || !from_hex_digits(trim(digits), k.seed_))
    throw Error(ErrorCode::kInvalidArgument, "not a Strata signing key", path,
                "pass the secret key FILE that `strata keygen FILE` wrote (not FILE.pub)");
  crypto_sign_seed_keypair(k.public_.bytes.data(), k.secret_.data(), k.seed_.data());
  std::ifstream pub(path + ".pub");
  if (pub) {  // the comment lives in the .pub file; a key without one signs all the same
    std::string line;
    std::getline(pub, line);
    try {
      const PublicKey p = PublicKey::parse(line, path + ".pub");
      if (p.bytes == k.public_.bytes) k.public_.comment = p.comment;
    } catch (const Error&) {
    }
  }
  return k;
}

void SigningKey::save(const std::string& path) const {
  auto write_file = [](const std::string& file, const std::string& text, mode_t mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
      const int err = errno;
      throw Error(err == EEXIST ? ErrorCode::kAlreadyExists : ErrorCode::kIOError,
                  std::string("cannot create the key file: ") + std::strerror(err), file,
                  err == EEXIST ? "choose another name; an existing key is never overwritten" : "check the directory");
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw Error(ErrorCode::kIOError, "cannot write the key file", file);
  };
  if (::access((path + ".pub").c_str(), F_OK) == 0)
    throw Error(ErrorCode::kAlreadyExists, "the public key file exists already", path + ".pub",
                "choose another name; an existing key is never overwritten");
  write_file(path, std::string(kSecretHeader) + "\n" + to_hex_digits(seed_) + "\n", 0600);
  write_file(path + ".pub", public_.to_text(), 0644);
}

std::array<uint8_t, 64> SigningKey::sign(std::string_view message) const {
  std::array<uint8_t, 64> sig;
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_.data());
  return sig;
}

// ---- signatures ----

KeyId Signature::key_id() const {
  PublicKey k;
  k.bytes = public_key;
  return k.id();
}

std::string Signature::signed_message() const {
  std::string m = kind == Kind::kTag ? kTagDomain : kVersionDomain;
  if (kind == Kind::kTag) {
    put_u16(m, static_cast<uint16_t>(tag.size()));
    m += tag;
  }
  m += as_bytes(version);
  const KeyId id = key_id();
  m.append(reinterpret_cast<const char*>(id.data()), id.size());
  put_u64(m, static_cast<uint64_t>(time_ms));
  return m;
}

bool Signature::valid() const {
  ensure_sodium();
  const std::string m = signed_message();
  return crypto_sign_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                                     public_key.data()) == 0;
}

std::string Signature::encode() const {
  std::string out = kSignatureMagic;
  out.push_back(static_cast<char>(kind));
  out += as_bytes(version);
  put_u16(out, static_cast<uint16_t>(tag.size()));
  out += tag;
  put_u64(out, static_cast<uint64_t>(time_ms));
  out.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  out.append(reinterpret_cast<const char*>(signature.data()), signature.size());
  return out;
}

Signature Signature::decode(std::string_view bytes) {
  Reader in(bytes, "signature");
  if (in.take(4) != kSignatureMagic) in.fail("does not start with " + std::string(kSignatureMagic));
  Signature s;
  const uint8_t kind = static_cast<uint8_t>(in.take(1)[0]);
  if (kind != 1 && kind != 2) in.fail("has unknown kind " + std::to_string(kind));
  s.kind = static_cast<Kind>(kind);
  s.version = in.bytes<16>();
  s.tag = std::string(in.take(in.u16()));
  if (s.kind == Kind::kVersion && !s.tag.empty()) in.fail("of a version names a tag");
  if (s.kind == Kind::kTag && s.tag.empty()) in.fail("of a tag has no tag name");
  s.time_ms = in.i64();
  s.public_key = in.bytes<32>();
  s.signature = in.bytes<64>();
  in.finish();
  return s;
}

Signature sign_version(const SigningKey& key, const CommitId& version, int64_t time_ms) {
  Signature s;
  s.kind = Signature::Kind::kVersion;
  s.version = version;
  s.time_ms = time_ms;
  s.public_key = key.public_key().bytes;
  s.signature = key.sign(s.signed_message());
  return s;
}

Signature sign_tag(const SigningKey& key, const std::string& tag, const CommitId& target, int64_t time_ms) {
  if (tag.empty() || tag.size() > 0xFFFF) throw_invalid("a signed tag needs a name of 1 to 65535 bytes");
  Signature s;
  s.kind = Signature::Kind::kTag;
  s.tag = tag;
  s.version = target;
  s.time_ms = time_ms;
  s.public_key = key.public_key().bytes;
  s.signature = key.sign(s.signed_message());
  return s;
}

// ---- trust ----

std::string TrustedKey::encode() const {
  std::string out = kTrustMagic;
  out.append(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size());
  put_u64(out, static_cast<uint64_t>(added_ms));
  put_u64(out, static_cast<uint64_t>(revoked_ms));
  put_u16(out, static_cast<uint16_t>(name.size()));
  out += name;
  return out;
}

TrustedKey TrustedKey::decode(std::string_view bytes) {
  Reader in(bytes, "trusted key");
  if (in.take(4) != kTrustMagic) in.fail("does not start with " + std::string(kTrustMagic));
  TrustedKey t;
  t.key.bytes = in.bytes<32>();
  t.added_ms = in.i64();
  t.revoked_ms = in.i64();
  t.name = std::string(in.take(in.u16()));
  in.finish();
  return t;
}

const char* signature_status_name(SignatureStatus s) {
  switch (s) {
    case SignatureStatus::kUnsigned:
      return "unsigned";
    case SignatureStatus::kBad:
      return "bad";
    case SignatureStatus::kUntrusted:
      return "untrusted";
    case SignatureStatus::kRevoked:
      return "revoked";
    case SignatureStatus::kTrusted:
      return "trusted";
  }
  return "?";
}

TrustPolicy TrustPolicy::from_files(const std::vector<std::string>& pub_files, std::vector<TrustedKey> log_keys) {
  TrustPolicy p;
  for (const std::string& f : pub_files) p.keys.push_back(read_public_key(f));
  p.log_keys = std::move(log_keys);
  return p;
}

SignatureCheck check_signatures(const std::vector<Signature>& signatures, const TrustPolicy& policy, const CommitId& version,
                                const std::string& tag) {
  SignatureCheck best;
  auto rank = [](SignatureStatus s) { return static_cast<int>(s); };
  for (const Signature& s : signatures) {
    SignatureCheck c;
    c.key_id = s.key_id();
    c.time_ms = s.time_ms;
    c.signer = short_key_id(c.key_id);
    const bool moved =
        s.version != version || s.tag != tag || s.kind != (tag.empty() ? Signature::Kind::kVersion : Signature::Kind::kTag);
    if (moved) {
      c.status = SignatureStatus::kBad;
      c.problem = "a signature by key " + c.signer + " covers " + (s.tag.empty() ? "" : "tag '" + s.tag + "' at ") + "version " +
                  short_hex(s.version) + ", not this one: it was moved here";
      return c;
    }
    if (!s.valid()) {
      c.status = SignatureStatus::kBad;
      c.problem = "the signature by key " + c.signer + " does not verify: the signed bytes were altered";
      return c;
    }
    c.status = SignatureStatus::kUntrusted;
    if (!policy.keys.empty()) {
      for (const PublicKey& k : policy.keys)
        if (k.bytes == s.public_key) c.status = SignatureStatus::kTrusted, c.signer = k.comment.empty() ? c.signer : k.comment;
    } else {
      for (const TrustedKey& t : policy.log_keys)
        if (t.key.bytes == s.public_key) {
          c.signer = t.name;
          c.status = t.revoked() ? SignatureStatus::kRevoked : SignatureStatus::kTrusted;
        }
    }
    if (rank(c.status) > rank(best.status) || best.status == SignatureStatus::kUnsigned) best = c;
  }
  return best;
}

}  // namespace strata::versioning
