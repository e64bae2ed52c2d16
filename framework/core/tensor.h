// Tensor: a shape, a dtype and 64-byte-aligned storage in canonical row-major layout.
//
// Copies share storage (like torch.Tensor); clone() makes a deep copy. Not thread-safe for
// concurrent writes to the same storage. f32 is the data type of parameters and activations;
// u8/i32/i64 are for labels and raw dataset bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata {

enum class DType : uint8_t { kF32 = 0, kU8 = 1, kI32 = 2, kI64 = 3 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
DType dtype_from_name(const std::string& name);  // throws on an unknown name

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[128,1,28,28]"

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kU8;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kI32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kI64;
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor.
  explicit Tensor(Shape shape, DType dtype = DType::kF32);

  static Tensor from_vector(Shape shape, const std::vector<float>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <typename T>
  T* data() {
    check_type(DTypeOf<T>::value);
    return static_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    check_type(DTypeOf<T>::value);
    return static_cast<const T*>(raw());
  }
  float* f32() { return data<float>(); }
  const float* f32() const { return data<float>(); }

  Tensor clone() const;
  // Rows [begin, end) of axis 0, copied (0 <= begin <= end <= dim(0), not checked).
  Tensor rows(int64_t begin, int64_t end) const;
  // Same storage, another shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A tensor of `shape` over this one's storage from byte `offset` on (a multiple of 64),
  // sharing it; it must fit. (The network's memory planner lays out buffers whose lifetimes do
  // not overlap in one allocation.)
  Tensor view(Shape shape, size_t offset = 0) const;
  void fill(float value);
  void copy_from(const Tensor& other);  // same dtype and numel
  bool bit_equal(const Tensor& other) const;

 private:
  void check_type(DType expected) const;

  Shape shape_;
  DType dtype_ = DType::kF32;
  int64_t numel_ = 0;
  std::shared_ptr<uint8_t> storage_;
};

// A content fingerprint of tensors' bytes (with their shapes and dtypes): 32 hex digits of
// XXH3-128, at memory speed (~20 ms for Fashion-MNIST's 188 MB of decoded training images).
std::string content_fingerprint(const std::vector<Tensor>& tensors);
// The same hash of a file's bytes, read in 1 MiB pieces; "" when it cannot be read.
std::string file_fingerprint(const std::string& path);

}  // namespace strata
