// Content ids of the version log: 16-byte XXH3-128 digests (docs/formats.md "Ids").
//
// A ChunkId is the digest of a chunk's decoded bytes, a CommitId the digest of an encoded commit
// record. Both are stored as XXH128's canonical (big-endian) bytes, so the hex string users see
// is the byte string in order and sorts like the keys of the `chunks` and `commits` databases.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::versioning {

using Digest128 = std::array<uint8_t, 16>;
using CommitId = Digest128;
using ChunkId = Digest128;

// XXH3-128 of a byte range, canonical byte order.
Digest128 hash128(const void* data, size_t size);
inline Digest128 hash128(std::string_view bytes) { return hash128(bytes.data(), bytes.size()); }

std::string to_hex(const Digest128& id);  // 32 lowercase hex digits
std::string short_hex(const Digest128& id, size_t digits = 8);
// Parses exactly 32 hex digits; nullopt otherwise.
std::optional<Digest128> digest_from_hex(std::string_view hex);
bool is_hex(std::string_view s);

inline std::string_view as_bytes(const Digest128& id) { return {reinterpret_cast<const char*>(id.data()), id.size()}; }
// REQUIRES: bytes.size() == 16 (callers check lengths of values read from disk first).
Digest128 digest_from_bytes(std::string_view bytes);

}  // namespace strata::versioning
