// Adaptive binary range coder (the LZMA construction) and a plain bit packer, used by the float
// codec in chunk_codec.cc. Internal header: not part of the versioning API.
//
// Probabilities are 12-bit estimates of "bit is 0", adapted by a shift of 4 after every coded
// bit: fast enough adaptation for 1 MiB chunks (256 Ki values) with a few thousand contexts.
// The decoder never reads past its input: past the end it sees zero bytes, which yields garbage
// that the chunk re-hash rejects.
//
// Speed: the encoder runs behind training on every snapshot and the decoder on every restore,
// so their per-bit paths are tuned (no branch on the coded bit, state kept in registers, output
// through a raw pointer). Each trick is written as an identity with the plain LZMA arithmetic:
// the bytes are exactly LZMA's, and logs written before decode as before.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace strata::versioning::rc {

constexpr int kProbBits = 12;
constexpr uint16_t kProbInit = 1u << (kProbBits - 1);
constexpr int kMoveBits = 4;
constexpr uint32_t kTop = 1u << 24;

// The adapted probability after coding a bit, given as a mask (0: bit 0, all ones: bit 1):
// prob + ((4096 - prob) >> 4) == prob - ((prob - 4081) >> 4) with an arithmetic (flooring)
// shift, and prob - (prob >> 4) == prob - ((prob - 0) >> 4): one expression whose offset depends
// on the bit, with fewer instructions than selecting between the two updates. Shared by the
// encoder and the decoder, which must adapt identically.
[[gnu::always_inline]] inline uint16_t adapted(uint32_t p, uint32_t mask) {
  constexpr uint32_t kOffset0 = (1u << kProbBits) - (1u << kMoveBits) + 1;
  return static_cast<uint16_t>(p - static_cast<uint32_t>(static_cast<int32_t>(p - (~mask & kOffset0)) >> kMoveBits));
}

// Grows `out` to at least `min_size` bytes (doubling) and returns its data. Out of line: its
// callers' hot loops then contain no call that could write memory the compiler cannot see
// through (as std::string::push_back's growth path can), which would force their state out of
// registers around every byte.
[[gnu::noinline]] inline uint8_t* grow_buffer(std::string* out, size_t min_size) {
  out->resize(std::max(min_size, 2 * out->size()));
  return reinterpret_cast<uint8_t*>(out->data());
}

// Appends bytes to a std::string through a raw pointer into spare room made up front (the
// string's size runs ahead of the bytes written until finish() trims it).
class ByteSink {
 public:
  // Appends to `out`; room for `expected` bytes is made up front (more is made on demand).
  ByteSink(std::string* out, size_t expected) : out_(out) {
    const size_t start = out->size();
    uint8_t* data = grow_buffer(out, start + std::max<size_t>(expected, 64));
    p_ = data + start;
    end_ = data + out->size();
  }
  ByteSink(const ByteSink&) = delete;
  ByteSink& operator=(const ByteSink&) = delete;
  ByteSink(ByteSink&&) = default;  // coding loops move their coder into a local and back
  ByteSink& operator=(ByteSink&&) = default;

  [[gnu::always_inline]] void put(uint8_t byte) {
    reserve(1);
    *p_++ = byte;
  }
  [[gnu::always_inline]] void put_u32(uint32_t v) {  // little-endian
    reserve(4);
    std::memcpy(p_, &v, 4);  // the format is little-endian, as is every platform we build for
    p_ += 4;
  }
  // Makes room for `count` more bytes and returns where they go; the caller writes them and
  // passes the end to advance_to().
  [[gnu::always_inline]] uint8_t* reserve(size_t count) {
    if (__builtin_expect(static_cast<size_t>(end_ - p_) < count, 0)) {
      const size_t used = size();
      uint8_t* data = grow_buffer(out_, used + count);
      p_ = data + used;
      end_ = data + out_->size();
    }
    return p_;
  }
  size_t room() const { return static_cast<size_t>(end_ - p_); }
  uint8_t* position() const { return p_; }
  void advance_to(uint8_t* p) { p_ = p; }
  // The size `out` will have after finish().
  size_t size() const { return static_cast<size_t>(p_ - reinterpret_cast<const uint8_t*>(out_->data())); }
  void finish() { out_->resize(size()); }

 private:
  std::string* out_;
  uint8_t* p_;
  uint8_t* end_;
};

class Encoder {
 public:
  // Appends to `out`; `expected` is the likely output size (room is made for it up front).
  explicit Encoder(std::string* out, size_t expected = 0) : bytes_(std::make_unique<Bytes>(out, expected)) {}

  [[gnu::always_inline]] void encode(uint16_t& prob, uint32_t bit) { encode_mask(prob, 0u - bit); }

  // encode() with the bit given as a mask: 0 for a 0 bit, all ones for a 1 bit.
  // The plain (LZMA) arithmetic, which this computes exactly:
  //   bound = (range >> 12) * prob
  //   bit 0: range = bound,                       prob += (4096 - prob) >> 4
  //   bit 1: range = range - bound, low += bound, prob -= prob >> 4
  // No branch on the bit: the bits are data (the mantissa bits are close to random) and a
  // branch on them mispredicts often; both outcomes are computed and one is selected.
  [[gnu::always_inline]] void encode_mask(uint16_t& prob, uint32_t mask) {
    const uint32_t p = prob;
    const uint32_t bound = (range_ >> kProbBits) * p;
    low_ += bound & mask;
    range_ = mask ? range_ - bound : bound;
    prob = adapted(p, mask);
    while (range_ < kTop) {
      range_ <<= 8;
      low_ = bytes_->shift_low(low_);
    }
  }

  // Codes the `bits` low bits of `value`, most significant first, in a bit tree of 2^bits nodes.
  // The node above bit i is the value's bits above i under a leading one:
  // (value | 1 << bits) >> (i + 1). With the bit count known at compile time, fully unrolled.
  template <int kBits>
  [[gnu::always_inline]] void encode_tree(uint16_t* probs, uint32_t value) {
    const uint32_t v = value | (1u << kBits);
#pragma GCC unroll 8
    for (int i = kBits - 1; i >= 0; --i) {
      // Bit i of v as a mask: shifted up to the sign bit, then spread by an arithmetic shift.
      encode_mask(probs[v >> (i + 1)], static_cast<uint32_t>(static_cast<int32_t>(v << (31 - i)) >> 31));
    }
  }

  // The size `out` will have after finish().
  size_t finished_size() const { return bytes_->finished_size(low_); }

  void finish() {
    for (int i = 0; i < 5; ++i) low_ = bytes_->shift_low(low_);
    bytes_->sink.finish();
  }

 private:
  // The byte side: LZMA's carry handling (the last byte written and a run of 0xFF after it are
  // held back while a carry can still reach them) and the output buffer. It runs once per
  // output byte, not per bit, so it is kept out of line and in an object of its own: the coding
  // loops then hold only low and range in registers (inlined, its fields pushed the range out
  // to the stack in the fields loop).
  struct Bytes {
    Bytes(std::string* out, size_t expected) : sink(out, expected) {}

    [[gnu::noinline]] uint64_t shift_low(uint64_t low) {
      if (static_cast<uint32_t>(low) < 0xFF000000u || (low >> 32) != 0) {
        // Writes the held-back bytes (with the carry). Room is checked once, and growing is a
        // separate call so that this common path needs no stack frame.
        uint64_t count = cache_size;
        if (__builtin_expect(sink.room() < count, 0)) return shift_low_growing(low);
        uint8_t carry = static_cast<uint8_t>(low >> 32);
        uint8_t temp = cache;
        uint8_t* p = sink.position();
        do {
          *p++ = static_cast<uint8_t>(temp + carry);
          temp = 0xFF;
        } while (--count != 0);
        sink.advance_to(p);
        cache = static_cast<uint8_t>(low >> 24);
        cache_size = 0;
      }
      ++cache_size;
      return (low & 0x00FFFFFFu) << 8;
    }
    [[gnu::noinline]] uint64_t shift_low_growing(uint64_t low) {
      sink.reserve(cache_size);
      return shift_low(low);
    }

    // shift_low()'s byte count over finish(), without writing.
    size_t finished_size(uint64_t low) const {
      size_t size = sink.size();
      uint64_t pending = cache_size;
      for (int i = 0; i < 5; ++i) {
        if (static_cast<uint32_t>(low) < 0xFF000000u || (low >> 32) != 0) {
          size += pending;
          pending = 0;
        }
        ++pending;
        low = (low & 0x00FFFFFFu) << 8;
      }
      return size;
    }

    ByteSink sink;
    uint8_t cache = 0;
    uint64_t cache_size = 1;
  };

  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  std::unique_ptr<Bytes> bytes_;
};

class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : p_(data), end_(data + size) {
    for (int i = 0; i < 5; ++i) code_ = (code_ << 8) | next();
  }

  // The plain (LZMA) arithmetic, computed exactly:
  //   bound = (range >> 12) * prob
  //   code < bound:  bit 0, range = bound,                        prob += (4096 - prob) >> 4
  //   otherwise:     bit 1, range = range - bound, code -= bound, prob -= prob >> 4
  // without a branch on the bit, as in Encoder::encode_mask (the probability update is the
  // same function, adapted()).
  [[gnu::always_inline]] uint32_t decode(uint16_t& prob) { return decode(prob, prob); }

  // decode() with the probability's value `p` already loaded from `prob`.
  [[gnu::always_inline]] uint32_t decode(uint16_t& prob, uint32_t p) {
    const uint32_t bound = (range_ >> kProbBits) * p;
    const uint32_t bit = code_ >= bound;
    const uint32_t mask = 0u - bit;
    code_ -= bound & mask;
    range_ = bit ? range_ - bound : bound;
    prob = adapted(p, mask);
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
  // decode_tree for a bit count known at compile time: fully unrolled, and the two children's
  // probabilities are loaded before the bit that picks one is known. Loading the chosen one
  // after would put a memory load on the path from bit to bit (the tree's serial dependency).
  template <int kBits>
  [[gnu::always_inline]] uint32_t decode_tree(uint16_t* probs) {
    uint32_t node = 1;
    uint32_t p = probs[1];
#pragma GCC unroll 8
    for (int i = 0; i < kBits; ++i) {
      uint32_t p0 = 0, p1 = 0;
      if (i + 1 < kBits) {  // the last level has no children (they would lie past the tree)
        p0 = probs[2 * node];
        p1 = probs[2 * node + 1];
      }
      const uint32_t bit = decode(probs[node], p);
      node = (node << 1) | bit;
      p = p0 ^ ((p0 ^ p1) & (0u - bit));  // bit ? p1 : p0 (a mask: GCC makes the ?: a branch)
    }
    return node - (1u << kBits);
  }

 private:
  uint32_t next() { return p_ < end_ ? *p_++ : 0u; }

  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t code_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
};

// Little-endian bit packer for the near-random low bits that no model predicts.
// Bytes leave the accumulator 4 at a time: the same byte sequence as one at a time.
class BitWriter {
 public:
  // Appends to `out`; `expected` is the likely output size (room is made for it up front).
  explicit BitWriter(std::string* out, size_t expected = 0) : sink_(out, expected) {}
  // REQUIRES: count <= 32.
  [[gnu::always_inline]] void put(uint64_t value, int count) {
    // fill_ < 32 here, so fill_ + count < 64: the accumulator never overflows.
    acc_ |= (value & ((uint64_t{1} << count) - 1)) << fill_;
    fill_ += count;
    if (fill_ >= 32) {
      sink_.put_u32(static_cast<uint32_t>(acc_));
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  // The size `out` will have after finish().
  size_t finished_size() const { return sink_.size() + static_cast<size_t>(fill_ + 7) / 8; }
  void finish() {
    for (; fill_ > 0; fill_ -= 8) {
      sink_.put(static_cast<uint8_t>(acc_));
      acc_ >>= 8;
    }
    acc_ = 0;
    fill_ = 0;
    sink_.finish();
  }

 private:
  ByteSink sink_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  // REQUIRES: count <= 32.
  uint64_t get(int count) {
    if (count == 0) return 0;
    if (fill_ < count && end_ - p_ >= 4) {  // 4 bytes at once (fill_ < 32: they fit)
      uint32_t word;
      std::memcpy(&word, p_, 4);  // little-endian, as the format
      acc_ |= uint64_t{word} << fill_;
      fill_ += 32;
      p_ += 4;
    }
    while (fill_ < count) {  // near the end: byte by byte, zeros past it
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
