#include "strata/datasets/cifar.h"

#include <cstring>

#include "strata/datasets/internal/file_io.h"
#include "strata/framework/core/error.h"

namespace strata {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kRecord = 1 + kPixels;
constexpr int64_t kClasses = 10;

}  // namespace

Dataset load_cifar10_batches(const std::vector<std::string>& paths) {
  if (paths.empty()) throw_invalid("no CIFAR-10 batch files given", "", "pass e.g. .../data_batch_1.bin");
  // Read and check every file before allocating the result, so its size is known.
  std::vector<std::vector<uint8_t>> files;
  files.reserve(paths.size());
  int64_t total = 0;
  std::string source;
  for (const std::string& path : paths) {
    bool gz = false;
    std::vector<uint8_t> bytes = detail::read_maybe_gzip(path, &gz);
    const int64_t size = static_cast<int64_t>(bytes.size());
    const std::string size_text = std::to_string(size) + (gz ? " bytes (decompressed)" : " bytes");
    if (size == 0) throw_corruption("empty file, expected 3073-byte CIFAR-10 records", path);
    if (size % kRecord != 0) {
      const bool cifar100 = size % (kRecord + 1) == 0;
      throw_corruption("truncated or not a CIFAR-10 binary batch: " + size_text +
                           " is not a whole number of 3073-byte records (" + std::to_string(size / kRecord) + " records + " +
                           std::to_string(size % kRecord) + " bytes)",
                       path,
                       cifar100 ? "the size fits 3074-byte CIFAR-100 records, which are not "
                                  "supported"
                                : "the file is incomplete or damaged; download it again");
    }
    const int64_t n = size / kRecord;
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t label = bytes[r * kRecord];
      if (label >= kClasses)
        throw_corruption("record " + std::to_string(r) + " (byte offset " + std::to_string(r * kRecord) + "): label " +
                             std::to_string(label) + " is out of range [0, 10)",
                         path, "the file is damaged or not a CIFAR-10 batch");
    }
    total += n;
    source += (source.empty() ? "" : " + ") + path;
    files.push_back(std::move(bytes));
  }

  Dataset d;
  d.source = source;
  d.num_classes = kClasses;
  d.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  d.x = Tensor({total, 3, 32, 32});
  d.y = Tensor({total}, DType::kI64);
  float* x = d.x.f32();
  int64_t* y = d.y.data<int64_t>();
  int64_t row = 0;
  for (const std::vector<uint8_t>& bytes : files) {
    const int64_t n = static_cast<int64_t>(bytes.size()) / kRecord;
    const uint8_t* base = bytes.data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = base + r * kRecord;
      y[row + r] = rec[0];
      float* dst = x + (row + r) * kPixels;
      // The record's channel-planar layout is already NCHW: a straight conversion.
      for (int64_t i = 0; i < kPixels; ++i) dst[i] = static_cast<float>(rec[1 + i]) / 255.0f;
    }
    row += n;
  }
  return d;
}

}  // namespace strata
