// IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed.
//
// An IDX file is a 4-byte magic (0x00 0x00, an element-type byte, the number of dimensions),
// that many big-endian u32 dimensions, then the elements in row-major order. Image files are
// 0x00000803 (u8, [N,H,W]), label files 0x00000801 (u8, [N]). Every size is checked against the
// header; a truncated, damaged or mismatched file throws strata::Error (kCorruption) naming the
// file and what is wrong. Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "strata/datasets/dataset.h"
#include "strata/framework/core/tensor.h"

namespace strata {

// Where the Debian package dataset-fashion-mnist installs the four files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST's pixel mean and standard deviation (of x/255 over the 60000 training images),
// for DataLoaderOptions::with_normalize.
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

// The elements of an unsigned-byte IDX file as a u8 tensor shaped by the header. Gzip is
// detected from the content (magic 1f 8b), not the name.
Tensor read_idx(const std::string& path);

// An image file (u8 [N,H,W]) and its label file (u8 [N]) as a classification Dataset:
// x f32 [N,1,H,W] = pixel / 255, y i64 [N]. Labels must lie in [0, num_classes).
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t num_classes = 10);

// Fashion-MNIST from dir (train-* or t10k-* files, .gz or raw): 60000 training or 10000 test
// images of 28x28 with class names "T-shirt/top", "Trouser", ... limit > 0 keeps the first
// `limit` samples (converting only those). A missing directory or file is kNotFound with a
// hint to install dataset-fashion-mnist.
Dataset load_fashion_mnist(const std::string& dir, bool train, int64_t limit = 0);

}  // namespace strata
