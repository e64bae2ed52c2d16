// Tensor: shapes and dtypes, shared storage and deep copies, views into one allocation, the
// 64-byte alignment the kernels rely on, and the fingerprints of tensor bytes.
#include "strata/framework/core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>

#include "strata/framework/core/error.h"

namespace strata {
namespace {

TEST(Tensor, ShapeDtypeAndZeroFill) {
  Tensor t({2, 3, 4}, DType::kI32);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.rank(), 3u);
  EXPECT_EQ(t.dim(1), 3);
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data<int32_t>()[i], 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_THROW(t.f32(), Error);  // the wrong element type is refused, not reinterpreted
  EXPECT_FALSE(Tensor().defined());
  EXPECT_EQ(shape_str({128, 1, 28, 28}), "[128,1,28,28]");
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_EQ(dtype_from_name(dtype_name(DType::kU8)), DType::kU8);
  EXPECT_THROW(dtype_from_name("f16"), Error);
}

TEST(Tensor, CopiesShareStorageAndCloneDoesNot) {
  Tensor a = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  Tensor shared = a, deep = a.clone();
  a.f32()[0] = 9;
  EXPECT_EQ(shared.f32()[0], 9.0f);
  EXPECT_EQ(deep.f32()[0], 1.0f);
  EXPECT_FALSE(a.bit_equal(deep));
  deep.copy_from(a);
  EXPECT_TRUE(a.bit_equal(deep));
  Tensor flat = a.reshaped({4});
  EXPECT_EQ(flat.raw(), a.raw());
  EXPECT_THROW(a.reshaped({3}), Error);
  EXPECT_THROW(Tensor::from_vector({3}, {1, 2}), Error);
}

TEST(Tensor, ViewsShareOneAllocationAtAlignedOffsets) {
  Tensor pool({64});  // 256 bytes
  Tensor second = pool.view({16}, 64);
  second.fill(2.5f);
  EXPECT_EQ(pool.f32()[16], 2.5f);
  EXPECT_EQ(pool.f32()[15], 0.0f);
  EXPECT_EQ(static_cast<const char*>(second.raw()) - static_cast<const char*>(pool.raw()), 64);
  EXPECT_THROW(pool.view({16}, 32), Error);  // not a multiple of 64
  EXPECT_THROW(pool.view({64}, 64), Error);  // does not fit
}

TEST(Tensor, FingerprintsFollowBytesShapeAndDtype) {
  const Tensor a = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(content_fingerprint({a}).size(), 32u);
  EXPECT_EQ(content_fingerprint({a}), content_fingerprint({a.clone()}));
  EXPECT_NE(content_fingerprint({a}), content_fingerprint({a.reshaped({4})}));
  Tensor b = a.clone();
  b.f32()[3] = 5;
  EXPECT_NE(content_fingerprint({a}), content_fingerprint({b}));
  const std::string path = testing::TempDir() + "/fingerprint.bin";
  std::ofstream(path) << "strata";
  EXPECT_EQ(file_fingerprint(path).size(), 32u);
  EXPECT_EQ(file_fingerprint(path + ".missing"), "");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace strata
