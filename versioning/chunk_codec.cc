// Chunk codec; the byte layout is specified in docs/formats.md "Chunk values".
#include "strata/versioning/chunk_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/little_endian.h"
#include "strata/versioning/internal/range_coder.h"

namespace strata::versioning {
namespace {

constexpr size_t kHeaderBytes = 8;
constexpr uint8_t kFlagDelta = 1;

// Mode 1 (zigzag residual, sign as a raw bit) is no longer written; it stays readable so logs
// written before mode 2 existed still restore.
enum : uint8_t { kModeFields = 0, kModeResidual = 1, kModeSignedResidual = 2 };
enum : uint8_t { kPlaneRaw = 0, kPlaneZstd = 1 };

// Model sizes (docs/formats.md "Float model"). Changing any of them is a format break.
constexpr int kResidualPrevBuckets = 9;  // previous value's residual bit length >> 2, 0..8
constexpr uint32_t kMaxResidualBits = 33;
constexpr uint32_t kMaxMagnitudeBits = 32;  // mode 2 codes |r| < 2^32
constexpr int kSignContexts = 3;            // previous value's residual: zero, up, down
// Chunks above twice this many values choose their float-model mode on their first values only.
constexpr size_t kModeSampleValues = 16384;

// The residual modes' contexts, one definition for their encoders and decoders. The bit length
// of a value's residual: its base's exponent (sign dropped, byte 3 of the bits) and the previous
// value's bit length in buckets of 4; a tree of 64 nodes each.
constexpr size_t kLengthModelSize = 128 * kResidualPrevBuckets * 64;
uint32_t length_model(uint32_t base_bits, uint32_t prev_nb) {
  return (((base_bits >> 24) & 0x7F) * kResidualPrevBuckets + (prev_nb >> 2)) * 64;
}
// Mode 2's sign: the previous value's direction (kSignContexts) and this residual's bit length.
constexpr size_t kSignModelSize = kSignContexts * (kMaxMagnitudeBits + 1);
uint32_t sign_model(uint32_t prev_sign, uint32_t nb) { return prev_sign * (kMaxMagnitudeBits + 1) + nb; }

ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  return ctx.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  return ctx.get();
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // the format is little-endian, as is every platform we build for
  return v;
}
void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Bounds-checked reader over a payload; every overrun is corruption.
class Cursor {
 public:
  Cursor(std::string_view s) : p_(reinterpret_cast<const uint8_t*>(s.data())), n_(s.size()) {}
  uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  uint32_t u32() {
    need(4);
    uint32_t v = load_u32(p_ + pos_);
    pos_ += 4;
    return v;
  }
  std::string_view bytes(size_t count) {
    need(count);
    std::string_view v(reinterpret_cast<const char*>(p_ + pos_), count);
    pos_ += count;
    return v;
  }
  bool done() const { return pos_ == n_; }

 private:
  void need(size_t count) {
    if (count > n_ - pos_) throw_corruption("chunk payload truncated");
  }
  const uint8_t* p_;
  size_t n_, pos_ = 0;
};

std::string zstd_compress(const uint8_t* data, size_t size, int level) {
  std::string out(ZSTD_compressBound(size), '\0');
  size_t n = ZSTD_compressCCtx(thread_cctx(), out.data(), out.size(), data, size, level);
  if (ZSTD_isError(n)) throw Error(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

void zstd_decompress(std::string_view in, uint8_t* out, size_t size) {
  size_t n = ZSTD_decompressDCtx(thread_dctx(), out, size, in.data(), in.size());
  if (ZSTD_isError(n)) throw_corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != size) throw_corruption("zstd frame decodes to " + std::to_string(n) + " bytes, expected " + std::to_string(size));
}

// A byte plane stored zstd-compressed when that is smaller, raw otherwise. `z` is scratch room
// for zstd's output, ZSTD_compressBound(n) bytes.
void put_plane(std::string& out, const uint8_t* plane, size_t n, int level, uint8_t* z) {
  size_t zn = ZSTD_compressCCtx(thread_cctx(), z, ZSTD_compressBound(n), plane, n, level);
  if (ZSTD_isError(zn)) throw Error(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(zn));
  const bool compressed = zn < n;
  out.push_back(static_cast<char>(compressed ? kPlaneZstd : kPlaneRaw));
  put_u32(out, static_cast<uint32_t>(compressed ? zn : n));
  out.append(reinterpret_cast<const char*>(compressed ? z : plane), compressed ? zn : n);
}

void get_plane(Cursor& in, uint8_t* plane, size_t n) {
  uint8_t method = in.u8();
  std::string_view bytes = in.bytes(in.u32());
  if (method == kPlaneRaw) {
    if (bytes.size() != n) throw_corruption("raw plane has the wrong size");
    std::memcpy(plane, bytes.data(), n);
  } else if (method == kPlaneZstd) {
    zstd_decompress(bytes, plane, n);
  } else {
    throw_corruption("unknown plane method " + std::to_string(method));
  }
}

// ---- float model: fields mode --------------------------------------------------------------
// Byte 3 (sign + 7 exponent bits) is coded in a bit tree whose context is byte 3 of the base
// value (delta) or of the previous value (keyframe): a value's sign and magnitude are predicted
// by its parent's, and by its neighbour's along rows (Adam's v, dead inputs). Byte 2 (exponent
// LSB + 7 mantissa bits) is coded in the context of byte 3, which captures the skew of the
// exponent's LSB. Bytes 1 and 0 are near-random and go to planes.
//
// The range-coded part of mode 0 (bytes 3 and 2 of every value), coded incrementally: the mode
// choice of large chunks codes a sample of the first values and then continues the winner
// rather than starting over (same bytes as one pass).
class FieldsCoder {
 public:
  // `base` (the context of byte 3) may be null: keyframe, the previous value is the context.
  FieldsCoder(const uint8_t* base, size_t expected_values)
      : models_(2 * 256 * 256, rc::kProbInit), enc_(&coded_, expected_values), base_(base) {}
  FieldsCoder(const FieldsCoder&) = delete;
  FieldsCoder& operator=(const FieldsCoder&) = delete;

  // Codes values [begin, end) of `raw`; calls must follow each other from 0.
  void code(const uint8_t* raw, size_t begin, size_t end) {
    uint16_t* const t3 = models_.data();  // one allocation: one pointer live in the loop
    uint16_t* const t2 = t3 + 256 * 256;
    const uint8_t* const base = base_;
    uint32_t prev3 = prev3_;
    // The coder's state in a local for the loop: as a member it would be stored back to memory
    // after every bit (the compiler cannot tell it from the probability stores).
    rc::Encoder enc = std::move(enc_);
    for (size_t i = begin; i < end; ++i) {
      uint32_t u = load_u32(raw + 4 * i);
      uint32_t b3 = u >> 24, b2 = (u >> 16) & 0xFF;
      uint32_t c3 = base ? load_u32(base + 4 * i) >> 24 : prev3;
      enc.encode_tree<8>(&t3[c3 * 256], b3);
      enc.encode_tree<8>(&t2[b3 * 256], b2);
      prev3 = b3;
    }
    enc_ = std::move(enc);
    prev3_ = prev3;
  }
  size_t finished_size() const { return enc_.finished_size(); }
  std::string finish() {
    enc_.finish();
    return std::move(coded_);
  }

 private:
  std::vector<uint16_t> models_;
  std::string coded_;
  rc::Encoder enc_;  // writes coded_
  const uint8_t* base_;
  uint32_t prev3_ = 0;
};

// The plane sections of mode 0 (bytes 1 and 0), the same with or without a base.
std::string encode_fields_planes(const uint8_t* raw, size_t n, int level) {
  // The two planes and zstd's output in one allocation, left uninitialised (a std::vector or
  // std::string would zero it first, for nothing).
  const size_t bound = ZSTD_compressBound(n);
  std::unique_ptr<uint8_t[]> scratch(new uint8_t[2 * n + bound]);
  uint8_t* const p1 = scratch.get();
  uint8_t* const p0 = p1 + n;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u = load_u32(raw + 4 * i);
    p1[i] = static_cast<uint8_t>(u >> 8);
    p0[i] = static_cast<uint8_t>(u);
  }
  std::string out;
  out.reserve(2 * (5 + n));  // the most the two sections take (a plane is never stored larger)
  put_plane(out, p1, n, level, p0 + n);
  put_plane(out, p0, n, level, p0 + n);
  return out;
}

// A whole mode 0 chunk value, assembled in one allocation.
std::string fields_chunk(const std::string& header, const std::string& coded, const std::string& planes) {
  std::string out;
  out.reserve(header.size() + 5 + coded.size() + planes.size());
  out += header;
  out.push_back(static_cast<char>(kModeFields));
  put_u32(out, static_cast<uint32_t>(coded.size()));
  out += coded;
  out += planes;
  return out;
}

void decode_fields(Cursor& in, size_t n, const uint8_t* base, uint8_t* out) {
  std::string_view coded = in.bytes(in.u32());
  std::vector<uint16_t> t3(256 * 256, rc::kProbInit), t2(256 * 256, rc::kProbInit);
  std::vector<uint8_t> p1(n), p0(n);
  get_plane(in, p1.data(), n);
  get_plane(in, p0.data(), n);
  rc::Decoder dec(reinterpret_cast<const uint8_t*>(coded.data()), coded.size());
  uint32_t prev3 = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t c3 = base ? load_u32(base + 4 * i) >> 24 : prev3;
    uint32_t b3 = dec.decode_tree<8>(&t3[c3 * 256]);
    uint32_t b2 = dec.decode_tree<8>(&t2[b3 * 256]);
    prev3 = b3;
    store_u32(out + 4 * i, b3 << 24 | b2 << 16 | uint32_t{p1[i]} << 8 | p0[i]);
  }
}

// ---- float model: residual mode (read only: format version 1 wrote it) ----------------------
// The distance between the value and its base in the float's monotone integer order: small when
// the value moved by a few ulps-times-2^k. Its bit length is coded in the context of the base's
// exponent (the distance in ulps scales with 1/|value| for Adam's nearly uniform steps) and of the
// previous value's bit length; the two bits under the leading one are modelled, the rest is raw.
//
// The monotone key of a float's bits u: ~u for negative floats, u | 0x80000000 for positive
// ones (and back). Written as an XOR with a mask spread from the sign bit rather than as a
// condition: signs are data (random for weights), and a branch on them mispredicts half the time.
uint32_t monotone_key(uint32_t u) { return u ^ (static_cast<uint32_t>(static_cast<int32_t>(u) >> 31) | 0x80000000u); }
uint32_t from_monotone_key(uint32_t k) { return k ^ (static_cast<uint32_t>(static_cast<int32_t>(~k) >> 31) | 0x80000000u); }

void decode_residual(Cursor& in, size_t n, const uint8_t* base, uint8_t* out) {
  std::string_view coded = in.bytes(in.u32());
  std::string_view bits = in.bytes(in.u32());
  std::vector<uint16_t> tnb(kLengthModelSize, rc::kProbInit);
  std::vector<uint16_t> ttop((kMaxResidualBits + 1) * 4, rc::kProbInit);
  rc::Decoder dec(reinterpret_cast<const uint8_t*>(coded.data()), coded.size());
  rc::BitReader br(reinterpret_cast<const uint8_t*>(bits.data()), bits.size());
  uint32_t prev_nb = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t b = load_u32(base + 4 * i);
    uint32_t nb = dec.decode_tree(&tnb[length_model(b, prev_nb)], 6);
    if (nb > kMaxResidualBits) throw_corruption("residual bit length " + std::to_string(nb) + " > 33");
    uint64_t z = nb;  // 0 -> 0, 1 -> 1
    if (nb >= 2) {
      int extra = static_cast<int>(nb) - 1;
      int top = std::min(2, extra);
      uint64_t tb = dec.decode_tree(&ttop[nb * 4], top);
      z = (uint64_t{1} << extra) | (tb << (extra - top)) | br.get(extra - top);
    }
    int64_t r = (z & 1) ? -static_cast<int64_t>((z + 1) >> 1) : static_cast<int64_t>(z >> 1);
    int64_t k = int64_t{monotone_key(b)} + r;
    if (k < 0 || k > int64_t{0xFFFFFFFF}) throw_corruption("residual leaves the float range");
    store_u32(out + 4 * i, from_monotone_key(static_cast<uint32_t>(k)));
    prev_nb = nb;
  }
}

// ---- float model: signed residual mode ------------------------------------------------------
// Mode 1 with the sign taken out of the zigzag's low bit and modelled. Measured on a Fashion-MNIST
// MLP's Adam state: the direction a value moved is predictable where its size is not. v =
// exp_avg_sq drifts one way for a whole tensor in an epoch (the gradient scale shrinks as the
// loss falls), and within a row of a weight matrix (one output unit, inputs >= 0 after ReLU or
// from pixels) parameters and m move together, so the sign gets a context of the residual's bit
// length and of the previous value's direction, where mode 1 paid a full raw bit (fc1 over 10
// epochs: v 0.688 -> 0.668 of raw, weights 0.759 -> 0.753). The magnitude is coded as in mode 1.
// Coded incrementally, as FieldsCoder (the sample of a large chunk is continued).
class SignedResidualCoder {
 public:
  SignedResidualCoder(const uint8_t* base, size_t expected_values)
      : models_(kLengthModelSize + kSignModelSize + (kMaxMagnitudeBits + 1) * 4, rc::kProbInit),
        enc_(&coded_, expected_values),
        bw_(&bits_, 2 * expected_values),
        base_(base) {}
  SignedResidualCoder(const SignedResidualCoder&) = delete;
  SignedResidualCoder& operator=(const SignedResidualCoder&) = delete;

  // Codes values [begin, end) of `raw`; calls must follow each other from 0.
  void code(const uint8_t* raw, size_t begin, size_t end) {
    uint16_t* const tnb = models_.data();  // the three models in one allocation: one pointer
    uint16_t* const tsign = tnb + kLengthModelSize;
    uint16_t* const ttop = tsign + kSignModelSize;
    const uint8_t* const base = base_;
    uint32_t prev_nb = prev_nb_, prev_sign = prev_sign_;
    rc::Encoder enc = std::move(enc_);  // locals for the loop, as in FieldsCoder::code
    rc::BitWriter bw = std::move(bw_);
    for (size_t i = begin; i < end; ++i) {
      uint32_t u = load_u32(raw + 4 * i), b = load_u32(base + 4 * i);
      uint32_t ku = monotone_key(u), kb = monotone_key(b);
      // Branch-free (the direction a value moved is data, close to random): |ku - kb| as the
      // difference negated through its mask, and the bit length of 0 as 1 - 1.
      uint32_t negative = ku < kb;
      uint32_t neg_mask = 0u - negative;
      uint32_t a = ((ku - kb) ^ neg_mask) - neg_mask;
      uint32_t nb = 32u - static_cast<uint32_t>(__builtin_clz(a | 1)) - (a == 0);
      enc.encode_tree<6>(&tnb[length_model(b, prev_nb)], nb);
      if (nb >= 1) enc.encode(tsign[sign_model(prev_sign, nb)], negative);
      if (nb >= 2) {
        // The two bits under the leading one (the one bit when nb == 2) in a tree, the rest raw.
        uint16_t* top = &ttop[nb * 4];
        if (nb == 2) {
          enc.encode_tree<1>(top, a & 1);
        } else {
          enc.encode_tree<2>(top, (a >> (nb - 3)) & 3);
          bw.put(a, static_cast<int>(nb) - 3);
        }
      }
      prev_nb = nb;
      prev_sign = nb == 0 ? 0 : 1 + negative;
    }
    enc_ = std::move(enc);
    bw_ = std::move(bw);
    prev_nb_ = prev_nb;
    prev_sign_ = prev_sign;
  }

  // The size of finish()'s payload if it were called now.
  size_t finished_size() const { return 9 + enc_.finished_size() + bw_.finished_size(); }

  // The mode 2 payload, after `header`.
  std::string finish(const std::string& header) {
    enc_.finish();
    bw_.finish();
    std::string out;
    out.reserve(header.size() + 9 + coded_.size() + bits_.size());
    out += header;
    out.push_back(static_cast<char>(kModeSignedResidual));
    put_u32(out, static_cast<uint32_t>(coded_.size()));
    out += coded_;
    put_u32(out, static_cast<uint32_t>(bits_.size()));
    out += bits_;
    return out;
  }

 private:
  std::vector<uint16_t> models_;
  std::string coded_, bits_;
  rc::Encoder enc_;   // writes coded_
  rc::BitWriter bw_;  // writes bits_
  const uint8_t* base_;
  uint32_t prev_nb_ = 0, prev_sign_ = 0;
};

void decode_signed_residual(Cursor& in, size_t n, const uint8_t* base, uint8_t* out) {
  std::string_view coded = in.bytes(in.u32());
  std::string_view bits = in.bytes(in.u32());
  std::vector<uint16_t> tnb(kLengthModelSize, rc::kProbInit);
  std::vector<uint16_t> tsign(kSignModelSize, rc::kProbInit);
  std::vector<uint16_t> ttop((kMaxMagnitudeBits + 1) * 4, rc::kProbInit);
  rc::Decoder dec(reinterpret_cast<const uint8_t*>(coded.data()), coded.size());
  rc::BitReader br(reinterpret_cast<const uint8_t*>(bits.data()), bits.size());
  uint32_t prev_nb = 0, prev_sign = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t b = load_u32(base + 4 * i);
    uint32_t nb = dec.decode_tree<6>(&tnb[length_model(b, prev_nb)]);
    if (nb > kMaxMagnitudeBits) throw_corruption("residual bit length " + std::to_string(nb) + " > 32");
    uint32_t negative = 0, a = nb;  // 0 -> 0, 1 -> 1
    if (nb >= 1) negative = dec.decode(tsign[sign_model(prev_sign, nb)]);
    if (nb >= 2) {
      // The two bits under the leading one (the one bit when nb == 2), then the rest raw.
      uint16_t* top = &ttop[nb * 4];
      if (nb == 2)
        a = 2 | dec.decode_tree<1>(top);
      else
        a = static_cast<uint32_t>((uint64_t{1} << (nb - 1)) | (uint64_t{dec.decode_tree<2>(top)} << (nb - 3)) |
                                  br.get(static_cast<int>(nb) - 3));
    }
    // kb - a when negative, kb + a otherwise, and the check that it stays in range, through
    // masks: the direction is data, close to random, and a branch on it mispredicts often.
    const uint32_t kb = monotone_key(b);
    const uint32_t neg_mask = 0u - negative;
    // Range check: negative ? a > kb : a > 0xFFFFFFFF - kb (== ~kb).
    if (a > (kb ^ ~neg_mask)) throw_corruption("residual leaves the float range");
    store_u32(out + 4 * i, from_monotone_key(kb + ((a ^ neg_mask) - neg_mask)));
    prev_nb = nb;
    prev_sign = nb == 0 ? 0 : 1 + negative;
  }
}

// ---- byte codecs ---------------------------------------------------------------------------
std::vector<uint8_t> xor_with(std::string_view raw, const uint8_t* base) {
  std::vector<uint8_t> x(raw.size());
  const uint8_t* r = reinterpret_cast<const uint8_t*>(raw.data());
  for (size_t i = 0; i < raw.size(); ++i) x[i] = static_cast<uint8_t>(r[i] ^ (base ? base[i] : 0));
  return x;
}

void shuffle4(const uint8_t* in, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < 4; ++k) out[k * n + i] = in[4 * i + k];
}
void unshuffle4(const uint8_t* in, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < 4; ++k) out[4 * i + k] = in[k * n + i];
}

std::string header(ChunkCodec codec, const ChunkBase* base, uint32_t raw_size) {
  std::string h;
  h.push_back(static_cast<char>(codec));
  h.push_back(static_cast<char>(base ? kFlagDelta : 0));
  put_u16(h, base ? static_cast<uint16_t>(base->depth + 1) : 0);
  put_u32(h, raw_size);
  if (base) h += as_bytes(base->id);
  return h;
}

}  // namespace

const char* codec_name(ChunkCodec codec) {
  switch (codec) {
    case ChunkCodec::kRaw:
      return "raw";
    case ChunkCodec::kZstd:
      return "zstd";
    case ChunkCodec::kShuffleZstd:
      return "shuffle+zstd";
    case ChunkCodec::kFloatModel:
      return "float-model";
  }
  return "?";
}

std::vector<std::string> codec_names() {
  std::vector<std::string> names;
  for (ChunkCodec c : kAllCodecs) names.emplace_back(codec_name(c));
  return names;
}

std::optional<ChunkCodec> codec_from_name(std::string_view name) {
  for (ChunkCodec c : kAllCodecs)
    if (name == codec_name(c)) return c;
  return std::nullopt;
}

std::string encode_chunk(std::string_view raw, DType dtype, const ChunkBase* base, const CodecOptions& options) {
  STRATA_CHECK(raw.size() <= kMaxChunkBytes);
  STRATA_CHECK(!base || base->depth < 0xFFFF);
  if (!options.allow_delta()) base = nullptr;
  const uint32_t size = static_cast<uint32_t>(raw.size());
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(raw.data());
  const uint8_t* base_data = base ? base->data : nullptr;
  ChunkCodec codec = options.codec();
  const bool floats = dtype == DType::kF32 && size % 4 == 0 && size > 0;
  if (!floats && codec != ChunkCodec::kRaw) codec = ChunkCodec::kZstd;

  std::string best;
  switch (codec) {
    case ChunkCodec::kRaw:
      break;
    case ChunkCodec::kZstd: {
      std::vector<uint8_t> x = xor_with(raw, base_data);
      best = header(codec, base, size) + zstd_compress(x.data(), x.size(), options.zstd_level());
      break;
    }
    case ChunkCodec::kShuffleZstd: {
      std::vector<uint8_t> x = xor_with(raw, base_data), s(size);
      shuffle4(x.data(), size / 4, s.data());
      best = header(codec, base, size) + zstd_compress(s.data(), s.size(), options.zstd_level());
      break;
    }
    case ChunkCodec::kFloatModel: {
      // Measured on a Fashion-MNIST MLP's Adam state (docs/formats.md "Float model"): with a base, the
      // residual mode wins for parameters and v. Adam's m forgets its past within an epoch: for
      // it, coding sign and exponent in the context of the base's, or of the neighbour's as in a
      // keyframe, wins (which of the two depends on the layer, by 1-2%). A keyframe that wins
      // also ends the delta chain, which makes later restores cheaper.
      const size_t n = size / 4;
      std::string planes;  // the same for both fields variants
      // Codes the values from `coder`'s position to the end and returns the chunk.
      auto fields = [&](FieldsCoder& coder, size_t from, const uint8_t* ctx_base) {
        coder.code(bytes, from, n);
        if (planes.empty()) planes = encode_fields_planes(bytes, n, options.zstd_level());
        return fields_chunk(header(codec, ctx_base ? base : nullptr, size), coder.finish(), planes);
      };
      auto residual_chunk = [&](SignedResidualCoder& coder, size_t from) {
        coder.code(bytes, from, n);
        return coder.finish(header(codec, base, size));
      };
      if (!base) {
        FieldsCoder key(nullptr, n);
        best = fields(key, 0, nullptr);
        break;
      }
      if (n > 2 * kModeSampleValues) {
        // Pick the mode on the chunk's first values, then encode the chunk once: the encode runs
        // behind training and must stay cheap (one pass for most chunks; the winner's coder
        // goes on from the end of the sample).
        const size_t sn = kModeSampleValues;
        SignedResidualCoder res(base_data, n);
        res.code(bytes, 0, sn);
        const size_t residual = res.finished_size();
        if (residual * 4 < sn * 4 * 3) {
          best = residual_chunk(res, sn);
          break;
        }
        const size_t sample_planes = encode_fields_planes(bytes, sn, options.zstd_level()).size();
        FieldsCoder with_base_coder(base_data, sn), key_coder(nullptr, sn);
        with_base_coder.code(bytes, 0, sn);
        key_coder.code(bytes, 0, sn);
        const size_t with_base = with_base_coder.finished_size() + sample_planes;
        const size_t key = key_coder.finished_size() + sample_planes;
        if (residual <= std::min(with_base, key))
          best = residual_chunk(res, sn);
        else if (with_base < key)
          best = fields(with_base_coder, sn, base_data);
        else
          best = fields(key_coder, sn, nullptr);
        break;
      }
      {
        SignedResidualCoder res(base_data, n);
        best = residual_chunk(res, 0);
      }
      if (best.size() * 4 < size * 3) break;
      for (const uint8_t* ctx_base : {base_data, static_cast<const uint8_t*>(nullptr)}) {
        FieldsCoder coder(ctx_base, n);
        std::string candidate = fields(coder, 0, ctx_base);
        if (candidate.size() < best.size()) best.swap(candidate);
      }
      break;
    }
  }
  if (best.empty() || best.size() >= kHeaderBytes + size) {
    best = header(ChunkCodec::kRaw, nullptr, size);
    best.append(raw.data(), raw.size());
  }
  return best;
}

ChunkHeader parse_chunk_header(std::string_view value) {
  if (value.size() < kHeaderBytes) throw_corruption("chunk value shorter than its header");
  const uint8_t* p = reinterpret_cast<const uint8_t*>(value.data());
  ChunkHeader h;
  if (p[0] > static_cast<uint8_t>(ChunkCodec::kFloatModel))
    throw_corruption("unknown chunk codec " + std::to_string(p[0]), "", "the log may have been written by a newer Strata");
  h.codec = static_cast<ChunkCodec>(p[0]);
  if (p[1] & ~kFlagDelta) throw_corruption("unknown chunk flags " + std::to_string(p[1]));
  h.delta = (p[1] & kFlagDelta) != 0;
  h.depth = static_cast<uint16_t>(p[2] | p[3] << 8);
  h.raw_size = load_u32(p + 4);
  if (h.raw_size > kMaxChunkBytes) throw_corruption("chunk raw size " + std::to_string(h.raw_size) + " > 1 MiB");
  // Writers never make an empty chunk (an empty tensor has no chunks); found by fuzz_chunk, an
  // empty delta's base would be no buffer at all.
  if (h.raw_size == 0) throw_corruption("chunk of 0 bytes");
  if (h.delta != (h.depth > 0)) throw_corruption("chunk delta flag and depth disagree");
  h.payload_offset = kHeaderBytes;
  if (h.delta) {
    if (value.size() < kHeaderBytes + 16) throw_corruption("delta chunk header truncated");
    h.base = digest_from_bytes(value.substr(kHeaderBytes, 16));
    h.payload_offset += 16;
  }
  if (h.codec == ChunkCodec::kRaw && h.delta) throw_corruption("raw chunk marked as delta");
  if ((h.codec == ChunkCodec::kShuffleZstd || h.codec == ChunkCodec::kFloatModel) && h.raw_size % 4)
    throw_corruption("float chunk size not a multiple of 4");
  return h;
}

void decode_chunk(std::string_view value, const ChunkHeader& h, const uint8_t* base_raw, uint8_t* out) {
  STRATA_CHECK(!h.delta || base_raw != nullptr);
  std::string_view payload = value.substr(h.payload_offset);
  const size_t size = h.raw_size;
  const uint8_t* base = h.delta ? base_raw : nullptr;
  switch (h.codec) {
    case ChunkCodec::kRaw:
      if (payload.size() != size) throw_corruption("raw chunk has the wrong size");
      std::memcpy(out, payload.data(), size);
      return;
    case ChunkCodec::kZstd:
      zstd_decompress(payload, out, size);
      if (base)
        for (size_t i = 0; i < size; ++i) out[i] ^= base[i];
      return;
    case ChunkCodec::kShuffleZstd: {
      std::vector<uint8_t> s(size);
      zstd_decompress(payload, s.data(), size);
      unshuffle4(s.data(), size / 4, out);
      if (base)
        for (size_t i = 0; i < size; ++i) out[i] ^= base[i];
      return;
    }
    case ChunkCodec::kFloatModel: {
      Cursor in(payload);
      uint8_t mode = in.u8();
      if (mode == kModeFields) {
        decode_fields(in, size / 4, base, out);
      } else if (mode == kModeResidual || mode == kModeSignedResidual) {
        if (!base) throw_corruption("residual chunk without a base");
        if (mode == kModeResidual)
          decode_residual(in, size / 4, base, out);
        else
          decode_signed_residual(in, size / 4, base, out);
      } else {
        throw_corruption("unknown float model mode " + std::to_string(mode), "",
                         "the log may have been written by a newer Strata");
      }
      if (!in.done()) throw_corruption("trailing bytes after the float model payload");
      return;
    }
  }
}

}  // namespace strata::versioning
