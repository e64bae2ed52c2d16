// Tests of datasets/: IDX (raw, gzip, broken files, the real Fashion-MNIST), CIFAR-10 batches,
// CSV, Dataset::subset and the DataLoader (order, batching, normalisation, augmentation,
// prefetch, save/seek). Every file is written by the test into a fresh temp dir.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "strata/datasets/cifar.h"
#include "strata/datasets/csv.h"
#include "strata/datasets/data_loader.h"
#include "strata/datasets/dataset.h"
#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/expect_error.h"

namespace strata {
namespace {

using Bytes = std::vector<uint8_t>;

using dtest::TempDir;

void write_bytes(const std::string& path, const Bytes& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

void write_text(const std::string& path, const std::string& text) { write_bytes(path, Bytes(text.begin(), text.end())); }

// A real gzip member compressed by zlib (deflate with the gzip wrapper).
Bytes gzip(const Bytes& raw) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// IDX unsigned-byte file: magic 0x000008NN, big-endian dims, data.
Bytes idx_file(const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes pattern(size_t n, int mul = 7, int add = 3) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * mul + add) % 256);
  return b;
}

// --- IDX -------------------------------------------------------------------------------------

TEST(Idx, RawRoundTripIsExact) {
  TempDir dir;
  const Bytes data = pattern(3 * 4 * 5);
  write_bytes(dir.sub("img"), idx_file({3, 4, 5}, data));
  Tensor t = read_idx(dir.sub("img"));
  EXPECT_EQ(t.dtype(), DType::kU8);
  EXPECT_EQ(t.shape(), (Shape{3, 4, 5}));
  EXPECT_EQ(std::memcmp(t.raw(), data.data(), data.size()), 0);
}

TEST(Idx, GzipRoundTripIsExactAndDetectedByContent) {
  TempDir dir;
  const Bytes data = pattern(2 * 28 * 28, 13, 1);
  const Bytes file = idx_file({2, 28, 28}, data);
  // No .gz in the name: gzip is recognised by its magic bytes.
  write_bytes(dir.sub("img_compressed"), gzip(file));
  Tensor t = read_idx(dir.sub("img_compressed"));
  EXPECT_EQ(t.shape(), (Shape{2, 28, 28}));
  EXPECT_EQ(std::memcmp(t.raw(), data.data(), data.size()), 0);

  // Two concatenated gzip members are one valid gzip file (as `cat a.gz b.gz` makes).
  Bytes half1(file.begin(), file.begin() + 100), half2(file.begin() + 100, file.end());
  Bytes two = gzip(half1), g2 = gzip(half2);
  two.insert(two.end(), g2.begin(), g2.end());
  write_bytes(dir.sub("two_members.gz"), two);
  EXPECT_TRUE(read_idx(dir.sub("two_members.gz")).bit_equal(t));
}

TEST(Idx, LoadPairScalesPixelsAndKeepsLabels) {
  TempDir dir;
  const Bytes pixels = {0, 255, 1, 128, 7, 9, 10, 11};  // 2 images of 2x2
  write_bytes(dir.sub("i"), idx_file({2, 2, 2}, pixels));
  write_bytes(dir.sub("l.gz"), gzip(idx_file({2}, {7, 3})));
  Dataset d = load_idx_pair(dir.sub("i"), dir.sub("l.gz"));
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.x.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(d.y.dtype(), DType::kI64);
  EXPECT_EQ(d.num_classes, 10);
  for (size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(d.x.f32()[i], static_cast<float>(pixels[i]) / 255.0f);
  EXPECT_EQ(d.x.f32()[1], 1.0f);
  EXPECT_EQ(d.y.data<int64_t>()[0], 7);
  EXPECT_EQ(d.y.data<int64_t>()[1], 3);
  EXPECT_NE(d.source.find(dir.sub("i")), std::string::npos);
}

TEST(Idx, TruncatedRawFileNamesSizes) {
  TempDir dir;
  Bytes file = idx_file({3, 4, 5}, pattern(60));
  file.resize(file.size() - 10);
  write_bytes(dir.sub("short"), file);
  expect_error([&] { read_idx(dir.sub("short")); }, ErrorCode::kCorruption,
               {"truncated", "header says 3 images of 4x5 = 60 bytes", "file has 50", dir.sub("short")});
  // Cut inside the header.
  write_bytes(dir.sub("header"), Bytes(file.begin(), file.begin() + 9));
  expect_error([&] { read_idx(dir.sub("header")); }, ErrorCode::kCorruption, {"truncated", "3 dimensions", dir.sub("header")});
  write_bytes(dir.sub("tiny"), {0, 0});
  expect_error([&] { read_idx(dir.sub("tiny")); }, ErrorCode::kCorruption, {"truncated"});
}

TEST(Idx, TruncatedAndDamagedGzip) {
  TempDir dir;
  const Bytes gz = gzip(idx_file({4, 28, 28}, pattern(4 * 784, 31, 5)));
  write_bytes(dir.sub("cut.gz"), Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  expect_error([&] { read_idx(dir.sub("cut.gz")); }, ErrorCode::kCorruption, {"truncated gzip stream", dir.sub("cut.gz")});
  // A flipped bit in the CRC-32 of the trailer: the data inflates but does not check.
  Bytes crc = gz;
  crc[crc.size() - 6] ^= 0x01;
  write_bytes(dir.sub("crc.gz"), crc);
  expect_error([&] { read_idx(dir.sub("crc.gz")); }, ErrorCode::kCorruption,
               {"corrupt gzip data", "incorrect data check", dir.sub("crc.gz")});
  // Flipped bytes inside the deflate stream: whatever zlib makes of it, never silent data.
  Bytes mid = gz;
  for (size_t i = 30; i < 40; ++i) mid[i] ^= 0xA5;
  write_bytes(dir.sub("mid.gz"), mid);
  expect_error([&] { read_idx(dir.sub("mid.gz")); }, ErrorCode::kCorruption, {dir.sub("mid.gz")});
}

TEST(Idx, WrongMagic) {
  TempDir dir;
  write_bytes(dir.sub("labels"), idx_file({3}, {1, 2, 3}));
  write_bytes(dir.sub("images"), idx_file({3, 2, 2}, pattern(12)));
  expect_error([&] { load_idx_pair(dir.sub("labels"), dir.sub("labels")); }, ErrorCode::kCorruption,
               {"bad magic 0x00000801, expected 0x00000803 for an IDX image file", dir.sub("labels")});
  expect_error([&] { load_idx_pair(dir.sub("images"), dir.sub("images")); }, ErrorCode::kCorruption,
               {"bad magic 0x00000803, expected 0x00000801 for an IDX label file"});
  Bytes zeros(40, 0);
  write_bytes(dir.sub("zeros"), zeros);
  expect_error([&] { read_idx(dir.sub("zeros")); }, ErrorCode::kCorruption, {"bad magic 0x00000000", dir.sub("zeros")});
  Bytes floats = idx_file({2}, pattern(8));
  floats[2] = 0x0D;
  write_bytes(dir.sub("floats"), floats);
  expect_error([&] { read_idx(dir.sub("floats")); }, ErrorCode::kCorruption, {"element type 0x0D (float) is not supported"});
}

TEST(Idx, TrailingBytesAreAnError) {
  TempDir dir;
  Bytes file = idx_file({2}, {1, 2});
  file.push_back(9);
  write_bytes(dir.sub("long"), file);
  expect_error([&] { read_idx(dir.sub("long")); }, ErrorCode::kCorruption,
               {"size mismatch", "header says 2 labels = 2 bytes", "1 extra"});
}

TEST(Idx, CountMismatchAndLabelRange) {
  TempDir dir;
  write_bytes(dir.sub("img"), idx_file({3, 2, 2}, pattern(12)));
  write_bytes(dir.sub("lab2"), idx_file({2}, {1, 2}));
  expect_error([&] { load_idx_pair(dir.sub("img"), dir.sub("lab2")); }, ErrorCode::kCorruption,
               {"label count 2 != image count 3", dir.sub("lab2")});
  write_bytes(dir.sub("lab_bad"), idx_file({3}, {1, 10, 2}));
  expect_error([&] { load_idx_pair(dir.sub("img"), dir.sub("lab_bad")); }, ErrorCode::kCorruption,
               {"label 10 at index 1 is out of range [0, 10)", dir.sub("lab_bad")});
  // The same labels are fine with more classes.
  EXPECT_EQ(load_idx_pair(dir.sub("img"), dir.sub("lab_bad"), 11).num_classes, 11);
}

TEST(Idx, MissingFile) {
  TempDir dir;
  expect_error([&] { read_idx(dir.sub("nope")); }, ErrorCode::kNotFound, {"no such file", dir.sub("nope")});
  expect_error([&] { load_fashion_mnist(dir.sub("nodir"), true); }, ErrorCode::kNotFound,
               {"Fashion-MNIST directory not found", "dataset-fashion-mnist"});
  expect_error([&] { load_fashion_mnist(dir.path(), false); }, ErrorCode::kNotFound,
               {"t10k-images-idx3-ubyte[.gz] not found", "dataset-fashion-mnist"});
}

bool have_fashion() { return ::access((std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz").c_str(), R_OK) == 0; }

double first_image_sum(const Dataset& d) {
  double s = 0;
  for (int i = 0; i < 784; ++i) s += d.x.f32()[i];
  return s;
}

TEST(FashionMnist, TrainSet) {
  if (!have_fashion()) GTEST_SKIP() << kFashionMnistDir << " missing (dataset-fashion-mnist)";
  Dataset d = load_fashion_mnist(kFashionMnistDir, true);
  EXPECT_EQ(d.size(), 60000);
  EXPECT_EQ(d.x.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(d.y.shape(), (Shape{60000}));
  EXPECT_EQ(d.num_classes, 10);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[0], "T-shirt/top");
  EXPECT_EQ(d.class_names[1], "Trouser");
  EXPECT_EQ(d.class_names[9], "Ankle boot");
  const int64_t* y = d.y.data<int64_t>();
  const std::vector<int64_t> first = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  EXPECT_EQ(std::vector<int64_t>(y, y + 10), first);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t i = 0; i < d.size(); ++i) ++per_class[y[i]];
  EXPECT_EQ(per_class, std::vector<int64_t>(10, 6000));
  // The first image's bytes sum to 76247 (read with Python's gzip module).
  EXPECT_NEAR(first_image_sum(d), 76247.0 / 255.0, 1e-3);
  const auto [lo, hi] = std::minmax_element(d.x.f32(), d.x.f32() + d.x.numel());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
}

TEST(FashionMnist, TestSetAndLimit) {
  if (!have_fashion()) GTEST_SKIP() << kFashionMnistDir << " missing (dataset-fashion-mnist)";
  Dataset d = load_fashion_mnist(kFashionMnistDir, false);
  EXPECT_EQ(d.size(), 10000);
  EXPECT_EQ(d.x.shape(), (Shape{10000, 1, 28, 28}));
  const int64_t* y = d.y.data<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(y, y + 10), (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  EXPECT_NEAR(first_image_sum(d), 33456.0 / 255.0, 1e-3);
  Dataset small = load_fashion_mnist(kFashionMnistDir, false, 100);
  EXPECT_EQ(small.size(), 100);
  Dataset expected = d.subset(0, 100);
  EXPECT_TRUE(small.x.bit_equal(expected.x));
  EXPECT_TRUE(small.y.bit_equal(expected.y));
}

// --- CIFAR-10 --------------------------------------------------------------------------------

Bytes cifar_records(const std::vector<uint8_t>& labels, int salt) {
  Bytes b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (int i = 0; i < 3072; ++i) b.push_back(static_cast<uint8_t>((i * 3 + r * 11 + salt) % 256));
  }
  return b;
}

TEST(Cifar10, ReadsRecordsOfSeveralFiles) {
  TempDir dir;
  write_bytes(dir.sub("data_batch_1.bin"), cifar_records({3, 0, 9}, 0));
  write_bytes(dir.sub("data_batch_2.bin"), gzip(cifar_records({5, 1}, 100)));
  Dataset d = load_cifar10_batches({dir.sub("data_batch_1.bin"), dir.sub("data_batch_2.bin")});
  EXPECT_EQ(d.size(), 5);
  EXPECT_EQ(d.x.shape(), (Shape{5, 3, 32, 32}));
  EXPECT_EQ(std::vector<int64_t>(d.y.data<int64_t>(), d.y.data<int64_t>() + 5), (std::vector<int64_t>{3, 0, 9, 5, 1}));
  EXPECT_EQ(d.class_names[0], "airplane");
  EXPECT_EQ(d.class_names[9], "truck");
  // Sample 4 = record 1 of file 2; channel 2 (blue), row 5, column 7: byte 2048 + 5*32 + 7.
  const int i = 2048 + 5 * 32 + 7;
  const float expected = static_cast<float>((i * 3 + 1 * 11 + 100) % 256) / 255.0f;
  EXPECT_EQ(d.x.f32()[4 * 3072 + i], expected);
  EXPECT_EQ(d.x.f32()[0], static_cast<float>(0) / 255.0f);
}

TEST(Cifar10, BrokenFiles) {
  TempDir dir;
  Bytes rec = cifar_records({1, 2}, 0);
  write_bytes(dir.sub("cut.bin"), Bytes(rec.begin(), rec.end() - 5));
  expect_error([&] { load_cifar10_batches({dir.sub("cut.bin")}); }, ErrorCode::kCorruption,
               {"6141 bytes is not a whole number of 3073-byte records (1 records + 3068 bytes)", dir.sub("cut.bin")});
  rec[3073] = 10;  // label of record 1
  write_bytes(dir.sub("label.bin"), rec);
  expect_error([&] { load_cifar10_batches({dir.sub("label.bin")}); }, ErrorCode::kCorruption,
               {"record 1", "label 10 is out of range [0, 10)", dir.sub("label.bin")});
  expect_error([&] { load_cifar10_batches({}); }, ErrorCode::kInvalidArgument, {"no CIFAR-10"});
}

// --- CSV -------------------------------------------------------------------------------------

TEST(Csv, ClassificationWithNamedTargetAndTextLabels) {
  TempDir dir;
  write_text(dir.sub("iris.csv"),
             "\xEF\xBB\xBF"
             "id,sepal length,\"petal, width\",species\r\n"
             "1, 5.1 ,0.2,setosa\r\n"
             "\r\n"
             "2,7.0,1.4,\"versicolor\"\r\n"
             "3,6.3,+2.5,virginica\r\n"
             "4,-1e-3,1.5E1,setosa");
  Dataset d = load_csv(dir.sub("iris.csv"), CsvOptions().target("species").classification(true).ignore_columns({"id"}));
  EXPECT_EQ(d.x.shape(), (Shape{4, 2}));
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"sepal length", "petal, width"}));
  const std::vector<float> x = {5.1f, 0.2f, 7.0f, 1.4f, 6.3f, 2.5f, -1e-3f, 15.0f};
  EXPECT_EQ(std::vector<float>(d.x.f32(), d.x.f32() + 8), x);
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(std::vector<int64_t>(d.y.data<int64_t>(), d.y.data<int64_t>() + 4), (std::vector<int64_t>{0, 1, 2, 0}));
}

TEST(Csv, IntegerClassesAndRegression) {
  TempDir dir;
  write_text(dir.sub("t.csv"), "a;b;y\n1;2;3\n4;5;0\n7;8;1\n");
  Dataset c = load_csv(dir.sub("t.csv"),
                       CsvOptions().delimiter(';').classification(true));  // last column
  EXPECT_EQ(c.num_classes, 4);
  EXPECT_EQ(std::vector<int64_t>(c.y.data<int64_t>(), c.y.data<int64_t>() + 3), (std::vector<int64_t>{3, 0, 1}));
  Dataset r = load_csv(dir.sub("t.csv"), CsvOptions().delimiter(';').target("a"));
  EXPECT_EQ(r.num_classes, 0);
  EXPECT_EQ(r.y.shape(), (Shape{3, 1}));
  EXPECT_EQ(std::vector<float>(r.y.f32(), r.y.f32() + 3), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(std::vector<float>(r.x.f32(), r.x.f32() + 6), (std::vector<float>{2, 3, 5, 0, 8, 1}));
  EXPECT_EQ(r.feature_names, (std::vector<std::string>{"b", "y"}));
}

TEST(Csv, BadRowNamesLineAndColumn) {
  TempDir dir;
  write_text(dir.sub("bad.csv"), "a,b,target\n1,2,3\n\n4,abc,5\n");
  expect_error([&] { load_csv(dir.sub("bad.csv"), CsvOptions().target("target")); }, ErrorCode::kCorruption,
               {dir.sub("bad.csv"), "line 4, column 2 ('b')", "'abc' is not a number"});
  write_text(dir.sub("short.csv"), "a,b,target\n1,2,3\n4,5\n");
  expect_error([&] { load_csv(dir.sub("short.csv"), CsvOptions().target("target")); }, ErrorCode::kCorruption,
               {"line 3, column 3 ('target')", "missing value"});
  write_text(dir.sub("long.csv"), "a,b\n1,2,3\n");
  expect_error([&] { load_csv(dir.sub("long.csv"), CsvOptions()); }, ErrorCode::kCorruption, {"line 2, column 3", "extra value"});
  write_text(dir.sub("empty.csv"), "a,b\n1,\n");
  expect_error([&] { load_csv(dir.sub("empty.csv"), CsvOptions()); }, ErrorCode::kCorruption,
               {"line 2, column 2 ('b')", "empty value"});
  write_text(dir.sub("nan.csv"), "a,b\nnan,1\n");
  expect_error([&] { load_csv(dir.sub("nan.csv"), CsvOptions()); }, ErrorCode::kCorruption,
               {"line 2, column 1 ('a')", "not a finite number"});
  write_text(dir.sub("quote.csv"), "a,b\n\"1,2\n");
  expect_error([&] { load_csv(dir.sub("quote.csv"), CsvOptions()); }, ErrorCode::kCorruption, {"line 2", "never closed"});
}

TEST(Csv, MissingTargetColumnAndHeaderProblems) {
  TempDir dir;
  write_text(dir.sub("t.csv"), "rooms,area,year\n3,70,1990\n");
  expect_error([&] { load_csv(dir.sub("t.csv"), CsvOptions().target("price")); }, ErrorCode::kInvalidArgument,
               {"target column 'price' not found", "rooms, area, year", dir.sub("t.csv")});
  write_text(dir.sub("dup.csv"), "a,b,a\n1,2,3\n");
  expect_error([&] { load_csv(dir.sub("dup.csv"), CsvOptions()); }, ErrorCode::kCorruption,
               {"'a' appears twice (columns 1 and 3)"});
  write_text(dir.sub("header_only.csv"), "a,b\n");
  expect_error([&] { load_csv(dir.sub("header_only.csv"), CsvOptions()); }, ErrorCode::kCorruption, {"no data rows"});
}

// --- Dataset ---------------------------------------------------------------------------------

// N images [N,C,H,W] whose pixel (c,h,w) of sample i is i*1000 + c*100 + h*10 + w, and y = i,
// so every output value says where it came from.
Dataset synthetic(int64_t n, int64_t c = 2, int64_t h = 4, int64_t w = 5) {
  Dataset d;
  d.x = Tensor({n, c, h, w});
  d.y = Tensor({n}, DType::kI64);
  float* x = d.x.f32();
  for (int64_t i = 0; i < n; ++i) {
    d.y.data<int64_t>()[i] = i;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t col = 0; col < w; ++col) *x++ = static_cast<float>(i * 1000 + ch * 100 + r * 10 + col);
  }
  d.num_classes = n;
  d.source = "synthetic";
  return d;
}

TEST(Dataset, SubsetCopiesRows) {
  Dataset d = synthetic(6);
  Dataset s = d.subset(2, 5);
  EXPECT_EQ(s.size(), 3);
  EXPECT_EQ(s.x.shape(), (Shape{3, 2, 4, 5}));
  EXPECT_EQ(s.x.f32()[0], 2000.0f);
  EXPECT_EQ(s.y.data<int64_t>()[2], 4);
  s.x.f32()[0] = -1;  // a copy, not a view
  EXPECT_EQ(d.x.f32()[2 * 40], 2000.0f);
  expect_error([&] { d.subset(4, 7); }, ErrorCode::kInvalidArgument, {"subset [4, 7)"});
}

TEST(Dataset, ChannelStats) {
  // Channel 0 holds {1, 3}, channel 1 {2, 4}: means 2 and 3, population std 1 and 1.
  ChannelStats st = channel_stats(Tensor::from_vector({2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(st.mean, (std::vector<float>{2, 3}));
  EXPECT_EQ(st.std, (std::vector<float>{1, 1}));
}

// --- DataLoader ------------------------------------------------------------------------------

using dtest::run_epoch;

std::vector<int64_t> labels_of(const std::vector<Batch>& batches) {
  std::vector<int64_t> ids;
  for (const Batch& b : batches)
    for (int64_t k = 0; k < b.size; ++k) ids.push_back(b.y.data<int64_t>()[k]);
  return ids;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].x.bit_equal(b[i].x)) << "batch " << i;
    EXPECT_TRUE(a[i].y.bit_equal(b[i].y)) << "batch " << i;
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].index, b[i].index);
  }
}

TEST(DataLoader, OrderIsAReproduciblePermutationPerEpoch) {
  Dataset d = synthetic(23);
  DataLoader a(d, DataLoaderOptions().batch_size(5).seed(42));
  DataLoader b(d, DataLoaderOptions().batch_size(5).seed(42).prefetch(false));
  DataLoader other_seed(d, DataLoaderOptions().batch_size(5).seed(43));
  const std::vector<int64_t> e1 = a.epoch_order(1), e2 = a.epoch_order(2);
  EXPECT_EQ(e1, b.epoch_order(1));
  EXPECT_NE(e1, e2);
  EXPECT_NE(e1, other_seed.epoch_order(1));
  std::vector<int64_t> sorted = e1, iota(23);
  std::sort(sorted.begin(), sorted.end());
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(e1, iota);
  // The batches deliver exactly that order, and recomputing it later gives the same.
  EXPECT_EQ(labels_of(run_epoch(a, 2)), e2);
  EXPECT_EQ(labels_of(run_epoch(a, 1)), e1);
  DataLoader eval(d, DataLoaderOptions().batch_size(5).shuffle(false));
  EXPECT_EQ(eval.epoch_order(7), iota);
  EXPECT_EQ(labels_of(run_epoch(eval, 3)), iota);
}

TEST(DataLoader, BatchSizesAndDropLast) {
  Dataset d = synthetic(23);
  DataLoader keep(d, DataLoaderOptions().batch_size(5));
  EXPECT_EQ(keep.num_batches(), 5);
  std::vector<Batch> bs = run_epoch(keep, 1);
  ASSERT_EQ(bs.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bs[i].size, 5);
    EXPECT_EQ(bs[i].x.shape(), (Shape{5, 2, 4, 5}));
    EXPECT_EQ(bs[i].index, i);
    EXPECT_EQ(bs[i].epoch, 1);
  }
  EXPECT_EQ(bs[4].size, 3);
  EXPECT_EQ(bs[4].x.shape(), (Shape{3, 2, 4, 5}));
  EXPECT_EQ(bs[4].y.shape(), (Shape{3}));
  // Without augmentation or normalisation a sample is copied verbatim.
  for (const Batch& b : bs)
    for (int64_t k = 0; k < b.size; ++k) {
      const int64_t id = b.y.data<int64_t>()[k];
      EXPECT_EQ(b.x.f32()[k * 40 + 1 * 20 + 2 * 5 + 3], static_cast<float>(id * 1000 + 123));
    }
  Batch extra;
  EXPECT_FALSE(keep.next(extra));
  EXPECT_EQ(keep.position(), (LoaderPosition{1, 5}));

  DataLoader drop(d, DataLoaderOptions().batch_size(5).drop_last(true));
  EXPECT_EQ(drop.num_batches(), 4);
  bs = run_epoch(drop, 1);
  ASSERT_EQ(bs.size(), 4u);
  for (const Batch& b : bs) EXPECT_EQ(b.size, 5);
  // Same seed, same order: drop_last only leaves off the tail.
  std::vector<int64_t> order = drop.epoch_order(1);
  order.resize(20);
  EXPECT_EQ(labels_of(bs), order);

  DataLoader big(d, DataLoaderOptions().batch_size(100));
  EXPECT_EQ(big.num_batches(), 1);
  EXPECT_EQ(run_epoch(big, 1)[0].size, 23);
}

TEST(DataLoader, SeekContinuesExactlyAsIfNeverStopped) {
  Dataset d = synthetic(23);
  const auto opts = DataLoaderOptions().batch_size(4).seed(7).crop_padding(1).horizontal_flip(true);
  DataLoader straight(d, opts);
  run_epoch(straight, 1);
  const std::vector<Batch> epoch2 = run_epoch(straight, 2);
  const std::vector<Batch> epoch3 = run_epoch(straight, 3);

  // Stop after two batches of epoch 2, save the position, continue in a fresh loader.
  LoaderPosition saved;
  {
    DataLoader first(d, opts);
    first.start_epoch(2);
    Batch b;
    ASSERT_TRUE(first.next(b));
    ASSERT_TRUE(first.next(b));
    saved = first.position();
  }  // destroyed with a prefetch of batch 2 in flight
  EXPECT_EQ(saved, (LoaderPosition{2, 2}));
  DataLoader resumed(d, opts);
  resumed.seek(saved);
  std::vector<Batch> rest;
  Batch b;
  while (resumed.next(b)) rest.push_back({b.x.clone(), b.y.clone(), b.size, b.epoch, b.index});
  expect_same(rest, std::vector<Batch>(epoch2.begin() + 2, epoch2.end()));
  EXPECT_EQ(run_epoch(resumed, 3).size(), epoch3.size());
  expect_same(run_epoch(resumed, 3), epoch3);

  // Seeking backwards and to the end of an epoch.
  resumed.seek({2, 5});
  ASSERT_TRUE(resumed.next(b));
  EXPECT_TRUE(b.x.bit_equal(epoch2[5].x));
  resumed.seek({2, resumed.num_batches()});
  EXPECT_FALSE(resumed.next(b));
  resumed.seek({0, 0});
  EXPECT_EQ(resumed.position(), (LoaderPosition{0, 0}));
  ASSERT_TRUE(resumed.next(b));  // starts epoch 1 by itself
  EXPECT_EQ(resumed.position(), (LoaderPosition{1, 1}));
  expect_error(
      [&] {
        resumed.seek({2, 7});
      },
      ErrorCode::kInvalidArgument, {"loader position (epoch 2, batch 7) is not valid for 6 batches"});
  expect_error([&] { resumed.start_epoch(0); }, ErrorCode::kInvalidArgument, {"epoch 0"});
}

TEST(DataLoader, NormalisationValues) {
  Dataset d = synthetic(3);
  const std::vector<float> mean = {0.5f, 250.0f}, stdev = {2.0f, 4.0f};
  DataLoader loader(d, DataLoaderOptions().batch_size(3).shuffle(false).normalize(mean, stdev));
  Batch b;
  ASSERT_TRUE(loader.next(b));
  const float* x = b.x.f32();
  const float* src = d.x.f32();
  for (int64_t i = 0; i < d.x.numel(); ++i) {
    const int64_t c = (i / 20) % 2;
    ASSERT_EQ(x[i], (src[i] - mean[c]) / stdev[c]) << i;
  }
  EXPECT_EQ(x[0], -0.25f);            // (0 - 0.5) / 2
  EXPECT_EQ(x[20 + 5 + 1], -34.75f);  // (111 - 250) / 4
  // One value for all channels; tabular data normalises per feature.
  Dataset t;
  t.x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  t.y = Tensor::from_vector({2, 1}, {0, 1});
  DataLoader tab(t, DataLoaderOptions().batch_size(2).shuffle(false).normalize({1, 2, 3}, {1, 2, 4}));
  ASSERT_TRUE(tab.next(b));
  EXPECT_EQ(std::vector<float>(b.x.f32(), b.x.f32() + 6), (std::vector<float>{0, 0, 0, 3, 1.5f, 0.75f}));
  EXPECT_EQ(std::vector<float>(b.y.f32(), b.y.f32() + 2), (std::vector<float>{0, 1}));
  expect_error(
      [&] {
        DataLoader(d, DataLoaderOptions().normalize({1, 2, 3}, {}));
      },
      ErrorCode::kInvalidArgument, {"mean has 3 values for 2 channels"});
  expect_error([&] { DataLoader(d, DataLoaderOptions().normalize({}, {0})); }, ErrorCode::kInvalidArgument,
               {"std must be positive"});
}

// Is out (one sample, C x H x W) the source sample shifted by (sy, sx) with zero fill, mirrored
// when flip?
bool matches_shift(const float* out, const float* src, int64_t c, int64_t h, int64_t w, int64_t sy, int64_t sx, bool flip) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t si = i + sy, sj = (flip ? w - 1 - j : j) + sx;
        const float v = si >= 0 && si < h && sj >= 0 && sj < w ? src[(ch * h + si) * w + sj] : 0;
        if (out[(ch * h + i) * w + j] != v) return false;
      }
  return true;
}

TEST(DataLoader, AugmentationIsRandomCropAndFlip) {
  Dataset d = synthetic(40, 1, 6, 6);
  DataLoader loader(d, DataLoaderOptions().batch_size(8).seed(3).crop_padding(2).horizontal_flip(true));
  int flips = 0, shifted = 0, total = 0;
  for (const Batch& b : run_epoch(loader, 1))
    for (int64_t k = 0; k < b.size; ++k) {
      const int64_t id = b.y.data<int64_t>()[k];
      int found = 0;
      for (int flip = 0; flip < 2; ++flip)
        for (int64_t sy = -2; sy <= 2; ++sy)
          for (int64_t sx = -2; sx <= 2; ++sx)
            if (matches_shift(b.x.f32() + k * 36, d.x.f32() + id * 36, 1, 6, 6, sy, sx, flip)) {
              ++found;
              flips += flip;
              shifted += sy != 0 || sx != 0;
            }
      EXPECT_EQ(found, 1) << "sample " << id;
      ++total;
    }
  EXPECT_EQ(total, 40);
  // 40 fair coins and 25 offsets: both kinds of outcome occur.
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
  EXPECT_GT(shifted, 20);
}

TEST(DataLoader, AugmentationDoesNotDependOnThreadsOrPrefetch) {
  Dataset d = synthetic(37, 3, 8, 8);
  auto opts = DataLoaderOptions().batch_size(6).seed(11).crop_padding(3).horizontal_flip(true).normalize({10, 20, 30}, {2, 3, 4});
  DataLoader one(d, DataLoaderOptions(opts).threads(1).prefetch(false));
  DataLoader four(d, DataLoaderOptions(opts).threads(4).prefetch(true));
  DataLoader three(d, DataLoaderOptions(opts).threads(3).prefetch(false));
  for (int64_t epoch : {1, 2}) {
    const std::vector<Batch> ref = run_epoch(one, epoch);
    expect_same(run_epoch(four, epoch), ref);
    expect_same(run_epoch(three, epoch), ref);
  }
  // Different epochs augment differently.
  EXPECT_FALSE(run_epoch(one, 1)[0].x.bit_equal(run_epoch(one, 2)[0].x));
}

TEST(DataLoader, PrefetchOnAndOffGiveIdenticalBatches) {
  Dataset d = synthetic(50);
  auto opts = DataLoaderOptions().batch_size(7).seed(5);
  DataLoader on(d, DataLoaderOptions(opts).prefetch(true));
  DataLoader off(d, DataLoaderOptions(opts).prefetch(false));
  for (int64_t epoch = 1; epoch <= 4; ++epoch) expect_same(run_epoch(on, epoch), run_epoch(off, epoch));
}

TEST(DataLoader, ReturnedBatchStaysValidThroughTheNextCall) {
  Dataset d = synthetic(30);
  DataLoader loader(d, DataLoaderOptions().batch_size(4).seed(1));
  loader.start_epoch(1);
  Batch prev, cur;
  ASSERT_TRUE(loader.next(prev));
  Tensor prev_copy = prev.x.clone();
  while (loader.next(cur)) {
    // The prefetch of the batch after cur is running or done: prev must be untouched.
    EXPECT_TRUE(prev.x.bit_equal(prev_copy)) << "batch " << prev.index;
    EXPECT_NE(prev.x.raw(), cur.x.raw());
    prev = cur;
    prev_copy = cur.x.clone();
  }
}

TEST(DataLoader, RejectsBadOptions) {
  Dataset d = synthetic(5);
  expect_error([&] { DataLoader l(d, DataLoaderOptions().batch_size(0)); }, ErrorCode::kInvalidArgument,
               {"batch_size must be >= 1"});
  expect_error([&] { DataLoader l(d, DataLoaderOptions().batch_size(8).drop_last(true)); }, ErrorCode::kInvalidArgument,
               {"leaves no batch"});
  Dataset t;
  t.x = Tensor({4, 3});
  t.y = Tensor({4, 1});
  expect_error([&] { DataLoader l(t, DataLoaderOptions().horizontal_flip(true)); }, ErrorCode::kInvalidArgument,
               {"need images [N,C,H,W]"});
  t.y = Tensor({3, 1});
  expect_error([&] { DataLoader l(t, DataLoaderOptions()); }, ErrorCode::kInvalidArgument, {"rows"});
  expect_error([&] { DataLoader l{Dataset(), DataLoaderOptions()}; }, ErrorCode::kInvalidArgument, {});
}

TEST(DataLoader, CreateAndDestroyWithWorkInFlight) {
  Dataset d = synthetic(64, 3, 16, 16);
  for (int round = 0; round < 50; ++round) {
    DataLoader loader(d, DataLoaderOptions().batch_size(8).seed(round).crop_padding(2));
    loader.start_epoch(1 + round % 3);  // posts a prefetch immediately
    Batch b;
    for (int i = 0; i < round % 4; ++i) ASSERT_TRUE(loader.next(b));
    if (round % 2) loader.seek({2, 3});
  }
}

}  // namespace
}  // namespace strata
