// Tensor files (versioning/tensor_files.h) and import (versioning/run/import.h): safetensors and .npz
// written and read back bit for bit, files written by numpy read, damaged files refused with a
// clear error, golden safetensors bytes, and imports into a log (matched / missing / unexpected /
// mismatched, nothing written when refused).
#include "strata/versioning/tensor_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/nn/network.h"
#include "strata/models/models.h"
#include "strata/versioning/run/import.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::TempDir;

NamedTensors mixed_tensors() {
  NamedTensors t;
  t.emplace_back("fc1/weight", Tensor::from_vector({2, 3}, {1.5f, -2.f, 0.f, -0.f, 3.25e-8f, 1e30f}));
  Tensor ids({3}, DType::kI64);
  ids.data<int64_t>()[0] = -1, ids.data<int64_t>()[1] = int64_t{1} << 40, ids.data<int64_t>()[2] = 7;
  t.emplace_back("tokens", ids);
  Tensor small({2, 2}, DType::kI32);
  for (int i = 0; i < 4; ++i) small.data<int32_t>()[i] = i - 2;
  t.emplace_back("block 1/\"odd\" name", small);
  Tensor bytes({5}, DType::kU8);
  for (int i = 0; i < 5; ++i) bytes.data<uint8_t>()[i] = static_cast<uint8_t>(250 + i);
  t.emplace_back("u8", bytes);
  t.emplace_back("empty", Tensor({0, 4}));
  return t;
}

void expect_same(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.shape(), b[i].second.shape()) << a[i].first;
    EXPECT_EQ(a[i].second.dtype(), b[i].second.dtype()) << a[i].first;
    EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return s;
}

TEST(TensorFiles, SafetensorsAndNpzRoundTripBitForBit) {
  TempDir dir;
  const NamedTensors t = mixed_tensors();
  write_safetensors(dir.sub("t.safetensors"), t, {{"strata_version", "abc (main@3)"}, {"note", "a \"quoted\"\nline"}});
  std::map<std::string, std::string> meta;
  expect_same(read_safetensors(dir.sub("t.safetensors"), &meta), t);
  EXPECT_EQ(meta.at("note"), "a \"quoted\"\nline");
  write_npz(dir.sub("t.npz"), t);
  expect_same(read_npz(dir.sub("t.npz")), t);
  expect_same(read_tensor_file(dir.sub("t.npz")), read_tensor_file(dir.sub("t.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(dir.sub("t.npz.tmp")));
  expect_error([&] { read_tensor_file(dir.sub("t.pt")); }, ErrorCode::kInvalidArgument, {"unknown tensor file type", ".pt"});
  expect_error([&] { read_npz(dir.sub("absent.npz")); }, ErrorCode::kNotFound, {"absent.npz"});
}

// Only regular files are replaced: a symlink (and what it points to), a FIFO, a device or a
// directory at the target is refused and left as it was; no temporary file is left behind.
TEST(TensorFiles, WritersNeverReplaceWhatIsNotARegularFile) {
  TempDir dir;
  const NamedTensors t = mixed_tensors();
  write_bytes(dir.sub("precious"), "keep me");
  std::filesystem::create_symlink(dir.sub("precious"), dir.sub("link.npz"));
  ASSERT_EQ(::mkfifo(dir.sub("fifo.npz").c_str(), 0600), 0);
  std::filesystem::create_directory(dir.sub("dir.safetensors"));
  expect_error([&] { write_npz(dir.sub("link.npz"), t); }, ErrorCode::kInvalidArgument, {"symbolic link", "link.npz"});
  expect_error([&] { write_npz(dir.sub("fifo.npz"), t); }, ErrorCode::kInvalidArgument, {"a FIFO"});
  expect_error([&] { write_safetensors(dir.sub("dir.safetensors"), t); }, ErrorCode::kInvalidArgument, {"a directory"});
  expect_error([&] { write_npz("/dev/null", t); }, ErrorCode::kInvalidArgument, {"device"});
  expect_error([&] { write_npz(dir.sub("missing/x.npz"), t); }, ErrorCode::kInvalidArgument, {"cannot create"});
  EXPECT_EQ(read_bytes(dir.sub("precious")), "keep me");
  EXPECT_TRUE(std::filesystem::is_symlink(dir.sub("link.npz")));
  // A regular file is replaced, atomically; only the targets remain in the directory.
  write_bytes(dir.sub("old.npz"), "old");
  write_npz(dir.sub("old.npz"), t);
  expect_same(read_npz(dir.sub("old.npz")), t);
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(entries, 5u);  // precious, link.npz, fifo.npz, dir.safetensors, old.npz
}

// The bytes of a one-tensor file: a change is a format break (safetensors README).
TEST(TensorFiles, SafetensorsGoldenBytes) {
  TempDir dir;
  NamedTensors t;
  t.emplace_back("w", Tensor::from_vector({2}, {1.f, -2.f}));
  write_safetensors(dir.sub("g.safetensors"), t, {{"k", "v"}});
  const std::string header = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  EXPECT_EQ(read_bytes(dir.sub("g.safetensors")), le64(padded.size()) + padded + data);
}

TEST(TensorFiles, ReadsWhatNumpyWrites) {
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-numpy is not installed (scripts/install_deps.sh installs it)";
  TempDir dir;
  const std::string script =
      "import numpy as np\n"
      "w = np.arange(12, dtype=np.float32).reshape(3, 4) / 7\n"
      "np.savez_compressed('" +
      dir.sub("c.npz") +
      "', **{'fc1/weight': w, 'ids': np.array([3, -4], dtype=np.int64)})\n"
      "np.savez('" +
      dir.sub("s.npz") + "', **{'fc1/weight': w})\n";
  write_bytes(dir.sub("make.py"), script);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir.sub("make.py")).c_str()), 0);
  for (const char* name : {"c.npz", "s.npz"}) {
    NamedTensors got = read_npz(dir.sub(name));
    ASSERT_GE(got.size(), 1u) << name;
    EXPECT_EQ(got[0].first, "fc1/weight");
    EXPECT_EQ(got[0].second.shape(), (Shape{3, 4}));
    for (int i = 0; i < 12; ++i) EXPECT_EQ(got[0].second.f32()[i], static_cast<float>(i) / 7.f) << name << " " << i;
  }
  NamedTensors c = read_npz(dir.sub("c.npz"));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].second.data<int64_t>()[1], -4);
}

TEST(TensorFiles, DamagedSafetensorsAreClearErrors) {
  TempDir dir;
  NamedTensors t;
  t.emplace_back("w", Tensor::from_vector({2}, {1.f, 2.f}));
  const std::string path = dir.sub("bad.safetensors");
  auto with_header = [&](const std::string& json, const std::string& data) {
    write_bytes(path, le64(json.size()) + json + data);
  };
  const std::string eight(8, '\0');
  struct Case {
    std::string json, data, message;
  };
  const std::vector<Case> cases = {
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'), "outside"},
      {R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", eight, "F16 is not supported"},
      {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight, "8 bytes for F32 [3]"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight, "gap"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight, "4 bytes no tensor uses"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", eight, "expected '}'"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}x)", eight, "trailing"},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight, "bad dimension -2 in shape"},
      {R"({"w":{"dtype":"F32","shape":[2]}})", eight, "no data_offsets"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{}})", eight, "appears twice"},
      {R"([1,2])", eight, "not a JSON object"},
  };
  for (const Case& c : cases) {
    with_header(c.json, c.data);
    expect_error([&] { read_safetensors(path); }, ErrorCode::kInvalidArgument, {"bad.safetensors", c.message});
  }
  write_bytes(path, "\x05\x00");
  expect_error([&] { read_safetensors(path); }, ErrorCode::kInvalidArgument, {"too short"});
  write_bytes(path, le64(1000) + "{}");
  expect_error([&] { read_safetensors(path); }, ErrorCode::kInvalidArgument, {"header length 1000 runs past the end"});
  write_bytes(path, le64(~uint64_t{0}) + "{}");
  expect_error([&] { read_safetensors(path); }, ErrorCode::kInvalidArgument, {"runs past the end"});
}

TEST(TensorFiles, DamagedNpzAreClearErrors) {
  TempDir dir;
  write_npz(dir.sub("good.npz"), mixed_tensors());
  const std::string good = read_bytes(dir.sub("good.npz"));
  const std::string path = dir.sub("bad.npz");
  write_bytes(path, good.substr(0, good.size() / 2));
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"bad.npz"});
  write_bytes(path, "not a zip");
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"too short"});
  std::string flipped = good;
  const size_t npy = good.find("\x93NUMPY");
  const size_t data = npy + 10 + (static_cast<uint8_t>(good[npy + 8]) | static_cast<uint8_t>(good[npy + 9]) << 8);
  flipped[data + 1] = static_cast<char>(flipped[data + 1] ^ 0x40);  // inside fc1/weight's data: its CRC fails
  write_bytes(path, flipped);
  expect_error([&] { read_npz(path); }, ErrorCode::kInvalidArgument, {"CRC mismatch"});
  // Every truncation and every single flipped byte is an error or reads back unchanged: never a crash.
  for (size_t n = 0; n < good.size(); n += 7) {
    write_bytes(path, good.substr(0, n));
    EXPECT_THROW(read_npz(path), Error) << n;
  }
  for (size_t i = 0; i < good.size(); i += 3) {
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0xFF);
    write_bytes(path, b);
    try {
      (void)read_npz(path);
    } catch (const Error&) {
    }
  }
}

GraphSpec import_graph() {
  GraphBuilder b({3});
  Value x = b.relu("relu1", b.linear("fc1", b.input(), 4));
  return b.build(b.linear("fc2", x, 2));
}

TEST(Import, MatchesByNameAndShapeAndCommitsAParamsOnlyRoot) {
  TempDir dir;
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
  Network source(import_graph());
  source.init_params(11);
  NamedTensors params = source.state_tensors();
  NamedTensors with_extra = params;
  with_extra.emplace_back("optimizer/step", Tensor({1}));
  write_safetensors(dir.sub("w.safetensors"), with_extra);
  ImportRequest request;
  request.file = dir.sub("w.safetensors");
  request.graph = import_graph();
  request.graph_source = "test graph";
  request.branch = "torch";
  ImportReport r = import_params(*log, request);
  EXPECT_EQ(r.matched.size(), 4u);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"optimizer/step"});
  const CommitRecord rec = log->read_record(r.id);
  EXPECT_TRUE(rec.parents.empty());
  EXPECT_FALSE(rec.had_optim());
  EXPECT_EQ(rec.hparams.at("import/file"), "w.safetensors");
  EXPECT_EQ(rec.hparams.at("import/format"), "safetensors");
  EXPECT_EQ(rec.hparams.at("import/graph"), "test graph");
  expect_same(log->read_params(r.id), params);

  // Export from the log and import again: bit-identical, through both formats.
  for (const char* file : {"back.npz", "back.safetensors"}) {
    export_tensors(*log, r.id, dir.sub(file), tensor_file_format(file), false);
    request.file = dir.sub(file);
    request.branch = std::string("again-") + (file[5] == 'n' ? "npz" : "st");
    expect_same(log->read_params(import_params(*log, request).id), params);
  }
  request.branch = "torch";
  expect_error([&] { import_params(*log, request); }, ErrorCode::kAlreadyExists, {"torch"});
}

TEST(Import, MissingOrMismatchedTensorsAreRefusedUnlessPartial) {
  TempDir dir;
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
  Network source(import_graph());
  source.init_params(5);
  NamedTensors params = source.state_tensors();
  NamedTensors partial(params.begin(), params.begin() + 2);  // fc1 only
  partial.emplace_back("fc2/weight", Tensor({3, 4}));        // wrong shape
  write_npz(dir.sub("p.npz"), partial);
  ImportRequest request;
  request.file = dir.sub("p.npz");
  request.graph = import_graph();
  request.branch = "p";
  expect_error([&] { import_params(*log, request); }, ErrorCode::kFailedPrecondition,
               {"2 parameter(s)", "missing: fc2/bias", "other shape: fc2/weight: file [3,4]", "--allow-partial"});
  EXPECT_TRUE(log->branches().empty());  // nothing written
  request.allow_partial = true;
  request.seed = 9;
  ImportReport r = import_params(*log, request);
  EXPECT_EQ(r.matched, (std::vector<std::string>{"fc1/weight", "fc1/bias"}));
  EXPECT_EQ(r.missing, std::vector<std::string>{"fc2/bias"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  const CommitRecord rec = log->read_record(r.id);
  EXPECT_EQ(rec.hparams.at("import/initialised"), "fc2/bias,fc2/weight");
  // The rest is the graph's fresh initialisation with the given seed.
  Network fresh(import_graph());
  fresh.init_params(9);
  NamedTensors got = log->read_params(r.id), init = fresh.state_tensors();
  EXPECT_TRUE(got[0].second.bit_equal(params[0].second));
  EXPECT_TRUE(got[2].second.bit_equal(init[2].second));
  EXPECT_TRUE(got[3].second.bit_equal(init[3].second));

  write_npz(dir.sub("none.npz"), {{"something/else", Tensor({2})}});
  request.file = dir.sub("none.npz");
  request.branch = "none";
  expect_error([&] { import_params(*log, request); }, ErrorCode::kFailedPrecondition, {"no tensor of the file matches"});
  request.file = dir.sub("bad.safetensors");
  write_bytes(request.file, "xx");
  expect_error([&] { import_params(*log, request); }, ErrorCode::kInvalidArgument, {"too short"});
  EXPECT_EQ(log->branches(), std::vector<std::string>{"p"});
}

// The issue's user story: an MLP trained in PyTorch, its state_dict saved through numpy, imported,
// and served: Strata's forward pass on real Fashion-MNIST images equals PyTorch's within 1e-5.
TEST(Import, APyTorchStateDictGivesPyTorchsForwardPass) {
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-torch is not installed (scripts/install_deps.sh installs it)";
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const int64_t n = 64;
  Tensor raw = read_idx(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz");
  Tensor x({n, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.f32()[i] = (static_cast<float>(raw.data<uint8_t>()[i]) / 255.0f - kFashionMnistMean) / kFashionMnistStd;
  std::ofstream(dir.sub("x.f32"), std::ios::binary)
      .write(static_cast<const char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
  const std::string script =
      "import numpy as np, torch\n"
      "torch.set_num_threads(1)\n"
      "torch.manual_seed(0)\n"
      "net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(),\n"
      "                          torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))\n"
      "x = torch.from_numpy(np.fromfile('" +
      dir.sub("x.f32") +
      "', dtype='<f4').reshape(64, 1, 28, 28))\n"
      "opt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
      "for _ in range(3):  # a few steps, so the weights are not just the initialisation\n"
      "    opt.zero_grad(); torch.nn.functional.cross_entropy(net(x), torch.arange(64) % 10).backward(); opt.step()\n"
      "names = {'1': 'fc1', '3': 'fc2', '5': 'fc3'}\n"
      "sd = {names[k.split('.')[0]] + '/' + k.split('.')[1]: v.detach().numpy() for k, v in net.state_dict().items()}\n"
      "np.savez('" +
      dir.sub("torch.npz") +
      "', **sd)\n"
      "with torch.no_grad():\n"
      "    net(x).numpy().astype('<f4').tofile('" +
      dir.sub("y.f32") + "')\n";
  std::ofstream(dir.sub("torch_mlp.py")) << script;
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir.sub("torch_mlp.py")).c_str()), 0);

  {
    auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
    ImportRequest request;
    request.file = dir.sub("torch.npz");
    request.graph = models::mlp({1, 28, 28}, {784, 64, 32, 10});
    request.branch = "pytorch";
    ImportReport r = import_params(*log, request);
    EXPECT_EQ(r.matched.size(), 6u);
  }
  Predictor predictor(dir.sub("log"), "pytorch");
  const Tensor& got = predictor.predict(x);
  std::vector<float> want(static_cast<size_t>(n * 10));
  std::ifstream(dir.sub("y.f32"), std::ios::binary)
      .read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size() * 4));
  ASSERT_EQ(got.shape(), (Shape{n, 10}));
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(double(got.f32()[i]) - want[i]));
  EXPECT_LE(worst, 1e-5);
  std::printf("max |strata - pytorch| = %.3g over %lld x 10 logits\n", worst, static_cast<long long>(n));
}

}  // namespace
}  // namespace strata::versioning
