// CRC32C (Castagnoli) and the masking TFRecord applies to it (docs/wire-formats.md section 1).
//
// Pure functions, thread-safe. The table is built at compile time, so there is no static
// initialisation order to worry about.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::summary {

// Extends a running CRC32C (0 for the start) with n bytes; crc32c_extend(0, "123456789", 9)
// is 0xE3069283.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);
inline uint32_t crc32c(const void* data, size_t n) { return crc32c_extend(0, data, n); }

// TFRecord stores CRCs masked (rotate right 15, add a constant) because a CRC computed over
// bytes that themselves contain CRCs is weak.
constexpr uint32_t kCrcMaskDelta = 0xA282EAD8u;
inline uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta; }
inline uint32_t unmask_crc(uint32_t masked) {
  uint32_t rot = masked - kCrcMaskDelta;
  return (rot >> 17) | (rot << 15);
}
inline uint32_t masked_crc32c(const void* data, size_t n) { return mask_crc(crc32c(data, n)); }

}  // namespace strata::summary
