// LayoutCheck: walks bytes laid out as cereal's portable binary archive (a 1-byte endianness
// marker, little-endian scalars, a uint64 size before every string, vector and map) without
// allocating, and refuses a size that the remaining bytes cannot hold (every element takes at
// least one byte). Decoders run it over untrusted bytes before cereal, which would otherwise
// allocate whatever a damaged length asks for. Internal to Strata.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata {

class LayoutCheck {
 public:
  // The first byte must be 1 (little-endian data, all Strata writes): cereal would byte-swap
  // every field after any other value, lengths included.
  explicit LayoutCheck(std::string_view bytes) : in_(bytes) {
    if (bytes.empty() || bytes[0] != 1) throw std::runtime_error("the first byte is not 1 (little-endian)");
    skip(1);
  }

  void skip(uint64_t n) {
    if (n > in_.size() - pos_) throw std::runtime_error("truncated at byte " + std::to_string(pos_));
    pos_ += n;
  }
  uint64_t u64() { return scalar<uint64_t>(); }
  uint32_t u32() { return scalar<uint32_t>(); }
  // A container's element count.
  uint64_t size() {
    uint64_t n = u64();
    if (n > in_.size() - pos_)
      throw std::runtime_error("a length of " + std::to_string(n) + " at byte " + std::to_string(pos_ - 8) + " exceeds the " +
                               std::to_string(in_.size() - pos_) + " bytes left");
    return n;
  }
  void string() { skip(size()); }
  // A vector of fixed-size elements (int64: 8, a 16-byte id: 16).
  void fixed_vector(uint64_t element_bytes) {
    uint64_t n = size();
    if (n > (in_.size() - pos_) / element_bytes) throw std::runtime_error("a vector runs past the end");
    skip(n * element_bytes);
  }
  // A vector or map whose elements `each` walks.
  template <class F>
  void repeat(F&& each) {
    for (uint64_t n = size(); n > 0; --n) each();
  }

 private:
  template <class T>
  T scalar() {
    skip(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_ - sizeof(T), sizeof(T));
    return v;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace strata
