// Signatures, trusted-key entries and public key files: what the log and a transfer hand to the
// signature decoders (versioning/signing.h).
#include "strata/versioning/signing.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::versioning;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] {
    // What decodes re-encodes to the same bytes (the layout has one encoding), and a signature
    // whose bytes were not made by the key is never valid.
    const Signature s = Signature::decode(bytes);
    if (s.encode() != bytes) std::abort();
    s.valid();
    check_signatures({s}, TrustPolicy{}, s.version, s.tag);
  });
  strata::fuzz::expect_clean([&] {
    const TrustedKey t = TrustedKey::decode(bytes);
    if (t.encode() != bytes) std::abort();
  });
  strata::fuzz::expect_clean([&] { PublicKey::parse(bytes, "fuzz"); });
  return 0;
}
