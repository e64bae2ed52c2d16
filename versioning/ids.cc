#include "strata/versioning/ids.h"

#include <xxhash.h>

#include <cstring>

#include "strata/framework/core/error.h"

namespace strata::versioning {

Digest128 hash128(const void* data, size_t size) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  Digest128 id;
  std::memcpy(id.data(), canonical.digest, id.size());
  return id;
}

std::string to_hex(const Digest128& id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(32, '0');
  for (size_t i = 0; i < id.size(); ++i) {
    s[2 * i] = kDigits[id[i] >> 4];
    s[2 * i + 1] = kDigits[id[i] & 15];
  }
  return s;
}

std::string short_hex(const Digest128& id, size_t digits) { return to_hex(id).substr(0, digits); }

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

std::optional<Digest128> digest_from_hex(std::string_view hex) {
  if (hex.size() != 32 || !is_hex(hex)) return std::nullopt;
  auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    return static_cast<uint8_t>(c - 'A' + 10);
  };
  Digest128 id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return id;
}

Digest128 digest_from_bytes(std::string_view bytes) {
  STRATA_CHECK(bytes.size() == 16);
  Digest128 id;
  std::memcpy(id.data(), bytes.data(), id.size());
  return id;
}

}  // namespace strata::versioning
