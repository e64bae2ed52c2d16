#include "strata/datasets/idx.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "strata/datasets/internal/file_io.h"
#include "strata/framework/core/error.h"

namespace strata {
namespace {

constexpr uint8_t kTypeU8 = 0x08;
constexpr int kMaxRank = 16;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

std::string hex8(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02X", v);
  return buf;
}

const char* type_name(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
  }
  return "unknown";
}

// "60000 images of 28x28", "60000 labels", or the shape for other ranks.
std::string describe(const Shape& dims) {
  if (dims.size() == 1) return std::to_string(dims[0]) + " labels";
  if (dims.size() == 3) return std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" + std::to_string(dims[2]);
  return "shape " + shape_str(dims);
}

// expected_rank: 0 accepts any rank; 1 (labels) or 3 (images) names the kind in messages.
Tensor parse_idx(const std::vector<uint8_t>& b, bool was_gzip, const std::string& path, int expected_rank) {
  const std::string kind = expected_rank == 3 ? " for an IDX image file" : expected_rank == 1 ? " for an IDX label file" : "";
  const std::string file_has = was_gzip ? "file has (decompressed) " : "file has ";
  if (b.size() < 4)
    throw_corruption("truncated: " + file_has + std::to_string(b.size()) + " bytes, less than the 4-byte IDX magic", path);
  const uint32_t magic = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  const int rank = b[3];
  if (expected_rank > 0) {
    const uint32_t want = uint32_t{kTypeU8} << 8 | static_cast<uint32_t>(expected_rank);
    if (magic != want)
      throw_corruption("bad magic " + hex32(magic) + ", expected " + hex32(want) + kind, path,
                       "is this the right file (images vs labels), and an IDX file at all?");
  } else {
    if (b[0] != 0 || b[1] != 0 || rank == 0 || rank > kMaxRank)
      throw_corruption("bad magic " + hex32(magic) + ", expected 0x000008NN (unsigned-byte IDX with NN dimensions)", path,
                       "is this an IDX file?");
    if (b[2] != kTypeU8)
      throw_corruption(
          "IDX element type " + hex8(b[2]) + " (" + type_name(b[2]) + ") is not supported, only unsigned byte (0x08)", path);
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (b.size() < header)
    throw_corruption("truncated: the header declares " + std::to_string(rank) + " dimensions (" + std::to_string(header) +
                         " header bytes), " + file_has + std::to_string(b.size()) + " bytes",
                     path);
  Shape dims(rank);
  const size_t have = b.size() - header;
  uint64_t need = 1;
  bool overflow = false;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* p = b.data() + 4 + 4 * i;
    const uint32_t d = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    dims[i] = d;
    overflow = overflow || __builtin_mul_overflow(need, uint64_t{d}, &need);
  }
  const std::string need_text = overflow ? "more than 2^64 bytes" : std::to_string(need) + " bytes";
  if (overflow || need > have)
    throw_corruption("truncated: header says " + describe(dims) + " = " + need_text + ", " + file_has + std::to_string(have) +
                         " after the " + std::to_string(header) + "-byte header",
                     path, "the file is incomplete; download or copy it again");
  if (need < have)
    throw_corruption("size mismatch: header says " + describe(dims) + " = " + need_text + ", " + file_has + std::to_string(have) +
                         " after the " + std::to_string(header) + "-byte header (" + std::to_string(have - need) + " extra)",
                     path, "the header or the data is damaged");
  Tensor t(dims, DType::kU8);
  if (need) std::memcpy(t.raw(), b.data() + header, need);
  return t;
}

Tensor read_idx_expect(const std::string& path, int expected_rank) {
  bool gz = false;
  std::vector<uint8_t> bytes = detail::read_maybe_gzip(path, &gz);
  return parse_idx(bytes, gz, path, expected_rank);
}

// The first n images and labels as a Dataset; pixel / 255 exactly as torchvision's ToTensor.
Dataset make_image_dataset(const Tensor& images, const Tensor& labels, int64_t n, int64_t num_classes,
                           const std::string& images_path, const std::string& labels_path) {
  const int64_t h = images.dim(1), w = images.dim(2);
  Dataset d;
  d.source = images_path + " + " + labels_path;
  d.num_classes = num_classes;
  d.x = Tensor({n, 1, h, w});
  d.y = Tensor({n}, DType::kI64);
  const uint8_t* lab = labels.data<uint8_t>();
  int64_t* y = d.y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (lab[i] >= num_classes)
      throw_corruption("label " + std::to_string(lab[i]) + " at index " + std::to_string(i) + " is out of range [0, " +
                           std::to_string(num_classes) + ")",
                       labels_path, "the label file is damaged or belongs to another data set");
    y[i] = lab[i];
  }
  const uint8_t* px = images.data<uint8_t>();
  float* x = d.x.f32();
  const int64_t count = n * h * w;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) x[i] = static_cast<float>(px[i]) / 255.0f;
  return d;
}

Dataset load_pair(const std::string& images_path, const std::string& labels_path, int64_t num_classes, int64_t limit) {
  if (num_classes < 1 || num_classes > 256)
    throw_invalid("num_classes " + std::to_string(num_classes) + " is not in [1, 256]", labels_path,
                  "u8 labels allow at most 256 classes");
  if (limit < 0) throw_invalid("negative limit " + std::to_string(limit), images_path);
  Tensor images = read_idx_expect(images_path, 3);
  Tensor labels = read_idx_expect(labels_path, 1);
  if (labels.dim(0) != images.dim(0))
    throw_corruption("label count " + std::to_string(labels.dim(0)) + " != image count " + std::to_string(images.dim(0)),
                     images_path + " + " + labels_path,
                     "the two files must belong together (train-* with train-*, t10k-* with "
                     "t10k-*)");
  int64_t n = images.dim(0);
  const int64_t all = n;
  if (limit > 0 && limit < n) n = limit;
  Dataset d = make_image_dataset(images, labels, n, num_classes, images_path, labels_path);
  if (n < all) d.preprocess = "first " + std::to_string(n) + " of " + std::to_string(all) + " samples";
  return d;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

}  // namespace

Tensor read_idx(const std::string& path) { return read_idx_expect(path, 0); }

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t num_classes) {
  return load_pair(images_path, labels_path, num_classes, 0);
}

Dataset load_fashion_mnist(const std::string& dir, bool train, int64_t limit) {
  const std::string hint = "install the Debian package dataset-fashion-mnist (it puts the files in " +
                           std::string(kFashionMnistDir) + ") or pass the directory that holds them";
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kNotFound, "Fashion-MNIST directory not found", dir, hint);
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  auto locate = [&](const std::string& stem) {
    for (const std::string& p : {prefix + stem + ".gz", prefix + stem})
      if (file_exists(p)) return p;
    throw Error(ErrorCode::kNotFound, "Fashion-MNIST file " + std::string(train ? "train" : "t10k") + stem + "[.gz] not found",
                dir, hint);
  };
  const std::string images_path = locate("-images-idx3-ubyte");
  const std::string labels_path = locate("-labels-idx1-ubyte");
  Dataset d = load_pair(images_path, labels_path, 10, limit);
  if (d.x.dim(2) != 28 || d.x.dim(3) != 28)
    throw_corruption(
        "Fashion-MNIST images are 28x28, this file has " + std::to_string(d.x.dim(2)) + "x" + std::to_string(d.x.dim(3)),
        images_path);
  d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return d;
}

}  // namespace strata
