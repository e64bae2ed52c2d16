#include "strata/framework/core/tensor.h"

#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "strata/framework/core/error.h"

namespace strata {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kU8:
      return 1;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kU8:
      return "u8";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (DType d : {DType::kF32, DType::kU8, DType::kI32, DType::kI64})
    if (name == dtype_name(d)) return d;
  throw_invalid("unknown dtype '" + name + "'", "", "expected f32, u8, i32 or i64");
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw_invalid("negative dimension in shape " + shape_str(shape));
    // Shapes come from files too (graphs, manifests, .npy): refuse one whose size overflows.
    if (__builtin_mul_overflow(n, d, &n)) throw_invalid("shape " + shape_str(shape) + " has more elements than fit in 64 bits");
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  for (int64_t d : shape_)
    if (d < 0) throw_invalid("negative dimension in shape " + shape_str(shape_));
  numel_ = shape_numel(shape_);
  // 64-byte alignment suits AVX-512 loads and oneDNN; round the size up as aligned_alloc needs.
  size_t bytes = (std::max<size_t>(nbytes(), 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw Error(ErrorCode::kInternal, "out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, bytes);
  storage_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

Tensor Tensor::from_vector(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw_invalid("from_vector: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape()));
  std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t(shape_, dtype_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  Shape shape = shape_;
  shape.at(0) = end - begin;
  Tensor t(shape, dtype_);
  const size_t row = shape_[0] > 0 ? nbytes() / static_cast<size_t>(shape_[0]) : 0;
  if (t.nbytes()) std::memcpy(t.raw(), static_cast<const uint8_t*>(raw()) + row * static_cast<size_t>(begin), t.nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_) throw_invalid("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::view(Shape shape, size_t offset) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  if (offset % 64 != 0 || offset + t.nbytes() > nbytes())
    throw_invalid("a view of shape " + shape_str(t.shape_) + " at byte " + std::to_string(offset) +
                  " does not fit in a tensor of " + shape_str(shape_) + " (or is not 64-byte aligned)");
  t.storage_ = std::shared_ptr<uint8_t>(storage_, storage_.get() + offset);  // shares ownership
  return t;
}

void Tensor::fill(float value) {
  float* p = f32();
  for (int64_t i = 0; i < numel_; ++i) p[i] = value;
}

void Tensor::copy_from(const Tensor& other) {
  if (other.dtype_ != dtype_ || other.numel_ != numel_)
    throw_invalid("copy_from: " + shape_str(other.shape_) + " " + dtype_name(other.dtype_) + " into " + shape_str(shape_) + " " +
                  dtype_name(dtype_));
  std::memcpy(raw(), other.raw(), nbytes());
}

bool Tensor::bit_equal(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && std::memcmp(raw(), other.raw(), nbytes()) == 0;
}

void Tensor::check_type(DType expected) const {
  if (expected != dtype_)
    throw_invalid(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " + dtype_name(expected));
}

namespace {

std::string hex_digest(XXH3_state_t* state) {
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

struct Xxh3State {
  Xxh3State() : state(XXH3_createState()) {
    if (!state) throw std::bad_alloc();
    XXH3_128bits_reset(state);
  }
  ~Xxh3State() { XXH3_freeState(state); }
  Xxh3State(const Xxh3State&) = delete;
  Xxh3State& operator=(const Xxh3State&) = delete;
  XXH3_state_t* state;
};

}  // namespace

std::string content_fingerprint(const std::vector<Tensor>& tensors) {
  Xxh3State h;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    const std::string head = shape_str(t.shape()) + dtype_name(t.dtype());
    XXH3_128bits_update(h.state, head.data(), head.size());
    XXH3_128bits_update(h.state, t.raw(), t.nbytes());
  }
  return hex_digest(h.state);
}

std::string file_fingerprint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  Xxh3State h;
  std::vector<char> piece(size_t{1} << 20);
  size_t n = 0;
  while ((n = std::fread(piece.data(), 1, piece.size(), f)) > 0) XXH3_128bits_update(h.state, piece.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  return failed ? std::string() : hex_digest(h.state);
}

}  // namespace strata
