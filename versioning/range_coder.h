// Adaptive binary range coder (the LZMA construction) and a plain bit packer, used by the float
// codec in chunk_codec.cc. Internal header: not part of the versioning API.
//
// Probabilities are 12-bit estimates of "bit is 0", adapted by a shift of 4 after every coded
// bit: fast enough adaptation for 1 MiB chunks (256 Ki values) with a few thousand contexts.
// The decoder never reads past its input: past the end it sees zero bytes, which yields garbage
// that the chunk re-hash rejects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata::versioning::rc {

constexpr int kProbBits = 12;
constexpr uint16_t kProbInit = 1u << (kProbBits - 1);
constexpr int kMoveBits = 4;
constexpr uint32_t kTop = 1u << 24;

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}

  void encode(uint16_t& prob, uint32_t bit) {
    uint32_t bound = (range_ >> kProbBits) * prob;
    if (bit == 0) {
      range_ = bound;
      prob = static_cast<uint16_t>(prob + (((1u << kProbBits) - prob) >> kMoveBits));
    } else {
      low_ += bound;
      range_ -= bound;
      prob = static_cast<uint16_t>(prob - (prob >> kMoveBits));
    }
    while (range_ < kTop) {
      range_ <<= 8;
      shift_low();
    }
  }

  // Codes the `bits` low bits of `value`, most significant first, in a bit tree of 2^bits nodes.
  void encode_tree(uint16_t* probs, int bits, uint32_t value) {
    uint32_t node = 1;
    for (int i = bits - 1; i >= 0; --i) {
      uint32_t bit = (value >> i) & 1;
      encode(probs[node], bit);
      node = (node << 1) | bit;
    }
  }

  void finish() {
    for (int i = 0; i < 5; ++i) shift_low();
  }

 private:
  void shift_low() {
    if (static_cast<uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
      uint8_t carry = static_cast<uint8_t>(low_ >> 32);
      uint8_t temp = cache_;
      do {
        out_->push_back(static_cast<char>(static_cast<uint8_t>(temp + carry)));
        temp = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = static_cast<uint8_t>(low_ >> 24);
    }
    ++cache_size_;
    low_ = (low_ & 0x00FFFFFFu) << 8;
  }

  std::string* out_;
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
};

class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : p_(data), end_(data + size) {
    for (int i = 0; i < 5; ++i) code_ = (code_ << 8) | next();
  }

  uint32_t decode(uint16_t& prob) {
    uint32_t bound = (range_ >> kProbBits) * prob;
    uint32_t bit;
    if (code_ < bound) {
      range_ = bound;
      prob = static_cast<uint16_t>(prob + (((1u << kProbBits) - prob) >> kMoveBits));
      bit = 0;
    } else {
      code_ -= bound;
      range_ -= bound;
      prob = static_cast<uint16_t>(prob - (prob >> kMoveBits));
      bit = 1;
    }
    while (range_ < kTop) {
      range_ <<= 8;
      code_ = (code_ << 8) | next();
    }
    return bit;
  }

  uint32_t decode_tree(uint16_t* probs, int bits) {
    uint32_t node = 1;
    for (int i = 0; i < bits; ++i) node = (node << 1) | decode(probs[node]);
    return node - (1u << bits);
  }

 private:
  uint32_t next() { return p_ < end_ ? *p_++ : 0u; }

  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t code_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
};

// Little-endian bit packer for the near-random low bits that no model predicts.
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  // REQUIRES: count <= 32.
  void put(uint64_t value, int count) {
    if (count == 0) return;
    acc_ |= (value & ((uint64_t{1} << count) - 1)) << fill_;
    fill_ += count;
    while (fill_ >= 8) {
      out_->push_back(static_cast<char>(acc_ & 0xFF));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void finish() {
    if (fill_ > 0) out_->push_back(static_cast<char>(acc_ & 0xFF));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  // REQUIRES: count <= 32.
  uint64_t get(int count) {
    if (count == 0) return 0;
    while (fill_ < count) {
      uint64_t byte = p_ < end_ ? *p_++ : 0u;
      acc_ |= byte << fill_;
      fill_ += 8;
    }
    uint64_t v = acc_ & ((uint64_t{1} << count) - 1);
    acc_ >>= count;
    fill_ -= count;
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

}  // namespace strata::versioning::rc
